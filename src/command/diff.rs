//! `kiln diff`: the current render against golden/, a folder, or the project at a git revision.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use rayon::prelude::*;

use crate::cli::{DiffArgs, DiffFormat, SetFlag};
use crate::command::{Output, Pipeline};
use crate::diagnostic::Diagnostic;
use crate::diff::{self, Object};
use crate::error::Error;
use crate::manifest::{Manifest, ResourceId};
use crate::render::FileResult;
use crate::yaml::{self, Dialect};

/// Run `kiln diff`.
pub fn run(dir: &Path, args: &DiffArgs, sets: &[SetFlag], color: bool) -> Result<Output, Error> {
    let pipeline = Pipeline::load(dir, &args.values, sets)?;
    let (new, instances) = rendered(&pipeline, &args.env, &args.service)?;
    let old = match args.against.as_deref() {
        None => {
            let golden = &pipeline.project.golden_dir;
            if !golden.is_dir() {
                return Err(Error::Run(
                    Diagnostic::error(format!("there is no `{}` to compare with", pipeline.project.relative(golden)))
                        .help("create it with `kiln golden update`, or compare with `--against DIR` or `--against git:REF`"),
                ));
            }
            load_dir(golden, &pipeline.project.relative(golden))?
        }
        Some(against) => match against.strip_prefix("git:") {
            Some(rev) => at_revision(&pipeline, rev, &args.values, sets, &args.env, &args.service)?,
            None => {
                let d = dir.join(against);
                if !d.is_dir() {
                    return Err(Error::run(format!(
                        "`--against {against}`: no such folder (use `git:REF` for a revision)"
                    )));
                }
                load_dir(&d, against)?
            }
        },
    };
    let old = filter(old, &pipeline, &args.env, &args.service, &instances);
    let diffs = diff::compare(old, new, args.show_secrets);
    let differs = diffs.iter().any(|d| !d.is_empty());
    let stdout = match (args.format, args.summary) {
        (DiffFormat::Json, _) => diff::render::json(&diffs),
        (DiffFormat::Text, true) => diff::render::summary(&diffs),
        (DiffFormat::Text, false) => diff::render::text(&diffs, color),
    };
    Ok(Output {
        stdout,
        code: u8::from(differs),
    })
}

/// Render the project in memory into diffable objects; also returns the instance names.
pub fn rendered(
    pipeline: &Pipeline,
    env: &[String],
    service: &[String],
) -> Result<(Vec<Object>, Vec<String>), Error> {
    let envs = pipeline.select_envs(env)?;
    let instances = pipeline.instances(&envs, service)?;
    let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let files = pipeline.render(
        &envs,
        &instances,
        service.is_empty(),
        &|ms: &[Manifest]| {
            Ok(ms
                .iter()
                .map(|m| (m.id.clone(), m.doc.clone(), m.origin.template_shown.clone()))
                .collect::<Vec<_>>())
        },
    )?;
    Ok((objects(&pipeline.project.environments, files), names))
}

fn objects(
    envs: &[crate::config::Environment],
    files: Vec<FileResult<Vec<(ResourceId, yaml::Node, String)>>>,
) -> Vec<Object> {
    files
        .into_iter()
        .flat_map(|f| {
            let env = envs[f.env].name.clone();
            f.payload.into_iter().map(move |(id, doc, source)| Object {
                env: env.clone(),
                id,
                doc,
                source,
            })
        })
        .collect()
}

/// Every object in the YAML/JSON files under `dir`; the first folder of a file's path is its
/// environment.
pub fn load_dir(dir: &Path, shown: &str) -> Result<Vec<Object>, Error> {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    let parsed: Vec<Result<Vec<Object>, Error>> = files
        .par_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap_or(p);
            let file = format!("{}/{}", shown.trim_end_matches('/'), rel.display());
            let env = if rel.components().count() > 1 {
                rel.components()
                    .next()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let text = std::fs::read_to_string(p).map_err(|e| Error::io("read", p, &e))?;
            let docs = yaml::parse_stream_unlocated(&text, Dialect::Kube).map_err(|e| {
                Error::Run(Diagnostic::error(format!(
                    "`{file}` line {}: {}",
                    e.line, e.message
                )))
            })?;
            Ok(docs
                .into_iter()
                .filter_map(|doc| {
                    ResourceId::of(&doc).ok().map(|id| Object {
                        env: env.clone(),
                        id,
                        doc,
                        source: file.clone(),
                    })
                })
                .collect())
        })
        .collect();
    let mut out = Vec::new();
    for r in parsed {
        out.extend(r?);
    }
    Ok(out)
}

/// Keep only the old objects the current selection would render.
fn filter(
    old: Vec<Object>,
    pipeline: &Pipeline,
    env: &[String],
    service: &[String],
    instances: &[String],
) -> Vec<Object> {
    old.into_iter()
        .filter(|o| env.is_empty() || env.contains(&o.env) || o.env.is_empty())
        .filter(|o| {
            if service.is_empty() {
                return true;
            }
            let stem = Path::new(&o.source)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            instances.contains(&stem) || service.contains(&stem)
        })
        .filter(|o| {
            o.env.is_empty()
                || pipeline
                    .project
                    .environments
                    .iter()
                    .any(|e| e.name == o.env)
                || !env.is_empty()
        })
        .collect()
}

/// The project rendered as it was at git revision `rev`, read with `git archive` (from the
/// object store: the work tree and the index are not touched).
fn at_revision(
    pipeline: &Pipeline,
    rev: &str,
    values: &crate::cli::ValueArgs,
    sets: &[SetFlag],
    env: &[String],
    service: &[String],
) -> Result<Vec<Object>, Error> {
    let root = &pipeline.project.root;
    let git = |args: &[&str]| -> Result<String, Error> {
        let out = Process::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .map_err(|e| Error::run(format!("cannot run git: {e}")))?;
        if !out.status.success() {
            return Err(Error::run(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let prefix = git(&["rev-parse", "--show-prefix"])?;
    let commit = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{rev}^{{commit}}"),
    ])
    .map_err(|_| Error::run(format!("`{rev}` is not a git revision of `{top}`")))?;
    let tmp = tempdir()?;
    let mut archive = Process::new("git")
        .arg("-C")
        .arg(&top)
        .args(["archive", "--format=tar", &commit])
        .args(if prefix.is_empty() {
            Vec::new()
        } else {
            vec![prefix.clone()]
        })
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::run(format!("cannot run git archive: {e}")))?;
    let stdout = archive
        .stdout
        .take()
        .ok_or_else(|| Error::run("git archive gave no output"))?;
    let tar = Process::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(tmp.path())
        .stdin(stdout)
        .status()
        .map_err(|e| Error::run(format!("cannot run tar: {e}")))?;
    let status = archive
        .wait()
        .map_err(|e| Error::run(format!("git archive: {e}")))?;
    if !status.success() || !tar.success() {
        return Err(Error::run(format!(
            "cannot read the project at `{rev}` from git"
        )));
    }
    let old_root = tmp.path().join(&prefix);
    if !old_root.join(crate::config::PROJECT_FILE).is_file() {
        return Err(Error::run(format!(
            "the project has no `{}` at `{rev}`",
            crate::config::PROJECT_FILE
        )));
    }
    let mut values = values.clone();
    values.values_files = values
        .values_files
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .collect();
    let old = Pipeline::load(&old_root, &values, sets).map_err(|e| {
        let mut d = e
            .diagnostics()
            .first()
            .cloned()
            .unwrap_or_else(|| Diagnostic::error("the project does not load"));
        d.message = format!("at `{rev}`: {}", d.message);
        Error::Run(d)
    })?;
    // Environments or services that did not exist then are simply all "added".
    let known_env: Vec<String> = env
        .iter()
        .filter(|e| old.project.environments.iter().any(|x| &&x.name == e))
        .cloned()
        .collect();
    if !env.is_empty() && known_env.is_empty() {
        return Ok(Vec::new());
    }
    let known_svc: Vec<String> = service
        .iter()
        .filter(|s| old.tree.services.contains_key(*s))
        .cloned()
        .collect();
    if !service.is_empty() && known_svc.is_empty() {
        return Ok(Vec::new());
    }
    Ok(rendered(&old, &known_env, &known_svc)?.0)
}

/// A temporary folder removed on drop.
fn tempdir() -> Result<TempDir, Error> {
    let base = std::env::temp_dir().join(format!(
        "kiln-diff-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&base).map_err(|e| Error::io("create folder", &base, &e))?;
    Ok(TempDir(base))
}

struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
