//! Mechanical migrations of removed Kubernetes API versions, for `kiln convert`.
//!
//! The removed-API table ([`apis`]) says which apiVersion and kind a Kubernetes
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

mod admission;
mod crd;
mod hpa;
mod ingress;
mod renames;
mod text;
mod tree;
mod workload;

pub use text::{FileResult, Level, Report, convert_text, starts_with_marker};

use crate::kube::KubeVersion;
use crate::kube::apis::{self, Migration as M, Removal, Status};
use crate::yaml::Node;
use tree::{child_map, map_mut, rename_key, s, seq};

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
        let row = match apis::status(&current, &kind, to) {
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
        let Some(m) = row.migration else {
            let why = row.manual.as_deref().unwrap_or(row.note.as_str());
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
    m: M,
    obj: &mut Node,
    from: &str,
    kind: &str,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    match m {
        M::Rename => Ok(()),
        M::Workload => workload::workload(obj, from, kind, notes),
        M::Ingress => ingress::ingress(obj, notes),
        M::HpaV2beta1 => hpa::hpa_v2beta1(obj, notes),
        M::Crd => crd::crd(obj, notes),
        M::Webhook => admission::webhooks(obj, notes),
        M::RbacV1alpha1Binding => renames::rbac_subjects(obj, notes),
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
        M::RuntimeClassV1alpha1 => renames::runtime_class(obj, notes),
        M::PriorityLevel => renames::priority_level(obj, notes),
        M::EndpointSlice => renames::endpoint_slice(obj, notes),
        M::Pdb => renames::pdb(obj),
        M::Csr => renames::csr(obj),
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
