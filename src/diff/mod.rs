//! Diffs of two sets of Kubernetes objects, matched by identity (group, kind, namespace, name)
//! per environment, never by file position: added, removed and changed objects, the changed
//! fields as paths (list items matched by `name` where Kubernetes merges by name), and a
//! unified diff of the normalised YAML. Secret values are masked unless asked for.

pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::manifest::ResourceId;
use crate::yaml::{Node, Value};

/// One object on one side of a diff.
#[derive(Debug, Clone)]
pub struct Object {
    /// Environment (the first folder of its file), or empty.
    pub env: String,
    /// Identity.
    pub id: ResourceId,
    /// The document.
    pub doc: Node,
    /// Where it is: a file, or the template that renders it.
    pub source: String,
}

/// The identity an object is matched by: group (not version), kind, namespace, name.
type Key = (String, String, String, Option<String>, String);

fn key(o: &Object) -> Key {
    (
        o.env.clone(),
        o.id.group().to_string(),
        o.id.kind.clone(),
        o.id.namespace.clone(),
        o.id.name.clone(),
    )
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `spec.template.spec.containers[app].image`.
    pub path: String,
    /// The old value (absent when added).
    pub old: Option<String>,
    /// The new value (absent when removed).
    pub new: Option<String>,
}

/// One changed object.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    /// Its identity (`apps/v1 Deployment dev/order-service`).
    pub resource: String,
    /// Where the new one comes from.
    pub source: String,
    /// The changed fields.
    pub fields: Vec<FieldChange>,
    /// Normalised YAML before and after (masked where needed), for the unified diff.
    #[serde(skip)]
    pub texts: (String, String),
}

/// The differences in one environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvDiff {
    /// Environment name (empty when the inputs have none).
    pub env: String,
    /// Objects only in the new side.
    pub added: Vec<String>,
    /// Objects only in the old side.
    pub removed: Vec<String>,
    /// Objects in both that differ.
    pub changed: Vec<Changed>,
    /// The removed objects `kubectl apply --prune --applyset` deletes (when both sides are in
    /// the same ApplySet), with the set's `--applyset` flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune: Option<Prune>,
}

/// What a prune of one environment's ApplySet deletes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Prune {
    /// The kubectl flags that name the set: `--applyset=kiln-dev --namespace=dev`.
    pub flags: String,
    /// The objects it deletes.
    pub objects: Vec<String>,
}

impl EnvDiff {
    /// True when nothing differs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compare `old` with `new`; environments in first-seen order of `new`, then `old`.
#[must_use]
pub fn compare(old: Vec<Object>, new: Vec<Object>, show_secrets: bool) -> Vec<EnvDiff> {
    compare_in(&[], old, new, show_secrets)
}

/// Like [`compare`], listing every environment of `envs` first (with no differences when none
/// of its objects differ).
#[must_use]
pub fn compare_in(
    envs: &[String],
    old: Vec<Object>,
    new: Vec<Object>,
    show_secrets: bool,
) -> Vec<EnvDiff> {
    let mut order: Vec<String> = envs.to_vec();
    for o in new.iter().chain(&old) {
        if !order.contains(&o.env) {
            order.push(o.env.clone());
        }
    }
    let mut old_map: BTreeMap<Key, Object> = old.into_iter().map(|o| (key(&o), o)).collect();
    let mut out: BTreeMap<String, EnvDiff> = BTreeMap::new();
    for n in new {
        let k = key(&n);
        let d = out.entry(n.env.clone()).or_insert_with(|| EnvDiff {
            env: n.env.clone(),
            ..EnvDiff::default()
        });
        match old_map.remove(&k) {
            None => d.added.push(n.id.to_string()),
            Some(o) => {
                if o.doc.value.same(&n.doc.value) && o.id.api_version == n.id.api_version {
                    continue;
                }
                let (old_doc, new_doc) = if show_secrets {
                    (o.doc.clone(), n.doc.clone())
                } else {
                    crate::secret::redact_pair(&o.doc, &n.doc)
                };
                let mut fields = Vec::new();
                fields_of(&old_doc, &new_doc, "", &mut fields);
                if o.id.api_version != n.id.api_version
                    && fields.iter().all(|f| f.path != "apiVersion")
                {
                    fields.insert(
                        0,
                        FieldChange {
                            path: "apiVersion".into(),
                            old: Some(o.id.api_version.clone()),
                            new: Some(n.id.api_version.clone()),
                        },
                    );
                }
                let texts = (
                    crate::yaml::emit(&old_doc).unwrap_or_default(),
                    crate::yaml::emit(&new_doc).unwrap_or_default(),
                );
                d.changed.push(Changed {
                    resource: n.id.to_string(),
                    source: n.source.clone(),
                    fields,
                    texts,
                });
            }
        }
    }
    for (_, o) in old_map {
        let d = out.entry(o.env.clone()).or_insert_with(|| EnvDiff {
            env: o.env.clone(),
            ..EnvDiff::default()
        });
        d.removed.push(o.id.to_string());
    }
    order
        .into_iter()
        .map(|e| {
            out.remove(&e).unwrap_or_else(|| EnvDiff {
                env: e,
                ..EnvDiff::default()
            })
        })
        .collect()
}

/// A scalar or small collection, as one line.
fn show(n: &Node) -> String {
    match &n.value {
        Value::Str(s) => {
            if s.contains('\n') || s.len() > 80 {
                format!("({} lines, {} bytes)", s.lines().count(), s.len())
            } else {
                s.clone()
            }
        }
        Value::Map(_) | Value::Seq(_) => {
            let text = serde_json::to_string(n).unwrap_or_default();
            if text.len() > 80 {
                format!(
                    "{}...",
                    &text[..text
                        .char_indices()
                        .take_while(|(i, _)| *i < 77)
                        .last()
                        .map_or(0, |(i, c)| i + c.len_utf8())]
                )
            } else {
                text
            }
        }
        other => serde_json::to_string(&Node::new(other.clone(), n.loc)).unwrap_or_default(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The names of list items, when every item is a mapping with a string `name` (containers,
/// env, ports, volumes...): such lists are merged by name, so they are compared by name.
fn names(items: &[Node]) -> Option<Vec<&str>> {
    let names: Option<Vec<&str>> = items.iter().map(|i| i.get_str("name")).collect();
    names.filter(|n| {
        let mut sorted = n.clone();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() == n.len()
    })
}

fn fields_of(old: &Node, new: &Node, path: &str, out: &mut Vec<FieldChange>) {
    match (&old.value, &new.value) {
        (Value::Map(a), Value::Map(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => fields_of(va, vb, &join(path, k), out),
                    None => out.push(FieldChange {
                        path: join(path, k),
                        old: Some(show(va)),
                        new: None,
                    }),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(FieldChange {
                        path: join(path, k),
                        old: None,
                        new: Some(show(vb)),
                    });
                }
            }
        }
        (Value::Seq(a), Value::Seq(b)) => {
            if let (Some(na), Some(nb)) = (names(a), names(b)) {
                for (item, name) in a.iter().zip(&na) {
                    let here = format!("{path}[{name}]");
                    match nb.iter().position(|n| n == name) {
                        Some(j) => fields_of(item, &b[j], &here, out),
                        None => out.push(FieldChange {
                            path: here,
                            old: Some(show(item)),
                            new: None,
                        }),
                    }
                }
                for (item, name) in b.iter().zip(&nb) {
                    if !na.contains(name) {
                        out.push(FieldChange {
                            path: format!("{path}[{name}]"),
                            old: None,
                            new: Some(show(item)),
                        });
                    }
                }
            } else {
                for i in 0..a.len().max(b.len()) {
                    let here = format!("{path}[{i}]");
                    match (a.get(i), b.get(i)) {
                        (Some(x), Some(y)) => fields_of(x, y, &here, out),
                        (Some(x), None) => out.push(FieldChange {
                            path: here,
                            old: Some(show(x)),
                            new: None,
                        }),
                        (None, Some(y)) => out.push(FieldChange {
                            path: here,
                            old: None,
                            new: Some(show(y)),
                        }),
                        (None, None) => {}
                    }
                }
            }
        }
        (a, b) if a == b => {}
        _ => out.push(FieldChange {
            path: path.to_string(),
            old: Some(show(old)),
            new: Some(show(new)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse};

    fn obj(env: &str, text: &str) -> Object {
        let doc = parse(text, 0, Dialect::Kube).unwrap();
        Object {
            env: env.into(),
            id: ResourceId::of(&doc).unwrap(),
            doc,
            source: "t".into(),
        }
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: dev}\nspec:\n  replicas: REPLICAS\n  template:\n    spec:\n      containers:\n      - {name: sidecar, image: 'fb:1'}\n      - {name: app, image: 'api:IMAGE'}\n";

    /// The same object read from two layouts (a golden file's block style, a template's flow
    /// style after a comment) is not changed: every nested value was written elsewhere, which
    /// `==` on the tree would count.
    #[test]
    fn the_same_object_in_another_layout_is_unchanged() {
        const GOLDEN: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  labels:\n    app: api\nspec:\n  ports:\n  - port: 80\n    name: http\n";
        let golden = obj("prod", GOLDEN);
        let rendered = obj(
            "prod",
            "# 服务\n\napiVersion: v1\nkind: Service\nmetadata: {labels: {app: api}, name: api}\nspec:\n  ports: [{name: http, port: 80}]\n",
        );
        assert_ne!(golden.doc.value, rendered.doc.value, "locations differ");
        let d = compare(vec![golden], vec![rendered], false);
        assert!(d.iter().all(EnvDiff::is_empty), "{d:?}");
        let changed = obj(
            "prod",
            "apiVersion: v1\nkind: Service\nmetadata: {name: api, labels: {app: api}}\nspec:\n  ports: [{name: http, port: 8080}]\n",
        );
        let d = compare(vec![obj("prod", GOLDEN)], vec![changed], false);
        assert_eq!(d[0].changed.len(), 1);
        assert_eq!(d[0].changed[0].fields[0].path, "spec.ports[http].port");
    }

    #[test]
    fn matched_by_identity_with_field_paths() {
        let old = vec![
            obj(
                "dev",
                &DEPLOY.replace("REPLICAS", "2").replace("IMAGE", "1.4.1"),
            ),
            obj(
                "dev",
                "apiVersion: v1\nkind: Service\nmetadata: {name: gone}\n",
            ),
        ];
        let new = vec![
            obj(
                "dev",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh}\n",
            ),
            obj(
                "dev",
                &DEPLOY.replace("REPLICAS", "4").replace("IMAGE", "1.4.2"),
            ),
        ];
        let d = compare(old, new, false);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].added, ["v1 ConfigMap fresh"]);
        assert_eq!(d[0].removed, ["v1 Service gone"]);
        let f = &d[0].changed[0].fields;
        assert_eq!(
            f[0],
            FieldChange {
                path: "spec.replicas".into(),
                old: Some("2".into()),
                new: Some("4".into())
            }
        );
        assert_eq!(f[1].path, "spec.template.spec.containers[app].image");
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn reordered_named_lists_are_not_changes() {
        let a = obj(
            "e",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: x}, {name: b, image: y}]}\n",
        );
        let b = obj(
            "e",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: b, image: y}, {name: a, image: x}]}\n",
        );
        let d = compare(vec![a], vec![b], false);
        assert!(d[0].changed[0].fields.is_empty());
    }

    #[test]
    fn secrets_are_masked() {
        let old = obj(
            "e",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aHVudGVyMg==, user: YWRtaW4=}\n",
        );
        let new = obj(
            "e",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: c2VjcmV0, user: YWRtaW4=, token: dA==}\n",
        );
        let d = compare(vec![old.clone()], vec![new.clone()], false);
        let c = &d[0].changed[0];
        let all = format!("{:?} {} {}", c.fields, c.texts.0, c.texts.1);
        for secret in ["aHVudGVyMg==", "c2VjcmV0", "YWRtaW4=", "dA=="] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert!(c.fields.iter().any(|f| f.path == "data.password" && f.new.as_deref() == Some("(hidden; changed)")));
        assert!(
            c.fields
                .iter()
                .any(|f| f.path == "data.token" && f.old.is_none())
        );
        assert!(!c.fields.iter().any(|f| f.path == "data.user"));
        let shown = compare(vec![old], vec![new], true);
        assert!(format!("{:?}", shown[0].changed[0].fields).contains("c2VjcmV0"));
    }
}
