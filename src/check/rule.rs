//! The rule catalogue: every check kiln makes, with its stable id, default severity and the
//! explanation `kiln explain` prints. Findings name their rule by one of these constants, so a
//! rule id cannot be misspelt and its default severity has one home; `kiln.yaml`
//! (`lint.rules.<id>`) can change the severity per project.

use crate::diagnostic::Severity;

/// One rule.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id: `schema`, `removed-api`, ...
    pub id: &'static str,
    /// The severity unless `kiln.yaml` says otherwise.
    pub severity: Severity,
    /// What it catches.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

/// `schema`.
pub const SCHEMA: Rule = Rule {
    id: "schema",
    severity: Severity::Error,
    what: "The object does not match the strict JSON Schema of its kind at the target Kubernetes version: an unknown field, a wrong type, a missing required field.",
    why: "The API server rejects it (or, without strict validation, silently drops the misspelled field).",
    fix: "Fix the field named in the message; `did you mean` suggests the real name of a misspelled one.",
};

/// `no-schema`.
pub const NO_SCHEMA: Rule = Rule {
    id: "no-schema",
    severity: Severity::Error,
    what: "No schema is known for the apiVersion and kind at the target version.",
    why: "Usually a typo in `kind`/`apiVersion`, or a custom resource whose CRD kiln has not seen; either way nothing was validated.",
    fix: "Fix the typo, or import the CRD (`kiln schemas import crd.yaml --kube-version X.Y`), or pass `--skip-missing-schemas`.",
};

/// `yaml-syntax`.
pub const YAML_SYNTAX: Rule = Rule {
    id: "yaml-syntax",
    severity: Severity::Error,
    what: "The document is not valid YAML (or is a template, not a manifest).",
    why: "kubectl cannot read it.",
    fix: "Fix the YAML at the line shown.",
};

/// `duplicate-key`.
pub const DUPLICATE_KEY: Rule = Rule {
    id: "duplicate-key",
    severity: Severity::Error,
    what: "A mapping repeats a key.",
    why: "Kubernetes' YAML reader keeps only one of them, so half of what you wrote is silently ignored.",
    fix: "Merge the two entries into one.",
};

/// `not-an-object`.
pub const NOT_AN_OBJECT: Rule = Rule {
    id: "not-an-object",
    severity: Severity::Error,
    what: "The document is a list or a scalar, not a mapping.",
    why: "Only mappings can be Kubernetes objects.",
    fix: "Check the indentation, or remove the stray document.",
};

/// `missing-type`.
pub const MISSING_TYPE: Rule = Rule {
    id: "missing-type",
    severity: Severity::Error,
    what: "The document has no `apiVersion` or no `kind`.",
    why: "The API server cannot tell what it is.",
    fix: "Add both, e.g. `apiVersion: apps/v1` and `kind: Deployment`.",
};

/// `api-version`.
pub const API_VERSION: Rule = Rule {
    id: "api-version",
    severity: Severity::Error,
    what: "The apiVersion is not of the form `group/version` (`apps/v1`) or `v1`.",
    why: "No API server serves it.",
    fix: "Write the group and the version.",
};

/// `metadata-name`.
pub const METADATA_NAME: Rule = Rule {
    id: "metadata-name",
    severity: Severity::Error,
    what: "`metadata.name` is missing, or not a valid name for the kind (DNS-1123 label or subdomain, length limits).",
    why: "The API server rejects the object.",
    fix: "Use lowercase letters, digits and `-` (and `.` where allowed), within 63 or 253 characters.",
};

/// `label-syntax`.
pub const LABEL_SYNTAX: Rule = Rule {
    id: "label-syntax",
    severity: Severity::Error,
    what: "A label or annotation key, or a label value, has invalid syntax or is not a string.",
    why: "The API server rejects the object.",
    fix: "Keys are `[prefix/]name`, values at most 63 characters of letters, digits, `-`, `_`, `.`; quote numbers and booleans.",
};

/// `duplicate-name`.
pub const DUPLICATE_NAME: Rule = Rule {
    id: "duplicate-name",
    severity: Severity::Error,
    what: "Two containers, ports, volumes or environment variables in a pod share a name (or a port/protocol pair).",
    why: "The API server rejects duplicate containers and ports; duplicate environment variables silently keep the last.",
    fix: "Rename or remove one.",
};

/// `duplicate-env`.
pub const DUPLICATE_ENV: Rule = Rule {
    id: "duplicate-env",
    severity: Severity::Warning,
    what: "One container sets the same environment variable twice.",
    why: "The API server accepts it and the last value silently wins, so the first one is dead configuration (often a merge mistake).",
    fix: "Remove one of the two entries, or give the value you mean in one place.",
};

/// `selector-mismatch`.
pub const SELECTOR_MISMATCH: Rule = Rule {
    id: "selector-mismatch",
    severity: Severity::Error,
    what: "A Deployment/StatefulSet/DaemonSet/ReplicaSet selector does not match its pod template labels (or is missing in apps/v1).",
    why: "The API server rejects it; a mismatched selector would orphan pods.",
    fix: "Make `spec.selector.matchLabels` a subset of `spec.template.metadata.labels`.",
};

/// `enum`.
pub const ENUM: Rule = Rule {
    id: "enum",
    severity: Severity::Error,
    what: "A field has a value outside its allowed spellings (`protocol: udp`).",
    why: "The API server rejects it; the values are case-sensitive.",
    fix: "Use one of the values listed.",
};

/// `required-field`.
pub const REQUIRED_FIELD: Rule = Rule {
    id: "required-field",
    severity: Severity::Error,
    what: "A field the API server requires is missing (a container's `image`).",
    why: "The object is rejected at apply time.",
    fix: "Add the field.",
};

/// `crd-schema`.
pub const CRD_SCHEMA: Rule = Rule {
    id: "crd-schema",
    severity: Severity::Error,
    what: "A CustomResourceDefinition's schema uses an invalid type (`strign`).",
    why: "The API server rejects the CRD.",
    fix: "Use array, boolean, integer, number, object or string.",
};

/// `duplicate-resource`.
pub const DUPLICATE_RESOURCE: Rule = Rule {
    id: "duplicate-resource",
    severity: Severity::Error,
    what: "Two documents define the same object (apiVersion, kind, namespace, name).",
    why: "Applying both keeps only the last one.",
    fix: "Remove or rename one.",
};

/// `empty-file`.
pub const EMPTY_FILE: Rule = Rule {
    id: "empty-file",
    severity: Severity::Warning,
    what: "A file holds no Kubernetes objects.",
    why: "Usually a mistake in a manifest folder.",
    fix: "Delete the file or add the objects.",
};

/// `unreadable`.
pub const UNREADABLE: Rule = Rule {
    id: "unreadable",
    severity: Severity::Error,
    what: "A file could not be read, is not UTF-8, or is a symlink loop.",
    why: "Nothing in it was checked.",
    fix: "Fix the file or the link; save as UTF-8.",
};

/// `golden-drift`.
pub const GOLDEN_DRIFT: Rule = Rule {
    id: "golden-drift",
    severity: Severity::Error,
    what: "The render differs from the reviewed golden files in golden/, or there is no golden/ (an empty one means nothing recorded yet).",
    why: "An unreviewed change to values or templates would reach the cluster.",
    fix: "Review with `kiln diff`; if intended, run `kiln golden update` and commit golden/.",
};

/// `removed-api`.
pub const REMOVED_API: Rule = Rule {
    id: "removed-api",
    severity: Severity::Error,
    what: "The apiVersion is no longer served by the target Kubernetes version (or stops being served on the way to `--upgrade-to`).",
    why: "`kubectl apply` fails after the upgrade; the objects cannot be updated.",
    fix: "Move to the replacement apiVersion in the message; `kiln convert --to X.Y` does it where the change is mechanical.",
};

/// `deprecated-api`.
pub const DEPRECATED_API: Rule = Rule {
    id: "deprecated-api",
    severity: Severity::Warning,
    what: "The apiVersion is deprecated at the target version and has a removal date.",
    why: "It will break at the removal release.",
    fix: "Move to the replacement before upgrading to the removal release.",
};

/// `deprecated-field`.
pub const DEPRECATED_FIELD: Rule = Rule {
    id: "deprecated-field",
    severity: Severity::Warning,
    what: "A field or annotation the upgrade guides call deprecated (`serviceAccount`, seccomp/AppArmor annotations, `kubernetes.io/ingress.class`).",
    why: "Deprecated fields are ignored or removed in later releases.",
    fix: "Use the field named in the message.",
};

/// `typographic`.
pub const TYPOGRAPHIC: Rule = Rule {
    id: "typographic",
    severity: Severity::Error,
    what: "Curly quotes, en/em dashes, minus signs or invisible spaces where ASCII was meant.",
    why: "Copy-paste from documents turns `--flag` into `—flag` and `\"x\"` into `“x”`; the program then gets the wrong argument or value.",
    fix: "Retype the character in ASCII.",
};

/// `image-tag`.
pub const IMAGE_TAG: Rule = Rule {
    id: "image-tag",
    severity: Severity::Warning,
    what: "An image with no tag or with `:latest`.",
    why: "The image changes under you; rollouts and rollbacks are not reproducible.",
    fix: "Pin a version tag or a digest.",
};

/// `no-resources`.
pub const NO_RESOURCES: Rule = Rule {
    id: "no-resources",
    severity: Severity::Warning,
    what: "A container without resource requests and limits.",
    why: "The scheduler cannot place it well, and it can starve its neighbours.",
    fix: "Set `resources.requests` and `resources.limits`.",
};

/// `no-readiness-probe`.
pub const NO_READINESS_PROBE: Rule = Rule {
    id: "no-readiness-probe",
    severity: Severity::Warning,
    what: "A serving container (one with ports) in a workload has no readinessProbe.",
    why: "It receives traffic before it is ready, and during rollouts.",
    fix: "Add a `readinessProbe`.",
};

/// `host-network`.
pub const HOST_NETWORK: Rule = Rule {
    id: "host-network",
    severity: Severity::Warning,
    what: "`hostNetwork: true` on an object not in `lint.hostNetworkAllow` (`kiln check` also allows the ingress-nginx controller `_env` renders with `ingressNginx.controller.enabled`).",
    why: "The pod shares the node's network namespace and ports.",
    fix: "Remove it, or allow the object by name in kiln.yaml.",
};

/// `configmap-key`.
pub const CONFIGMAP_KEY: Rule = Rule {
    id: "configmap-key",
    severity: Severity::Warning,
    what: "A ConfigMap key that is not a string in the source (`53:`).",
    why: "YAML reads it as a number or boolean; `1.10:` becomes `\"1.1\"`.",
    fix: "Quote the key: `\"53\":`.",
};

/// Every rule, in the order `kiln explain` lists them.
pub const ALL: &[&Rule] = &[
    &SCHEMA,
    &NO_SCHEMA,
    &YAML_SYNTAX,
    &DUPLICATE_KEY,
    &NOT_AN_OBJECT,
    &MISSING_TYPE,
    &API_VERSION,
    &METADATA_NAME,
    &LABEL_SYNTAX,
    &DUPLICATE_NAME,
    &DUPLICATE_ENV,
    &SELECTOR_MISMATCH,
    &ENUM,
    &REQUIRED_FIELD,
    &CRD_SCHEMA,
    &DUPLICATE_RESOURCE,
    &EMPTY_FILE,
    &UNREADABLE,
    &GOLDEN_DRIFT,
    &REMOVED_API,
    &DEPRECATED_API,
    &DEPRECATED_FIELD,
    &TYPOGRAPHIC,
    &IMAGE_TAG,
    &NO_RESOURCES,
    &NO_READINESS_PROBE,
    &HOST_NETWORK,
    &CONFIGMAP_KEY,
];

/// The rule with this id.
#[must_use]
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// How any rule can be suppressed.
pub const SUPPRESS: &str = "annotate the object `kiln.dev/ignore: <rule>` (several: comma-separated), write `# kiln-ignore: <rule>` in the manifest document or the template that renders it, or set `lint: {rules: {<rule>: off}}` (or `warning`/`error`) in kiln.yaml";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_found() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ALL {
            assert!(seen.insert(r.id), "{} twice", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.id
            );
            assert_eq!(find(r.id), Some(*r));
            assert!(!r.what.is_empty() && !r.why.is_empty() && !r.fix.is_empty());
        }
        assert_eq!(find("no-such-rule"), None);
    }
}
