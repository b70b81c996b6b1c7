//! Mechanical migrations of removed Kubernetes API versions, for `kiln convert`.
//!
//! The removed-API table ([`deprecated_api`]) says which apiVersion and kind a Kubernetes
//! version no longer serves and what replaces it. [`convert_object`] rewrites one object to its
//! replacement when that is mechanical (the same object, spelled the new way: Deployments get
//! the `spec.selector` the old API defaulted, Ingress backends are restructured, a CRD's schema
//! moves into its versions, ...) and otherwise says why it cannot. [`convert_text`] does this
//! for every object of a file and puts the file back together: documents that need no change are
//! kept byte for byte, converted ones are emitted again (so comments inside them are lost).
//!
//! Only APIs removed at or before the target version are converted: a deprecated API the target
//! still serves is left alone (and noted), so the output stays deployable to the older clusters
//! it was written for. This module does no I/O.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::check::input::{is_blank, is_marker, split};
use crate::check::lint::deprecated_api::{self, Removal, Status};
use crate::config::KubeVersion;
use crate::manifest::ResourceId;
use crate::source::Loc;
use crate::yaml::{self, Dialect, Node, Value};

/// How an apiVersion and kind migrate to the replacement the table names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Migration {
    /// Only `apiVersion` changes.
    Rename,
    /// Deployment, DaemonSet, ReplicaSet, StatefulSet to apps/v1: `spec.selector` is required.
    Workload,
    /// Ingress to networking.k8s.io/v1: backends, `spec.defaultBackend`, `pathType`.
    Ingress,
    /// autoscaling/v2beta1 HPA to v2: every metric's target is restructured.
    HpaV2beta1,
    /// CustomResourceDefinition to apiextensions.k8s.io/v1: everything moves into `versions`.
    Crd,
    /// Webhook configurations to admissionregistration.k8s.io/v1.
    Webhook,
    /// rbac v1alpha1 bindings: `subjects[].apiVersion` became `subjects[].apiGroup`.
    RbacV1alpha1Binding,
    /// (Local)SubjectAccessReview: `spec.group` became `spec.groups`.
    AccessReview,
    /// node.k8s.io/v1alpha1 RuntimeClass: `spec.*` moves to the top level.
    RuntimeClassV1alpha1,
    /// flowcontrol PriorityLevelConfiguration: `assuredConcurrencyShares` renamed; explicit 0.
    PriorityLevel,
    /// discovery.k8s.io/v1beta1 EndpointSlice: `topology` split into `nodeName`/`zone`.
    EndpointSlice,
    /// policy/v1beta1 PodDisruptionBudget: an empty selector changes meaning.
    Pdb,
    /// certificates.k8s.io/v1beta1 CSR: only when `signerName` and `usages` are already set.
    Csr,
    /// admissionregistration v1alpha1 ValidatingAdmissionPolicyBinding: `validationActions`.
    PolicyBindingV1alpha1,
}

use Migration as M;

/// Every table row with a mechanical migration. A unit test checks this list against the table.
const MIGRATIONS: &[(&str, &str, Migration)] = &[
    ("extensions/v1beta1", "Deployment", M::Workload),
    ("extensions/v1beta1", "DaemonSet", M::Workload),
    ("extensions/v1beta1", "ReplicaSet", M::Workload),
    ("extensions/v1beta1", "NetworkPolicy", M::Rename),
    // To policy/v1beta1 (same schema); that one is removed in 1.25 with no replacement, which
    // the next step reports.
    ("extensions/v1beta1", "PodSecurityPolicy", M::Rename),
    ("extensions/v1beta1", "Ingress", M::Ingress),
    ("apps/v1beta1", "Deployment", M::Workload),
    ("apps/v1beta1", "StatefulSet", M::Workload),
    ("apps/v1beta1", "ReplicaSet", M::Workload),
    ("apps/v1beta1", "ControllerRevision", M::Rename),
    ("apps/v1beta2", "Deployment", M::Workload),
    ("apps/v1beta2", "StatefulSet", M::Workload),
    ("apps/v1beta2", "DaemonSet", M::Workload),
    ("apps/v1beta2", "ReplicaSet", M::Workload),
    ("apps/v1beta2", "ControllerRevision", M::Rename),
    ("rbac.authorization.k8s.io/v1alpha1", "Role", M::Rename),
    (
        "rbac.authorization.k8s.io/v1alpha1",
        "ClusterRole",
        M::Rename,
    ),
    (
        "rbac.authorization.k8s.io/v1alpha1",
        "RoleBinding",
        M::RbacV1alpha1Binding,
    ),
    (
        "rbac.authorization.k8s.io/v1alpha1",
        "ClusterRoleBinding",
        M::RbacV1alpha1Binding,
    ),
    ("rbac.authorization.k8s.io/v1beta1", "Role", M::Rename),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        M::Rename,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        M::Rename,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        M::Rename,
    ),
    ("scheduling.k8s.io/v1alpha1", "PriorityClass", M::Rename),
    ("scheduling.k8s.io/v1beta1", "PriorityClass", M::Rename),
    ("storage.k8s.io/v1beta1", "StorageClass", M::Rename),
    ("storage.k8s.io/v1beta1", "VolumeAttachment", M::Rename),
    ("storage.k8s.io/v1beta1", "CSIDriver", M::Rename),
    ("storage.k8s.io/v1beta1", "CSINode", M::Rename),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", M::Rename),
    ("storage.k8s.io/v1beta1", "VolumeAttributesClass", M::Rename),
    ("storage.k8s.io/v1alpha1", "VolumeAttachment", M::Rename),
    ("storage.k8s.io/v1alpha1", "CSIStorageCapacity", M::Rename),
    (
        "storage.k8s.io/v1alpha1",
        "VolumeAttributesClass",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        M::Webhook,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        M::Webhook,
    ),
    (
        "admissionregistration.k8s.io/v1alpha1",
        "ValidatingAdmissionPolicy",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1alpha1",
        "ValidatingAdmissionPolicyBinding",
        M::PolicyBindingV1alpha1,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingAdmissionPolicy",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingAdmissionPolicyBinding",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1alpha1",
        "MutatingAdmissionPolicy",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1alpha1",
        "MutatingAdmissionPolicyBinding",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingAdmissionPolicy",
        M::Rename,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingAdmissionPolicyBinding",
        M::Rename,
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        M::Crd,
    ),
    ("apiregistration.k8s.io/v1beta1", "APIService", M::Rename),
    ("authentication.k8s.io/v1beta1", "TokenReview", M::Rename),
    (
        "authentication.k8s.io/v1alpha1",
        "SelfSubjectReview",
        M::Rename,
    ),
    (
        "authentication.k8s.io/v1beta1",
        "SelfSubjectReview",
        M::Rename,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "SubjectAccessReview",
        M::AccessReview,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "LocalSubjectAccessReview",
        M::AccessReview,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "SelfSubjectAccessReview",
        M::Rename,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "SelfSubjectRulesReview",
        M::Rename,
    ),
    (
        "certificates.k8s.io/v1beta1",
        "CertificateSigningRequest",
        M::Csr,
    ),
    (
        "certificates.k8s.io/v1alpha1",
        "ClusterTrustBundle",
        M::Rename,
    ),
    (
        "certificates.k8s.io/v1alpha1",
        "PodCertificateRequest",
        M::Rename,
    ),
    ("coordination.k8s.io/v1beta1", "Lease", M::Rename),
    ("coordination.k8s.io/v1alpha2", "LeaseCandidate", M::Rename),
    (
        "discovery.k8s.io/v1beta1",
        "EndpointSlice",
        M::EndpointSlice,
    ),
    (
        "node.k8s.io/v1alpha1",
        "RuntimeClass",
        M::RuntimeClassV1alpha1,
    ),
    ("node.k8s.io/v1beta1", "RuntimeClass", M::Rename),
    ("policy/v1beta1", "PodDisruptionBudget", M::Pdb),
    ("batch/v2alpha1", "CronJob", M::Rename),
    ("batch/v1beta1", "CronJob", M::Rename),
    (
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        M::HpaV2beta1,
    ),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", M::Rename),
    (
        "flowcontrol.apiserver.k8s.io/v1alpha1",
        "FlowSchema",
        M::Rename,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1alpha1",
        "PriorityLevelConfiguration",
        M::PriorityLevel,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        M::Rename,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
        M::PriorityLevel,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        M::Rename,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        M::PriorityLevel,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        M::Rename,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        M::PriorityLevel,
    ),
    ("networking.k8s.io/v1beta1", "Ingress", M::Ingress),
    ("networking.k8s.io/v1beta1", "IngressClass", M::Rename),
    ("networking.k8s.io/v1alpha1", "IPAddress", M::Rename),
    ("networking.k8s.io/v1alpha1", "ServiceCIDR", M::Rename),
    ("networking.k8s.io/v1beta1", "IPAddress", M::Rename),
    ("networking.k8s.io/v1beta1", "ServiceCIDR", M::Rename),
    ("resource.k8s.io/v1alpha3", "DeviceClass", M::Rename),
    ("resource.k8s.io/v1beta1", "DeviceClass", M::Rename),
    ("resource.k8s.io/v1beta2", "DeviceClass", M::Rename),
    ("resource.k8s.io/v1beta2", "ResourceClaim", M::Rename),
    (
        "resource.k8s.io/v1beta2",
        "ResourceClaimTemplate",
        M::Rename,
    ),
    ("resource.k8s.io/v1beta2", "ResourceSlice", M::Rename),
    (
        "storagemigration.k8s.io/v1beta1",
        "StorageVersionMigration",
        M::Rename,
    ),
];

/// Table rows that name a replacement but whose migration needs a person: why, in one phrase.
/// (Rows with no replacement at all explain themselves through the table's note.)
const MANUAL: &[(&str, &str, &str)] = &[
    (
        "extensions/v1beta1",
        "ThirdPartyResource",
        "a different kind (recreate it as a CustomResourceDefinition and migrate the stored objects)",
    ),
    (
        "events.k8s.io/v1beta1",
        "Event",
        "v1 requires fields an old Event may not have (Events are written by controllers, not kept in manifests)",
    ),
    (
        "coordination.k8s.io/v1alpha1",
        "LeaseCandidate",
        "the `preferredStrategies` list became a single `strategy`: pick one",
    ),
    (
        "resource.k8s.io/v1alpha1",
        "ResourceClaim",
        "classic DRA claims are rewritten as device requests with CEL selectors",
    ),
    (
        "resource.k8s.io/v1alpha1",
        "ResourceClaimTemplate",
        "classic DRA claims are rewritten as device requests with CEL selectors",
    ),
    (
        "resource.k8s.io/v1alpha2",
        "ResourceClaim",
        "classic DRA claims are rewritten as device requests with CEL selectors",
    ),
    (
        "resource.k8s.io/v1alpha2",
        "ResourceClaimTemplate",
        "classic DRA claims are rewritten as device requests with CEL selectors",
    ),
    (
        "resource.k8s.io/v1alpha2",
        "ResourceSlice",
        "the named-resources model was replaced; ResourceSlices are written by DRA drivers",
    ),
    (
        "resource.k8s.io/v1alpha3",
        "ResourceClaim",
        "device requests move under `exactly` or `firstAvailable`: a choice kiln does not make",
    ),
    (
        "resource.k8s.io/v1alpha3",
        "ResourceClaimTemplate",
        "device requests move under `exactly` or `firstAvailable`: a choice kiln does not make",
    ),
    (
        "resource.k8s.io/v1alpha3",
        "ResourceSlice",
        "ResourceSlices are written by DRA drivers; their device layout changed",
    ),
    (
        "resource.k8s.io/v1alpha3",
        "DeviceTaintRule",
        "some selector fields were dropped in the replacement",
    ),
    (
        "resource.k8s.io/v1beta1",
        "ResourceClaim",
        "device requests move under `exactly` or `firstAvailable`: a choice kiln does not make",
    ),
    (
        "resource.k8s.io/v1beta1",
        "ResourceClaimTemplate",
        "device requests move under `exactly` or `firstAvailable`: a choice kiln does not make",
    ),
    (
        "resource.k8s.io/v1beta1",
        "ResourceSlice",
        "ResourceSlices are written by DRA drivers; their device layout changed",
    ),
    (
        "storagemigration.k8s.io/v1alpha1",
        "StorageVersionMigration",
        "v1alpha1 objects have no conversion: delete them before upgrading",
    ),
    (
        "v1",
        "Endpoints",
        "a different kind (EndpointSlice), normally written by the control plane",
    ),
];

fn migration(api_version: &str, kind: &str) -> Option<Migration> {
    MIGRATIONS
        .iter()
        .find(|(a, k, _)| *a == api_version && *k == kind)
        .map(|(_, _, m)| *m)
}

/// What happened to one object.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Nothing to do: the target version serves its apiVersion (or it is not an object).
    Unchanged,
    /// Deprecated but still served by the target version: left as it is.
    Deprecated(&'static Removal),
    /// Rewritten to `to`; `notes` say what changed beyond the apiVersion.
    Converted {
        /// The converted object.
        node: Node,
        /// The original apiVersion.
        from: String,
        /// The new apiVersion.
        to: String,
        /// What else changed, and defaults that differ.
        notes: Vec<String>,
    },
    /// The target version does not serve it and there is no mechanical migration: why.
    Failed(String),
}

/// Convert one object for Kubernetes `to`: follow the table from its apiVersion to one that
/// `to` serves, applying each step's migration.
#[must_use]
pub fn convert_object(obj: &Node, to: KubeVersion) -> Outcome {
    let (Some(original), Some(kind)) = (obj.get_str("apiVersion"), obj.get_str("kind")) else {
        return Outcome::Unchanged;
    };
    let kind = kind.to_string();
    let mut node = obj.clone();
    let mut current = original.to_string();
    let mut notes = Vec::new();
    // A chain is at most two steps today (extensions PodSecurityPolicy -> policy/v1beta1).
    for _ in 0..4 {
        let row = match deprecated_api::status(&current, &kind, to) {
            Status::Deprecated(row) if current == original => return Outcome::Deprecated(row),
            Status::Fine | Status::Deprecated(_) => break,
            Status::Removed(row) => row,
        };
        let via = if current == original {
            String::new()
        } else {
            format!("its replacement {current} is removed too: ")
        };
        let Some(replacement) = row.replacement.as_deref() else {
            return Outcome::Failed(format!(
                "{via}Kubernetes {to} does not serve {current} {kind} (removed in {}): {}",
                row.removed.as_deref().unwrap_or("?"),
                row.note
            ));
        };
        if let Some(since) = row
            .replacement_since
            .as_deref()
            .and_then(KubeVersion::parse)
            && since > to
        {
            return Outcome::Failed(format!(
                "{via}its replacement {replacement} is served only from Kubernetes {since}: convert with `--to {since}` or later, or by hand ({})",
                row.note
            ));
        }
        let Some(m) = migration(&current, &kind) else {
            let why = MANUAL
                .iter()
                .find(|(a, k, _)| *a == current && *k == kind)
                .map_or(row.note.as_str(), |(_, _, why)| why);
            return Outcome::Failed(format!(
                "{via}no mechanical migration to {replacement}: {why}"
            ));
        };
        if let Err(why) = apply(m, &mut node, &current, &kind, &mut notes) {
            return Outcome::Failed(format!("{via}{why}"));
        }
        if let Some(map) = map_mut(&mut node) {
            map.insert("apiVersion".into(), s(replacement));
        }
        current = replacement.to_string();
    }
    if current == original {
        Outcome::Unchanged
    } else {
        Outcome::Converted {
            node,
            from: original.to_string(),
            to: current,
            notes,
        }
    }
}

fn apply(
    m: Migration,
    obj: &mut Node,
    from: &str,
    kind: &str,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    match m {
        M::Rename => Ok(()),
        M::Workload => workload(obj, from, kind, notes),
        M::Ingress => ingress(obj, notes),
        M::HpaV2beta1 => hpa_v2beta1(obj, notes),
        M::Crd => crd(obj, notes),
        M::Webhook => webhooks(obj, notes),
        M::RbacV1alpha1Binding => rbac_subjects(obj, notes),
        M::AccessReview => {
            if let Some(spec) = child_map(obj, "spec")
                && spec.contains_key("group")
            {
                if spec.contains_key("groups") {
                    return Err("sets both `spec.group` and `spec.groups`".into());
                }
                rename_key(spec, "group", "groups");
                notes.push("`spec.group` -> `spec.groups`".into());
            }
            Ok(())
        }
        M::RuntimeClassV1alpha1 => runtime_class(obj, notes),
        M::PriorityLevel => priority_level(obj, notes),
        M::EndpointSlice => endpoint_slice(obj, notes),
        M::Pdb => pdb(obj),
        M::Csr => csr(obj),
        M::PolicyBindingV1alpha1 => {
            let spec = child_map(obj, "spec").ok_or("`spec` is missing or not a mapping")?;
            if !spec.contains_key("validationActions") {
                spec.insert("validationActions".into(), seq(vec![s("Deny")]));
                notes.push(
                    "added `spec.validationActions: [Deny]` (required in v1; the v1alpha1 behaviour)"
                        .into(),
                );
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tree helpers
// ---------------------------------------------------------------------------------------------

fn node(value: Value) -> Node {
    Node::new(value, Loc::default())
}

fn s(v: &str) -> Node {
    node(Value::Str(v.to_string()))
}

fn seq(items: Vec<Node>) -> Node {
    node(Value::Seq(items))
}

fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    node(Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    ))
}

fn map_mut(n: &mut Node) -> Option<&mut IndexMap<String, Node>> {
    match &mut n.value {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

fn seq_mut(n: &mut Node) -> Option<&mut Vec<Node>> {
    match &mut n.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }
}

/// The mapping at `key` of a mapping node.
fn child_map<'a>(n: &'a mut Node, key: &str) -> Option<&'a mut IndexMap<String, Node>> {
    map_mut(n)?.get_mut(key).and_then(map_mut)
}

fn is_true(m: &IndexMap<String, Node>, key: &str) -> bool {
    m.get(key).is_some_and(|n| n.value == Value::Bool(true))
}

/// Rename a key where it stands.
fn rename_key(m: &mut IndexMap<String, Node>, old: &str, new: &str) -> bool {
    let Some(i) = m.get_index_of(old) else {
        return false;
    };
    let Some((_, v)) = m.shift_remove_index(i) else {
        return false;
    };
    m.shift_insert(i.min(m.len()), new.to_string(), v);
    true
}

/// Insert `key` just before the first of `before` present, else at the end.
fn insert_before(m: &mut IndexMap<String, Node>, before: &[&str], key: &str, value: Node) {
    match before.iter().find_map(|b| m.get_index_of(*b)) {
        Some(i) => {
            m.shift_insert(i, key.to_string(), value);
        }
        None => {
            m.insert(key.to_string(), value);
        }
    }
}

/// Insert `key` just after `after` when present, else first.
fn insert_after(m: &mut IndexMap<String, Node>, after: &str, key: &str, value: Node) {
    let i = m.get_index_of(after).map_or(0, |i| i + 1);
    m.shift_insert(i.min(m.len()), key.to_string(), value);
}

// ---------------------------------------------------------------------------------------------
// Migrations
// ---------------------------------------------------------------------------------------------

fn workload(obj: &mut Node, from: &str, kind: &str, notes: &mut Vec<String>) -> Result<(), String> {
    let spec = child_map(obj, "spec").ok_or("`spec` is missing or not a mapping")?;
    if spec.contains_key("rollbackTo") {
        return Err("`spec.rollbackTo` has no apps/v1 equivalent (it asked for a one-off rollback; use `kubectl rollout undo`): remove it, then convert".into());
    }
    if spec.shift_remove("templateGeneration").is_some() {
        notes.push("dropped `spec.templateGeneration` (set by the server; not in apps/v1)".into());
    }
    if !spec.contains_key("selector") {
        let labels = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .filter(|l| matches!(&l.value, Value::Map(m) if !m.is_empty()))
            .cloned()
            .ok_or("no `spec.selector` and no pod template labels to copy into one (apps/v1 requires a selector)")?;
        insert_before(
            spec,
            &["template"],
            "selector",
            map([("matchLabels", labels)]),
        );
        notes.push(
            "added `spec.selector.matchLabels` from the pod template labels (the old default)"
                .into(),
        );
    }
    // Defaults that differ in apps/v1, for the fields left unset.
    let mut changed = Vec::new();
    let extensions = from == "extensions/v1beta1";
    match kind {
        "Deployment" if from != "apps/v1beta2" => {
            if !spec.contains_key("revisionHistoryLimit") {
                changed.push(if extensions {
                    "revisionHistoryLimit 10 (was unlimited)"
                } else {
                    "revisionHistoryLimit 10 (was 2)"
                });
            }
            if extensions {
                if !spec.contains_key("progressDeadlineSeconds") {
                    changed.push("progressDeadlineSeconds 600 (was none)");
                }
                let strategy = spec.get("strategy");
                let recreate = strategy.and_then(|s| s.get_str("type")) == Some("Recreate");
                let rolling = strategy.and_then(|s| s.get("rollingUpdate"));
                if !recreate
                    && (rolling.and_then(|r| r.get("maxSurge")).is_none()
                        || rolling.and_then(|r| r.get("maxUnavailable")).is_none())
                {
                    changed.push("maxSurge/maxUnavailable 25% (was 1)");
                }
            }
        }
        "DaemonSet" if extensions && !spec.contains_key("updateStrategy") => {
            changed.push("updateStrategy RollingUpdate (was OnDelete)");
        }
        "StatefulSet" if from == "apps/v1beta1" && !spec.contains_key("updateStrategy") => {
            changed.push("updateStrategy RollingUpdate (was OnDelete)");
        }
        _ => {}
    }
    if !changed.is_empty() {
        notes.push(format!(
            "unset fields now default to {}",
            changed.join(", ")
        ));
    }
    Ok(())
}

fn ingress(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(spec) = map_mut(obj).and_then(|m| m.get_mut("spec")) else {
        return Ok(());
    };
    let spec = map_mut(spec).ok_or("`spec` is not a mapping")?;
    let mut backends = 0;
    let mut numbers = Vec::new();
    if spec.contains_key("backend") {
        if spec.contains_key("defaultBackend") {
            return Err("sets both `spec.backend` and `spec.defaultBackend`".into());
        }
        if let Some(b) = spec.get_mut("backend") {
            backends += usize::from(backend(b, "spec.backend", &mut numbers)?);
        }
        rename_key(spec, "backend", "defaultBackend");
        notes.push("`spec.backend` -> `spec.defaultBackend`".into());
    }
    let mut path_types = 0;
    if let Some(rules) = spec.get_mut("rules").and_then(seq_mut) {
        for (i, rule) in rules.iter_mut().enumerate() {
            let Some(paths) = child_map(rule, "http")
                .and_then(|h| h.get_mut("paths"))
                .and_then(seq_mut)
            else {
                continue;
            };
            for (j, p) in paths.iter_mut().enumerate() {
                let at = format!("spec.rules[{i}].http.paths[{j}]");
                let pm = map_mut(p).ok_or_else(|| format!("`{at}` is not a mapping"))?;
                if let Some(b) = pm.get_mut("backend") {
                    backends += usize::from(backend(b, &format!("{at}.backend"), &mut numbers)?);
                }
                if !pm.contains_key("pathType") {
                    insert_after(pm, "path", "pathType", s("ImplementationSpecific"));
                    path_types += 1;
                }
            }
        }
    }
    if backends > 0 {
        notes.push(format!(
            "{backends} backend(s) `serviceName`/`servicePort` -> `service.name`/`service.port`"
        ));
    }
    for at in numbers {
        notes.push(format!(
            "`{at}.servicePort` was a quoted number: now `port.number`"
        ));
    }
    if path_types > 0 {
        notes.push(format!(
            "added `pathType: ImplementationSpecific` to {path_types} path(s) (the old behaviour)"
        ));
    }
    Ok(())
}

/// `{serviceName, servicePort}` -> `{service: {name, port: {number|name}}}`; true when changed.
fn backend(backend: &mut Node, at: &str, numbers: &mut Vec<String>) -> Result<bool, String> {
    let m = map_mut(backend).ok_or_else(|| format!("`{at}` is not a mapping"))?;
    let Some(i) = m
        .get_index_of("serviceName")
        .or_else(|| m.get_index_of("servicePort"))
    else {
        return Ok(false);
    };
    if m.contains_key("service") {
        return Err(format!(
            "`{at}` mixes `serviceName`/`servicePort` with `service`"
        ));
    }
    let name = m.shift_remove("serviceName");
    let port = m.shift_remove("servicePort");
    let mut service = IndexMap::new();
    if let Some(name) = name {
        service.insert("name".to_string(), name);
    }
    if let Some(port) = port {
        let port = match &port.value {
            Value::Int(_) => map([("number", port.clone())]),
            Value::Str(v) if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) => {
                let number: i64 = v
                    .parse()
                    .map_err(|_| format!("`{at}.servicePort` `{v}` is not a port"))?;
                numbers.push(at.to_string());
                map([("number", node(Value::Int(number)))])
            }
            Value::Str(_) => map([("name", port.clone())]),
            other => {
                return Err(format!(
                    "`{at}.servicePort` is a {}, not a port number or name",
                    other.type_name()
                ));
            }
        };
        service.insert("port".to_string(), port);
    }
    m.shift_insert(
        i.min(m.len()),
        "service".to_string(),
        node(Value::Map(service)),
    );
    Ok(true)
}

fn hpa_v2beta1(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let mut changed = 0;
    if let Some(metrics) = child_map(obj, "spec")
        .and_then(|s| s.get_mut("metrics"))
        .and_then(seq_mut)
    {
        for (i, m) in metrics.iter_mut().enumerate() {
            changed += usize::from(metric(m, &format!("spec.metrics[{i}]"), false)?);
        }
    }
    if let Some(metrics) = child_map(obj, "status")
        .and_then(|s| s.get_mut("currentMetrics"))
        .and_then(seq_mut)
    {
        for (i, m) in metrics.iter_mut().enumerate() {
            changed += usize::from(metric(m, &format!("status.currentMetrics[{i}]"), true)?);
        }
    }
    if changed > 0 {
        notes.push(format!(
            "{changed} metric(s) restructured to `metric`/`target` (`current` in status)"
        ));
    }
    Ok(())
}

/// Restructure one v2beta1 metric (`status`: a current metric); true when it changed.
fn metric(m: &mut Node, at: &str, status: bool) -> Result<bool, String> {
    let Some(mm) = map_mut(m) else {
        return Err(format!("`{at}` is not a mapping"));
    };
    let ty = mm.get("type").and_then(|t| match &t.value {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    });
    let key = match ty.as_deref() {
        Some("Resource") => "resource",
        Some("ContainerResource") => "containerResource",
        Some("Pods") => "pods",
        Some("Object") => "object",
        Some("External") => "external",
        _ => return Ok(false),
    };
    let at = format!("{at}.{key}");
    let Some(src) = mm.get_mut(key).and_then(map_mut) else {
        return Ok(false);
    };
    // v2beta1 field names, per source type: (value field, average field, utilization field).
    let (value_key, average_key, util_key) = if status {
        (
            "currentValue",
            "currentAverageValue",
            "currentAverageUtilization",
        )
    } else {
        (
            "targetValue",
            "targetAverageValue",
            "targetAverageUtilization",
        )
    };
    let new_key = if status { "current" } else { "target" };
    let old_object_ref =
        key == "object" && src.get("target").is_some_and(|t| t.get("kind").is_some());
    let old = [
        value_key,
        average_key,
        util_key,
        "metricName",
        "metricSelector",
    ]
    .iter()
    .any(|k| src.contains_key(*k))
        || old_object_ref
        || (key == "object"
            && src.contains_key("averageValue")
            && !src.contains_key("describedObject"));
    if !old {
        return Ok(false);
    }
    if src.contains_key(new_key) && !old_object_ref {
        return Err(format!("`{at}` mixes v2beta1 fields with `{new_key}`"));
    }
    let value = src.shift_remove(value_key);
    let average = src.shift_remove(average_key).or_else(|| {
        if key == "object" {
            src.shift_remove("averageValue")
        } else {
            None
        }
    });
    let util = src.shift_remove(util_key);
    let target = if status {
        let mut t = IndexMap::new();
        if let Some(u) = util {
            t.insert("averageUtilization".to_string(), u);
        }
        if let Some(a) = average {
            t.insert("averageValue".to_string(), a);
        }
        if let Some(v) = value {
            t.insert("value".to_string(), v);
        }
        node(Value::Map(t))
    } else {
        match (key, util, average, value) {
            ("resource" | "containerResource", Some(u), None, None) => {
                map([("type", s("Utilization")), ("averageUtilization", u)])
            }
            (_, None, Some(a), _) => map([("type", s("AverageValue")), ("averageValue", a)]),
            ("object" | "external", None, None, Some(v)) => {
                map([("type", s("Value")), ("value", v)])
            }
            _ => {
                return Err(format!(
                    "`{at}` does not set exactly one v2beta1 target (`{util_key}`, `{average_key}` or `{value_key}`)"
                ));
            }
        }
    };
    let mut out = IndexMap::new();
    if key == "object"
        && let Some(r) = src.shift_remove("target")
    {
        out.insert("describedObject".to_string(), r);
    }
    if key == "resource" || key == "containerResource" {
        for k in ["name", "container"] {
            if let Some(v) = src.shift_remove(k) {
                out.insert(k.to_string(), v);
            }
        }
    } else {
        let name = src.shift_remove("metricName");
        let selector = src
            .shift_remove("metricSelector")
            .or_else(|| src.shift_remove("selector"));
        let mut metric = IndexMap::new();
        if let Some(n) = name {
            metric.insert("name".to_string(), n);
        }
        if let Some(sel) = selector {
            metric.insert("selector".to_string(), sel);
        }
        out.insert("metric".to_string(), node(Value::Map(metric)));
    }
    out.insert(new_key.to_string(), target);
    out.extend(src.drain(..));
    *src = out;
    Ok(true)
}

fn preserve_unknown() -> Node {
    map([
        ("type", s("object")),
        (
            "x-kubernetes-preserve-unknown-fields",
            node(Value::Bool(true)),
        ),
    ])
}

fn crd(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let spec = child_map(obj, "spec").ok_or("`spec` is missing or not a mapping")?;
    match spec.get_index_of("versions") {
        Some(_) => {
            spec.shift_remove("version");
        }
        None => {
            let Some(Value::Str(v)) = spec.get("version").map(|n| n.value.clone()) else {
                return Err("neither `spec.version` nor `spec.versions` is set".into());
            };
            let entry = map([
                ("name", s(&v)),
                ("served", node(Value::Bool(true))),
                ("storage", node(Value::Bool(true))),
            ]);
            let i = spec.get_index_of("version").unwrap_or(spec.len());
            spec.shift_remove("version");
            spec.shift_insert(i.min(spec.len()), "versions".into(), seq(vec![entry]));
            notes.push("`spec.version` -> `spec.versions[]`".into());
        }
    }
    let validation = spec.shift_remove("validation");
    let top_schema = match &validation {
        Some(v) => Some(
            v.get("openAPIV3Schema")
                .cloned()
                .ok_or("`spec.validation` has no `openAPIV3Schema`")?,
        ),
        None => None,
    };
    let top_sub = spec.shift_remove("subresources");
    let top_cols = spec.shift_remove("additionalPrinterColumns");
    let mut moved: Vec<&str> = Vec::new();
    if top_schema.is_some() {
        moved.push("validation");
    }
    if top_sub.is_some() {
        moved.push("subresources");
    }
    if top_cols.is_some() {
        moved.push("additionalPrinterColumns");
    }
    let mut had_schema = top_schema.is_some();
    let mut defaulted = false;
    let mut fixed_types = 0;
    let versions = spec
        .get_mut("versions")
        .and_then(seq_mut)
        .filter(|v| !v.is_empty())
        .ok_or("`spec.versions` is not a non-empty list")?;
    for (i, v) in versions.iter_mut().enumerate() {
        let vm = map_mut(v).ok_or_else(|| format!("`spec.versions[{i}]` is not a mapping"))?;
        if vm.contains_key("schema") {
            had_schema = true;
        } else {
            let schema = top_schema.clone().unwrap_or_else(|| {
                defaulted = true;
                preserve_unknown()
            });
            vm.insert("schema".into(), map([("openAPIV3Schema", schema)]));
        }
        if let Some(sub) = &top_sub
            && !vm.contains_key("subresources")
        {
            vm.insert("subresources".into(), sub.clone());
        }
        if let Some(cols) = &top_cols
            && !vm.contains_key("additionalPrinterColumns")
        {
            vm.insert("additionalPrinterColumns".into(), cols.clone());
        }
        if let Some(cols) = vm.get_mut("additionalPrinterColumns").and_then(seq_mut) {
            for c in cols.iter_mut().filter_map(map_mut) {
                if c.contains_key("JSONPath") && !c.contains_key("jsonPath") {
                    rename_key(c, "JSONPath", "jsonPath");
                }
            }
        }
        let at = format!("spec.versions[{i}].schema.openAPIV3Schema");
        let schema = vm
            .get_mut("schema")
            .and_then(|s| map_mut(s))
            .and_then(|s| s.get_mut("openAPIV3Schema"))
            .ok_or_else(|| format!("`spec.versions[{i}].schema` has no `openAPIV3Schema`"))?;
        structural(schema, &at, true, &mut fixed_types)?;
    }
    if !moved.is_empty() {
        notes.push(format!(
            "`spec.{}` moved into each version",
            moved.join("`/`spec.")
        ));
    }
    if defaulted {
        notes.push("no schema: added one that keeps any fields (`type: object`, `x-kubernetes-preserve-unknown-fields: true`)".into());
    }
    if fixed_types > 0 {
        notes.push(format!(
            "added `type: object`/`type: array` to {fixed_types} schema node(s) with `properties`/`items` (v1 schemas must be structural)"
        ));
    }
    let preserved =
        spec.get("preserveUnknownFields").map(|n| &n.value) != Some(&Value::Bool(false));
    if preserved && had_schema {
        notes.push("v1 prunes fields the schema does not declare (v1beta1 kept them: `preserveUnknownFields` was not false); add `x-kubernetes-preserve-unknown-fields: true` where objects must keep them".into());
    }
    spec.insert("preserveUnknownFields".into(), node(Value::Bool(false)));
    if !spec.contains_key("scope") {
        insert_after(spec, "group", "scope", s("Namespaced"));
        notes.push("added `scope: Namespaced` (required in v1; the v1beta1 default)".into());
    }
    if let Some(conv) = spec.get_mut("conversion").and_then(map_mut) {
        let client = conv.shift_remove("webhookClientConfig");
        let reviews = conv.shift_remove("conversionReviewVersions");
        let webhook = conv.get("strategy").and_then(|s| match &s.value {
            Value::Str(v) => Some(v == "Webhook"),
            _ => None,
        }) == Some(true);
        if client.is_some() || reviews.is_some() || webhook {
            let mut w = conv
                .shift_remove("webhook")
                .and_then(|w| match w.value {
                    Value::Map(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            if let Some(c) = client {
                w.insert("clientConfig".into(), c);
            }
            let reviews = reviews.unwrap_or_else(|| seq(vec![s("v1beta1")]));
            if !w.contains_key("conversionReviewVersions") {
                w.insert("conversionReviewVersions".into(), reviews);
            }
            conv.insert("webhook".into(), node(Value::Map(w)));
            notes.push(
                "`spec.conversion.webhookClientConfig`/`conversionReviewVersions` -> `spec.conversion.webhook`"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Check that a schema is structural, as apiextensions.k8s.io/v1 requires, adding the `type`
/// that `properties` or `items` imply where it is missing. `root`: the top of a schema.
fn structural(n: &mut Node, at: &str, root: bool, fixed: &mut usize) -> Result<(), String> {
    walk_schema(n, at, false, root, fixed)
}

fn walk_schema(
    n: &mut Node,
    at: &str,
    junctor: bool,
    root: bool,
    fixed: &mut usize,
) -> Result<(), String> {
    const NOT_STRUCTURAL: &str = "v1 requires a structural schema";
    let m = map_mut(n).ok_or_else(|| format!("`{at}` is not a schema object"))?;
    for k in [
        "$ref",
        "definitions",
        "id",
        "patternProperties",
        "dependencies",
        "additionalItems",
    ] {
        if m.contains_key(k) {
            return Err(format!("`{at}.{k}` is not allowed in a CRD schema"));
        }
    }
    let int_or_string = is_true(m, "x-kubernetes-int-or-string");
    let preserve = is_true(m, "x-kubernetes-preserve-unknown-fields");
    if junctor {
        for k in [
            "type",
            "description",
            "default",
            "additionalProperties",
            "nullable",
        ] {
            if m.contains_key(k) {
                return Err(format!(
                    "`{at}.{k}` is not allowed inside allOf/anyOf/oneOf/not ({NOT_STRUCTURAL})"
                ));
            }
        }
    } else {
        let typed = matches!(m.get("type").map(|t| &t.value), Some(Value::Str(t)) if !t.is_empty());
        if !typed && !int_or_string && !preserve {
            if m.contains_key("properties") || m.contains_key("additionalProperties") {
                m.shift_insert(0, "type".into(), s("object"));
                *fixed += 1;
            } else if m.contains_key("items") {
                m.shift_insert(0, "type".into(), s("array"));
                *fixed += 1;
            } else {
                return Err(format!(
                    "`{at}` has no `type` ({NOT_STRUCTURAL}: every field needs a `type`, `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`)"
                ));
            }
        }
    }
    if root && let Some(meta) = m.get("properties").and_then(|p| p.get("metadata")) {
        let ok = match &meta.value {
            Value::Map(mm) => mm.iter().all(|(k, v)| match k.as_str() {
                "type" => true,
                "properties" => matches!(&v.value, Value::Map(p) if p.keys().all(|k| k == "name" || k == "generateName")),
                _ => false,
            }),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "`{at}.properties.metadata` may only restrict `name` and `generateName` ({NOT_STRUCTURAL})"
            ));
        }
    }
    let own_props: BTreeSet<String> = m
        .get("properties")
        .and_then(|p| match &p.value {
            Value::Map(pm) => Some(pm.keys().cloned().collect()),
            _ => None,
        })
        .unwrap_or_default();
    let has_items = m.contains_key("items");
    for (k, v) in m.iter_mut() {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "properties" => {
                let props = map_mut(v).ok_or_else(|| format!("`{here}` is not a mapping"))?;
                for (name, p) in props.iter_mut() {
                    if name == "metadata" && root {
                        continue;
                    }
                    walk_schema(p, &format!("{here}.{name}"), junctor, false, fixed)?;
                }
            }
            "items" => match &v.value {
                Value::Map(_) => walk_schema(v, &here, junctor, false, fixed)?,
                _ => return Err(format!("`{here}` must be a single schema in v1")),
            },
            "additionalProperties" => {
                if matches!(v.value, Value::Map(_)) {
                    walk_schema(v, &here, junctor, false, fixed)?;
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                let items = seq_mut(v).ok_or_else(|| format!("`{here}` is not a list"))?;
                for (i, item) in items.iter_mut().enumerate() {
                    let at_i = format!("{here}[{i}]");
                    // `x-kubernetes-int-or-string` may spell out its two types in anyOf.
                    if int_or_string && is_int_or_string_branch(item) {
                        continue;
                    }
                    junctor_fields(item, &at_i, &own_props, has_items)?;
                    walk_schema(item, &at_i, true, false, fixed)?;
                }
            }
            "not" => {
                junctor_fields(v, &here, &own_props, has_items)?;
                walk_schema(v, &here, true, false, fixed)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_int_or_string_branch(n: &Node) -> bool {
    matches!(&n.value, Value::Map(m) if m.len() == 1
        && matches!(m.get("type").map(|t| &t.value), Some(Value::Str(t)) if t == "integer" || t == "string"))
}

/// Fields named inside allOf/anyOf/oneOf/not must also be specified outside them.
fn junctor_fields(
    n: &Node,
    at: &str,
    outside: &BTreeSet<String>,
    has_items: bool,
) -> Result<(), String> {
    if let Some(Value::Map(props)) = n.get("properties").map(|p| &p.value) {
        for k in props.keys() {
            if !outside.contains(k) {
                return Err(format!(
                    "`{at}.properties.{k}` is not also specified outside the junctor (v1 requires a structural schema)"
                ));
            }
        }
    }
    if n.get("items").is_some() && !has_items {
        return Err(format!(
            "`{at}.items` is not also specified outside the junctor (v1 requires a structural schema)"
        ));
    }
    Ok(())
}

fn webhooks(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(list) = map_mut(obj).and_then(|m| m.get_mut("webhooks")) else {
        return Ok(());
    };
    let list = seq_mut(list).ok_or("`webhooks` is not a list")?;
    let mut names = BTreeSet::new();
    let mut problems = Vec::new();
    for (i, w) in list.iter().enumerate() {
        let name = w.get_str("name").unwrap_or("?");
        if !names.insert(name.to_string()) {
            return Err(format!(
                "webhook name `{name}` is used twice; v1 requires unique names"
            ));
        }
        match w.get("sideEffects").map(|s| &s.value) {
            None => problems.push(format!("webhooks[{i}] ({name}) has no `sideEffects`")),
            Some(Value::Str(v)) if v == "None" || v == "NoneOnDryRun" => {}
            Some(Value::Str(v)) => {
                problems.push(format!("webhooks[{i}] ({name}) has `sideEffects: {v}`"));
            }
            Some(other) => problems.push(format!(
                "webhooks[{i}] ({name}) has a {} `sideEffects`",
                other.type_name()
            )),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{}: admissionregistration.k8s.io/v1 requires `sideEffects: None` or `NoneOnDryRun` (the v1beta1 default `Unknown` is not allowed) and only the webhook's author knows which is true; set it, then convert again",
            problems.join(", ")
        ));
    }
    let mut added = 0;
    let mut defaults = BTreeSet::new();
    for w in list.iter_mut() {
        let Some(wm) = map_mut(w) else { continue };
        if !wm.contains_key("admissionReviewVersions") {
            insert_after(
                wm,
                "sideEffects",
                "admissionReviewVersions",
                seq(vec![s("v1beta1")]),
            );
            added += 1;
        }
        for (k, d) in [
            ("failurePolicy", "failurePolicy Fail (was Ignore)"),
            ("matchPolicy", "matchPolicy Equivalent (was Exact)"),
            ("timeoutSeconds", "timeoutSeconds 10 (was 30)"),
        ] {
            if !wm.contains_key(k) {
                defaults.insert(d);
            }
        }
    }
    if added > 0 {
        notes.push(format!(
            "added `admissionReviewVersions: [v1beta1]` to {added} webhook(s) (required in v1; the v1beta1 default)"
        ));
    }
    if !defaults.is_empty() {
        notes.push(format!(
            "unset fields now default to {}",
            defaults.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}

fn rbac_subjects(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(subjects) = map_mut(obj)
        .and_then(|m| m.get_mut("subjects"))
        .and_then(seq_mut)
    else {
        return Ok(());
    };
    let mut changed = false;
    for (i, subject) in subjects.iter_mut().enumerate() {
        let sm = map_mut(subject).ok_or_else(|| format!("`subjects[{i}]` is not a mapping"))?;
        let Some(at) = sm.get_index_of("apiVersion") else {
            continue;
        };
        sm.shift_remove_index(at);
        changed = true;
        let group = match sm.get("kind").map(|k| &k.value) {
            Some(Value::Str(k)) if k == "ServiceAccount" => None,
            _ => Some("rbac.authorization.k8s.io"),
        };
        if let Some(g) = group
            && !sm.contains_key("apiGroup")
        {
            sm.shift_insert(at.min(sm.len()), "apiGroup".into(), s(g));
        }
    }
    if changed {
        notes.push("`subjects[].apiVersion` -> `subjects[].apiGroup`".into());
    }
    Ok(())
}

fn runtime_class(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let m = map_mut(obj).ok_or("not a mapping")?;
    let Some(i) = m.get_index_of("spec") else {
        return Err("`spec.runtimeHandler` is missing (v1 requires `handler`)".into());
    };
    let Some((_, spec)) = m.shift_remove_index(i) else {
        return Ok(());
    };
    let Value::Map(spec) = spec.value else {
        return Err("`spec` is not a mapping".into());
    };
    for (at, (k, v)) in (i..).zip(spec) {
        let new = match k.as_str() {
            "runtimeHandler" => "handler",
            "overhead" => "overhead",
            "scheduling" => "scheduling",
            other => return Err(format!("`spec.{other}` has no place in node.k8s.io/v1")),
        };
        m.shift_insert(at.min(m.len()), new.into(), v);
    }
    notes.push("`spec.runtimeHandler`/`overhead`/`scheduling` -> top-level `handler`/`overhead`/`scheduling`".into());
    Ok(())
}

fn priority_level(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(limited) = child_map(obj, "spec")
        .and_then(|s| s.get_mut("limited"))
        .and_then(map_mut)
    else {
        return Ok(());
    };
    if limited.contains_key("assuredConcurrencyShares") {
        if limited.contains_key("nominalConcurrencyShares") {
            return Err(
                "sets both `assuredConcurrencyShares` and `nominalConcurrencyShares`".into(),
            );
        }
        rename_key(
            limited,
            "assuredConcurrencyShares",
            "nominalConcurrencyShares",
        );
        notes.push(
            "`spec.limited.assuredConcurrencyShares` -> `spec.limited.nominalConcurrencyShares`"
                .into(),
        );
    }
    if let Some(shares) = limited.get_mut("nominalConcurrencyShares")
        && shares.value == Value::Int(0)
    {
        shares.value = Value::Int(30);
        notes.push(
            "explicit 0 concurrency shares meant the default 30; now written as 30 (v1 keeps 0)"
                .into(),
        );
    }
    Ok(())
}

fn endpoint_slice(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";
    let Some(endpoints) = map_mut(obj)
        .and_then(|m| m.get_mut("endpoints"))
        .and_then(seq_mut)
    else {
        return Ok(());
    };
    let mut changed = false;
    for (i, e) in endpoints.iter_mut().enumerate() {
        let em = map_mut(e).ok_or_else(|| format!("`endpoints[{i}]` is not a mapping"))?;
        let Some(at) = em.get_index_of("topology") else {
            continue;
        };
        let Some((_, topology)) = em.shift_remove_index(at) else {
            continue;
        };
        let Value::Map(mut topology) = topology.value else {
            return Err(format!("`endpoints[{i}].topology` is not a mapping"));
        };
        changed = true;
        let mut at = at;
        for (key, field) in [(HOST, "nodeName"), (ZONE, "zone")] {
            if let Some(v) = topology.shift_remove(key)
                && !em.contains_key(field)
            {
                em.shift_insert(at.min(em.len()), field.into(), v);
                at += 1;
            }
        }
        if !topology.is_empty() {
            em.shift_insert(
                at.min(em.len()),
                "deprecatedTopology".into(),
                node(Value::Map(topology)),
            );
        }
    }
    if changed {
        notes.push(
            "`endpoints[].topology` -> `nodeName`/`zone` (other keys: `deprecatedTopology`)".into(),
        );
    }
    Ok(())
}

fn pdb(obj: &mut Node) -> Result<(), String> {
    let Some(selector) = map_mut(obj)
        .and_then(|m| m.get("spec"))
        .and_then(|s| s.get("selector"))
    else {
        return Ok(());
    };
    let empty = |k: &str| {
        selector.get(k).is_none_or(|v| match &v.value {
            Value::Map(m) => m.is_empty(),
            Value::Seq(s) => s.is_empty(),
            Value::Null => true,
            _ => false,
        })
    };
    if matches!(selector.value, Value::Map(_)) && empty("matchLabels") && empty("matchExpressions")
    {
        return Err("its empty `spec.selector` selects no pods in policy/v1beta1 but every pod in the namespace in policy/v1: give it a real selector (or delete it), then convert".into());
    }
    Ok(())
}

fn csr(obj: &mut Node) -> Result<(), String> {
    let spec = map_mut(obj).and_then(|m| m.get("spec"));
    let signer = spec.and_then(|s| s.get_str("signerName"));
    let usages = spec.and_then(|s| s.get("usages"));
    match signer {
        None | Some("kubernetes.io/legacy-unknown") => Err(
            "certificates.k8s.io/v1 requires a `spec.signerName` other than `kubernetes.io/legacy-unknown`: choose the signer, then convert".into(),
        ),
        Some(_) if !matches!(usages.map(|u| &u.value), Some(Value::Seq(u)) if !u.is_empty()) => Err(
            "certificates.k8s.io/v1 requires `spec.usages`: list them, then convert".into(),
        ),
        Some(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// How a report line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An object was converted.
    Converted,
    /// Information: left alone on purpose.
    Note,
    /// An object could not be converted (or a document could not be read).
    Error,
}

/// One line for the user about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// 1-based line of the object in the file.
    pub line: u32,
    /// What kind of line.
    pub level: Level,
    /// The message, without file and line.
    pub message: String,
}

/// A file, converted.
#[derive(Debug, Clone, Default)]
pub struct FileResult {
    /// The whole new text.
    pub text: String,
    /// True when some object changed.
    pub changed: bool,
    /// True when some document is not valid YAML.
    pub unparsable: bool,
    /// Objects converted.
    pub converted: usize,
    /// Objects (or documents) that could not be converted.
    pub failed: usize,
    /// Converted documents written out again (not edited in place): their comments are lost.
    pub rewritten: usize,
    /// One line per object that needed attention, in file order.
    pub reports: Vec<Report>,
}

/// `apps/v1 Deployment ns/web`, as `kiln lint` names resources.
fn identity(n: &Node) -> String {
    match ResourceId::of(n) {
        Ok(id) => id.to_string(),
        Err(_) => format!(
            "{} {}",
            n.get_str("apiVersion").unwrap_or("?"),
            n.get_str("kind").unwrap_or("?")
        ),
    }
}

/// A converted object: the new tree, and the text edits that make the same change in its
/// source when there are such (see [`text_edits`]).
struct Changed {
    node: Node,
    edits: Option<Vec<(usize, usize, String)>>,
}

/// Convert one object and say what happened; `None` when it did not change. `text`: the
/// document the object was parsed from (its locations are offsets into it).
fn object(
    obj: &Node,
    text: &str,
    line: u32,
    to: KubeVersion,
    out: &mut FileResult,
) -> Option<Changed> {
    match convert_object(obj, to) {
        Outcome::Unchanged => None,
        Outcome::Deprecated(row) => {
            let when = row.removed.as_deref().map_or_else(
                || "no removal scheduled".to_string(),
                |r| format!("removed in {r}; convert with `--to {r}`"),
            );
            out.reports.push(Report {
                line,
                level: Level::Note,
                message: format!(
                    "{} is deprecated but still served by Kubernetes {to}: left unchanged ({when})",
                    identity(obj)
                ),
            });
            None
        }
        Outcome::Failed(why) => {
            out.failed += 1;
            out.reports.push(Report {
                line,
                level: Level::Error,
                message: format!("cannot convert {}: {why}; left unchanged", identity(obj)),
            });
            None
        }
        Outcome::Converted {
            node,
            from,
            to: new,
            notes,
        } => {
            out.converted += 1;
            let mut message = format!("converted {} to {new}", identity(obj));
            if !notes.is_empty() {
                message.push_str(": ");
                message.push_str(&notes.join("; "));
            }
            out.reports.push(Report {
                line,
                level: Level::Converted,
                message,
            });
            let edits = text_edits(obj, &node, text, &from, &new);
            Some(Changed { node, edits })
        }
    }
}

/// Text edits (offset, length, replacement) that turn `old`'s source into `new`, when the
/// change is one that can be made in place: the apiVersion, and a workload's added
/// `spec.selector` (inserted above `spec.template` in block-style YAML). Editing the text keeps
/// every comment and the author's formatting.
fn text_edits(
    old: &Node,
    new: &Node,
    text: &str,
    from: &str,
    to: &str,
) -> Option<Vec<(usize, usize, String)>> {
    let mut probe = old.clone();
    map_mut(&mut probe)?.insert("apiVersion".into(), s(to));
    let loc = old.get("apiVersion")?.loc;
    let (start, len) = (loc.offset as usize, loc.len as usize);
    let span = text.get(start..start + len)?;
    let quoted = |q: char| span.len() >= 2 && span.starts_with(q) && span.ends_with(q);
    let replacement = if span == from {
        to.to_string()
    } else if (quoted('"') || quoted('\'')) && &span[1..span.len() - 1] == from {
        format!("{}{to}{}", &span[..1], &span[span.len() - 1..])
    } else {
        return None;
    };
    let mut edits = vec![(start, len, replacement)];
    if probe == *new {
        return Some(edits);
    }
    // A workload given the selector its old API defaulted.
    let old_spec = old.get("spec")?;
    let selector = new.get("spec")?.get("selector")?;
    if old_spec.get("selector").is_some()
        || text.get(old_spec.loc.offset as usize..)?.starts_with('{')
    {
        return None;
    }
    insert_before(
        child_map(&mut probe, "spec")?,
        &["template"],
        "selector",
        selector.clone(),
    );
    if probe != *new {
        return None;
    }
    let at = old_spec.get("template")?.key_loc.offset as usize;
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..at];
    if !indent.bytes().all(|b| b == b' ') {
        return None;
    }
    let body = yaml::emit(&map([("selector", selector.clone())])).ok()?;
    let mut block = String::new();
    for l in body.lines() {
        block.push_str(indent);
        block.push_str(l);
        block.push('\n');
    }
    edits.push((line_start, 0, block));
    Some(edits)
}

/// Convert every object in a file's text for Kubernetes `to`. Documents that need no change
/// are kept byte for byte (comments too); a converted document is emitted again after its
/// leading `---` and comment lines (comments inside it are lost). `json`: the file is JSON and
/// a converted document is written as JSON.
#[must_use]
pub fn convert_text(text: &str, to: KubeVersion, json: bool) -> FileResult {
    let mut out = FileResult::default();
    let mut pieces = Vec::new();
    for (start, line_base, end) in split(text) {
        let chunk = &text[start..end];
        if is_blank(chunk) {
            pieces.push(chunk.to_string());
            continue;
        }
        let parsed = match yaml::parse(chunk, 0, Dialect::Kube) {
            Ok(n) => n,
            Err(e) => {
                out.unparsable = true;
                out.failed += 1;
                out.reports.push(Report {
                    line: line_base + e.line.max(1),
                    level: Level::Error,
                    message: format!("not valid YAML: {}; document left unchanged", e.message),
                });
                pieces.push(chunk.to_string());
                continue;
            }
        };
        let mut changes: Vec<Changed> = Vec::new();
        let mut new = parsed.clone();
        if is_list(&parsed) {
            if let Some(items) = map_mut(&mut new)
                .and_then(|m| m.get_mut("items"))
                .and_then(seq_mut)
            {
                for item in items.iter_mut() {
                    if let Some(c) = object(item, chunk, line_base + item.loc.line, to, &mut out) {
                        *item = c.node.clone();
                        changes.push(c);
                    }
                }
            }
        } else if let Some(c) = object(
            &parsed,
            chunk,
            line_base + parsed.loc.line.max(1),
            to,
            &mut out,
        ) {
            new = c.node.clone();
            changes.push(c);
        }
        if changes.is_empty() {
            pieces.push(chunk.to_string());
            continue;
        }
        // Edit the text where every change can be made in place: that keeps every comment.
        if changes.iter().all(|c| c.edits.is_some()) {
            let mut splices: Vec<(usize, usize, String)> = changes
                .iter()
                .flat_map(|c| c.edits.clone().unwrap_or_default())
                .collect();
            splices.sort_by_key(|s| std::cmp::Reverse(s.0));
            let mut edited = chunk.to_string();
            for (start, len, replacement) in splices {
                edited.replace_range(start..start + len, &replacement);
            }
            pieces.push(edited);
            out.changed = true;
            continue;
        }
        match rewrite(chunk, &new, json) {
            Ok(t) => {
                pieces.push(t);
                out.changed = true;
                out.rewritten += 1;
            }
            Err(e) => {
                // Cannot happen for a tree read from YAML; keep the document if it does.
                out.failed += 1;
                out.reports.push(Report {
                    line: line_base + 1,
                    level: Level::Error,
                    message: format!("cannot write the converted document: {e}; left unchanged"),
                });
                pieces.push(chunk.to_string());
            }
        }
    }
    out.text = pieces.concat();
    out
}

fn is_list(n: &Node) -> bool {
    n.get_str("kind").is_some_and(|k| k.ends_with("List"))
        && n.get("items")
            .is_some_and(|i| matches!(i.value, Value::Seq(_)))
}

/// A converted document's new text: its `---` line and leading comment lines, the emitted
/// object, then its trailing comment lines.
fn rewrite(chunk: &str, new: &Node, json: bool) -> Result<String, String> {
    let body = if json {
        serde_json::to_string_pretty(new).map_err(|e| e.to_string())? + "\n"
    } else {
        let mut b = yaml::emit(new)?;
        if !b.ends_with('\n') {
            b.push('\n');
        }
        b
    };
    let lines: Vec<&str> = chunk.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let content = |l: &str| {
        let b = bare(l);
        !(b.trim().is_empty() || b.starts_with('#'))
    };
    let mut head = String::new();
    let mut first = 0;
    if let Some(l) = lines.first()
        && is_marker(&bare(l))
    {
        let b = bare(l);
        let rest = b[3..].trim();
        head.push_str(if rest.is_empty() || rest.starts_with('#') {
            l
        } else {
            "---\n"
        });
        if !l.ends_with('\n') {
            head.push('\n');
        }
        first = 1;
    }
    let last_content = lines.iter().rposition(|l| content(l)).unwrap_or(0);
    for l in &lines[first..] {
        if content(l) {
            break;
        }
        head.push_str(l);
    }
    let mut tail = String::new();
    let trailing = &lines[(last_content + 1).min(lines.len())..];
    if let Some(c) = trailing.iter().position(|l| bare(l).starts_with('#')) {
        for l in &trailing[c..] {
            tail.push_str(l);
        }
        if !tail.ends_with('\n') {
            tail.push('\n');
        }
    }
    Ok(format!("{head}{body}{tail}"))
}

/// True when a file's text starts a new document (its first line that is not blank or a
/// comment is `---`), so it can follow another file's text in one stream.
#[must_use]
pub fn starts_with_marker(text: &str) -> bool {
    text.lines()
        .map(str::trim_end)
        .find(|l| !(l.trim().is_empty() || l.starts_with('#')))
        .is_some_and(is_marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        KubeVersion::parse(s).unwrap()
    }

    fn parse(text: &str) -> Node {
        yaml::parse(text, 0, Dialect::Kube).unwrap()
    }

    /// Run one table case: `expected` is the converted YAML, `ERR: text` a failure whose
    /// reason contains `text`, `SAME` unchanged, `DEPRECATED` left alone as deprecated.
    fn case(name: &str, to: &str, input: &str, expected: &str) {
        let got = convert_object(&parse(input), v(to));
        match (expected, got) {
            ("SAME", Outcome::Unchanged) | ("DEPRECATED", Outcome::Deprecated(_)) => {}
            (e, Outcome::Failed(why)) if e.starts_with("ERR: ") => {
                assert!(
                    why.contains(&e[5..]),
                    "{name}: reason {why:?} lacks {:?}",
                    &e[5..]
                );
            }
            (e, Outcome::Converted { node, notes, .. })
                if !e.starts_with("ERR: ") && e != "SAME" && e != "DEPRECATED" =>
            {
                let want = yaml::emit(&parse(e)).unwrap();
                let got = yaml::emit(&node).unwrap();
                assert_eq!(got, want, "{name} (notes: {notes:?})");
            }
            (e, other) => panic!("{name}: expected {e:?}, got {other:?}"),
        }
    }

    #[test]
    fn workloads_move_to_apps_v1_with_the_defaulted_selector() {
        let cases = [
            (
                "extensions Deployment without selector",
                "1.16",
                "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: web, tier: fe}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web, tier: fe}}\n  template:\n    metadata: {labels: {app: web, tier: fe}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n",
            ),
            (
                "apps/v1beta2 Deployment with selector",
                "1.29",
                "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n",
            ),
            (
                "extensions DaemonSet drops templateGeneration",
                "1.29",
                "apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  templateGeneration: 3\n  template: {metadata: {labels: {app: agent}}}\n",
                "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template: {metadata: {labels: {app: agent}}}\n",
            ),
            (
                "apps/v1beta1 StatefulSet",
                "1.29",
                "apiVersion: apps/v1beta1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  template: {metadata: {labels: {app: db}}}\n",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template: {metadata: {labels: {app: db}}}\n",
            ),
            (
                "extensions ReplicaSet",
                "1.29",
                "apiVersion: extensions/v1beta1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  template: {metadata: {labels: {app: rs}}}\n",
                "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  selector: {matchLabels: {app: rs}}\n  template: {metadata: {labels: {app: rs}}}\n",
            ),
            (
                "rollbackTo has no equivalent",
                "1.29",
                "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  rollbackTo: {revision: 2}\n  template: {metadata: {labels: {app: web}}}\n",
                "ERR: `spec.rollbackTo`",
            ),
            (
                "no labels, no selector",
                "1.29",
                "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template: {spec: {containers: []}}\n",
                "ERR: no pod template labels",
            ),
            (
                "not removed yet at 1.15",
                "1.15",
                "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n",
                "DEPRECATED",
            ),
            (
                "apps/v1 is fine",
                "1.29",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
                "SAME",
            ),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    #[test]
    fn ingress_backends_path_types_and_default_backend() {
        let cases = [
            (
                "extensions Ingress",
                "1.22",
                "apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: web}
spec:
  backend: {serviceName: fallback, servicePort: 8080}
  tls: [{hosts: [a.example.com], secretName: tls}]
  rules:
  - host: a.example.com
    http:
      paths:
      - path: /
        backend: {serviceName: web, servicePort: 80}
      - path: /api
        backend: {serviceName: api, servicePort: http}
      - path: /q
        pathType: Prefix
        backend: {serviceName: q, servicePort: '8081'}
      - backend: {serviceName: other, servicePort: 81}
",
                "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 8080}}}
  tls: [{hosts: [a.example.com], secretName: tls}]
  rules:
  - host: a.example.com
    http:
      paths:
      - path: /
        pathType: ImplementationSpecific
        backend: {service: {name: web, port: {number: 80}}}
      - path: /api
        pathType: ImplementationSpecific
        backend: {service: {name: api, port: {name: http}}}
      - path: /q
        pathType: Prefix
        backend: {service: {name: q, port: {number: 8081}}}
      - pathType: ImplementationSpecific
        backend: {service: {name: other, port: {number: 81}}}
",
            ),
            (
                "networking v1beta1 Ingress with a resource backend",
                "1.29",
                "apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata: {name: static}
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: /icons
        pathType: Exact
        backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: icons}}
",
                "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: static}
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: /icons
        pathType: Exact
        backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: icons}}
",
            ),
            (
                "Ingress is still served at 1.21",
                "1.21",
                "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: web}\n",
                "DEPRECATED",
            ),
            (
                "a port that is neither number nor name",
                "1.29",
                "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  backend: {serviceName: a, servicePort: [80]}\n",
                "ERR: not a port number or name",
            ),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    #[test]
    fn autoscalers_move_to_v2() {
        let cases = [
            (
                "v2beta1 metrics of every type, and status",
                "1.25",
                "apiVersion: autoscaling/v2beta1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, targetAverageUtilization: 50}
  - type: Resource
    resource: {name: memory, targetAverageValue: 500Mi}
  - type: ContainerResource
    containerResource: {name: cpu, container: app, targetAverageUtilization: 60}
  - type: Pods
    pods: {metricName: packets, targetAverageValue: 1k, selector: {matchLabels: {a: b}}}
  - type: Object
    object:
      target: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main}
      metricName: requests
      targetValue: 10k
  - type: Object
    object:
      target: {kind: Service, name: svc}
      metricName: rps
      targetValue: 100
      averageValue: 20
  - type: External
    external: {metricName: queue, metricSelector: {matchLabels: {q: jobs}}, targetValue: 30}
  - type: External
    external: {metricName: lag, targetAverageValue: 5}
status:
  currentReplicas: 1
  desiredReplicas: 1
  currentMetrics:
  - type: Resource
    resource: {name: cpu, currentAverageUtilization: 10, currentAverageValue: 100m}
  - type: Pods
    pods: {metricName: packets, currentAverageValue: 300}
",
                "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}
  - type: ContainerResource
    containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 60}}
  - type: Pods
    pods: {metric: {name: packets, selector: {matchLabels: {a: b}}}, target: {type: AverageValue, averageValue: 1k}}
  - type: Object
    object:
      describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main}
      metric: {name: requests}
      target: {type: Value, value: 10k}
  - type: Object
    object:
      describedObject: {kind: Service, name: svc}
      metric: {name: rps}
      target: {type: AverageValue, averageValue: 20}
  - type: External
    external: {metric: {name: queue, selector: {matchLabels: {q: jobs}}}, target: {type: Value, value: 30}}
  - type: External
    external: {metric: {name: lag}, target: {type: AverageValue, averageValue: 5}}
status:
  currentReplicas: 1
  desiredReplicas: 1
  currentMetrics:
  - type: Resource
    resource: {name: cpu, current: {averageUtilization: 10, averageValue: 100m}}
  - type: Pods
    pods: {metric: {name: packets}, current: {averageValue: 300}}
",
            ),
            (
                "v2beta1 already written the v2 way",
                "1.29",
                "apiVersion: autoscaling/v2beta1\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec:\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n",
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec:\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n",
            ),
            (
                "two targets",
                "1.29",
                "apiVersion: autoscaling/v2beta1\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec:\n  metrics:\n  - type: Resource\n    resource: {name: cpu, targetAverageUtilization: 5, targetAverageValue: 1}\n",
                "ERR: exactly one v2beta1 target",
            ),
            (
                "v2beta2 is a rename",
                "1.26",
                "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec: {maxReplicas: 3}\n",
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec: {maxReplicas: 3}\n",
            ),
            (
                "autoscaling/v1 is fine",
                "1.35",
                "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n",
                "SAME",
            ),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    #[test]
    fn custom_resource_definitions_move_into_versions() {
        let cases = [
            (
                "single version with validation, columns, subresources, conversion",
                "1.22",
                "apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: crontabs.example.com}
spec:
  group: example.com
  version: v1
  names: {plural: crontabs, kind: CronTab}
  validation:
    openAPIV3Schema:
      properties:
        spec:
          properties:
            cron: {type: string}
            replicas: {type: integer}
            tags: {items: {type: string}}
  additionalPrinterColumns:
  - {name: Cron, type: string, JSONPath: .spec.cron}
  subresources: {status: {}}
  conversion:
    strategy: Webhook
    webhookClientConfig: {service: {name: conv, namespace: sys}}
",
                "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.example.com}
spec:
  group: example.com
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cron: {type: string}
              replicas: {type: integer}
              tags: {type: array, items: {type: string}}
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Cron, type: string, jsonPath: .spec.cron}
  names: {plural: crontabs, kind: CronTab}
  conversion:
    strategy: Webhook
    webhook:
      clientConfig: {service: {name: conv, namespace: sys}}
      conversionReviewVersions: [v1beta1]
  preserveUnknownFields: false
",
            ),
            (
                "versions list, no schema",
                "1.29",
                "apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  scope: Cluster
  version: v2
  versions:
  - {name: v2, served: true, storage: true}
  - {name: v1, served: true, storage: false}
  names: {plural: things, kind: Thing}
  preserveUnknownFields: true
",
                "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  scope: Cluster
  versions:
  - name: v2
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  names: {plural: things, kind: Thing}
  preserveUnknownFields: false
",
            ),
            (
                "a field without a type",
                "1.29",
                "apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: a.example.com}
spec:
  group: example.com
  version: v1
  names: {plural: a, kind: A}
  validation:
    openAPIV3Schema:
      type: object
      properties:
        spec: {description: anything}
",
                "ERR: `spec.versions[0].schema.openAPIV3Schema.properties.spec` has no `type`",
            ),
            (
                "metadata restricted beyond name",
                "1.29",
                "apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: a.example.com}
spec:
  group: example.com
  version: v1
  names: {plural: a, kind: A}
  validation:
    openAPIV3Schema:
      type: object
      properties:
        metadata: {type: object, properties: {labels: {type: object}}}
",
                "ERR: may only restrict `name` and `generateName`",
            ),
            (
                "type inside anyOf",
                "1.29",
                "apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: a.example.com}
spec:
  group: example.com
  version: v1
  names: {plural: a, kind: A}
  validation:
    openAPIV3Schema:
      type: object
      properties:
        size:
          x-kubernetes-int-or-string: true
          anyOf: [{type: integer}, {type: string}]
        mode:
          type: string
          anyOf: [{type: string, enum: [a]}]
",
                "ERR: `spec.versions[0].schema.openAPIV3Schema.properties.mode.anyOf[0].type` is not allowed",
            ),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    #[test]
    fn webhooks_need_side_effects_and_get_review_versions() {
        let cases = [
            (
                "sideEffects set",
                "1.22",
                "apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingWebhookConfiguration
metadata: {name: inject}
webhooks:
- name: inject.example.com
  sideEffects: None
  clientConfig: {service: {name: inject, namespace: sys}}
- name: other.example.com
  sideEffects: NoneOnDryRun
  admissionReviewVersions: [v1, v1beta1]
  failurePolicy: Fail
",
                "apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: inject}
webhooks:
- name: inject.example.com
  sideEffects: None
  admissionReviewVersions: [v1beta1]
  clientConfig: {service: {name: inject, namespace: sys}}
- name: other.example.com
  sideEffects: NoneOnDryRun
  admissionReviewVersions: [v1, v1beta1]
  failurePolicy: Fail
",
            ),
            (
                "sideEffects missing",
                "1.29",
                "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: v}\nwebhooks:\n- name: v.example.com\n",
                "ERR: webhooks[0] (v.example.com) has no `sideEffects`",
            ),
            (
                "sideEffects Unknown",
                "1.29",
                "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: v}\nwebhooks:\n- {name: v.example.com, sideEffects: Unknown}\n",
                "ERR: has `sideEffects: Unknown`",
            ),
            (
                "duplicate names",
                "1.29",
                "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: v}\nwebhooks:\n- {name: a, sideEffects: None}\n- {name: a, sideEffects: None}\n",
                "ERR: used twice",
            ),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    #[test]
    fn renames_and_small_restructures() {
        let cases = [
            (
                "CronJob",
                "1.25",
                "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: '* * * * *'}\n",
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: '* * * * *'}\n",
            ),
            (
                "PodDisruptionBudget",
                "1.25",
                "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1, selector: {matchLabels: {app: a}}}\n",
                "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1, selector: {matchLabels: {app: a}}}\n",
            ),
            (
                "PodDisruptionBudget with an empty selector",
                "1.25",
                "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1, selector: {}}\n",
                "ERR: empty `spec.selector`",
            ),
            (
                "RBAC v1beta1",
                "1.22",
                "apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects: [{kind: ServiceAccount, name: s, namespace: n}]\n",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects: [{kind: ServiceAccount, name: s, namespace: n}]\n",
            ),
            (
                "RBAC v1alpha1 binding subjects",
                "1.29",
                "apiVersion: rbac.authorization.k8s.io/v1alpha1\nkind: RoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- {apiVersion: rbac.authorization.k8s.io/v1alpha1, kind: User, name: jane}\n- {apiVersion: v1, kind: ServiceAccount, name: s, namespace: n}\n",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}\n- {kind: ServiceAccount, name: s, namespace: n}\n",
            ),
            (
                "NetworkPolicy",
                "1.16",
                "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n",
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n",
            ),
            (
                "PriorityClass",
                "1.22",
                "apiVersion: scheduling.k8s.io/v1beta1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n",
                "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n",
            ),
            (
                "StorageClass",
                "1.29",
                "apiVersion: storage.k8s.io/v1beta1\nkind: StorageClass\nmetadata: {name: ssd}\nprovisioner: kubernetes.io/gce-pd\n",
                "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: ssd}\nprovisioner: kubernetes.io/gce-pd\n",
            ),
            (
                "CSIDriver",
                "1.22",
                "apiVersion: storage.k8s.io/v1beta1\nkind: CSIDriver\nmetadata: {name: d}\nspec: {attachRequired: false}\n",
                "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: d}\nspec: {attachRequired: false}\n",
            ),
            (
                "Lease",
                "1.22",
                "apiVersion: coordination.k8s.io/v1beta1\nkind: Lease\nmetadata: {name: l}\nspec: {holderIdentity: me}\n",
                "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l}\nspec: {holderIdentity: me}\n",
            ),
            (
                "IngressClass",
                "1.22",
                "apiVersion: networking.k8s.io/v1beta1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n",
                "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n",
            ),
            (
                "EndpointSlice topology",
                "1.25",
                "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  topology: {kubernetes.io/hostname: node-1, topology.kubernetes.io/zone: z1, topology.kubernetes.io/region: r1}\n  conditions: {ready: true}\n",
                "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  nodeName: node-1\n  zone: z1\n  deprecatedTopology: {topology.kubernetes.io/region: r1}\n  conditions: {ready: true}\n",
            ),
            (
                "RuntimeClass v1alpha1",
                "1.22",
                "apiVersion: node.k8s.io/v1alpha1\nkind: RuntimeClass\nmetadata: {name: gvisor}\nspec: {runtimeHandler: runsc, overhead: {podFixed: {cpu: 100m}}}\n",
                "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: gvisor}\nhandler: runsc\noverhead: {podFixed: {cpu: 100m}}\n",
            ),
            (
                "SubjectAccessReview",
                "1.22",
                "apiVersion: authorization.k8s.io/v1beta1\nkind: SubjectAccessReview\nspec: {user: jane, group: [dev], resourceAttributes: {verb: get}}\n",
                "apiVersion: authorization.k8s.io/v1\nkind: SubjectAccessReview\nspec: {user: jane, groups: [dev], resourceAttributes: {verb: get}}\n",
            ),
            (
                "CSR without signer",
                "1.22",
                "apiVersion: certificates.k8s.io/v1beta1\nkind: CertificateSigningRequest\nmetadata: {name: c}\nspec: {request: abc}\n",
                "ERR: requires a `spec.signerName`",
            ),
            (
                "CSR with signer and usages",
                "1.22",
                "apiVersion: certificates.k8s.io/v1beta1\nkind: CertificateSigningRequest\nmetadata: {name: c}\nspec: {request: abc, signerName: example.com/s, usages: [digital signature]}\n",
                "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: c}\nspec: {request: abc, signerName: example.com/s, usages: [digital signature]}\n",
            ),
            (
                "PriorityLevelConfiguration shares",
                "1.29",
                "apiVersion: flowcontrol.apiserver.k8s.io/v1beta2\nkind: PriorityLevelConfiguration\nmetadata: {name: p}\nspec:\n  type: Limited\n  limited: {assuredConcurrencyShares: 0, limitResponse: {type: Reject}}\n",
                "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\nmetadata: {name: p}\nspec:\n  type: Limited\n  limited: {nominalConcurrencyShares: 30, limitResponse: {type: Reject}}\n",
            ),
            (
                "ValidatingAdmissionPolicyBinding v1alpha1",
                "1.32",
                "apiVersion: admissionregistration.k8s.io/v1alpha1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec: {policyName: p}\n",
                "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec: {policyName: p, validationActions: [Deny]}\n",
            ),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    #[test]
    fn no_mechanical_migration_and_version_limits() {
        let psp = "apiVersion: extensions/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\nspec: {privileged: false}\n";
        let cases = [
            (
                "extensions PSP to policy/v1beta1 while that is served",
                "1.20",
                psp,
                "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\nspec: {privileged: false}\n",
            ),
            (
                "extensions PSP when policy/v1beta1 is gone too",
                "1.29",
                psp,
                "ERR: its replacement policy/v1beta1 is removed too",
            ),
            (
                "policy/v1beta1 PSP",
                "1.25",
                "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\n",
                "ERR: No replacement API",
            ),
            (
                "ThirdPartyResource",
                "1.29",
                "apiVersion: extensions/v1beta1\nkind: ThirdPartyResource\nmetadata: {name: t}\n",
                "ERR: a different kind",
            ),
            (
                "deprecated but served: left alone",
                "1.29",
                "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata: {name: f}\n",
                "DEPRECATED",
            ),
            (
                "the same once removed",
                "1.32",
                "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata: {name: f}\n",
                "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: f}\n",
            ),
            (
                "replacement not served yet at the target",
                "1.26",
                "apiVersion: flowcontrol.apiserver.k8s.io/v1beta1\nkind: FlowSchema\nmetadata: {name: f}\n",
                "ERR: served only from Kubernetes 1.29",
            ),
            ("not an object", "1.29", "just text", "SAME"),
        ];
        for (name, to, input, expected) in cases {
            case(name, to, input, expected);
        }
    }

    /// Every row of the removed-API table with a replacement is either migrated or explained,
    /// and the lists name only real rows with the replacement they assume.
    #[test]
    fn every_table_row_is_classified() {
        let rows = deprecated_api::table();
        for r in rows {
            let migrated = migration(&r.api_version, &r.kind).is_some();
            let manual = MANUAL
                .iter()
                .any(|(a, k, _)| *a == r.api_version && *k == r.kind);
            let what = format!("{} {}", r.api_version, r.kind);
            match &r.replacement {
                Some(_) => assert!(
                    migrated != manual,
                    "{what}: must be in exactly one of MIGRATIONS and MANUAL"
                ),
                None => assert!(!migrated && !manual, "{what}: has no replacement"),
            }
        }
        for (a, k, _) in MIGRATIONS
            .iter()
            .map(|(a, k, m)| (a, k, Some(m)))
            .chain(MANUAL.iter().map(|(a, k, _)| (a, k, None)))
        {
            assert!(
                rows.iter().any(|r| r.api_version == *a && r.kind == *k),
                "{a} {k} is not in the table"
            );
        }
    }

    #[test]
    fn text_keeps_untouched_documents_and_comments() {
        let text = "\
# header comment
apiVersion: v1
kind: ConfigMap # trailing
metadata: {name: c}
---
# RBAC for the app
apiVersion: rbac.authorization.k8s.io/v1beta1 # old
kind: Role
metadata: {name: r}
rules: [] # none yet
---
apiVersion: 'extensions/v1beta1'
kind: Deployment
metadata: {name: web}
spec:
  # two of them
  replicas: 2
  template:
    metadata:
      labels: {app: web}
---
# an Ingress
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: i}
spec:
  backend: {serviceName: web, servicePort: 80} # the default
# after the ingress
";
        let r = convert_text(text, v("1.29"), false);
        assert!(r.changed && !r.unparsable);
        assert_eq!((r.converted, r.failed), (3, 0));
        let want = "\
# header comment
apiVersion: v1
kind: ConfigMap # trailing
metadata: {name: c}
---
# RBAC for the app
apiVersion: rbac.authorization.k8s.io/v1 # old
kind: Role
metadata: {name: r}
rules: [] # none yet
---
apiVersion: 'apps/v1'
kind: Deployment
metadata: {name: web}
spec:
  # two of them
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels: {app: web}
---
# an Ingress
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: i
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
# after the ingress
";
        assert_eq!(r.text, want);
        let lines: Vec<(u32, Level)> = r.reports.iter().map(|x| (x.line, x.level)).collect();
        assert_eq!(
            lines,
            [
                (7, Level::Converted),
                (12, Level::Converted),
                (23, Level::Converted)
            ]
        );
        // The output parses and converting it again changes nothing.
        let again = convert_text(&r.text, v("1.29"), false);
        assert!(!again.changed && again.reports.is_empty());
    }

    #[test]
    fn text_reports_bad_documents_and_converts_lists_and_json() {
        let text = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: a}\n---\nkind: [\n---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\n";
        let r = convert_text(text, v("1.29"), false);
        assert!(r.changed && r.unparsable);
        assert_eq!((r.converted, r.failed), (1, 2));
        assert!(r.text.starts_with("apiVersion: batch/v1\n"));
        assert!(r.text.ends_with("---\nkind: [\n---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\n"));
        let errors: Vec<u32> = r
            .reports
            .iter()
            .filter(|x| x.level == Level::Error)
            .map(|x| x.line)
            .collect();
        assert_eq!(errors, [5, 7]);

        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1beta1\n  kind: CronJob\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n";
        let r = convert_text(list, v("1.29"), false);
        assert_eq!(r.text, list.replace("batch/v1beta1", "batch/v1"));
        assert_eq!(r.reports[0].line, 4);

        let json = "{\n  \"apiVersion\": \"extensions/v1beta1\",\n  \"kind\": \"Deployment\",\n  \"metadata\": {\"name\": \"web\"},\n  \"spec\": {\"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}}}}\n}\n";
        let r = convert_text(json, v("1.29"), true);
        let back: serde_json::Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(back["apiVersion"], "apps/v1");
        assert_eq!(back["spec"]["selector"]["matchLabels"]["app"], "web");
    }
}
