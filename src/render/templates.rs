//! Where templates come from: the project's `templates/` folder, over kiln's built-in library.
//!
//! A project template replaces the built-in one of the same name, file by file. Templates load
//! only from these two places: a name with `..` or an absolute path, or a symlink that leads
//! out of the project's templates folder, is refused.

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::error::Error;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// One template file.
#[derive(Debug, Clone)]
pub struct TemplateFile {
    /// Its source text.
    pub source: Arc<str>,
    /// Where it comes from: `templates/spring-boot/service.yaml.j2`, or `built-in spring-boot/...`.
    pub shown_as: String,
    /// Whether the project's templates folder holds it (it may replace a built-in file).
    pub from_project: bool,
}

/// Every template a project can use, by name relative to the templates folder.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    files: BTreeMap<String, TemplateFile>,
}

/// Whether `c` cannot stand in a YAML comment: a line break (for the API server's YAML 1.1
/// reader also U+0085, U+2028 and U+2029) or a character YAML cannot carry literally.
fn breaks_a_comment(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') || crate::yaml::needs_escape(c)
}

impl Templates {
    /// The built-in library overlaid with the project's folder (when it exists).
    pub fn load(project_dir: Option<&Path>, shown_prefix: &str) -> Result<Templates, Error> {
        let mut files = BTreeMap::new();
        for (name, source) in EMBEDDED {
            files.insert(
                (*name).to_string(),
                TemplateFile {
                    source: Arc::from(*source),
                    shown_as: format!("built-in {name}"),
                    from_project: false,
                },
            );
        }
        if let Some(dir) = project_dir.filter(|d| d.is_dir()) {
            let root = dir
                .canonicalize()
                .map_err(|e| Error::io("resolve", dir, &e))?;
            let mut problems = Vec::new();
            let mut bad_sets = std::collections::HashSet::new();
            for entry in walkdir::WalkDir::new(dir)
                .follow_links(false)
                .sort_by_file_name()
            {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        problems.push(Diagnostic::error(format!(
                            "cannot read the templates folder: {e}"
                        )));
                        continue;
                    }
                };
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(dir) else {
                    continue;
                };
                let name = rel.to_string_lossy().replace('\\', "/");
                let shown_as = format!("{shown_prefix}/{name}");
                if entry.path_is_symlink() {
                    match path.canonicalize() {
                        Ok(target) if target.starts_with(&root) => {
                            if target.is_dir() {
                                continue;
                            }
                        }
                        Ok(target) => {
                            problems.push(
                                Diagnostic::error(format!("template `{shown_as}` is a symlink to `{}`, outside the templates folder", target.display()))
                                    .help("templates load only from the project's templates folder; copy the file in instead"),
                            );
                            continue;
                        }
                        Err(e) => {
                            problems.push(Diagnostic::error(format!(
                                "template `{shown_as}` is a broken symlink: {e}"
                            )));
                            continue;
                        }
                    }
                } else if !entry.file_type().is_file() {
                    continue;
                }
                if name.split('/').any(|part| part.starts_with('.')) {
                    continue;
                }
                // The set's folder name is a set name, used in values and in paths.
                if let Some((set, _)) = name.split_once('/')
                    && !matches!(set, "_env" | "_lib")
                    && let Err(why) = crate::kube::names::dns_label(set)
                {
                    if !bad_sets.insert(set.to_string()) {
                        continue;
                    }
                    problems.push(
                        Diagnostic::error(format!("template set folder `{shown_prefix}/{set}`: the set name {why}"))
                            .help("name template sets like DNS labels (`spring-boot`); `_env` and `_lib` are the only other folders"),
                    );
                    continue;
                }
                // The name is written into the `# Source:` comment of every rendered file: a
                // line break there would turn the rest of the name into YAML content.
                if name.chars().any(breaks_a_comment) {
                    problems.push(
                        Diagnostic::error(format!(
                            "template `{}`: the file name holds a line break or control character",
                            shown_as.escape_debug()
                        ))
                        .help("rename the file; template names appear in the `# Source:` line of every rendered file"),
                    );
                    continue;
                }
                match std::fs::read(path) {
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => {
                            files.insert(
                                name,
                                TemplateFile {
                                    source: Arc::from(text),
                                    shown_as,
                                    from_project: true,
                                },
                            );
                        }
                        Err(_) => problems.push(
                            Diagnostic::error(format!("template `{shown_as}` is not valid UTF-8"))
                                .help("save it as UTF-8"),
                        ),
                    },
                    Err(e) => problems.push(Diagnostic::error(format!(
                        "cannot read template `{shown_as}`: {e}"
                    ))),
                }
            }
            if !problems.is_empty() {
                return Err(Error::Project(problems));
            }
        }
        Ok(Templates { files })
    }

    /// The template called `name`, refusing names that climb out of the templates folder.
    pub fn get(&self, name: &str) -> Result<&TemplateFile, String> {
        // Every name held was read from the folder (or is built in), so one found needs no
        // checking; `kiln check` asks for each object's template.
        if let Some(file) = self.files.get(name) {
            return Ok(file);
        }
        let path = Path::new(name);
        if path.is_absolute() || name.starts_with('/') || name.starts_with('\\') {
            return Err(format!(
                "`{name}` is an absolute path; templates load only from the templates folder"
            ));
        }
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(format!(
                "`{name}` climbs out of the templates folder with `..`; name templates from the templates folder, e.g. `_lib/helpers.j2`"
            ));
        }
        Err(format!("there is no template `{name}`"))
    }

    /// The files of template set `set` that render (`<set>/*.yaml.j2`), sorted.
    #[must_use]
    pub fn set_files(&self, set: &str) -> Vec<&str> {
        let prefix = format!("{set}/");
        self.files
            .keys()
            .filter(|n| {
                n.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".yaml.j2"))
            })
            .map(String::as_str)
            .collect()
    }

    /// Whether a set with this name exists.
    #[must_use]
    pub fn has_set(&self, set: &str) -> bool {
        !self.set_files(set).is_empty()
    }

    /// Names of the renderable sets (not `_env`, `_lib`).
    #[must_use]
    pub fn sets(&self) -> Vec<&str> {
        let mut sets: Vec<&str> = self
            .files
            .keys()
            .filter_map(|n| n.split_once('/').map(|(s, _)| s))
            .filter(|s| !s.starts_with('_'))
            .collect();
        sets.dedup();
        sets
    }

    /// A file of a set that is not a template (`defaults.yaml`, `values.schema.json`).
    #[must_use]
    pub fn set_data(&self, set: &str, file: &str) -> Option<&TemplateFile> {
        self.files.get(&format!("{set}/{file}"))
    }

    /// Names of every folder of the templates (renderable sets, then `_env` and `_lib`).
    #[must_use]
    pub fn folders(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .files
            .keys()
            .filter_map(|n| n.split_once('/').map(|(s, _)| s))
            .collect();
        all.sort_by_key(|s| (s.starts_with('_'), *s));
        all.dedup();
        all
    }

    /// Every file of a folder (`spring-boot`, `_lib`), by name within it, sorted.
    #[must_use]
    pub fn folder_files(&self, folder: &str) -> Vec<(&str, &TemplateFile)> {
        let prefix = format!("{folder}/");
        self.files
            .iter()
            .filter_map(|(n, f)| n.strip_prefix(&prefix).map(|rest| (rest, f)))
            .collect()
    }

    /// The built-in source of `name` (relative to the templates folder), if kiln has one.
    #[must_use]
    pub fn builtin(name: &str) -> Option<&'static str> {
        EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, source)| *source)
    }

    /// Every built-in file: (name relative to the templates folder, source), sorted by name.
    pub fn builtins() -> impl Iterator<Item = (&'static str, &'static str)> {
        EMBEDDED.iter().copied()
    }

    /// Every template file (for load-time checks).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TemplateFile)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }
}
