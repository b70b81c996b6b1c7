//! The fixed order of documents in every output file.
//!
//! Frozen: changing it changes every golden file. Namespaces first, then what others depend on
//! (CRDs, accounts, RBAC, config), then Services before the workloads that use them, Ingress
//! after its backends, everything else last (by kind name). Same idea as kustomize's
//! `SortOrderTransformer` default order and Helm's install order.

use super::Manifest;

const ORDER: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
];

/// Position of a kind in the fixed order; unknown kinds come after all known ones.
#[must_use]
pub fn kind_rank(kind: &str) -> usize {
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Sort manifests: kind order, then kind name (for the rest), then name, then namespace.
/// The sort is stable, so equal keys keep their template order.
pub fn sort(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| {
        (
            kind_rank(&a.id.kind),
            &a.id.kind,
            &a.id.name,
            &a.id.namespace,
        )
            .cmp(&(
                kind_rank(&b.id.kind),
                &b.id.kind,
                &b.id.name,
                &b.id.namespace,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks() {
        assert!(kind_rank("Namespace") < kind_rank("ServiceAccount"));
        assert!(kind_rank("RoleBinding") < kind_rank("ConfigMap"));
        assert!(kind_rank("Service") < kind_rank("Deployment"));
        assert!(kind_rank("Deployment") < kind_rank("Ingress"));
        assert_eq!(kind_rank("Widget"), kind_rank("PodMonitor"));
        assert!(kind_rank("Ingress") < kind_rank("Widget"));
    }
}
