//! `kiln set`: write one value into a values file, changing only its line (CI records an image
//! tag this way, so the repository says what runs).
//!
//! The file is the service's (`values/services/<s>.yaml`), its environment file with `--env`
//! (created if needed), or `--file`. Everything is checked before anything is written: the
//! path and value (`--set` syntax and typing), the file (not encrypted), the key (not a secret),
//! the edit itself ([`crate::values::edit`] re-reads its result), and, without `--file`, that the
//! value will come from this file afterwards in every environment it reaches. The write is
//! atomic: a temporary file beside it, renamed over it.

use std::path::{Path, PathBuf};

use crate::cli::{SetArgs, SetFlag, SetKind};
use crate::config::{Project, read_text};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::source::{Loc, Sources};
use crate::values::edit::{self, EditError};
use crate::values::set::{self as assign, Seg, display_path, lookup};
use crate::values::{Overrides, ValuesTree, parse_layer, sops};
use crate::yaml::Node;

use super::Output;

/// Run `kiln set`.
pub fn run(dir: &Path, args: &SetArgs) -> Result<Output, Error> {
    let mut sources = Sources::default();
    let project = Project::discover(dir, &mut sources)?;
    let flag = SetFlag {
        kind: if args.string {
            SetKind::String
        } else {
            SetKind::Auto
        },
        text: args.assignment.clone(),
    };
    let flag_src = sources.add("PATH=VALUE", args.assignment.clone());
    let op = assign::parse_one(&flag, flag_src).map_err(|(msg, at)| {
        let at = u32::try_from(at).unwrap_or(0);
        let loc = Loc {
            src: flag_src,
            line: 1,
            col: at + 1,
            offset: at,
            len: 1,
        };
        Error::Run(
            Diagnostic::error(format!("malformed `{}`: {msg}", args.assignment))
                .at(&sources, loc, msg)
                .help("write PATH=VALUE, e.g. `image.tag=1.4.3` or `ports[0].port=8080`"),
        )
    })?;
    if let Some(Seg::Key(secret)) = op
        .path
        .iter()
        .find(|s| matches!(s, Seg::Key(k) if crate::secret::is_secret_key(k)))
    {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "`{}` names a secret (`{secret}`); kiln set does not write secrets into plain files",
                display_path(&op.path)
            ))
            .help(format!(
                "keep it in an encrypted layer: `sops set values/services/{}.sops.yaml '{}' '\"VALUE\"'`, or `sops edit` that file",
                args.service,
                sops_path(&op.path)
            )),
        ));
    }
    if let Some(env) = &args.env {
        project.environment(env)?;
    }
    // Where each key is set is all that is needed, so the SOPS files are read without their
    // keys: a CI job recording an image tag needs no decryption key.
    let mut tree = ValuesTree::load_with(&project, &mut sources, false)?;
    if !tree.services.contains_key(&args.service) {
        let names = tree.services.keys().map(String::as_str);
        let mut d = Diagnostic::error(format!("unknown service `{}`", args.service));
        d = match did_you_mean(&args.service, names.clone()) {
            Some(m) => d.help(format!("did you mean `{m}`?")),
            None => d.help(format!(
                "services are the files in values/services/: {}",
                names.collect::<Vec<_>>().join(", ")
            )),
        };
        return Err(Error::Run(d));
    }

    let target = match &args.file {
        Some(f) => given_file(&project, f)?,
        None => service_file(&project, &args.service, args.env.as_deref()),
    };
    let shown = project.relative(&target);
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if sops::is_sops_name(&file_name) {
        return Err(Error::Run(
            Diagnostic::error(format!("`{shown}` is encrypted; kiln set does not write encrypted files"))
                .help(format!(
                    "use sops: `sops set {shown} '{}' '\"VALUE\"'` (the value as JSON), or `sops edit {shown}`",
                    sops_path(&op.path)
                )),
        ));
    }

    let exists = target.is_file();
    let (old_text, old_root) = if exists {
        let text = read_text(&target, &shown)?;
        let src = sources.add(shown.clone(), text.clone());
        let root = parse_layer(src, &sources).map_err(|d| Error::Project(vec![d]))?;
        (Some(text), Some(root))
    } else {
        (None, None)
    };
    let edited = match (&old_text, &old_root) {
        (Some(text), Some(root)) => {
            edit::set_in_text(text, root.loc.src, root, &op.path, &op.value.value)
        }
        _ => edit::new_file(&op.path, &op.value.value),
    }
    .map_err(|e| edit_error(e, &shown, old_root.as_ref(), &sources, &op.path))?;
    // The edited text, parsed under its own source so the check below can tell its values from
    // the old file's.
    let new_src = sources.add(shown.clone(), edited.clone());
    let new_root = parse_layer(new_src, &sources).map_err(|d| Error::Project(vec![d]))?;

    if args.file.is_none() {
        replace_layer(
            &mut tree,
            &args.service,
            args.env.as_deref(),
            new_root.clone(),
            &sources,
        );
        // Every render target the value reaches (an environment on two clusters is two).
        let envs = project
            .environments
            .iter()
            .filter(|e| args.env.as_ref().is_none_or(|n| *n == e.name));
        for env in envs {
            let merged = tree
                .merged(env, Some(&args.service), None, None, &Overrides::default())
                .map_err(|(m, at)| {
                    Error::Project(vec![Diagnostic::error(m).at(&sources, at, "set here")])
                })?;
            let found = lookup(&merged, &op.path);
            if found.is_some_and(|n| n.loc.src == new_src) {
                continue;
            }
            return Err(Error::Run(elsewhere(
                found, &env.name, args, &op.path, &shown, &sources,
            )));
        }
    }

    // A symlinked values file (inside the project, as loading checked) is written through:
    // `replace_file` follows the link.
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, &e))?;
    }
    crate::output::replace_file(&target, edited.as_bytes())
        .map_err(|e| Error::io("write", &target, &e))?;
    let at = lookup(&new_root, &op.path).map_or(Loc::whole(new_src), |n| n.loc);
    Ok(Output {
        stdout: format!(
            "{}:{}:{}: set `{}`{}\n",
            shown,
            at.line,
            at.col,
            display_path(&op.path),
            if exists { "" } else { " (new file)" }
        ),
        code: 0,
        stderr: String::new(),
    })
}

/// `values/services/<service>.yaml` or `<service>.<env>.yaml` (`.yml` when that is what exists).
fn service_file(project: &Project, service: &str, env: Option<&str>) -> PathBuf {
    let stem = match env {
        Some(e) => format!("{service}.{e}"),
        None => service.to_string(),
    };
    let dir = project.values_dir.join("services");
    let yml = dir.join(format!("{stem}.yml"));
    if yml.is_file() {
        yml
    } else {
        dir.join(format!("{stem}.yaml"))
    }
}

/// A `--file`: an existing values file inside the project's values folder.
fn given_file(project: &Project, file: &Path) -> Result<PathBuf, Error> {
    let values = project
        .values_dir
        .canonicalize()
        .unwrap_or_else(|_| project.values_dir.clone());
    let Ok(path) = file.canonicalize() else {
        return Err(Error::run(format!(
            "`{}` (from --file) does not exist",
            file.display()
        )));
    };
    let is_layer = path.starts_with(&values)
        && path
            .file_name()
            .and_then(|n| sops::stem(&n.to_string_lossy()).map(|_| ()))
            .is_some();
    if !is_layer {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "`{}` (from --file) is not a values file of this project",
                file.display()
            ))
            .help(format!(
                "name a `.yaml` file under `{}`",
                project.relative(&project.values_dir)
            )),
        ));
    }
    Ok(path)
}

/// Put the edited file in the tree in place of the old one, keeping its encrypted twin (or
/// making the layer's lone encrypted file the twin of the new plain file).
fn replace_layer(
    tree: &mut ValuesTree,
    service: &str,
    env: Option<&str>,
    new: Node,
    sources: &Sources,
) {
    let Some(layers) = tree.services.get_mut(service) else {
        return;
    };
    let previous = match env {
        Some(e) => layers.envs.remove(e),
        None => layers.base.take(),
    };
    let new_src = new.loc.src;
    match env {
        Some(e) => {
            layers.envs.insert(e.to_string(), new);
        }
        None => layers.base = Some(new),
    }
    if let Some(previous) = previous {
        let twin = if sops::is_sops_name(&sources.get(previous.loc.src).name) {
            Some(previous)
        } else {
            tree.encrypted_twins.remove(&previous.loc.src)
        };
        if let Some(twin) = twin {
            tree.encrypted_twins.insert(new_src, twin);
        }
    }
}

/// A values path as `sops set` takes it: `["image"]["tag"]`, `["ports"][0]`.
fn sops_path(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!("[{}]", serde_json::Value::String(k.clone())),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// The error for a value that would still come from elsewhere after the write.
fn elsewhere(
    found: Option<&Node>,
    env: &str,
    args: &SetArgs,
    path: &[Seg],
    shown: &str,
    sources: &Sources,
) -> Diagnostic {
    let key = display_path(path);
    let Some(node) = found else {
        return Diagnostic::error(format!(
            "after writing `{key}` into `{shown}`, `{}` in environment `{env}` would still not have it: a later layer removes it (`null`) or replaces a mapping above it",
            args.service
        ))
        .help("find the layer with `kiln values SERVICE --env ENV --origin`, or pass --file to write anyway");
    };
    let winner = &sources.get(node.loc.src).name;
    let help = if sops::is_sops_name(winner) {
        format!("it is kept encrypted there: change it with `sops edit {winner}`")
    } else if args.env.is_none()
        && sops::stem(winner)
            .is_some_and(|s| s.ends_with(&format!("services/{}.{env}", args.service)))
    {
        format!(
            "set it for that environment: `kiln set {} {key}=... --env {env}`, or pass `--file {shown}` to write anyway",
            args.service
        )
    } else {
        format!("write it there with `--file {winner}`, or pass `--file {shown}` to write anyway")
    };
    Diagnostic::error(format!(
        "`{key}` of `{}` in environment `{env}` comes from `{winner}`, which overrides `{shown}`",
        args.service
    ))
    .at(sources, node.key_loc, "set here")
    .help(help)
}

/// A located diagnostic for an edit that cannot be made.
fn edit_error(
    e: EditError,
    shown: &str,
    root: Option<&Node>,
    sources: &Sources,
    path: &[Seg],
) -> Error {
    let mut d = Diagnostic::error(format!(
        "cannot set `{}` in `{shown}`: {}",
        display_path(path),
        e.message
    ));
    if let (Some(at), Some(_)) = (e.at, root) {
        d = d.at(sources, at, "here");
    }
    if let Some(h) = e.help {
        d = d.help(h);
    }
    Error::Run(d)
}
