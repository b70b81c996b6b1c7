//! Values: read every layer, merge them per service instance, remember where each leaf was set.
//!
//! Precedence, lowest to highest: the template set's own `defaults.yaml` < `values/defaults.yaml`
//! < `values/envs/<env>.yaml` < `values/clusters/<cluster>.yaml` < `values/services/<svc>.yaml` < `values/services/<svc>.<env>.yaml`
//! < a variant's overlay < each `-f FILE` < each `--set`. The merge rule lives in [`merge`].
//! This module reads files but renders nothing.
//!
//! Any layer may also (or only) be a SOPS-encrypted file, `x.sops.yaml` beside `x.yaml`
//! ([`sops`]): both are read, and the encrypted one is merged right after the plain one, so
//! within a layer the encrypted values win.

pub mod edit;
pub mod merge;
pub mod schema;
pub mod set;
pub mod sops;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::yaml::Map;
use indexmap::IndexMap;

use crate::config::{Environment, Project, read_text};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::source::{Loc, Sources, SrcId};
use crate::yaml::{self, Dialect, Node, Value};

pub use set::SetOp;

/// Every values file of a project, parsed.
#[derive(Debug, Default)]
pub struct ValuesTree {
    /// `values/defaults.yaml`.
    pub defaults: Option<Node>,
    /// `values/envs/<env>.yaml` by environment.
    pub envs: HashMap<String, Node>,
    /// `values/clusters/<cluster>.yaml` by cluster.
    pub clusters: HashMap<String, Node>,
    /// Services by name, sorted.
    pub services: IndexMap<String, ServiceLayers>,
    /// The encrypted twin (`x.sops.yaml`) of a layer that also has a plain file (`x.yaml`), by
    /// the plain file's source: merged right after it. A layer with only an encrypted file holds
    /// that file in its own place.
    pub encrypted_twins: HashMap<SrcId, Node>,
}

/// The files of one service.
#[derive(Debug, Default)]
pub struct ServiceLayers {
    /// `values/services/<svc>.yaml`.
    pub base: Option<Node>,
    /// `values/services/<svc>.<env>.yaml` by environment.
    pub envs: HashMap<String, Node>,
}

/// The layers given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `-f FILE`, in order.
    pub files: Vec<Node>,
    /// `--set*`, in order.
    pub sets: Vec<SetOp>,
}

/// One rendered unit: a service (or one of its variants) in one environment.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Index into the project's environments.
    pub env: usize,
    /// Instance name: the service name, or `<service>-<variant>`.
    pub name: String,
    /// The service it comes from.
    pub service: String,
    /// The variant name, for variant instances.
    pub variant: Option<String>,
    /// The template set (`values.template`).
    pub template: String,
    /// Merged values.
    pub values: Node,
    /// `patches` of every layer, in layer order, applied to the rendered objects.
    pub patches: Vec<Node>,
}

/// Read one values file strictly: UTF-8, valid YAML, no duplicate keys, a mapping at the top;
/// a `*.sops.yaml` file is decrypted ([`sops`]).
pub fn read_layer(path: &Path, shown_as: &str, sources: &mut Sources) -> Result<Node, Error> {
    let text = read_text(path, shown_as)?;
    let src = sources.add(shown_as, text);
    read_source(path, src, sources, true)
}

/// Parse (a `*.sops.yaml` file: decrypt, or with `decrypt` false read its keys with the values
/// still encrypted) the values file `path` whose text is the source `src`.
fn read_source(path: &Path, src: SrcId, sources: &Sources, decrypt: bool) -> Result<Node, Error> {
    if is_encrypted(path) && decrypt {
        sops::decrypt(path, src, sources)
    } else if is_encrypted(path) {
        let mut node = parse_layer(src, sources).map_err(|d| Error::Project(vec![d]))?;
        if let Value::Map(m) = &mut node.value {
            m.shift_remove("sops");
        }
        Ok(node)
    } else {
        parse_layer(src, sources).map_err(|d| Error::Project(vec![d]))
    }
}

/// Parse the source `src` as a values layer.
pub fn parse_layer(src: SrcId, sources: &Sources) -> Result<Node, Diagnostic> {
    let text = &sources.get(src).text;
    let name = &sources.get(src).name;
    let node = yaml::parse(text, src, Dialect::Values).map_err(|e| {
        Diagnostic::error(format!("`{name}` is not valid YAML: {}", e.message)).at(
            sources,
            e.loc(src, text),
            &e.message,
        )
    })?;
    match &node.value {
        Value::Map(_) => Ok(node),
        Value::Null => Err(Diagnostic::error(format!("values file `{name}` is empty"))
            .help("write `{}` if the file is meant to set nothing, or delete it")),
        other => Err(Diagnostic::error(format!(
            "values file `{name}` must be a mapping at the top level, found a {}",
            other.type_name()
        ))
        .at(sources, node.loc, "expected `key: value` here")
        .help("a values file maps names to values: `replicas: 2`")),
    }
}

impl ValuesTree {
    /// The sources of one layer: its file's, and its encrypted twin's when it has one.
    pub fn sources_of(&self, layer: &Node) -> impl Iterator<Item = SrcId> {
        std::iter::once(layer.loc.src)
            .chain(self.encrypted_twins.get(&layer.loc.src).map(|t| t.loc.src))
    }

    /// Read `values/` of a project. Every file is read; all problems are reported together.
    pub fn load(project: &Project, sources: &mut Sources) -> Result<ValuesTree, Error> {
        ValuesTree::load_with(project, sources, true)
    }

    /// [`ValuesTree::load`], but with `decrypt` false the SOPS files are not decrypted: their
    /// keys and locations are there, their values are the `ENC[...]` texts (for `kiln set`,
    /// which needs to know where a key is set, not its value, and runs without the keys).
    pub fn load_with(
        project: &Project,
        sources: &mut Sources,
        decrypt: bool,
    ) -> Result<ValuesTree, Error> {
        let dir = &project.values_dir;
        let mut tree = ValuesTree::default();
        let mut problems = Vec::new();
        let env_names: Vec<&str> = project
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();

        let mut files: Vec<(PathBuf, String)> = Vec::new();
        // The values files that are symlinks, in file order (checked below).
        let mut links: Vec<PathBuf> = Vec::new();
        for ext in ["yaml", "yml", "sops.yaml", "sops.yml"] {
            let defaults = dir.join(format!("defaults.{ext}"));
            if defaults.is_file() {
                if std::fs::symlink_metadata(&defaults).is_ok_and(|m| m.file_type().is_symlink()) {
                    links.push(defaults.clone());
                }
                files.push((defaults, "defaults".into()));
            }
        }
        let cluster_names = project.cluster_names();
        for sub in ["envs", "clusters", "services"] {
            let d = dir.join(sub);
            if !d.is_dir() {
                continue;
            }
            // The entry's own type needs no stat; only a symlink is followed to see a file.
            let mut entries: Vec<(PathBuf, bool)> = std::fs::read_dir(&d)
                .map_err(|e| Error::io("read folder", &d, &e))?
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let kind = e.file_type().ok()?;
                    let link = kind.is_symlink();
                    let path = e.path();
                    (kind.is_file() || link && path.is_file()).then_some((path, link))
                })
                .collect();
            entries.sort();
            for (p, link) in entries {
                let file_name = p
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if file_name.starts_with('.') {
                    continue;
                }
                match sops::stem(&file_name) {
                    Some(stem) => {
                        let stem = stem.to_string();
                        if link {
                            links.push(p.clone());
                        }
                        files.push((p, format!("{sub}/{stem}")));
                    }
                    None => problems.push(
                        Diagnostic::error(format!(
                            "`{}` is not a `.yaml` file",
                            project.relative(&p)
                        ))
                        .help("values folders hold only `.yaml` files; move or rename it"),
                    ),
                }
            }
        }

        // One file per layer (and one encrypted twin): `x.yaml` beside `x.yml` would silently
        // shadow one of them.
        let mut by_role: HashMap<(&str, bool), &Path> = HashMap::new();
        for (path, role) in &files {
            if let Some(first) = by_role.insert((role, is_encrypted(path)), path) {
                problems.push(
                    Diagnostic::error(format!(
                        "`{}` and `{}` are the same values layer",
                        project.relative(first),
                        project.relative(path)
                    ))
                    .help("keep one of them: merge the two files into one and delete the other"),
                );
            }
        }
        // A values file that is a symlink must stay inside the project, unless allowed.
        if !project.allow_outside_symlinks && !links.is_empty() {
            let root = project
                .root
                .canonicalize()
                .unwrap_or_else(|_| project.root.clone());
            for path in &links {
                if path.canonicalize().map_or(true, |t| !t.starts_with(&root)) {
                    problems.push(
                        Diagnostic::error(format!(
                            "values file `{}` is a symlink to a file outside the project",
                            project.relative(path)
                        ))
                        .help("copy the file into the project, or allow it in kiln.yaml: `paths: {allowOutsideSymlinks: true}`"),
                    );
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }

        // Parse in parallel; sources are added in file order so ids stay deterministic.
        let texts: Vec<(String, Result<String, Error>)> = crate::par::map(&files, |(p, _)| {
            let shown = project.relative(p);
            let text = read_text(p, &shown);
            (shown, text)
        });
        let mut ids = Vec::new();
        for (shown, text) in texts {
            match text {
                Ok(t) => ids.push(Some(sources.add(shown, t))),
                Err(e) => {
                    problems.extend(e.diagnostics().iter().cloned());
                    ids.push(None);
                }
            }
        }
        let jobs: Vec<(&PathBuf, Option<SrcId>)> = files.iter().map(|(p, _)| p).zip(ids).collect();
        let parsed: Vec<Option<Result<Node, Error>>> = crate::par::map(&jobs, |(path, id)| {
            id.map(|src| read_source(path, src, sources, decrypt))
        });

        // A layer's plain file and its encrypted twin become one place in the tree: the plain
        // file there (or the encrypted one when it is alone), the twin in `encrypted_twins`.
        let mut cannot_run = None;
        let mut roles: IndexMap<&str, (Option<(&PathBuf, Node)>, Option<(&PathBuf, Node)>)> =
            IndexMap::new();
        for ((path, role), node) in files.iter().zip(parsed) {
            let Some(node) = node else { continue };
            match node {
                Ok(n) => {
                    let slot = roles.entry(role.as_str()).or_default();
                    if is_encrypted(path) {
                        slot.1 = Some((path, n));
                    } else {
                        slot.0 = Some((path, n));
                    }
                }
                Err(Error::Project(ds)) => problems.extend(ds),
                Err(Error::Run(d)) => {
                    cannot_run.get_or_insert(d);
                }
            }
        }
        if let Some(d) = cannot_run {
            return Err(Error::Run(d));
        }
        for (role, pair) in roles {
            let (path, node) = match pair {
                (Some(plain), Some((_, twin))) => {
                    tree.encrypted_twins.insert(plain.1.loc.src, twin);
                    plain
                }
                (Some(one), None) | (None, Some(one)) => one,
                (None, None) => continue,
            };
            let shown = project.relative(path);
            if role == "defaults" {
                tree.defaults = Some(node);
            } else if let Some(env) = role.strip_prefix("envs/") {
                if env_names.contains(&env) {
                    tree.envs.insert(env.to_string(), node);
                } else {
                    problems.push(unknown_env_file(&shown, env, &env_names));
                }
            } else if let Some(cluster) = role.strip_prefix("clusters/") {
                if cluster_names.contains(&cluster) {
                    tree.clusters.insert(cluster.to_string(), node);
                } else {
                    problems.push(unknown_cluster_file(&shown, cluster, &cluster_names));
                }
            } else if let Some(stem) = role.strip_prefix("services/") {
                let (service, env) = match stem.split_once('.') {
                    Some((s, e)) => (s, Some(e)),
                    None => (stem, None),
                };
                if let Err(why) = crate::kube::names::dns_label(service) {
                    problems.push(Diagnostic::error(format!("`{shown}`: service name `{service}` {why}"))
                        .help("service names become Kubernetes names: lowercase letters, digits and `-`"));
                    continue;
                }
                let layers = tree.services.entry(service.to_string()).or_default();
                match env {
                    None => layers.base = Some(node),
                    Some(e) if env_names.contains(&e) => {
                        layers.envs.insert(e.to_string(), node);
                    }
                    Some(e) => problems.push(unknown_env_file(&shown, e, &env_names)),
                }
            }
        }
        for (name, layers) in &tree.services {
            if layers.base.is_none() {
                problems.push(
                    Diagnostic::error(format!("service `{name}` has environment files but no `values/services/{name}.yaml`"))
                        .help(format!("create `values/services/{name}.yaml` (it may be `{{}}`) to declare the service")),
                );
            }
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }
        tree.services.sort_keys();
        Ok(tree)
    }

    /// The merged values of `service` (or the environment-level values when `None`) in `env`
    /// (on its cluster), with `extra` layers (template-set defaults, a variant overlay) at their
    /// places.
    pub fn merged(
        &self,
        target: &Environment,
        service: Option<&str>,
        set_defaults: Option<&Node>,
        variant: Option<&Node>,
        overrides: &Overrides,
    ) -> Result<Node, (String, Loc)> {
        let mut acc = Node::new(Value::Map(Map::default()), Loc::default());
        let env = target.name.as_str();
        let svc = service.and_then(|s| self.services.get(s));
        let layers = [
            set_defaults,
            self.defaults.as_ref(),
            self.envs.get(env),
            target.cluster.as_ref().and_then(|c| self.clusters.get(c)),
            svc.and_then(|l| l.base.as_ref()),
            svc.and_then(|l| l.envs.get(env)),
            variant,
        ];
        // `patches` add up across layers (each keeps its file and line) instead of replacing the
        // lower layers' list; `patches: null` drops the ones below.
        let mut patches: Option<Node> = None;
        let with_twins = layers
            .into_iter()
            .flatten()
            .flat_map(|l| std::iter::once(l).chain(self.encrypted_twins.get(&l.loc.src)));
        for layer in with_twins.chain(overrides.files.iter()) {
            match layer.get("patches") {
                None => merge::merge(&mut acc, layer),
                Some(p) => {
                    match (&mut patches, &p.value) {
                        (_, Value::Null) => patches = None,
                        (
                            Some(Node {
                                value: Value::Seq(all),
                                ..
                            }),
                            Value::Seq(items),
                        ) => {
                            all.extend(items.iter().cloned());
                        }
                        _ => patches = Some(p.clone()),
                    }
                    let mut rest = layer.clone();
                    if let Value::Map(m) = &mut rest.value {
                        m.shift_remove("patches");
                    }
                    merge::merge(&mut acc, &rest);
                }
            }
        }
        if let (Some(p), Value::Map(m)) = (patches, &mut acc.value) {
            m.insert("patches".to_string(), p);
        }
        for op in &overrides.sets {
            set::apply(&mut acc, op).map_err(|(e, at)| {
                (
                    format!("cannot apply `{}`: {e}", set::display_path(&op.path)),
                    at,
                )
            })?;
        }
        Ok(acc)
    }
}

/// Whether a values file is SOPS-encrypted (named `*.sops.yaml`).
fn is_encrypted(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| sops::is_sops_name(&n.to_string_lossy()))
}

fn unknown_cluster_file(shown: &str, cluster: &str, clusters: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(format!(
        "`{shown}` names cluster `{cluster}`, which no environment in `kiln.yaml` is on"
    ));
    match did_you_mean(cluster, clusters.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`? rename the file")),
        None if clusters.is_empty() => d.help(
            "name the cluster an environment is on in kiln.yaml: `environments: {prod: {cluster: NAME}}`",
        ),
        None => d.help(format!("clusters: {}", clusters.join(", "))),
    }
}

fn unknown_env_file(shown: &str, env: &str, envs: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(format!(
        "`{shown}` names environment `{env}`, which `kiln.yaml` does not declare"
    ));
    match did_you_mean(env, envs.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`? rename the file")),
        None => d.help(format!("declared environments: {}", envs.join(", "))),
    }
}

/// Read the `-f` files and parse the `--set` flags.
pub fn overrides(
    files: &[PathBuf],
    sets: &[set::SetFlag],
    sources: &mut Sources,
) -> Result<Overrides, Error> {
    let mut out = Overrides::default();
    for f in files {
        // Pipes count (`-f /dev/stdin`, `-f <(sops -d x.yaml)`): only a missing path or a
        // folder is refused.
        match std::fs::metadata(f) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::run(format!(
                    "values file `{}` (from -f) does not exist",
                    f.display()
                )));
            }
            Err(e) => {
                return Err(Error::run(format!(
                    "cannot read values file `{}` (from -f): {e}",
                    f.display()
                )));
            }
            Ok(m) if m.is_dir() => {
                return Err(Error::run(format!(
                    "values file `{}` (from -f) is a folder",
                    f.display()
                )));
            }
            Ok(_) => {}
        }
        let shown = f.display().to_string();
        out.files.push(read_layer(f, &shown, sources)?);
    }
    out.sets = set::parse_all(sets, sources).map_err(Error::Run)?;
    Ok(out)
}

/// Build every instance of every selected environment. `set_defaults` gives a template set's
/// own `defaults.yaml`, when it has one.
pub fn instances(
    project: &Project,
    tree: &ValuesTree,
    overrides: &Overrides,
    envs: &[usize],
    set_defaults: &(dyn Fn(&str) -> Option<Node> + Sync),
    sources: &Sources,
) -> Result<Vec<Instance>, Error> {
    let jobs: Vec<(usize, &String)> = envs
        .iter()
        .flat_map(|e| tree.services.keys().map(move |s| (*e, s)))
        .collect();
    let results: Vec<Result<Vec<Instance>, Diagnostic>> =
        crate::par::map(&jobs, |(env_index, service)| {
            service_instances(
                &project.environments[*env_index],
                *env_index,
                service,
                tree,
                overrides,
                set_defaults,
                sources,
            )
        });
    let mut all = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(list) => all.extend(list),
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() {
        Ok(all)
    } else {
        Err(Error::Project(dedup(problems)))
    }
}

fn service_instances(
    env: &Environment,
    env_index: usize,
    service: &str,
    tree: &ValuesTree,
    overrides: &Overrides,
    set_defaults: &(dyn Fn(&str) -> Option<Node> + Sync),
    sources: &Sources,
) -> Result<Vec<Instance>, Diagnostic> {
    let context = |(msg, at): (String, Loc)| {
        Diagnostic::error(msg)
            .at(sources, at, "set here")
            .note(format!(
                "while merging values for `{service}` in environment `{}`",
                env.name
            ))
    };
    let first = tree
        .merged(env, Some(service), None, None, overrides)
        .map_err(context)?;
    if matches!(
        first.get("enabled").map(|n| &n.value),
        Some(Value::Bool(false))
    ) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut variants: Vec<(Option<String>, Option<Node>)> = vec![(None, None)];
    if let Some(v) = first.get("variants") {
        let Value::Map(map) = &v.value else {
            return Err(Diagnostic::error(format!(
                "`variants` of `{service}` must be a mapping of variant name to values, found a {}",
                v.type_name()
            ))
            .at(sources, v.loc, "here"));
        };
        for (name, overlay) in map {
            if let Err(why) = crate::kube::names::dns_label(&format!("{service}-{name}")) {
                return Err(
                    Diagnostic::error(format!("variant name `{service}-{name}` {why}")).at(
                        sources,
                        overlay.key_loc,
                        "here",
                    ),
                );
            }
            let Value::Map(_) = &overlay.value else {
                return Err(Diagnostic::error(format!(
                    "variant `{name}` must be a mapping of values, found a {}",
                    overlay.type_name()
                ))
                .at(sources, overlay.loc, "here"));
            };
            let mut overlay = overlay.clone();
            let envs = match &mut overlay.value {
                Value::Map(m) => m.shift_remove("envs"),
                _ => None,
            };
            let listed = match envs.as_ref().map(|n| &n.value) {
                None => true,
                Some(Value::Seq(items)) => items
                    .iter()
                    .any(|i| i.value == Value::Str(env.name.clone())),
                Some(_) => {
                    let at = envs.as_ref().map_or(overlay.loc, |n| n.loc);
                    return Err(Diagnostic::error(format!(
                        "`envs` of variant `{name}` must be a list of environment names"
                    ))
                    .at(sources, at, "here"));
                }
            };
            if listed {
                variants.push((Some(name.clone()), Some(overlay)));
            }
        }
    }
    for (variant, overlay) in variants {
        let base = if overlay.is_some() {
            tree.merged(env, Some(service), None, overlay.as_ref(), overrides)
                .map_err(context)?
        } else {
            first.clone()
        };
        let template = match base.get("template").map(|n| &n.value) {
            Some(Value::Str(t)) => t.clone(),
            Some(other) => {
                return Err(Diagnostic::error(format!(
                    "`template` of `{service}` must be the name of a template set, found a {}",
                    other.type_name()
                ))
                .at(
                    sources,
                    base.get("template").map_or(Loc::default(), |n| n.loc),
                    "here",
                ));
            }
            None => {
                return Err(Diagnostic::error(format!(
                    "service `{service}` has no `template` value in environment `{}`",
                    env.name
                ))
                .help("set a default in values/defaults.yaml: `template: spring-boot`"));
            }
        };
        let mut values = match set_defaults(&template) {
            Some(d) => tree
                .merged(env, Some(service), Some(&d), overlay.as_ref(), overrides)
                .map_err(context)?,
            None => base,
        };
        let mut patches = Vec::new();
        if let Value::Map(m) = &mut values.value {
            m.shift_remove("variants");
            if let Some(p) = m.shift_remove("patches") {
                match p.value {
                    Value::Seq(items) => patches = items,
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "`patches` must be a list of patches, found a {}",
                            p.type_name()
                        ))
                        .at(sources, p.loc, "here"));
                    }
                }
            }
        }
        let name = variant
            .as_ref()
            .map_or_else(|| service.to_string(), |v| format!("{service}-{v}"));
        out.push(Instance {
            env: env_index,
            name,
            service: service.to_string(),
            variant,
            template,
            values,
            patches,
        });
    }
    Ok(out)
}

/// Drop repeated diagnostics (the same problem found in many instances), noting how many.
#[must_use]
pub fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    // Indexed by message and excerpt: a template error in a 4,000-instance fleet is 4,000
    // diagnostics, so a linear search per diagnostic would be quadratic.
    let mut out: Vec<(Diagnostic, usize)> = Vec::new();
    let mut index: HashMap<(String, Option<crate::diagnostic::Excerpt>), usize> = HashMap::new();
    for d in diagnostics {
        let key = (d.message.clone(), d.excerpt.clone());
        match index.get(&key) {
            Some(&i) => out[i].1 += 1,
            None => {
                index.insert(key, out.len());
                out.push((d, 0));
            }
        }
    }
    out.into_iter()
        .map(|(mut d, more)| {
            if more > 0 {
                d.notes.truncate(1);
                d.notes
                    .push(format!("and {more} more instance(s) with the same problem"));
            }
            d
        })
        .collect()
}
