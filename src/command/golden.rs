//! `kiln golden update`: the only command that writes golden/.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::GoldenCommand;
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
pub fn run(dir: &Path, cmd: &GoldenCommand) -> Result<Output, Error> {
    let GoldenCommand::Update(args) = cmd;
    if in_ci() {
        return Err(Error::Run(
            Diagnostic::error("refusing to rewrite golden files in CI (the `CI` variable is set)")
                .help("golden files record reviewed output: run `kiln golden update` locally, review `git diff`, and commit"),
        ));
    }
    let pipeline = Pipeline::load(dir, &args.values)?;
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
    refuse_decrypted(&pipeline.project.relative(golden), &texts)?;
    output::write(golden, &texts, &Scope::All)?;
    Ok(Output {
        stdout: format!(
            "updated {} ({} files)\n",
            pipeline.project.relative(golden),
            texts.len()
        ),
        code: 0,
        stderr: String::new(),
    })
}

/// Golden files are committed: refuse to write one that holds a value decrypted from a SOPS
/// file (the excerpt shows the line with the value hidden).
pub fn refuse_decrypted(golden: &str, texts: &BTreeMap<String, String>) -> Result<(), Error> {
    if !crate::secret::any_decrypted() {
        return Ok(());
    }
    let mut problems = Vec::new();
    for (path, text) in texts {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if crate::secret::hide_decrypted(line).is_some() {
                let shown = format!("{golden}/{path}");
                problems.push(
                    Diagnostic::error(format!(
                        "`{shown}` would hold a value decrypted from a SOPS file, in plaintext"
                    ))
                    .with_excerpt(crate::diagnostic::Excerpt::from_text(
                        &shown,
                        text,
                        offset..offset + line.trim_end().len(),
                        "decrypted value",
                    ))
                    .help("golden files are committed: pass decrypted values to the templates only where they end up in a Secret, or leave the value out of the golden render"),
                );
                break;
            }
            offset += line.len();
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Project(problems))
    }
}
