//! `kiln.yaml` and the resolved settings every command works from.
//!
//! This module finds the project (the nearest `kiln.yaml` upwards, like git), reads it strictly
//! (unknown keys are errors with <file:line>), and resolves the folders. Nothing below this module
//! looks at command-line arguments.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::source::{Loc, Sources};
use crate::yaml::ParseError;

/// The name of the project file.
pub const PROJECT_FILE: &str = "kiln.yaml";

/// `kiln.yaml`: the environments of a kiln project and where its folders are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "kiln.yaml")]
struct ProjectFile {
    /// Environment name -> settings, in the order rendered.
    #[schemars(length(min = 1))]
    environments: IndexMap<String, EnvironmentFile>,
    /// Folder locations, relative to the project root.
    #[serde(default)]
    paths: PathsFile,
    /// Lint rule severities (`rules: {image-tag: error}`) and allow-lists.
    #[serde(default)]
    lint: crate::check::lint::LintConfig,
    /// Pruning with `kubectl apply --prune --applyset` (KEP-3659): one ApplySet per environment
    /// (or per environment and cluster), shown in golden files and in `kiln diff`.
    #[serde(default)]
    applyset: Option<ApplySetFile>,
}

/// `applyset:` in `kiln.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApplySetFile {
    /// `environment`: the parent is the Secret `kiln-<env>` in the environment's namespace;
    /// `cluster`: `kiln-<env>-<cluster>` (every environment then needs `cluster`).
    scope: ApplySetScope,
    /// The parent's `applyset.kubernetes.io/tooling` as golden files show it (kubectl writes
    /// its own version there; it only checks the `kubectl` part). Default `kubectl/v1.33`.
    #[serde(default)]
    tooling: Option<String>,
}

/// Which objects one ApplySet holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApplySetScope {
    /// Everything kiln renders for one environment.
    Environment,
    /// Everything kiln renders for one environment, named after its cluster too.
    Cluster,
}

/// The ApplySet settings of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySet {
    /// Which objects one set holds.
    pub scope: ApplySetScope,
    /// The parent's tooling annotation in golden files.
    pub tooling: String,
}

/// The parent object of one environment's ApplySet: a Secret, kubectl's default kind for
/// `--applyset=NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySetParent {
    /// `kiln-<env>` (or `kiln-<env>-<cluster>`).
    pub name: String,
    /// The environment's namespace.
    pub namespace: String,
    /// `applyset-...-v1`, kubectl's id of this parent.
    pub id: String,
    /// The tooling annotation.
    pub tooling: String,
}

/// One environment: a namespace on a cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvironmentFile {
    /// The namespace every resource of the environment goes to.
    namespace: String,
    /// The Kubernetes minor version the environment runs, as a quoted string: "1.35".
    #[schemars(with = "String", regex(pattern = r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?$"))]
    kube_version: serde_saphyr::Spanned<KubeVersionFile>,
    /// A free-form cluster name, available to templates as `env.cluster`.
    #[serde(default)]
    cluster: Option<String>,
}

/// A Kubernetes version as written; a number is accepted only to explain why it is wrong.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KubeVersionFile {
    Text(String),
    Number(#[allow(dead_code, reason = "only the variant matters: it explains the error")] f64),
}

/// Folder locations, relative to `kiln.yaml`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PathsFile {
    /// Template sets (default `templates`).
    templates: Option<PathBuf>,
    /// Values layers (default `values`).
    values: Option<PathBuf>,
    /// Render output (default `out`).
    out: Option<PathBuf>,
    /// Expected output (default `golden`).
    golden: Option<PathBuf>,
    /// Follow values files that are symlinks to files outside the project (default false).
    #[serde(default)]
    allow_outside_symlinks: bool,
}

/// One environment: a namespace on a cluster running a Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Its name (`dev`, `prod`).
    pub name: String,
    /// The namespace its resources go to.
    pub namespace: String,
    /// The target Kubernetes minor version, `1.35`.
    pub kube_version: KubeVersion,
    /// Free-form cluster name, for templates.
    pub cluster: Option<String>,
}

/// A Kubernetes `major.minor` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    /// Major (always 1 today).
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl KubeVersion {
    /// Parse `1.35` (a leading `v` and a patch part are accepted and ignored).
    #[must_use]
    pub fn parse(text: &str) -> Option<KubeVersion> {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) {
            return None;
        }
        Some(KubeVersion { major, minor })
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A loaded project: where it is, its environments and folders.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder holding `kiln.yaml`.
    pub root: PathBuf,
    /// Environments in declaration order.
    pub environments: Vec<Environment>,
    /// Template sets.
    pub templates_dir: PathBuf,
    /// Values layers.
    pub values_dir: PathBuf,
    /// Default render output.
    pub out_dir: PathBuf,
    /// Expected output.
    pub golden_dir: PathBuf,
    /// Lint settings.
    pub lint: crate::check::lint::LintConfig,
    /// Values files may be symlinks to files outside the project.
    pub allow_outside_symlinks: bool,
    /// `paths.golden` is set in `kiln.yaml`: the project keeps golden files, so a missing
    /// golden folder is drift, not "nothing recorded yet".
    pub golden_configured: bool,
    /// `applyset:`, when pruning with ApplySets is on.
    pub applyset: Option<ApplySet>,
}

impl Project {
    /// Find `kiln.yaml` in `start` or its parents and load it.
    pub fn discover(start: &Path, sources: &mut Sources) -> Result<Project, Error> {
        let start = if start.as_os_str().is_empty() {
            Path::new(".")
        } else {
            start
        };
        let abs = std::path::absolute(start).map_err(|e| Error::io("resolve", start, &e))?;
        let mut dir = Some(abs.as_path());
        while let Some(d) = dir {
            if d.join(PROJECT_FILE).is_file() {
                return Project::load(d, sources);
            }
            dir = d.parent();
        }
        Err(Error::Run(
            Diagnostic::error(format!(
                "no `{PROJECT_FILE}` in `{}` or any parent folder",
                abs.display()
            ))
            .help("run kiln inside a kiln project, or point at one with `-C DIR`"),
        ))
    }

    /// Load `root/kiln.yaml`.
    pub fn load(root: &Path, sources: &mut Sources) -> Result<Project, Error> {
        let path = root.join(PROJECT_FILE);
        let text = read_text(&path, PROJECT_FILE)?;
        let src = sources.add(PROJECT_FILE, text.clone());
        let file: ProjectFile = serde_saphyr::from_str(&text).map_err(|e| {
            let err = ParseError::from_saphyr(&e);
            let loc = err.loc(src, &text);
            Error::Project(vec![
                Diagnostic::error(format!("invalid `{PROJECT_FILE}`: {}", err.message))
                    .at(sources, loc, "here")
                    .help("see the project format in the README: `environments: {<name>: {namespace, kubeVersion}}`"),
            ])
        })?;
        let mut environments = Vec::new();
        let mut problems = Vec::new();
        // Names become folder and file names (`out/<env>/`): each must be a DNS label, checked
        // here, at its line, before anything builds a path from it.
        let located = crate::yaml::parse(&text, src, crate::yaml::Dialect::Values).ok();
        let envs_node = located.as_ref().and_then(|n| n.get("environments"));
        for (name, env) in &file.environments {
            let entry = envs_node.and_then(|n| n.get(name));
            let checks = [
                (
                    "environment name",
                    Some(name.as_str()),
                    entry.map(|e| e.key_loc),
                ),
                (
                    "namespace",
                    Some(env.namespace.as_str()),
                    entry.and_then(|e| e.get("namespace")).map(|n| n.loc),
                ),
                (
                    "cluster name",
                    env.cluster.as_deref(),
                    entry.and_then(|e| e.get("cluster")).map(|n| n.loc),
                ),
            ];
            for (what, value, loc) in checks {
                let Some(value) = value else { continue };
                if let Err(why) = crate::kube::names::dns_label(value) {
                    problems.push(
                        Diagnostic::error(format!("{what} `{}` {why}", value.escape_debug()))
                            .at(sources, loc.unwrap_or(Loc::whole(src)), "here")
                            .help(format!("a {what} becomes a folder and Kubernetes name: lowercase letters, digits and `-`, at most 63, like `prod` or `prod-eu`")),
                    );
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }
        for (name, env) in file.environments {
            let kube_version = match &env.kube_version.value {
                KubeVersionFile::Text(t) => KubeVersion::parse(t),
                KubeVersionFile::Number(_) => None,
            };
            let Some(kube_version) = kube_version else {
                let loc = Loc {
                    src,
                    line: env.kube_version.referenced.line() as u32,
                    col: env.kube_version.referenced.column() as u32,
                    offset: 0,
                    len: 0,
                };
                let help = match env.kube_version.value {
                    KubeVersionFile::Number(_) => {
                        "quote it: `kubeVersion: \"1.30\"` (unquoted 1.30 is the number 1.3)"
                    }
                    KubeVersionFile::Text(_) => {
                        "write the Kubernetes minor version as a string: `kubeVersion: \"1.35\"`"
                    }
                };
                problems.push(
                    Diagnostic::error(format!(
                        "environment `{name}`: `kubeVersion` is not a version like \"1.35\""
                    ))
                    .at(sources, loc, "here")
                    .help(help),
                );
                continue;
            };
            environments.push(Environment {
                name,
                namespace: env.namespace,
                kube_version,
                cluster: env.cluster,
            });
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }
        let applyset = match file.applyset {
            None => None,
            Some(a) => {
                let node = located.as_ref().and_then(|n| n.get("applyset"));
                let at = |key: &str| {
                    node.and_then(|n| n.get(key))
                        .map_or(Loc::whole(src), |n| n.loc)
                };
                let tooling = a.tooling.unwrap_or_else(|| "kubectl/v1.33".to_string());
                if !tooling.starts_with("kubectl/") || tooling.len() == "kubectl/".len() {
                    problems.push(
                        Diagnostic::error(format!("`applyset.tooling` `{}` is not `kubectl/<version>`", tooling.escape_debug()))
                            .at(sources, at("tooling"), "here")
                            .help("kubectl refuses to manage an ApplySet parent whose tooling is not `kubectl`: write `kubectl/v1.33`, or leave it out"),
                    );
                }
                if a.scope == ApplySetScope::Cluster {
                    for e in environments.iter().filter(|e| e.cluster.is_none()) {
                        problems.push(
                            Diagnostic::error(format!("`applyset.scope: cluster` names each parent after its cluster, and environment `{}` has no `cluster`", e.name))
                                .at(sources, at("scope"), "here")
                                .help("give every environment a `cluster`, or use `scope: environment`"),
                        );
                    }
                }
                Some(ApplySet {
                    scope: a.scope,
                    tooling,
                })
            }
        };
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }
        let dir = |p: Option<PathBuf>, default: &str| {
            root.join(p.unwrap_or_else(|| PathBuf::from(default)))
        };
        Ok(Project {
            root: root.to_path_buf(),
            environments,
            templates_dir: dir(file.paths.templates, "templates"),
            values_dir: dir(file.paths.values, "values"),
            out_dir: dir(file.paths.out, "out"),
            golden_configured: file.paths.golden.is_some(),
            golden_dir: dir(file.paths.golden, "golden"),
            allow_outside_symlinks: file.paths.allow_outside_symlinks,
            lint: file.lint,
            applyset,
        })
    }

    /// The ApplySet parent of `env`, when ApplySets are on.
    #[must_use]
    pub fn applyset_parent(&self, env: &Environment) -> Option<ApplySetParent> {
        let a = self.applyset.as_ref()?;
        let name = match (a.scope, &env.cluster) {
            (ApplySetScope::Cluster, Some(c)) => format!("kiln-{}-{c}", env.name),
            _ => format!("kiln-{}", env.name),
        };
        Some(ApplySetParent {
            id: crate::kube::applyset::id(&name, &env.namespace, "Secret", ""),
            name,
            namespace: env.namespace.clone(),
            tooling: a.tooling.clone(),
        })
    }

    /// The environment called `name`, or an error with a suggestion.
    pub fn environment(&self, name: &str) -> Result<&Environment, Error> {
        self.environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                let names = self.environments.iter().map(|e| e.name.as_str());
                let mut d = Diagnostic::error(format!("unknown environment `{name}`"));
                d = match did_you_mean(name, names.clone()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!(
                        "environments in {PROJECT_FILE}: {}",
                        names.collect::<Vec<_>>().join(", ")
                    )),
                };
                Error::Run(d)
            })
    }

    /// A path relative to the project root, for messages.
    #[must_use]
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Read a file as UTF-8, with errors that name it.
pub fn read_text(path: &Path, shown_as: &str) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = line_count(good);
        Error::Project(vec![
            Diagnostic::error(format!(
                "`{shown_as}` is not valid UTF-8 (first bad byte on line {line})"
            ))
            .help("save the file as UTF-8"),
        ])
    })
}

/// The JSON Schema of `kiln.yaml`, generated from the types above (for editors that read
/// `# yaml-language-server: $schema=` lines).
#[must_use]
pub fn project_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ProjectFile)).unwrap_or_default()
}

/// The 1-based line the byte after `bytes` is on.
#[must_use]
pub fn line_count(bytes: &[u8]) -> usize {
    bytes.split(|b| *b == b'\n').count()
}
