//! `kiln templates`: the template sets a project renders with (kiln's built-in library under the
//! project's own `templates/` folder), their files, and taking a built-in set over.
//!
//! `list` and `show` only read. `eject` copies built-in files into the project's templates
//! folder and never replaces a file: when any target exists it writes nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::{TemplatesCommand, TemplatesNameArgs};
use crate::command::Output;
use crate::config::Project;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::render::Templates;
use crate::render::templates::TemplateFile;
use crate::source::Sources;
use crate::values::schema::FILE as SCHEMA_FILE;

/// Run `kiln templates ...`.
pub fn run(dir: &Path, cmd: &TemplatesCommand) -> Result<Output, Error> {
    let mut sources = Sources::default();
    let project = Project::discover(dir, &mut sources).ok();
    // Inside a project its own templates are laid over the built-in ones; elsewhere only the
    // built-in library is there to see.
    let templates = match &project {
        Some(p) => Templates::load(Some(&p.templates_dir), &p.relative(&p.templates_dir))?,
        None => Templates::load(None, "templates")?,
    };
    let stdout = match cmd {
        TemplatesCommand::List => list(&templates),
        TemplatesCommand::Show(args) => show(&templates, args)?,
        TemplatesCommand::Eject(args) => {
            let Some(project) = project else {
                return Err(Error::Run(
                    Diagnostic::error("`kiln templates eject` copies into a project's templates folder, and there is no kiln.yaml here or above")
                        .help("run it in a kiln project (or with `-C DIR`); `kiln init` starts one"),
                ));
            };
            eject(&project, &templates, args)?
        }
    };
    Ok(Output {
        stdout,
        code: 0,
        stderr: String::new(),
    })
}

/// Where a file comes from, as `list` and `show` say it.
fn origin(name: &str, file: &TemplateFile) -> &'static str {
    match (file.from_project, Templates::builtin(name)) {
        (false, _) => "built-in",
        (true, None) => "project",
        (true, Some(b)) if *b == *file.source => "project, same as built-in",
        (true, Some(_)) => "project, replaces built-in",
    }
}

/// What a file of a set does.
fn role(folder: &str, file: &str) -> &'static str {
    if folder == "_lib" {
        "imported by templates"
    } else if file.ends_with(".yaml.j2") {
        if folder == "_env" {
            "rendered once per environment"
        } else {
            "rendered per instance"
        }
    } else if file == "defaults.yaml" {
        "lowest values layer"
    } else if file == SCHEMA_FILE {
        "values schema"
    } else {
        "not rendered"
    }
}

fn list(templates: &Templates) -> String {
    let mut out = String::new();
    for folder in templates.folders() {
        let files = templates.folder_files(folder);
        let from_project = files.iter().filter(|(_, f)| f.from_project).count();
        let builtin = files
            .iter()
            .filter(|(n, _)| Templates::builtin(&format!("{folder}/{n}")).is_some())
            .count();
        let state = match (builtin, from_project) {
            (0, _) => "project".to_string(),
            (_, 0) => "built-in".to_string(),
            (_, n) => format!("built-in, {n} of {} files from the project", files.len()),
        };
        out.push_str(&format!("{folder}  ({state})\n"));
        let rows: Vec<(&str, &str, &str)> = files
            .iter()
            .map(|(name, file)| {
                (
                    *name,
                    origin(&format!("{folder}/{name}"), file),
                    role(folder, name),
                )
            })
            .collect();
        let w1 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let w2 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        for (name, origin, role) in rows {
            out.push_str(&format!("  {name:w1$}  {origin:w2$}  {role}\n"));
        }
    }
    out
}

fn show(templates: &Templates, args: &TemplatesNameArgs) -> Result<String, Error> {
    let name = args.name.trim_end_matches('/');
    if name.contains('/') {
        return match templates.get(name) {
            Ok(file) => Ok(file.source.to_string()),
            Err(why) => {
                let names: Vec<String> = templates.iter().map(|(n, _)| n.to_string()).collect();
                Err(Error::Run(with_suggestion(
                    Diagnostic::error(why),
                    name,
                    names.iter().map(String::as_str),
                )))
            }
        };
    }
    let files = templates.folder_files(name);
    if files.is_empty() {
        return Err(Error::Run(unknown_set(name, templates.folders())));
    }
    let mut out = String::new();
    for (file, t) in files {
        let full = format!("{name}/{file}");
        out.push_str(&format!("# ==> {full} ({}) <==\n", origin(&full, t)));
        out.push_str(&t.source);
        if !t.source.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

fn eject(
    project: &Project,
    templates: &Templates,
    args: &TemplatesNameArgs,
) -> Result<String, Error> {
    let name = args.name.trim_end_matches('/');
    let wanted: Vec<(&str, &str)> = if name.contains('/') {
        Templates::builtins().filter(|(n, _)| *n == name).collect()
    } else {
        let prefix = format!("{name}/");
        Templates::builtins()
            .filter(|(n, _)| n.starts_with(&prefix))
            .collect()
    };
    if wanted.is_empty() {
        let builtin_folders: Vec<&str> = {
            let mut f: Vec<&str> = Templates::builtins()
                .filter_map(|(n, _)| n.split_once('/').map(|(s, _)| s))
                .collect();
            f.dedup();
            f
        };
        let d = if let Some((folder, _)) = name.split_once('/')
            && builtin_folders.contains(&folder)
        {
            let files: Vec<&str> = Templates::builtins()
                .filter_map(|(n, _)| n.strip_prefix(folder)?.strip_prefix('/'))
                .collect();
            let file = &name[folder.len() + 1..];
            let mut d =
                Diagnostic::error(format!("the built-in `{folder}` set has no file `{file}`"));
            d = match did_you_mean(file, files.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{folder}/{s}`?")),
                None => d.help(format!("its files: {}", files.join(", "))),
            };
            d
        } else if templates.folders().contains(&name) {
            Diagnostic::error(format!(
                "`{name}` is the project's own set: there is nothing built-in to eject"
            ))
            .help(format!("built-in sets: {}", builtin_folders.join(", ")))
        } else {
            unknown_set(name.split('/').next().unwrap_or(name), builtin_folders)
        };
        return Err(Error::Run(d));
    }
    let targets: Vec<(PathBuf, &str)> = wanted
        .iter()
        .map(|(n, source)| (project.templates_dir.join(n), *source))
        .collect();
    // Decide before writing anything: a refusal leaves the project exactly as it was.
    let existing: Vec<String> = targets
        .iter()
        .filter(|(path, _)| path.symlink_metadata().is_ok())
        .map(|(path, _)| format!("`{}`", project.relative(path)))
        .collect();
    if !existing.is_empty() {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "not ejecting `{name}`: {} already exist{}; kiln templates eject never overwrites files",
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" }
            ))
            .help("move them aside (or delete them) and eject again, then carry your changes over; `kiln templates list` shows which files the project replaces"),
        ));
    }
    let mut out = String::new();
    for (path, source) in &targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, &e))?;
        }
        // `create_new`: a file that appeared since the check above is still not replaced.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(source.as_bytes()))
            .map_err(|e| Error::io("write", path, &e))?;
        out.push_str(&format!("created {}\n", project.relative(path)));
    }
    out.push_str(&format!(
        "ejected {} built-in file(s) of `{}`: the project's copies now replace them; edit them, and `kiln diff` shows what your edits change\n",
        targets.len(),
        name.split('/').next().unwrap_or(name)
    ));
    Ok(out)
}

fn unknown_set<'a>(name: &str, sets: impl IntoIterator<Item = &'a str>) -> Diagnostic {
    let sets: Vec<&str> = sets.into_iter().collect();
    let d = Diagnostic::error(format!("unknown template set `{name}`"));
    match did_you_mean(name, sets.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("template sets: {}", sets.join(", "))),
    }
}

fn with_suggestion<'a>(
    d: Diagnostic,
    name: &str,
    names: impl Iterator<Item = &'a str>,
) -> Diagnostic {
    match did_you_mean(name, names) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help("`kiln templates list` shows every set and file"),
    }
}
