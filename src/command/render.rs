//! `kiln render`: render, check in memory, then write atomically or print one stream.

use std::path::Path;

use crate::cli::{RenderArgs, SetFlag};
use crate::command::{Output, Pipeline, files_of, texts};
use crate::error::Error;
use crate::manifest::{self, Manifest};
use crate::output::{self, Scope};

/// Run `kiln render`.
pub fn run(dir: &Path, args: &RenderArgs, sets: &[SetFlag]) -> Result<Output, Error> {
    let pipeline = Pipeline::load(dir, &args.values, sets)?;
    let envs = pipeline.select_envs(&args.env)?;
    let instances = pipeline.instances(&envs, &args.service)?;
    let with_env_level = args.service.is_empty();
    let manifests = pipeline.render(&envs, &instances, with_env_level)?;
    let files = files_of(manifests)?;
    if args.stdout {
        let all: Vec<&Manifest> = files.values().flatten().collect();
        let text = manifest::to_yaml(&all, true)
            .map_err(|e| Error::run(format!("cannot write YAML: {e}")))?;
        return Ok(Output {
            stdout: text,
            code: 0,
        });
    }
    let out_dir = match &args.out {
        Some(o) => o.clone(),
        None => pipeline.project.out_dir.clone(),
    };
    let scope = if !args.service.is_empty() {
        Scope::Files
    } else if args.env.is_empty() {
        Scope::All
    } else {
        Scope::Envs(
            envs.iter()
                .map(|e| pipeline.project.environments[*e].name.clone())
                .collect(),
        )
    };
    let texts = texts(&files)?;
    output::write(&out_dir, &texts, &scope)?;
    Ok(Output::default())
}
