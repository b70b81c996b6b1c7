//! Deprecated fields and annotations the upgrade guides call out, with what replaces them.

use super::Problem;
use crate::check::rule;
use crate::kube::pointer::escape;
use crate::yaml::{Node, Value};

/// Annotations with their replacement (prefix match when the key ends in `/`).
const ANNOTATIONS: &[(&str, &str)] = &[
    (
        "kubernetes.io/ingress.class",
        "deprecated since 1.18: set `spec.ingressClassName` instead",
    ),
    (
        "seccomp.security.alpha.kubernetes.io/pod",
        "deprecated since 1.19: set `securityContext.seccompProfile` instead",
    ),
    (
        "container.seccomp.security.alpha.kubernetes.io/",
        "deprecated since 1.19: set the container's `securityContext.seccompProfile` instead",
    ),
    (
        "container.apparmor.security.beta.kubernetes.io/",
        "deprecated since 1.30: set `securityContext.appArmorProfile` instead",
    ),
    (
        "scheduler.alpha.kubernetes.io/critical-pod",
        "removed in 1.16: set `priorityClassName: system-cluster-critical` (or `system-node-critical`) instead",
    ),
    (
        "volume.beta.kubernetes.io/storage-class",
        "deprecated: set `spec.storageClassName` instead",
    ),
    (
        "service.alpha.kubernetes.io/tolerate-unready-endpoints",
        "deprecated since 1.11: set `spec.publishNotReadyAddresses: true` instead",
    ),
];

fn annotations_of(meta: Option<&Node>, pointer: &str, out: &mut Vec<Problem>) {
    let Some(Value::Map(m)) = meta.and_then(|m| m.get("annotations")).map(|n| &n.value) else {
        return;
    };
    for key in m.keys() {
        if let Some((_, advice)) = ANNOTATIONS.iter().find(|(a, _)| {
            if a.ends_with('/') {
                key.starts_with(a)
            } else {
                key == a
            }
        }) {
            out.push((
                &rule::DEPRECATED_FIELD,
                format!("{pointer}/annotations/{}", escape(key)),
                format!("annotation `{key}` is {advice}"),
            ));
        }
    }
}

/// Check one object; `pod` is its pod spec (with its pointer) when it has one.
pub fn check(doc: &Node, pod: Option<(&str, &Node)>, out: &mut Vec<Problem>) {
    annotations_of(doc.get("metadata"), "/metadata", out);
    if let Some((pointer, pod)) = pod {
        if pod.get("serviceAccount").is_some() {
            out.push((
                &rule::DEPRECATED_FIELD,
                format!("{pointer}/serviceAccount"),
                "`serviceAccount` is a deprecated alias: use `serviceAccountName`".into(),
            ));
        }
        // Pod template annotations sit beside the pod spec.
        if let Some(parent) = pointer.strip_suffix("/spec") {
            let mut n = doc;
            for part in parent.split('/').skip(1) {
                match n.get(part) {
                    Some(x) => n = x,
                    None => return,
                }
            }
            if !parent.is_empty() {
                annotations_of(n.get("metadata"), &format!("{parent}/metadata"), out);
            }
        }
    }
}
