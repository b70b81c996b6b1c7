//! `kiln render`: render, check in memory, then write atomically or print one stream.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::RenderArgs;
use crate::command::{Output, Pipeline, yaml_of};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::output::{self, Scope};

/// Run `kiln render`.
pub fn run(dir: &Path, args: &RenderArgs) -> Result<Output, Error> {
    if let Some(out) = &args.out {
        // As `Pipeline::load` does for the project's own out/ and golden/.
        output::recover(out)?;
    }
    let pipeline = Pipeline::load(dir, &args.values)?;
    let envs = pipeline.select_targets(&args.only.env, &args.only.cluster)?;
    let instances = pipeline.instances(&envs, &args.only.service)?;
    let with_env_level = args.only.service.is_empty();
    if args.stdout {
        let files = pipeline.render(&envs, &instances, with_env_level, &|ms| yaml_of(ms, true))?;
        // Sized once: growing a string of a whole fleet copies it again at each doubling.
        let mut text = String::with_capacity(files.iter().map(|f| f.payload.len()).sum());
        for f in &files {
            text.push_str(&f.payload);
        }
        super::free_at_exit((pipeline, instances, files));
        return Ok(Output {
            stdout: text,
            code: 0,
            stderr: String::new(),
        });
    }
    let out_dir = match &args.out {
        Some(o) => o.clone(),
        None => pipeline.project.out_dir.clone(),
    };
    // golden/ holds the golden form (Secret values as digests, ApplySet labels): a render there
    // would commit the values themselves.
    let golden = &pipeline.project.golden_dir;
    if super::same_folder(&out_dir, golden) {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "refusing to render into `{}`, the golden folder",
                pipeline.project.relative(golden)
            ))
            .help("golden files keep Secret values as digests, never the values: record them with `kiln golden update`"),
        ));
    }
    // `--service` writes a few files with an fsync each; only a tree swap ends in a syncfs.
    if args.only.service.is_empty() {
        output::flush_ahead(&out_dir);
    }
    let files = pipeline.render(&envs, &instances, with_env_level, &|ms| yaml_of(ms, false))?;
    let scope = if !args.only.service.is_empty() {
        Scope::Files
    } else if args.only.env.is_empty() && args.only.cluster.is_empty() {
        Scope::All
    } else {
        Scope::Envs(
            envs.iter()
                .map(|e| pipeline.project.environments[*e].folder.clone())
                .collect(),
        )
    };
    let texts: BTreeMap<String, String> = files.into_iter().map(|f| (f.path, f.payload)).collect();
    output::write(&out_dir, &texts, &scope)?;
    super::free_at_exit((pipeline, instances, texts));
    Ok(Output::default())
}
