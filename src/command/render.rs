//! `kiln render`: render, check in memory, then write atomically or print one stream.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::{RenderArgs, SetFlag};
use crate::command::{Output, Pipeline, yaml_of};
use crate::error::Error;
use crate::output::{self, Scope};

/// Run `kiln render`.
pub fn run(dir: &Path, args: &RenderArgs, sets: &[SetFlag]) -> Result<Output, Error> {
    if let Some(out) = &args.out {
        // As `Pipeline::load` does for the project's own out/ and golden/.
        output::recover(out)?;
    }
    let pipeline = Pipeline::load(dir, &args.values, sets)?;
    let envs = pipeline.select_envs(&args.env)?;
    let instances = pipeline.instances(&envs, &args.service)?;
    let with_env_level = args.service.is_empty();
    if args.stdout {
        let files = pipeline.render(&envs, &instances, with_env_level, &|ms| yaml_of(ms, true))?;
        let text: String = files.into_iter().map(|f| f.payload).collect();
        return Ok(Output {
            stdout: text,
            code: 0,
        });
    }
    let out_dir = match &args.out {
        Some(o) => o.clone(),
        None => pipeline.project.out_dir.clone(),
    };
    // `--service` writes a few files with an fsync each; only a tree swap ends in a syncfs.
    if args.service.is_empty() {
        output::flush_ahead(&out_dir);
    }
    let files = pipeline.render(&envs, &instances, with_env_level, &|ms| yaml_of(ms, false))?;
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
    let texts: BTreeMap<String, String> = files.into_iter().map(|f| (f.path, f.payload)).collect();
    output::write(&out_dir, &texts, &scope)?;
    Ok(Output::default())
}
