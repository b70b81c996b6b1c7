//! `kiln.yaml` and the resolved settings every command works from.
//!
//! This module finds the project (the nearest `kiln.yaml` upwards, like git), reads it strictly
//! (unknown keys are errors with <file:line>), and resolves the folders. Nothing below this module
//! looks at command-line arguments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::kube::KubeVersion;
use crate::source::{Loc, Sources, SrcId};
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
    lint: LintConfig,
    /// Cluster name -> API server, CA and Kubernetes version. Once present, every cluster an
    /// environment names must be listed here.
    #[serde(default)]
    clusters: IndexMap<String, ClusterFile>,
    /// Pruning with `kubectl apply --prune --applyset` (KEP-3659): one ApplySet per environment
    /// (or per environment and cluster), shown in golden files and in `kiln diff`.
    #[serde(default)]
    applyset: Option<ApplySetFile>,
}

/// One cluster: where its API server is and what it runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClusterFile {
    /// The API server URL, `https://10.0.0.1:6443`.
    server: String,
    /// A PEM file with the API server's CA, relative to `kiln.yaml` (embedded into kubeconfigs).
    ca_file: Option<PathBuf>,
    /// The API server's CA as base64 of the PEM, like a kubeconfig's `certificate-authority-data`.
    ca_data: Option<String>,
    /// The Kubernetes minor version the cluster runs, as a quoted string: "1.35".
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?$")
    )]
    kube_version: Option<KubeVersionFile>,
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
    /// Optional when its clusters (in `clusters:`) give one.
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?$")
    )]
    kube_version: Option<KubeVersionFile>,
    /// The cluster the environment is deployed to, available to templates as `env.cluster`
    /// (a free label until `clusters:` exists, then one of its names).
    #[serde(default)]
    cluster: Option<String>,
    /// The clusters the environment is deployed to, when more than one: it is rendered once per
    /// cluster, to `out/<env>@<cluster>/`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    clusters: Option<Vec<String>>,
}

/// A Kubernetes version as written; a number is accepted only to explain why it is wrong.
#[derive(Debug)]
enum KubeVersionFile {
    Text(String),
    Number,
}

impl<'de> Deserialize<'de> for KubeVersionFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Written;
        impl serde::de::Visitor<'_> for Written {
            type Value = KubeVersionFile;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a version as a quoted string, like \"1.35\"")
            }
            fn visit_str<E>(self, v: &str) -> Result<KubeVersionFile, E> {
                Ok(KubeVersionFile::Text(v.to_string()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<KubeVersionFile, E> {
                Ok(KubeVersionFile::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<KubeVersionFile, E> {
                Ok(KubeVersionFile::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<KubeVersionFile, E> {
                Ok(KubeVersionFile::Number)
            }
        }
        d.deserialize_any(Written)
    }
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

/// One environment on one cluster: a namespace on a cluster running a Kubernetes version. An
/// environment deployed to several clusters is one `Environment` per cluster, each rendered
/// with its own cluster's values layer and checked against its own cluster's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Its name (`dev`, `prod`): what values files, `--env` and `teams[].envs` name.
    pub name: String,
    /// The namespace its resources go to.
    pub namespace: String,
    /// The target Kubernetes minor version, `1.35` (the cluster's, when it gives one).
    pub kube_version: KubeVersion,
    /// The cluster, for templates (`env.cluster`) and the `values/clusters/` layer.
    pub cluster: Option<String>,
    /// Every cluster of the environment, in declaration order (`cluster` is one of them).
    pub clusters: Vec<String>,
    /// Its output folder (and its name in reports and diffs): `name`, or `name@cluster` when
    /// the environment is on several clusters.
    pub folder: String,
}

/// One entry of `clusters:` in `kiln.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Its name.
    pub name: String,
    /// The API server URL.
    pub server: String,
    /// Its CA, if given.
    pub ca: Option<ClusterCa>,
    /// The Kubernetes version it runs, if given.
    pub kube_version: Option<KubeVersion>,
}

/// Where a cluster's CA certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCa {
    /// `caData`: base64 of the PEM, as written.
    Data(String),
    /// `caFile`: a PEM file, resolved against the project root.
    File(PathBuf),
}

/// A loaded project: where it is, its environments and folders.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder holding `kiln.yaml`.
    pub root: PathBuf,
    /// Environments in declaration order; one entry per cluster for an environment on several.
    pub environments: Vec<Environment>,
    /// `clusters:` of `kiln.yaml`, in declaration order (empty when it has none).
    pub clusters: Vec<Cluster>,
    /// Template sets.
    pub templates_dir: PathBuf,
    /// Values layers.
    pub values_dir: PathBuf,
    /// Default render output.
    pub out_dir: PathBuf,
    /// Expected output.
    pub golden_dir: PathBuf,
    /// Lint settings.
    pub lint: LintConfig,
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
        let invalid = |err: ParseError| {
            let loc = err.loc(src, &text);
            Error::Project(vec![
                Diagnostic::error(format!("invalid `{PROJECT_FILE}`: {}", err.message))
                    .at(sources, loc, "here")
                    .help("see the project format in the README: `environments: {<name>: {namespace, kubeVersion}}`"),
            ])
        };
        let tree = crate::yaml::parse(&text, src, crate::yaml::Dialect::Values).map_err(invalid)?;
        let file: ProjectFile = crate::yaml::from_node(&tree, &text).map_err(invalid)?;
        // Names become folder and file names (`out/<env>/`): each must be a DNS label, checked
        // here, at its line, before anything builds a path from it.
        let at = |path: &[&str]| -> Loc {
            let mut node = Some(&tree);
            for key in path {
                node = node.and_then(|n| n.get(key));
            }
            node.map_or(Loc::whole(src), |n| n.loc)
        };
        let mut problems = Vec::new();
        let mut name_check = |what: &str, value: &str, loc: Loc| {
            if let Err(why) = crate::kube::names::dns_label(value) {
                problems.push(
                    Diagnostic::error(format!("{what} `{}` {why}", value.escape_debug()))
                        .at(sources, loc, "here")
                        .help(format!("a {what} becomes a folder and Kubernetes name: lowercase letters, digits and `-`, at most 63, like `prod` or `prod-eu`")),
                );
            }
        };
        let envs_node = tree.get("environments");
        for (name, env) in &file.environments {
            let entry = envs_node.and_then(|n| n.get(name));
            name_check(
                "environment name",
                name,
                entry.map_or(Loc::whole(src), |e| e.key_loc),
            );
            name_check(
                "namespace",
                &env.namespace,
                at(&["environments", name, "namespace"]),
            );
            if let Some(c) = &env.cluster {
                name_check("cluster name", c, at(&["environments", name, "cluster"]));
            }
            for (i, c) in env.clusters.iter().flatten().enumerate() {
                name_check("cluster name", c, list_item(entry, "clusters", i, src));
            }
        }
        let clusters_node = tree.get("clusters");
        for name in file.clusters.keys() {
            let loc = clusters_node
                .and_then(|n| n.get(name))
                .map_or(Loc::whole(src), |n| n.key_loc);
            name_check("cluster name", name, loc);
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }

        let mut clusters = Vec::new();
        for (name, c) in file.clusters {
            let here = |key: &str| at(&["clusters", &name, key]);
            if !(c.server.starts_with("https://") || c.server.starts_with("http://"))
                || c.server.len() <= "https://".len()
            {
                problems.push(
                    Diagnostic::error(format!(
                        "cluster `{name}`: `server` is not an API server URL"
                    ))
                    .at(sources, here("server"), "here")
                    .help("write the URL kubectl uses: `server: https://10.0.0.1:6443`"),
                );
            }
            let ca = match (c.ca_file, c.ca_data) {
                (Some(_), Some(_)) => {
                    problems.push(
                        Diagnostic::error(format!(
                            "cluster `{name}` has both `caFile` and `caData`"
                        ))
                        .at(sources, here("caData"), "here")
                        .help("keep one: `caData` (base64 of the PEM) or `caFile` (a PEM file)"),
                    );
                    None
                }
                (Some(f), None) => Some(ClusterCa::File(root.join(f))),
                (None, Some(d)) => {
                    use base64::Engine as _;
                    let compact: String = d.split_whitespace().collect();
                    match base64::engine::general_purpose::STANDARD.decode(&compact) {
                        Ok(pem) if is_pem_certificate(&pem) => Some(ClusterCa::Data(compact)),
                        _ => {
                            problems.push(
                                Diagnostic::error(format!(
                                    "cluster `{name}`: `caData` is not base64 of a PEM certificate"
                                ))
                                .at(sources, here("caData"), "here")
                                .help("write the kubeconfig's `certificate-authority-data` (`base64 -w0 ca.crt`), or name the file with `caFile: ca.crt`"),
                            );
                            None
                        }
                    }
                }
                (None, None) => None,
            };
            let kube_version = match &c.kube_version {
                None => None,
                Some(v) => match kube_version(
                    v,
                    &format!("cluster `{name}`"),
                    here("kubeVersion"),
                    sources,
                ) {
                    Ok(v) => Some(v),
                    Err(d) => {
                        problems.push(d);
                        None
                    }
                },
            };
            clusters.push(Cluster {
                name,
                server: c.server,
                ca,
                kube_version,
            });
        }

        let mut environments = Vec::new();
        for (name, env) in file.environments {
            let entry = envs_node.and_then(|n| n.get(&name));
            let names: Vec<(String, Loc)> = match (&env.cluster, &env.clusters) {
                (Some(_), Some(_)) => {
                    problems.push(
                        Diagnostic::error(format!(
                            "environment `{name}` has both `cluster` and `clusters`"
                        ))
                        .at(sources, at(&["environments", &name, "clusters"]), "here")
                        .help("one cluster: `cluster: c1`; several: `clusters: [c1, c2]`"),
                    );
                    continue;
                }
                (Some(c), None) => vec![(c.clone(), at(&["environments", &name, "cluster"]))],
                (None, Some(list)) => list
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), list_item(entry, "clusters", i, src)))
                    .collect(),
                (None, None) => Vec::new(),
            };
            if env.clusters.as_ref().is_some_and(Vec::is_empty) {
                problems.push(
                    Diagnostic::error(format!("environment `{name}`: `clusters` is empty"))
                        .at(sources, at(&["environments", &name, "clusters"]), "here")
                        .help("list the clusters it is deployed to, or remove the key"),
                );
                continue;
            }
            let mut seen: Vec<&str> = Vec::new();
            let mut ok = true;
            for (c, loc) in &names {
                if seen.contains(&c.as_str()) {
                    problems.push(
                        Diagnostic::error(format!(
                            "environment `{name}` lists cluster `{c}` twice"
                        ))
                        .at(sources, *loc, "again here"),
                    );
                    ok = false;
                }
                seen.push(c);
                if !clusters.is_empty() && !clusters.iter().any(|k| &k.name == c) {
                    let known = clusters.iter().map(|k| k.name.as_str());
                    let d = Diagnostic::error(format!(
                        "environment `{name}` names cluster `{c}`, which `clusters:` in {PROJECT_FILE} does not declare"
                    ))
                    .at(sources, *loc, "unknown cluster");
                    problems.push(match did_you_mean(c, known.clone()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!(
                            "declared clusters: {}",
                            known.collect::<Vec<_>>().join(", ")
                        )),
                    });
                    ok = false;
                }
            }
            if !ok {
                continue;
            }
            let own = match &env.kube_version {
                None => None,
                Some(v) => match kube_version(
                    v,
                    &format!("environment `{name}`"),
                    at(&["environments", &name, "kubeVersion"]),
                    sources,
                ) {
                    Ok(v) => Some(v),
                    Err(d) => {
                        problems.push(d);
                        continue;
                    }
                },
            };
            let all: Vec<String> = names.iter().map(|(c, _)| c.clone()).collect();
            let targets: Vec<Option<&String>> = if all.is_empty() {
                vec![None]
            } else {
                all.iter().map(Some).collect()
            };
            for cluster in targets {
                let given = cluster
                    .and_then(|c| clusters.iter().find(|k| &k.name == c))
                    .and_then(|k| k.kube_version);
                let version = match (own, given) {
                    (Some(e), Some(c)) if e != c => {
                        problems.push(
                            Diagnostic::error(format!(
                                "environment `{name}` says kubeVersion {e}, but its cluster `{}` runs {c}",
                                cluster.map_or("", String::as_str)
                            ))
                            .at(sources, at(&["environments", &name, "kubeVersion"]), "here")
                            .help("an environment runs what its cluster runs: remove the environment's `kubeVersion` (the cluster's is used)"),
                        );
                        continue;
                    }
                    (Some(v), _) | (None, Some(v)) => v,
                    (None, None) => {
                        let loc = entry.map_or(Loc::whole(src), |e| e.key_loc);
                        let help = match cluster {
                            Some(c) if !clusters.is_empty() => format!(
                                "give it one (`kubeVersion: \"1.35\"`), or give cluster `{c}` one in `clusters:`"
                            ),
                            _ => "give it one: `kubeVersion: \"1.35\"`".to_string(),
                        };
                        problems.push(
                            Diagnostic::error(format!(
                                "environment `{name}` has no `kubeVersion`, and no cluster of it gives one"
                            ))
                            .at(sources, loc, "here")
                            .help(help),
                        );
                        continue;
                    }
                };
                let folder = match cluster {
                    Some(c) if all.len() > 1 => format!("{name}@{c}"),
                    _ => name.clone(),
                };
                environments.push(Environment {
                    name: name.clone(),
                    namespace: env.namespace.clone(),
                    kube_version: version,
                    cluster: cluster.cloned(),
                    clusters: all.clone(),
                    folder,
                });
            }
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }
        let applyset = match file.applyset {
            None => None,
            Some(a) => {
                let node = tree.get("applyset");
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
            clusters,
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

    /// The names of every cluster the project knows: `clusters:` of `kiln.yaml`, or, without
    /// it, the cluster labels its environments give, in first-seen order.
    #[must_use]
    pub fn cluster_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            for e in &self.environments {
                for c in &e.clusters {
                    if !names.contains(&c.as_str()) {
                        names.push(c);
                    }
                }
            }
        }
        names
    }

    /// An error for a cluster name the project does not know, with a suggestion.
    #[must_use]
    pub fn unknown_cluster(&self, name: &str, flag: &str) -> Error {
        let names = self.cluster_names();
        let mut d = Diagnostic::error(format!("unknown cluster `{name}` (from `{flag}`)"));
        d = match did_you_mean(name, names.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None if names.is_empty() => {
                d.help(format!("no environment in {PROJECT_FILE} names a cluster"))
            }
            None => d.help(format!("clusters: {}", names.join(", "))),
        };
        Error::Run(d)
    }

    /// Whether the output folder `folder` (an environment's, or one left from an earlier
    /// render) belongs to the `--env`/`--cluster` selection (each empty: everything).
    #[must_use]
    pub fn folder_selected(&self, folder: &str, envs: &[String], clusters: &[String]) -> bool {
        let (env, cluster) = match folder.split_once('@') {
            Some((e, c)) => (e, Some(c)),
            None => (
                folder,
                self.environments
                    .iter()
                    .find(|t| t.folder == folder)
                    .and_then(|t| t.cluster.as_deref()),
            ),
        };
        (envs.is_empty() || envs.iter().any(|e| e == env))
            && (clusters.is_empty() || cluster.is_some_and(|c| clusters.iter().any(|k| k == c)))
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

/// The location of item `i` of the list `key` of a mapping node, or the whole file.
fn list_item(entry: Option<&crate::yaml::Node>, key: &str, i: usize, src: SrcId) -> Loc {
    match entry.and_then(|e| e.get(key)).map(|n| &n.value) {
        Some(crate::yaml::Value::Seq(items)) => items.get(i).map_or(Loc::whole(src), |n| n.loc),
        _ => Loc::whole(src),
    }
}

/// A `kubeVersion` as written, parsed; `what` names its owner in the error.
fn kube_version(
    v: &KubeVersionFile,
    what: &str,
    loc: Loc,
    sources: &Sources,
) -> Result<KubeVersion, Diagnostic> {
    let parsed = match v {
        KubeVersionFile::Text(t) => KubeVersion::parse(t),
        KubeVersionFile::Number => None,
    };
    parsed.ok_or_else(|| {
        let help = match v {
            KubeVersionFile::Number => {
                "quote it: `kubeVersion: \"1.30\"` (unquoted 1.30 is the number 1.3)"
            }
            KubeVersionFile::Text(_) => {
                "write the Kubernetes minor version as a string: `kubeVersion: \"1.35\"`"
            }
        };
        Diagnostic::error(format!(
            "{what}: `kubeVersion` is not a version like \"1.35\""
        ))
        .at(sources, loc, "here")
        .help(help)
    })
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

/// Whether `bytes` hold a PEM certificate (a cluster's CA, from `caData` or `caFile`).
#[must_use]
pub fn is_pem_certificate(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).contains("-----BEGIN CERTIFICATE-----")
}

/// How a rule reports, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fails the check.
    Error,
    /// Reported; fails only with `--fail-on warning`.
    Warning,
    /// Not reported.
    Off,
}

/// The `lint:` section of `kiln.yaml`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LintConfig {
    /// Severity per rule id: `error`, `warning` or `off`.
    #[serde(default)]
    pub rules: HashMap<String, Level>,
    /// Object names allowed to use `hostNetwork: true` (ingress controllers, node agents).
    #[serde(default)]
    pub host_network_allow: Vec<String>,
}
