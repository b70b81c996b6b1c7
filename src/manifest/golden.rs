//! The golden form of rendered manifests: what `golden/` records and `kiln check` compares.
//!
//! It is the render with two differences. Every value of a Secret, and every other secret kiln
//! hides in its output (a `{name: DB_PASSWORD, value: ...}` variable, a URL's password), is kept
//! as a digest, never as itself (`golden/` is committed; `out/` holds the values `kubectl apply`
//! needs). With
//! ApplySets on, every object carries the `applyset.kubernetes.io/part-of` label kubectl gives
//! it and each environment has its parent object (`<env>/_applyset.yaml`), as the cluster holds
//! them after `kubectl apply --prune --applyset`: kubectl adds both itself and refuses input
//! that already has the label, so `out/` has neither.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::yaml::Map;

use super::{Manifest, Origin, ResourceId};
use crate::config::ApplySetParent;
use crate::kube::applyset;
use crate::yaml::{Node, Value};

/// The file (in an environment's folder) that holds its ApplySet parent.
pub const PARENT_FILE: &str = "_applyset";

/// The template name shown for the parent object (kiln writes it, no template does).
pub const PARENT_SOURCE: &str =
    "kiln: ApplySet parent, as kubectl apply --prune --applyset writes it";

/// `manifests` in golden form; `parent` is the environment's ApplySet parent when on. `Err`
/// names an object that already sets the member label (kubectl would refuse it).
pub fn form(
    manifests: &[Manifest],
    parent: Option<&ApplySetParent>,
) -> Result<Vec<Manifest>, String> {
    let mut out = manifests.to_vec();
    for m in &mut out {
        crate::secret::digest_secret_data(&mut m.doc);
        crate::secret::digest_other_secrets(&mut m.doc);
        if let Some(p) = parent
            && !add_label(&mut m.doc, applyset::PART_OF, &p.id)
        {
            return Err(format!(
                "`{}` (from `{}`) sets the label `{}` itself; kubectl apply --applyset adds it and refuses input that has it: remove it from the template",
                m.id,
                m.origin.template_shown,
                applyset::PART_OF
            ));
        }
    }
    Ok(out)
}

/// Add `key: value` to `metadata.labels` (created when missing); false when the label is
/// already there.
fn add_label(doc: &mut Node, key: &str, value: &str) -> bool {
    let loc = doc.loc;
    let empty = || Node::new(Value::Map(Map::default()), loc);
    let Value::Map(root) = &mut doc.value else {
        return true;
    };
    let meta = root.entry("metadata".to_string()).or_insert_with(empty);
    let Value::Map(meta) = &mut meta.value else {
        return true;
    };
    let labels = meta.entry("labels".to_string()).or_insert_with(empty);
    if matches!(labels.value, Value::Null) {
        labels.value = Value::Map(Map::default());
    }
    let Value::Map(labels) = &mut labels.value else {
        return true;
    };
    if labels.contains_key(key) {
        return false;
    }
    labels.insert(
        key.to_string(),
        Node::new(Value::Str(value.to_string()), loc),
    );
    true
}

/// The parent object of an environment's ApplySet holding `members`, as kubectl writes it after
/// an apply with `--prune`: labelled with the set's id, annotated with its tooling, the sorted
/// group-kinds of the members, and the namespaces other than its own (cluster-scoped members,
/// with no namespace, add none).
#[must_use]
pub fn parent<'a>(
    parent: &ApplySetParent,
    env: &str,
    members: impl Iterator<Item = &'a ResourceId>,
) -> Manifest {
    let mut kinds = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for id in members {
        kinds.insert(applyset::group_kind(&id.api_version, &id.kind));
        if let Some(ns) = &id.namespace {
            namespaces.insert(ns.clone());
        }
    }
    let loc = crate::source::Loc::default();
    let s = |v: &str| Node::new(Value::Str(v.to_string()), loc);
    let map = |pairs: Vec<(&str, Node)>| {
        Node::new(
            Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            loc,
        )
    };
    let annotations =
        applyset::parent_annotations(&parent.tooling, &kinds, &namespaces, &parent.namespace);
    let doc = map(vec![
        ("apiVersion", s("v1")),
        ("kind", s("Secret")),
        (
            "metadata",
            map(vec![
                ("name", s(&parent.name)),
                ("namespace", s(&parent.namespace)),
                ("labels", map(vec![(applyset::ID, s(&parent.id))])),
                (
                    "annotations",
                    map(annotations.iter().map(|(k, v)| (*k, s(v))).collect()),
                ),
            ]),
        ),
    ]);
    Manifest {
        id: ResourceId {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some(parent.namespace.clone()),
            name: parent.name.clone(),
        },
        doc,
        origin: Arc::new(Origin {
            template: PARENT_SOURCE.into(),
            template_shown: PARENT_SOURCE.into(),
            env: env.to_string(),
            instance: PARENT_FILE.into(),
        }),
    }
}
