//! `kiln check`: render the project in memory and check every manifest against its
//! environment's Kubernetes version. Writes nothing.

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::check::{self, Checked};
use crate::cli::{CheckArgs, SetFlag};
use crate::command::{Output, Pipeline, catalog, exit_code, yaml_of};
use crate::error::Error;
use crate::report;

/// Run `kiln check`.
pub fn run(dir: &Path, args: &CheckArgs, sets: &[SetFlag]) -> Result<Output, Error> {
    let pipeline = Pipeline::load(dir, &args.values, sets)?;
    let catalog = catalog(&args.check, Some(&pipeline.project))?;
    let envs = pipeline.select_envs(&args.env)?;
    let instances = pipeline.instances(&envs, &args.service)?;
    let files = pipeline.render(&envs, &instances, args.service.is_empty(), &|ms| {
        yaml_of(ms, false)
    })?;
    let out_name = pipeline.project.relative(&pipeline.project.out_dir);
    let options = check::Options {
        skip_missing_schemas: args.check.skip_missing_schemas,
    };
    let templates = &pipeline.templates;
    // `# Source:` lines name templates; show them as the project sees them.
    let template_of = |name: &str| -> Option<Arc<str>> {
        Some(Arc::from(
            templates
                .get(name)
                .map_or_else(|_| name.to_string(), |f| f.shown_as.clone()),
        ))
    };
    let results: Vec<Checked> = files
        .par_iter()
        .flat_map_iter(|f| {
            let version = pipeline.project.environments[f.env].kube_version;
            let shown = format!("{out_name}/{}", f.path);
            let docs = check::input::documents(&shown, &f.payload, &template_of);
            docs.into_iter()
                .map(move |d| (d, version))
                .collect::<Vec<_>>()
        })
        .map(|(d, version)| check::check_document(&d, version, &catalog, options))
        .collect();
    let text = report::render(&results, args.check.format);
    Ok(Output {
        stdout: text,
        code: exit_code(&results),
    })
}
