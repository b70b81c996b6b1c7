//! `kiln diff`: the current render against golden/, a folder, or the project at a git revision.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use crate::cli::{DiffArgs, DiffFormat};
use crate::command::baseline::{self, Baseline};
use crate::command::{Output, Pipeline, RenderedText, text_with_parts};
use crate::diagnostic::Diagnostic;
use crate::diff::{self, Object};
use crate::error::Error;
use crate::manifest::ResourceId;
use crate::render::FileResult;
use crate::yaml::{self, Dialect};

/// Run `kiln diff`.
pub fn run(dir: &Path, args: &DiffArgs, color: bool) -> Result<Output, Error> {
    let pipeline = Pipeline::load(dir, &args.values)?;
    let envs = &pipeline.project.environments;
    // Environments whose ApplySet is the same at the revision and now: what the revision had and
    // the render no longer has is what the next `kubectl apply --prune --applyset` deletes.
    let mut prunes: Vec<(String, String)> = Vec::new();
    let (old, new) = match Baseline::from_against(&pipeline, dir, args.against.as_deref())? {
        Baseline::Git(rev) => {
            let (old, new, p) = at_revision(
                &pipeline,
                &rev,
                &args.values,
                (&args.only.env, &args.only.cluster),
                &args.only.service,
            )?;
            prunes = p;
            (old, new)
        }
        Baseline::Folder {
            dir: target,
            shown,
            golden,
        } => {
            // Files identical to the folder's are dropped on the render's worker threads, so only
            // the few that differ are kept in memory.
            let envs_sel = pipeline.select_targets(&args.only.env, &args.only.cluster)?;
            let instance_list = pipeline.instances(&envs_sel, &args.only.service)?;
            let instances: Vec<String> = instance_list.iter().map(|i| i.name.clone()).collect();
            let rendered = pipeline.render(
                &envs_sel,
                &instance_list,
                args.only.service.is_empty(),
                &|ms: &[crate::manifest::Manifest]| {
                    baseline::differing(&pipeline, (&target, golden), ms, None)
                },
            )?;
            let (files, unchanged) = baseline::split(
                &pipeline,
                &target,
                rendered,
                golden && args.only.service.is_empty(),
            )?;
            against_dir(
                &files,
                &unchanged,
                envs,
                &target,
                &shown,
                &|folder: &str| {
                    pipeline
                        .project
                        .folder_selected(folder, &args.only.env, &args.only.cluster)
                },
                &args.only.service,
                &instances,
                golden,
            )?
        }
    };
    let selected: Vec<String> = pipeline
        .select_targets(&args.only.env, &args.only.cluster)?
        .into_iter()
        .map(|i| envs[i].folder.clone())
        .collect();
    let mut diffs = diff::compare_in(&selected, old, new, args.show_secrets);
    for d in &mut diffs {
        if let Some((_, flags)) = prunes.iter().find(|(e, _)| *e == d.env) {
            d.prune = Some(diff::Prune {
                flags: flags.clone(),
                objects: d.removed.clone(),
            });
        }
    }
    let differs = diffs.iter().any(|d| !d.is_empty());
    let stdout = match (args.format, args.summary) {
        (DiffFormat::Json, _) => diff::render::json(&diffs),
        (DiffFormat::Text, true) => diff::render::summary(&diffs),
        (DiffFormat::Text, false) => diff::render::text(&diffs, color),
    };
    Ok(Output {
        stdout,
        code: u8::from(differs),
        stderr: String::new(),
    })
}

/// Render the project in memory.
fn rendered(
    pipeline: &Pipeline,
    (env, cluster): (&[String], &[String]),
    service: &[String],
) -> Result<Vec<FileResult<RenderedText>>, Error> {
    let envs = pipeline.select_targets(env, cluster)?;
    let instances = pipeline.instances(&envs, service)?;
    pipeline.render(&envs, &instances, service.is_empty(), &text_with_parts)
}

fn objects_of(envs: &[crate::config::Environment], f: &FileResult<RenderedText>) -> Vec<Object> {
    let env = &envs[f.env].folder;
    f.payload
        .parts
        .iter()
        .map(|p| Object {
            env: env.clone(),
            id: p.id.clone(),
            doc: p.doc.clone(),
            source: p.template_shown.clone(),
        })
        .collect()
}

/// The objects of files that differ between the render and a folder in kiln's layout
/// (`<env>/<file>.yaml`): a file whose text is byte-identical is skipped without parsing, so
/// a diff costs little more than the render. Objects are still matched by identity, so one that
/// moved between files is a change, not a removal and an addition. `selected` says which of
/// the folder's environment folders the comparison covers.
#[allow(
    clippy::too_many_arguments,
    reason = "the selection travels with the comparison"
)]
pub fn against_dir(
    files: &[FileResult<RenderedText>],
    unchanged: &[String],
    envs: &[crate::config::Environment],
    dir: &Path,
    shown: &str,
    selected: &(dyn Fn(&str) -> bool + Sync),
    service: &[String],
    instances: &[String],
    golden: bool,
) -> Result<(Vec<Object>, Vec<Object>), Error> {
    let results: Vec<Result<(Vec<Object>, Vec<Object>), Error>> = crate::par::map(files, |f| {
        let path = dir.join(&f.path);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == f.payload.text => Ok((Vec::new(), Vec::new())),
            Ok(text) => Ok((parse_file(&text, &f.path, shown)?, objects_of(envs, f))),
            Err(_) => Ok((Vec::new(), objects_of(envs, f))),
        }
    });
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for r in results {
        let (o, n) = r?;
        old.extend(o);
        new.extend(n);
    }
    // Files in the folder that this render did not produce: everything in them was removed
    // (within the selected environments and services).
    let rendered: HashSet<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .chain(unchanged.iter().map(String::as_str))
        .collect();
    let mut extra: Vec<Object> =
        load_dir_filtered(dir, shown, &|rel: &str| !rendered.contains(rel))?;
    extra.retain(|o| selected(&o.env));
    if !service.is_empty() {
        extra.retain(|o| {
            Path::new(&o.source).file_stem().is_some_and(|s| {
                instances.iter().any(|n| n.as_str() == s) || service.iter().any(|n| n.as_str() == s)
            })
        });
    }
    old.extend(extra);
    if golden {
        refuse_plaintext(&old, dir)?;
    }
    Ok((old, new))
}

/// Golden files keep a digest of each Secret value; one that holds a value itself (recorded
/// before kiln kept digests, or written by hand) is refused, naming the Secret and key only.
fn refuse_plaintext(old: &[Object], dir: &Path) -> Result<(), Error> {
    let mut problems = Vec::new();
    for o in old {
        let keys = crate::secret::plaintext_secret_keys(&o.doc);
        if keys.is_empty() {
            if crate::secret::has_other_plaintext(&o.doc) {
                problems.push(
                    Diagnostic::error(format!(
                        "`{}`: `{}` is recorded with a secret in plaintext (a secret-looking variable or key, or a URL's password); golden files keep a digest of it, never the value",
                        o.source, o.id
                    ))
                    .help("re-record the golden files with `kiln golden update`, review `git diff`, and commit; the value stays in git history, so rotate it (and keep it in a Secret: `secrets:`)"),
                );
            }
            continue;
        }
        let place = line_of(dir, &o.source, &o.id, &keys[0]).map_or_else(
            || o.source.clone(),
            |(l, c)| format!("{}:{l}:{c}", o.source),
        );
        problems.push(
            Diagnostic::error(format!(
                "`{place}`: the Secret `{}` is recorded with its values in plaintext ({}); golden files keep a digest of each Secret value, never the value",
                o.id,
                keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ))
            .help("re-record the golden files with `kiln golden update`, review `git diff`, and commit; the values stay in git history, so rotate those secrets"),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Project(problems))
    }
}

/// Line and column of `field.key` of the Secret `id` in the file an object was read from
/// (`source` is `<shown dir>/<env>/<file>`), read again with locations; `None` when not found.
fn line_of(dir: &Path, source: &str, id: &ResourceId, path: &str) -> Option<(u32, u32)> {
    let rel: PathBuf = Path::new(source)
        .components()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let text = std::fs::read_to_string(dir.join(rel)).ok()?;
    let docs = yaml::parse_stream(&text, crate::source::SrcId::default(), Dialect::Kube).ok()?;
    let doc = docs
        .iter()
        .find(|d| ResourceId::of(d).is_ok_and(|i| &i == id))?;
    let (field, key) = path.split_once('.').unwrap_or((path, ""));
    let node = doc.get(field)?;
    let at = if key.is_empty() {
        node.key_loc
    } else {
        node.get(key)?.key_loc
    };
    Some((at.line, at.col))
}

/// The objects of files that differ between two renders.
fn against_render(
    files: &[FileResult<RenderedText>],
    envs: &[crate::config::Environment],
    old_files: &(
        Vec<FileResult<RenderedText>>,
        Vec<crate::config::Environment>,
    ),
) -> (Vec<Object>, Vec<Object>) {
    let (old_list, old_envs) = old_files;
    let old_by_path: std::collections::HashMap<&str, &FileResult<RenderedText>> =
        old_list.iter().map(|f| (f.path.as_str(), f)).collect();
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for f in files {
        match old_by_path.get(f.path.as_str()) {
            Some(o) if o.payload.text == f.payload.text => {}
            Some(o) => {
                old.extend(objects_of(old_envs, o));
                new.extend(objects_of(envs, f));
            }
            None => new.extend(objects_of(envs, f)),
        }
    }
    let new_paths: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for o in old_list
        .iter()
        .filter(|o| !new_paths.contains(o.path.as_str()))
    {
        old.extend(objects_of(old_envs, o));
    }
    (old, new)
}

fn parse_file(text: &str, rel: &str, shown: &str) -> Result<Vec<Object>, Error> {
    let file = format!("{}/{rel}", shown.trim_end_matches('/'));
    let relp = Path::new(rel);
    let env = if relp.components().count() > 1 {
        relp.components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let docs = yaml::parse_stream_unlocated(text, Dialect::Kube).map_err(|e| {
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
}

/// Every object in the YAML/JSON files under `dir` whose relative path `keep` accepts; the first
/// folder of a file's path is its environment.
fn load_dir_filtered(
    dir: &Path,
    shown: &str,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Object>, Error> {
    let files: Vec<PathBuf> = crate::manifest::files_in(dir)
        .filter_map(Result::ok)
        .filter(|p| keep(&p.strip_prefix(dir).unwrap_or(p).to_string_lossy()))
        .collect();
    let parsed: Vec<Result<Vec<Object>, Error>> = crate::par::map(&files, |p| {
        let rel = p
            .strip_prefix(dir)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(p).map_err(|e| Error::io("read", p, &e))?;
        parse_file(&text, &rel, shown)
    });
    let mut out = Vec::new();
    for r in parsed {
        out.extend(r?);
    }
    Ok(out)
}

/// The project as it was at git revision `rev`, read with `git archive` (from the object store:
/// the work tree and the index are not touched), against the current one: the old and new
/// objects of every file that differs. When only some services' values files changed, only
/// those services (and each environment's `_env` files) are rendered, on both sides: everything
/// else renders the same from the same inputs.
fn at_revision(
    pipeline: &Pipeline,
    rev: &str,
    values: &crate::cli::ValueArgs,
    (env, cluster): (&[String], &[String]),
    service: &[String],
) -> Result<(Vec<Object>, Vec<Object>, Vec<(String, String)>), Error> {
    let (tmp, old_root) = export(&pipeline.project.root, rev)?;
    let mut values = values.clone();
    values.values_files = values
        .values_files
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .collect();
    let mut old = Pipeline::load(&old_root, &values).map_err(|e| {
        let mut d = e
            .diagnostics()
            .first()
            .cloned()
            .unwrap_or_else(|| Diagnostic::error("the project does not load"));
        d.message = format!("at `{rev}`: {}", d.message);
        Error::Run(d)
    })?;
    // The old side is what was: its collisions are not this change's to fix.
    old.check_shared_clusters = false;
    // A change to a member of the Eureka peer set changes every client: render everything.
    let only = changed_services(&pipeline.project, &old.project)
        .filter(|only| !in_peer_set(pipeline, only) && !in_peer_set(&old, only));
    let new_files = render_side(pipeline, (env, cluster), service, only.as_ref())?;
    // Environments or services that did not exist then are simply all "added".
    let known_env: Vec<String> = env
        .iter()
        .filter(|e| old.project.environments.iter().any(|x| &&x.name == e))
        .cloned()
        .collect();
    let old_clusters = old.project.cluster_names();
    let known_cluster: Vec<String> = cluster
        .iter()
        .filter(|c| old_clusters.contains(&c.as_str()))
        .cloned()
        .collect();
    let known_svc: Vec<String> = service
        .iter()
        .filter(|s| old.tree.services.contains_key(*s))
        .cloned()
        .collect();
    let old_files = if (!env.is_empty() && known_env.is_empty())
        || (!cluster.is_empty() && known_cluster.is_empty())
        || (!service.is_empty() && known_svc.is_empty())
    {
        Vec::new()
    } else {
        render_side(
            &old,
            (&known_env, &known_cluster),
            &known_svc,
            only.as_ref(),
        )?
    };
    drop(tmp);
    let mut prunes = Vec::new();
    for e in &pipeline.project.environments {
        let now = pipeline.project.applyset_parent(e);
        let then = old
            .project
            .environments
            .iter()
            .find(|o| o.folder == e.folder)
            .and_then(|o| old.project.applyset_parent(o));
        if let (Some(now), Some(then)) = (now, then)
            && now.id == then.id
        {
            // Diffs name render targets by folder (`prod@aliyun-hz-prod`).
            prunes.push((
                e.folder.clone(),
                format!("--applyset={} --namespace={}", now.name, now.namespace),
            ));
        }
    }
    let (o, n) = against_render(
        &new_files,
        &pipeline.project.environments,
        &(old_files, old.project.environments.clone()),
    );
    Ok((o, n, prunes))
}

/// Render one side of a revision diff, restricted to `only` services when given.
fn render_side(
    p: &Pipeline,
    (env, cluster): (&[String], &[String]),
    service: &[String],
    only: Option<&HashSet<String>>,
) -> Result<Vec<FileResult<RenderedText>>, Error> {
    let Some(only) = only else {
        return rendered(p, (env, cluster), service);
    };
    let envs = p.select_targets(env, cluster)?;
    // Every instance: the `_env` templates list them all, and the Eureka peer set is computed
    // from them.
    let instances = p.instances(&envs, &[])?;
    let only: HashSet<String> = if service.is_empty() {
        only.clone()
    } else {
        only.iter()
            .filter(|s| service.contains(s))
            .cloned()
            .collect()
    };
    p.render_only(
        &envs,
        &instances,
        service.is_empty(),
        Some(&only),
        &text_with_parts,
    )
}

/// The services whose own values files differ between two trees of the project, or `None` when
/// anything else differs (kiln.yaml, templates, shared values, -f files are the same on both
/// sides by construction), which needs a full render of both sides.
fn changed_services(
    new: &crate::config::Project,
    old: &crate::config::Project,
) -> Option<HashSet<String>> {
    let read = |root: &Path, file: &Path| std::fs::read(root.join(file)).ok();
    if read(&new.root, Path::new(crate::config::PROJECT_FILE))
        != read(&old.root, Path::new(crate::config::PROJECT_FILE))
    {
        return None;
    }
    let files = |dir: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| {
                Some((
                    e.path().strip_prefix(dir).ok()?.to_path_buf(),
                    std::fs::read(e.path()).ok()?,
                ))
            })
            .collect()
    };
    if files(&new.templates_dir) != files(&old.templates_dir) {
        return None;
    }
    let (a, b) = (files(&new.values_dir), files(&old.values_dir));
    let mut changed = HashSet::new();
    for path in a.keys().chain(b.keys()) {
        if a.get(path) == b.get(path) {
            continue;
        }
        let mut parts = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let (Some(first), Some(file), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        if first != "services" {
            return None;
        }
        let service = file.split('.').next().unwrap_or_default().to_string();
        changed.insert(service);
    }
    Some(changed)
}

/// True when one of `services` is, in some environment, an instance of the Eureka server set
/// (whose peers are written into every client), or when the instances cannot be listed.
fn in_peer_set(p: &Pipeline, services: &HashSet<String>) -> bool {
    let all: Vec<usize> = (0..p.project.environments.len()).collect();
    p.instances(&all, &[]).map_or(true, |instances| {
        instances.iter().any(|i| {
            services.contains(&i.service) && i.template == crate::render::platform::EUREKA_SET
        })
    })
}

/// Extract the project at `rev` into a temporary folder; returns it and the project root in it.
fn export(root: &Path, rev: &str) -> Result<(tempfile::TempDir, PathBuf), Error> {
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
    Ok((tmp, old_root))
}

/// A temporary folder removed on drop. Extracting a project is thousands of small files: on
/// tmpfs when there is one.
fn tempdir() -> Result<tempfile::TempDir, Error> {
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() && std::fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly())
    {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("kiln-diff-")
        .tempdir_in(&root)
        .map_err(|e| Error::io("create folder", &root, &e))
}
