//! `Finding`: one problem a check found in one Kubernetes object, with stable fields that every
//! report format (text, JSON, `JUnit`, SARIF) is built from.

use serde::Serialize;

use crate::check::rule::Rule;
use crate::diagnostic::Severity;

/// One problem in one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id: `schema`, `no-schema`, `metadata-name`, `selector-mismatch`, ...
    pub rule: &'static str,
    /// `error` or `warning`.
    #[serde(serialize_with = "severity_name")]
    pub severity: Severity,
    /// The object: `apps/v1 Deployment prod/order-service` (absent when the document has no
    /// usable identity).
    pub resource: Option<String>,
    /// Where in the object, as a dotted path: `spec.template.spec.containers[0].image`.
    pub path: Option<String>,
    /// What is wrong, what was expected and what was found.
    pub message: String,
    /// The file the object is in (for rendered output: `out/<env>/<instance>.yaml`).
    pub file: String,
    /// 1-based line in `file`, when known.
    pub line: Option<u32>,
    /// 1-based column in `file`, when known.
    pub column: Option<u32>,
    /// For rendered output: the template that produced the object.
    pub template: Option<String>,
    /// The environment (rendered output) or Kubernetes version (plain files) checked against.
    pub kube_version: Option<String>,
    /// For removed APIs: the Kubernetes version at which the object stops working.
    pub breaks_at: Option<String>,
    /// For API findings (`removed-api`, `deprecated-api`): the object's `apiVersion` and kind,
    /// `extensions/v1beta1 Ingress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// For findings of `--upgrade-to`: the upgrade, from and to.
    #[serde(skip)]
    pub upgrade: Option<(crate::kube::KubeVersion, crate::kube::KubeVersion)>,
    /// Where in the object, as a JSON pointer: how a check's finding is placed in the text
    /// (`line` and `column`) once the document's checks are done.
    #[serde(skip)]
    pub pointer: Option<String>,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes a reference"
)]
fn severity_name<S: serde::Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    })
}

impl Finding {
    /// A finding of `rule` at its default severity in `file`, with nothing else known yet: the
    /// one way findings are made (callers fill in what they know with `..Finding::new(..)`).
    #[must_use]
    pub fn new(rule: &'static Rule, file: &str, message: String) -> Finding {
        Finding {
            rule: rule.id,
            severity: rule.severity,
            resource: None,
            path: None,
            message,
            file: file.to_string(),
            line: None,
            column: None,
            template: None,
            kube_version: None,
            breaks_at: None,
            api: None,
            upgrade: None,
            pointer: None,
        }
    }
}
