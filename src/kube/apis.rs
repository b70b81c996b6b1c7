//! Removed and deprecated Kubernetes APIs: the table in `apis.yaml` (one row per apiVersion
//! and kind, with sources in `apis.md`), lookups against a target version or an upgrade path,
//! and each row's migration (read by the lint and by `kiln convert` alike).

use std::sync::OnceLock;

use serde::Deserialize;

use super::KubeVersion;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Removal {
    /// `extensions/v1beta1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// First release that deprecated it.
    pub deprecated: String,
    /// First release that no longer serves it (absent: no removal scheduled).
    pub removed: Option<String>,
    /// The apiVersion to move to (absent: no replacement API).
    pub replacement: Option<String>,
    /// First release serving the replacement.
    pub replacement_since: Option<String>,
    /// One-line migration note.
    pub note: String,
    /// What the table is not sure of, and why.
    pub uncertain: Option<String>,
    /// How `kiln convert` rewrites an object to `replacement` (absent: it cannot).
    pub migration: Option<Migration>,
    /// Why a row with a replacement has no mechanical migration, in one phrase.
    pub manual: Option<String>,
}

/// How an apiVersion and kind migrate to the replacement the table names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Migration {
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

impl Removal {
    /// The deprecation release.
    #[must_use]
    pub fn deprecated_in(&self) -> Option<KubeVersion> {
        KubeVersion::parse(&self.deprecated)
    }

    /// The removal release.
    #[must_use]
    pub fn removed_in(&self) -> Option<KubeVersion> {
        self.removed.as_deref().and_then(KubeVersion::parse)
    }

    /// "use apps/v1 (available since 1.9): <note>".
    #[must_use]
    pub fn advice(&self) -> String {
        match (&self.replacement, &self.replacement_since) {
            (Some(r), Some(since)) => format!("use {r} (served since {since}): {}", self.note),
            (Some(r), None) => format!("use {r}: {}", self.note),
            _ => format!("no replacement API: {}", self.note),
        }
    }
}

/// The whole table, parsed once.
pub fn table() -> &'static [Removal] {
    static TABLE: OnceLock<Vec<Removal>> = OnceLock::new();
    TABLE.get_or_init(|| serde_saphyr::from_str(include_str!("apis.yaml")).unwrap_or_default())
}

/// What the table says about `api_version` `kind` at `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<'a> {
    /// Served and not deprecated (or not in the table).
    Fine,
    /// Still served but deprecated.
    Deprecated(&'a Removal),
    /// No longer served.
    Removed(&'a Removal),
}

/// Look up one apiVersion and kind at a version.
#[must_use]
pub fn status(api_version: &str, kind: &str, version: KubeVersion) -> Status<'static> {
    let Some(row) = row(api_version, kind) else {
        return Status::Fine;
    };
    if row.removed_in().is_some_and(|r| r <= version) {
        Status::Removed(row)
    } else if row.deprecated_in().is_some_and(|d| d <= version) {
        Status::Deprecated(row)
    } else {
        Status::Fine
    }
}

/// True when the table has a row for `api_version` `kind`.
#[must_use]
pub fn known(api_version: &str, kind: &str) -> bool {
    row(api_version, kind).is_some()
}

/// The table's row for `api_version` `kind`, found through an index by kind (every object
/// checked asks).
fn row(api_version: &str, kind: &str) -> Option<&'static Removal> {
    // Hashed with foldhash, not SipHash: every object checked asks.
    static BY_KIND: OnceLock<foldhash::HashMap<&'static str, Vec<&'static Removal>>> =
        OnceLock::new();
    BY_KIND
        .get_or_init(|| {
            let mut index: foldhash::HashMap<&'static str, Vec<&'static Removal>> =
                foldhash::HashMap::default();
            for r in table() {
                index.entry(r.kind.as_str()).or_default().push(r);
            }
            index
        })
        .get(kind)?
        .iter()
        .find(|r| r.api_version == api_version)
        .copied()
}

/// The row for `api_version` `kind` when it is removed after `from` and at or before `to`.
#[must_use]
pub fn breaks_between(
    api_version: &str,
    kind: &str,
    from: KubeVersion,
    to: KubeVersion,
) -> Option<&'static Removal> {
    row(api_version, kind).filter(|r| r.removed_in().is_some_and(|v| v > from && v <= to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::names::api_version;

    fn v(s: &str) -> KubeVersion {
        KubeVersion::parse(s).unwrap()
    }

    /// Every row: parses, versions are ordered, and the lookup reports it exactly from its
    /// deprecation (warning) and its removal (error) on.
    #[test]
    fn every_row_is_consistent_and_found() {
        let rows = table();
        assert!(
            rows.len() > 100,
            "the table did not parse: {} rows",
            rows.len()
        );
        for r in rows {
            let what = format!("{} {}", r.api_version, r.kind);
            let dep = r
                .deprecated_in()
                .unwrap_or_else(|| panic!("{what}: bad deprecated"));
            assert!(api_version(&r.api_version).is_ok(), "{what}: apiVersion");
            if let Some(rep) = &r.replacement {
                assert!(api_version(rep).is_ok(), "{what}: replacement");
                assert_ne!(rep, &r.api_version, "{what}: replaced by itself");
            }
            match r.removed_in() {
                Some(rem) => {
                    assert!(rem >= dep, "{what}: removed before deprecated");
                    if let Some(since) = r.replacement_since.as_deref().map(v) {
                        assert!(
                            since <= rem
                                || r.note.contains("ifferent kind")
                                || r.uncertain.is_some(),
                            "{what}: replacement arrives after removal, unexplained"
                        );
                    }
                    assert_eq!(
                        status(&r.api_version, &r.kind, rem),
                        Status::Removed(r),
                        "{what}"
                    );
                    if dep < rem {
                        assert_eq!(
                            status(&r.api_version, &r.kind, dep),
                            Status::Deprecated(r),
                            "{what}"
                        );
                    }
                }
                None => assert!(
                    r.uncertain.is_some() || r.note.contains("no removal"),
                    "{what}: no removal and no explanation"
                ),
            }
            if dep.minor > 0 {
                let before = KubeVersion {
                    major: dep.major,
                    minor: dep.minor - 1,
                };
                assert_eq!(
                    status(&r.api_version, &r.kind, before),
                    Status::Fine,
                    "{what}"
                );
            }
            assert!(!r.note.is_empty(), "{what}: note");
        }
    }

    /// A row with a replacement is either migrated or explained as manual, never both; a row
    /// without one is neither.
    #[test]
    fn every_row_is_migrated_or_explained() {
        for r in table() {
            let what = format!("{} {}", r.api_version, r.kind);
            let (migrated, manual) = (r.migration.is_some(), r.manual.is_some());
            match &r.replacement {
                Some(_) => assert!(
                    migrated != manual,
                    "{what}: needs exactly one of migration, manual"
                ),
                None => assert!(!migrated && !manual, "{what}: has no replacement"),
            }
        }
    }

    #[test]
    fn well_known_removals() {
        let cases = [
            ("extensions/v1beta1", "Deployment", "1.16", Some("apps/v1")),
            (
                "extensions/v1beta1",
                "Ingress",
                "1.22",
                Some("networking.k8s.io/v1"),
            ),
            (
                "networking.k8s.io/v1beta1",
                "Ingress",
                "1.22",
                Some("networking.k8s.io/v1"),
            ),
            ("batch/v1beta1", "CronJob", "1.25", Some("batch/v1")),
            ("policy/v1beta1", "PodSecurityPolicy", "1.25", None),
            (
                "policy/v1beta1",
                "PodDisruptionBudget",
                "1.25",
                Some("policy/v1"),
            ),
            (
                "autoscaling/v2beta2",
                "HorizontalPodAutoscaler",
                "1.26",
                Some("autoscaling/v2"),
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta2",
                "FlowSchema",
                "1.29",
                Some("flowcontrol.apiserver.k8s.io/v1"),
            ),
            (
                "rbac.authorization.k8s.io/v1beta1",
                "ClusterRole",
                "1.22",
                Some("rbac.authorization.k8s.io/v1"),
            ),
            (
                "apiextensions.k8s.io/v1beta1",
                "CustomResourceDefinition",
                "1.22",
                Some("apiextensions.k8s.io/v1"),
            ),
        ];
        for (api, kind, removed, replacement) in cases {
            let Status::Removed(row) = status(api, kind, v(removed)) else {
                panic!("{api} {kind} not removed at {removed}")
            };
            assert_eq!(row.replacement.as_deref(), replacement, "{api} {kind}");
            let before = KubeVersion {
                major: 1,
                minor: v(removed).minor - 1,
            };
            assert!(
                !matches!(status(api, kind, before), Status::Removed(_)),
                "{api} {kind}"
            );
        }
        assert_eq!(status("apps/v1", "Deployment", v("1.35")), Status::Fine);
        assert!(breaks_between("batch/v1beta1", "CronJob", v("1.22"), v("1.29")).is_some());
        assert!(breaks_between("batch/v1beta1", "CronJob", v("1.25"), v("1.29")).is_none());
    }
}
