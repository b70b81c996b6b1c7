//! `kiln golden update`: the only command that writes golden/.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::{GoldenCommand, SetFlag};
use crate::command::{Output, Pipeline, yaml_of};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::output::{self, Scope};

/// True when running in CI (the `CI` variable most CI systems set).
#[must_use]
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Run `kiln golden ...`.
pub fn run(dir: &Path, cmd: &GoldenCommand, sets: &[SetFlag]) -> Result<Output, Error> {
    let GoldenCommand::Update(args) = cmd;
    if in_ci() {
        return Err(Error::Run(
            Diagnostic::error("refusing to rewrite golden files in CI (the `CI` variable is set)")
                .help("golden files record reviewed output: run `kiln golden update` locally, review `git diff`, and commit"),
        ));
    }
    let pipeline = Pipeline::load(dir, &args.values, sets)?;
    let envs = pipeline.select_envs(&[])?;
    let instances = pipeline.instances(&envs, &[])?;
    // Golden files hold the golden form: Secret values as digests, ApplySet labels and parents.
    let files = pipeline.render(&envs, &instances, true, &|ms| {
        yaml_of(&pipeline.golden_form(ms)?, false)
    })?;
    let mut texts = BTreeMap::new();
    for p in pipeline.parent_files(&files) {
        texts.insert(p.path, yaml_of(&p.payload, false).map_err(Error::Run)?);
    }
    texts.extend(files.into_iter().map(|f| (f.path, f.payload)));
    let golden = &pipeline.project.golden_dir;
    output::write(golden, &texts, &Scope::All)?;
    Ok(Output {
        stdout: format!(
            "updated {} ({} files)\n",
            pipeline.project.relative(golden),
            texts.len()
        ),
        code: 0,
    })
}
