//! ApplySets (KEP-3659), as `kubectl apply --prune --applyset` implements them
//! (`staging/src/k8s.io/kubectl/pkg/cmd/apply/applyset.go`): the parent's id, the label every
//! member carries, and the parent's labels and annotations exactly as kubectl writes them.
//!
//! kubectl labels the members and writes the parent itself, and refuses input objects that
//! already carry [`PART_OF`] ("ApplySet label ... already set in input data"); so what kiln
//! gives kubectl stays unlabelled, and this module describes what the cluster then holds.

use std::collections::BTreeSet;

use base64::Engine as _;
use sha2::Digest as _;

/// The label on every member: its value is the parent's id.
pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
/// The label that makes an object an ApplySet parent.
pub const ID: &str = "applyset.kubernetes.io/id";
/// The tool managing the set (`kubectl/v1.33.0`); kubectl refuses a parent whose tool name is
/// not `kubectl` (it compares the part before the last `/` only).
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
/// The sorted `Kind.group` list of the members (`ConfigMap,Deployment.apps`).
pub const CONTAINS_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Namespaces of members other than the parent's, sorted, comma-separated (kubectl writes it
/// even when empty).
pub const ADDITIONAL_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";

/// The id of the ApplySet whose parent is `name` in `namespace` (empty for a cluster-scoped
/// parent) of `kind` in `group` (empty for the core group): `applyset-` +
/// base64url-no-pad(sha256(`<name>.<namespace>.<kind>.<group>`)) + `-v1`.
#[must_use]
pub fn id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let hashed = sha2::Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hashed)
    )
}

/// A group-kind as the parent's annotation spells it: `Service`, `Deployment.apps`.
#[must_use]
pub fn group_kind(api_version: &str, kind: &str) -> String {
    match api_version.rsplit_once('/') {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind.to_string(),
    }
}

/// The parent's annotations for members of `group_kinds` in `namespaces` (the parent's own
/// namespace is left out), as kubectl writes them after a successful apply and prune.
#[must_use]
pub fn parent_annotations(
    tooling: &str,
    group_kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    parent_namespace: &str,
) -> [(&'static str, String); 3] {
    // Go's sort.Strings orders by bytes, as BTreeSet<String> does.
    let kinds: Vec<&str> = group_kinds.iter().map(String::as_str).collect();
    let others: Vec<&str> = namespaces
        .iter()
        .map(String::as_str)
        .filter(|n| *n != parent_namespace && !n.is_empty())
        .collect();
    [
        (ADDITIONAL_NAMESPACES, others.join(",")),
        (CONTAINS_GROUP_KINDS, kinds.join(",")),
        (TOOLING, tooling.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of kubectl's own tests (`apply_test.go`: `TestApplySetParentManagement`
    /// with the Secret `my-set` in `test`, `TestApplySet_ClusterScopedCustomResourceParent`
    /// with the cluster-scoped `ApplySet.company.com` `my-set`).
    #[test]
    fn ids_match_kubectl() {
        assert_eq!(
            id("my-set", "test", "Secret", ""),
            "applyset-0eFHV8ySqp7XoShsGvyWFQD3s96yqwHmzc4e0HR1dsY-v1"
        );
        assert_eq!(
            id("my-set", "", "ApplySet", "company.com"),
            "applyset-rhp1a-HVAVT_dFgyEygyA1BEB82HPp2o10UiFTpqtAs-v1"
        );
        // A label value: at most 63 characters, alphanumeric at both ends.
        let i = id("kiln-prod", "prod", "Secret", "");
        assert!(
            i.len() <= 63 && crate::kube::names::label_value(&i).is_ok(),
            "{i}"
        );
    }

    #[test]
    fn annotations_as_kubectl_writes_them() {
        let kinds: BTreeSet<String> = [
            group_kind("v1", "Service"),
            group_kind("apps/v1", "Deployment"),
            group_kind("v1", "Namespace"),
            group_kind("v1", "Secret"),
        ]
        .into();
        let namespaces: BTreeSet<String> = ["test".into(), "kube-system".into()].into();
        let a = parent_annotations("kubectl/v1.27.0", &kinds, &namespaces, "test");
        assert_eq!(a[1].1, "Deployment.apps,Namespace,Secret,Service");
        assert_eq!(a[0].1, "kube-system");
        let a = parent_annotations("kubectl/v1.27.0", &kinds, &["test".into()].into(), "test");
        assert_eq!(a[0].1, "", "written even when empty");
    }
}
