//! Reading the folder to adopt: `DIR/<env>/*.yaml` (or one flat folder for one environment),
//! every document parsed the way the API server reads it, and each object given to a service
//! instance (by its labels, then by the name of an object it belongs to).
//!
//! Bad input is refused here, before anything is written: a document that is not YAML, an
//! object without `apiVersion`/`kind`/`metadata.name`, the same object twice in one environment.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::check::input::{Document, documents};
use crate::diagnostic::{Diagnostic, Excerpt};
use crate::error::Error;
use crate::manifest::ResourceId;
use crate::yaml::{Node, Value};

/// One object read from the input.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its identity.
    pub id: ResourceId,
    /// The object as the API server reads it.
    pub doc: Node,
    /// The instance it belongs to (a DNS label).
    pub instance: String,
}

/// One environment of the input: a folder.
#[derive(Debug, Clone)]
pub struct EnvInput {
    /// The render target's folder in the new project: the environment's name, or
    /// `<env>@<cluster>` for an environment rendered for one of its clusters.
    pub name: String,
    /// The environment's name in the new project (a DNS label).
    pub env: String,
    /// The cluster of an `<env>@<cluster>` folder.
    pub cluster: Option<String>,
    /// The folder it was read from (`prod@aliyun-hz-prod`).
    pub folder: String,
    /// The namespace most of its namespaced objects are in (the environment's namespace).
    pub namespace: String,
    /// Its objects, in reading order.
    pub objects: Vec<Object>,
    /// Input size in bytes and lines (for the report's comparison).
    pub bytes: usize,
    /// Lines read.
    pub lines: usize,
}

/// Read `dir`: one folder per environment, or, with `env`, `dir` itself as that environment.
pub fn read(dir: &Path, env: Option<&str>) -> Result<Vec<EnvInput>, Error> {
    let mut folders: Vec<(String, std::path::PathBuf)> = Vec::new();
    if let Some(e) = env {
        folders.push((e.to_string(), dir.to_path_buf()));
    } else {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read", dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read", dir, &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !name.starts_with('.') {
                folders.push((name, entry.path()));
            }
        }
        folders.sort();
        if folders.is_empty() {
            return Err(Error::Run(
                Diagnostic::error(format!(
                    "`{}` holds no environment folders",
                    dir.display()
                ))
                .help("give one folder per environment (`DIR/<env>/*.yaml`, as `kiln render` writes), or `--env NAME` for one flat folder"),
            ));
        }
    }
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (folder, path) in folders {
        match read_env(&folder, &path, dir) {
            Ok(e) => out.push(e),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Project(problems));
    }
    Ok(out)
}

/// The environment name a folder gives: `prod@aliyun-hz-prod` (an environment rendered for one
/// of its clusters) becomes `prod-aliyun-hz-prod` (see [`env_and_cluster`] for the environment
/// on its clusters), and anything else a DNS label.
#[must_use]
pub fn env_name(folder: &str) -> String {
    dns_label(&folder.replace('@', "-"))
}

/// The environment and cluster of a folder: `prod@aliyun-hz-prod` is `prod` on
/// `aliyun-hz-prod`, as `kiln render` writes an environment on several clusters.
#[must_use]
pub fn env_and_cluster(folder: &str) -> (String, Option<String>) {
    match folder.split_once('@') {
        Some((e, c)) if !e.is_empty() && !c.is_empty() => (dns_label(e), Some(dns_label(c))),
        _ => (env_name(folder), None),
    }
}

/// `text` as a DNS label: lowercase, `[a-z0-9-]`, at most 63 characters.
#[must_use]
pub fn dns_label(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s: String = s.trim_matches('-').chars().take(63).collect();
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "x".to_string() } else { s }
}

fn read_env(folder: &str, path: &Path, root: &Path) -> Result<EnvInput, Vec<Diagnostic>> {
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            })
            .collect(),
        Err(e) => {
            return Err(vec![Diagnostic::error(format!(
                "cannot read `{}`: {e}",
                path.display()
            ))]);
        }
    };
    files.sort();
    let mut problems = Vec::new();
    let mut objects: Vec<(Object, String, usize)> = Vec::new();
    let mut seen: HashMap<ResourceId, (String, usize)> = HashMap::new();
    let (mut bytes, mut lines) = (0, 0);
    for file in files {
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(
                    Diagnostic::error(format!("cannot read `{shown}`: {e}")).help(
                        "adopt reads UTF-8 YAML manifests; move other files out of the folder",
                    ),
                );
                continue;
            }
        };
        bytes += text.len();
        lines += text.lines().count();
        for d in documents(&shown, &text, &|_| None) {
            match object_of(&d) {
                Ok(doc) => {
                    let id = match ResourceId::of(&doc) {
                        Ok(id) => id,
                        Err(why) => {
                            problems.push(located(&d, None, why, "in this object").help(
                                "every object needs `apiVersion`, `kind` and `metadata.name`; remove or complete it",
                            ));
                            continue;
                        }
                    };
                    if let Some((first, off)) = seen.get(&id) {
                        let first_line = line_of(&text, *off, first == &shown);
                        problems.push(
                            located(&d, None, &format!("`{id}` is written twice in environment `{folder}`"), "again here")
                                .note(format!("first written in `{first}`{first_line}"))
                                .help("keep one of the two (kiln renders each object once per environment); a folder that mixes clusters is split into one folder per cluster, `<env>@<cluster>`, as `kiln render` writes them"),
                        );
                        continue;
                    }
                    seen.insert(id.clone(), (shown.clone(), d.offset));
                    objects.push((
                        Object {
                            id,
                            doc,
                            instance: String::new(),
                        },
                        shown.clone(),
                        d.offset,
                    ));
                }
                Err(diag) => problems.push(diag),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut objects: Vec<Object> = objects.into_iter().map(|(o, _, _)| o).collect();
    let (env, cluster) = env_and_cluster(folder);
    let namespace = main_namespace(&objects).unwrap_or_else(|| env.clone());
    assign_instances(&mut objects, &namespace);
    Ok(EnvInput {
        name: match &cluster {
            Some(c) => format!("{env}@{c}"),
            None => env.clone(),
        },
        env,
        cluster,
        folder: folder.to_string(),
        namespace,
        objects,
        bytes,
        lines,
    })
}

fn line_of(text: &str, offset: usize, same_file: bool) -> String {
    if same_file {
        format!(
            " at line {}",
            crate::source::line_feeds(&text[..offset.min(text.len())]) + 1
        )
    } else {
        String::new()
    }
}

/// The parsed object of a document, or a located error.
fn object_of(d: &Document<'_>) -> Result<Node, Diagnostic> {
    match &d.parsed {
        Ok(n) if matches!(n.value, Value::Map(_)) => Ok(n.clone().into_owned()),
        Ok(n) => Err(located(
            d,
            None,
            &format!(
                "a Kubernetes object must be a mapping, not a {}",
                n.type_name()
            ),
            "this document",
        )
        .help("adopt reads Kubernetes manifests: move other files out of the folder")),
        Err(e) => {
            let start = d.offset + e.offset.unwrap_or(0);
            Err(
                located(d, Some(start), &format!("not valid YAML: {e}"), "here")
                    .help("fix the YAML (or move the file out of the folder) and run adopt again"),
            )
        }
    }
}

fn located(d: &Document<'_>, at: Option<usize>, message: &str, label: &str) -> Diagnostic {
    let start = at.unwrap_or(d.offset).min(d.text.len());
    let end = (start + 1).min(d.text.len()).max(start);
    let end = (start..=end)
        .rev()
        .find(|i| d.text.is_char_boundary(*i))
        .unwrap_or(start);
    Diagnostic::error(message.to_string()).with_excerpt(Excerpt::from_text(
        &d.file,
        &d.text,
        start..end,
        label,
    ))
}

/// The most common namespace of the environment's namespaced objects.
fn main_namespace(objects: &[Object]) -> Option<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for o in objects {
        if let Some(ns) = &o.id.namespace {
            *count.entry(ns).or_default() += 1;
        }
    }
    count
        .into_iter()
        .max_by_key(|(ns, n)| (*n, std::cmp::Reverse(*ns)))
        .map(|(ns, _)| ns.to_string())
}

/// The labels that name an object's instance, strongest first.
const INSTANCE_LABELS: [&str; 3] = [
    "app.kubernetes.io/instance",
    "app",
    "app.kubernetes.io/name",
];

fn label_instance(doc: &Node) -> Option<String> {
    let labels = doc.get("metadata")?.get("labels")?;
    INSTANCE_LABELS
        .iter()
        .find_map(|l| labels.get_str(l).map(str::to_string))
}

/// The pod template of a workload (`spec.template`, or a CronJob's `spec.jobTemplate.spec.template`).
fn pod_template(doc: &Node) -> Option<&Node> {
    let spec = doc.get("spec")?;
    spec.get("template")
        .or_else(|| spec.get("jobTemplate")?.get("spec")?.get("template"))
}

/// The names of the ConfigMaps and Secrets a pod template reads (volumes, `envFrom`, `env`).
fn referenced(template: &Node, out: &mut Vec<String>) {
    fn walk(n: &Node, out: &mut Vec<String>) {
        match &n.value {
            Value::Map(m) => {
                for (k, v) in m {
                    let name = match k.as_str() {
                        "configMap" | "configMapRef" | "configMapKeyRef" | "secretRef"
                        | "secretKeyRef" => v.get_str("name"),
                        "secret" => v.get_str("secretName"),
                        _ => None,
                    };
                    if let Some(name) = name {
                        out.push(name.to_string());
                    }
                    walk(v, out);
                }
            }
            Value::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(template, out);
}

/// Whether a Service's selector picks the pods of `template`.
fn selects(service: &Node, template: &Node) -> bool {
    let Some(Value::Map(selector)) = service
        .get("spec")
        .and_then(|s| s.get("selector"))
        .map(|s| &s.value)
    else {
        return false;
    };
    let labels = template.get("metadata").and_then(|m| m.get("labels"));
    !selector.is_empty()
        && selector.iter().all(|(k, v)| {
            labels
                .and_then(|l| l.get(k))
                .is_some_and(|l| l.value == v.value)
        })
}

/// Give every object its instance: the label that names it; else the workload that reads it
/// (a ConfigMap or Secret in its volumes or environment) or whose pods it selects (a Service);
/// else the instance whose name its own name extends (`order-service-filebeat` belongs to
/// `order-service`); else its own name. The environment's namespace as a name (a `Namespace`
/// object) is the instance `namespace`, so it is one service across environments.
fn assign_instances(objects: &mut [Object], namespace: &str) {
    let labelled: Vec<Option<String>> = objects.iter().map(|o| label_instance(&o.doc)).collect();
    let mut known: Vec<String> = labelled.iter().flatten().cloned().collect();
    known.sort();
    known.dedup();
    // Workloads: their instance (label, else name) and pod template.
    let workloads: Vec<(String, &Node)> = objects
        .iter()
        .zip(&labelled)
        .filter_map(|(o, l)| {
            let t = pod_template(&o.doc)?;
            Some((l.clone().unwrap_or_else(|| o.id.name.clone()), t))
        })
        .collect();
    known.extend(workloads.iter().map(|(i, _)| i.clone()));
    known.sort();
    known.dedup();
    let mut reader: HashMap<String, String> = HashMap::new();
    for (instance, t) in &workloads {
        let mut names = Vec::new();
        referenced(t, &mut names);
        for n in names {
            reader.entry(n).or_insert_with(|| instance.clone());
        }
    }
    let by_use: Vec<Option<String>> = objects
        .iter()
        .map(|o| match o.id.kind.as_str() {
            "ConfigMap" | "Secret" => reader.get(&o.id.name).cloned(),
            "Service" => workloads
                .iter()
                .find(|(_, t)| selects(&o.doc, t))
                .map(|(i, _)| i.clone()),
            _ => None,
        })
        .collect();
    for ((o, l), used) in objects.iter_mut().zip(labelled).zip(by_use) {
        let key = l.or(used).unwrap_or_else(|| {
            known
                .iter()
                .filter(|k| {
                    o.id.name == **k
                        || o.id
                            .name
                            .strip_prefix(k.as_str())
                            .is_some_and(|r| r.starts_with('-'))
                })
                .max_by_key(|k| k.len())
                .cloned()
                .unwrap_or_else(|| o.id.name.clone())
        });
        let key = if key == namespace {
            "namespace".to_string()
        } else {
            key
        };
        o.instance = dns_label(&key);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(env_name("prod@aliyun-hz-prod"), "prod-aliyun-hz-prod");
        assert_eq!(
            env_and_cluster("prod@Aliyun_HZ"),
            ("prod".to_string(), Some("aliyun-hz".to_string()))
        );
        assert_eq!(env_and_cluster("@x"), ("x".to_string(), None));
        assert_eq!(dns_label("My_App.v2"), "my-app-v2");
        assert_eq!(dns_label("--"), "x");
    }

    /// An object read from `text` (for the adopt tests).
    pub(in crate::adopt) fn object(text: &str) -> Object {
        let doc = crate::yaml::parse_unlocated(text, crate::yaml::Dialect::Kube).unwrap();
        Object {
            id: ResourceId::of(&doc).unwrap(),
            doc,
            instance: String::new(),
        }
    }

    #[test]
    fn what_a_workload_reads_or_selects_belongs_to_it() {
        let mut objects = vec![
            object(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {metadata: {labels: {tier: web}}, spec: {volumes: [{name: c, configMap: {name: site-conf}}], containers: [{name: a, envFrom: [{secretRef: {name: creds}}]}]}}}",
            ),
            object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site-conf}"),
            object("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}"),
            object(
                "apiVersion: v1\nkind: Service\nmetadata: {name: front}\nspec: {selector: {tier: web}}",
            ),
            object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-extra}"),
            object("apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}"),
            object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}"),
        ];
        assign_instances(&mut objects, "dev");
        let got: Vec<&str> = objects.iter().map(|o| o.instance.as_str()).collect();
        assert_eq!(
            got,
            ["web", "web", "web", "web", "web", "namespace", "other"]
        );
    }
}
