//! Checks: everything kiln finds wrong in a Kubernetes object, as [`Finding`]s.
//!
//! One entry point, [`check_document`], runs for `kiln check` (rendered output, each document
//! against its environment's Kubernetes version) and `kiln lint` (any manifests): identity,
//! the strict JSON Schema of the kind at the version, and the rules in [`rules`]. Returns
//! findings and never prints.

pub mod finding;
pub mod import;
pub mod input;
pub mod lint;
pub mod rules;
pub mod schema;

pub use finding::Finding;
pub use input::Document;
pub use schema::Catalog;

use crate::config::KubeVersion;
use crate::diagnostic::{Excerpt, Severity, did_you_mean};
use crate::manifest::ResourceId;
use crate::yaml::{Node, Value};

/// Settings that change what is reported.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A kind with no schema is skipped instead of reported.
    pub skip_missing_schemas: bool,
    /// Also report what breaks between the target version and this one.
    pub upgrade_to: Option<KubeVersion>,
    /// Rule severities and allow-lists from `kiln.yaml`.
    pub lint: lint::LintConfig,
    /// Objects kiln itself renders on the node network on purpose (each environment's
    /// ingress-nginx controller): the `host-network` rule allows exactly these identities.
    pub host_network: Vec<ResourceId>,
}

/// The result of checking one document: its identity (when it has one) and its findings.
#[derive(Debug, Clone)]
pub struct Checked {
    /// `apps/v1 Deployment prod/order-service`, or the file and line for documents without one.
    pub resource: String,
    /// The file.
    pub file: String,
    /// Findings, in document order.
    pub findings: Vec<Finding>,
    /// True when no schema was found and `--skip-missing-schemas` skipped it.
    pub skipped: bool,
    /// Line of the document's start in the file (0 when not a document).
    pub line: u32,
    /// True when the document has a full identity (apiVersion, kind, name).
    pub identified: bool,
}

impl Checked {
    /// A result for a whole file (or folder), with one finding that has no line.
    #[must_use]
    pub fn file_level(
        rule: &'static str,
        severity: Severity,
        file: &str,
        message: String,
    ) -> Checked {
        Checked {
            resource: file.to_string(),
            file: file.to_string(),
            findings: vec![Finding {
                rule,
                severity,
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
                excerpt: None,
            }],
            skipped: false,
            line: 0,
            identified: false,
        }
    }
}

/// Check one document against Kubernetes `version`. A document read without locations is
/// checked as is, and parsed again with locations only when it has findings to place.
#[must_use]
pub fn check_document(
    doc: &Document,
    version: KubeVersion,
    catalog: &Catalog,
    options: &Options,
) -> Checked {
    let first = check_one(doc, version, catalog, options);
    if doc.has_locations || first.findings.is_empty() || doc.parsed.is_err() {
        return first;
    }
    check_one(&doc.located(), version, catalog, options)
}

fn check_one(
    doc: &Document,
    version: KubeVersion,
    catalog: &Catalog,
    options: &Options,
) -> Checked {
    let (schema_version, version_note) = catalog.resolve(version);
    let mut out = Checked {
        resource: String::new(),
        file: doc.file.to_string(),
        findings: Vec::new(),
        skipped: false,
        line: doc.line_base + 1,
        identified: false,
    };
    let node = match &doc.parsed {
        Ok(n) => n,
        Err(e) => {
            let rule = if e.duplicate_key {
                "duplicate-key"
            } else {
                "yaml-syntax"
            };
            let line = doc.line_base + e.line.max(1);
            out.resource = format!("{}:{line}", doc.file);
            let offset = doc.offset + e.offset.unwrap_or(0);
            out.findings.push(Finding {
                rule,
                severity: Severity::Error,
                resource: None,
                path: None,
                message: format!("not valid YAML: {}", e.message),
                file: doc.file.to_string(),
                line: Some(line),
                column: Some(e.col.max(1)),
                template: doc.template.as_deref().map(str::to_string),
                kube_version: Some(version.to_string()),
                breaks_at: None,
                api: None,
                upgrade: None,
                excerpt: Some(Excerpt::from_text(
                    &doc.file,
                    &doc.text,
                    offset..offset + 1,
                    &e.message,
                )),
            });
            return out;
        }
    };
    let secrets: std::cell::OnceCell<Vec<String>> = std::cell::OnceCell::new();
    let finding = |rule: &'static str,
                   severity: Severity,
                   pointer: &str,
                   message: String,
                   resource: Option<String>| {
        let (target, found) = locate(node, pointer);
        // A message that quotes a secret value (a schema error on `env[0].value` of a
        // DB_PASSWORD) says `(hidden)` instead. The document's secrets are gathered once, when
        // its first finding needs them.
        let message = crate::secret::hide_secrets(
            message,
            secrets.get_or_init(|| crate::secret::secrets_in(node)),
        );
        // Point at the key of the offending field; at the parent object when the field is
        // missing (or for the whole document).
        let loc = if found && !pointer.is_empty() {
            target.key_loc
        } else {
            target.loc
        };
        let (line, column, offset) = doc.position(loc);
        Finding {
            rule,
            severity,
            resource,
            path: (!pointer.is_empty()).then(|| dotted(pointer)),
            message,
            file: doc.file.to_string(),
            line: Some(line),
            column: Some(column),
            template: doc.template.as_deref().map(str::to_string),
            kube_version: Some(version.to_string()),
            breaks_at: None,
            api: None,
            upgrade: None,
            excerpt: Some(Excerpt::from_text(
                &doc.file,
                &doc.text,
                offset..offset + (loc.len as usize).max(1),
                "here",
            )),
        }
    };
    if !matches!(node.value, Value::Map(_)) {
        out.resource = format!("{}:{}", doc.file, doc.line_base + node.loc.line.max(1));
        out.findings.push(finding(
            "not-an-object",
            Severity::Error,
            "",
            format!(
                "a Kubernetes object must be a mapping, found a {}",
                node.type_name()
            ),
            None,
        ));
        return out;
    }
    let api_version = node.get_str("apiVersion");
    let kind = node.get_str("kind");
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        out.resource = format!("{}:{}", doc.file, doc.line_base + node.loc.line.max(1));
        let missing = if api_version.is_none() {
            "`apiVersion`"
        } else {
            "`kind`"
        };
        out.findings.push(finding(
            "missing-type",
            Severity::Error,
            "",
            format!("missing {missing}: every object needs `apiVersion` and `kind` (strings)"),
            None,
        ));
        return out;
    };
    let id = ResourceId::of(node).ok();
    out.identified = id.is_some();
    let resource = id
        .as_ref()
        .map_or_else(|| format!("{api_version} {kind}"), ToString::to_string);
    out.resource.clone_from(&resource);
    let res = Some(resource.clone());
    if let Err(why) = api_version_syntax(api_version) {
        out.findings.push(finding(
            "api-version",
            Severity::Error,
            "/apiVersion",
            format!("apiVersion `{api_version}` {why}"),
            res.clone(),
        ));
    }
    let mut removed = false;
    match lint::deprecated_api::status(api_version, kind, version) {
        lint::deprecated_api::Status::Removed(row) => {
            removed = true;
            let mut f = finding(
                "removed-api",
                Severity::Error,
                "/apiVersion",
                format!(
                    "{api_version} {kind} is not served by Kubernetes {version}: removed in {} (deprecated in {}); {}",
                    row.removed.as_deref().unwrap_or("?"),
                    row.deprecated,
                    row.advice()
                ),
                res.clone(),
            );
            f.breaks_at.clone_from(&row.removed);
            f.api = Some(format!("{api_version} {kind}"));
            out.findings.push(f);
        }
        lint::deprecated_api::Status::Deprecated(row) => {
            let when = row.removed.as_deref().map_or_else(
                || "no removal is scheduled".to_string(),
                |r| format!("removed in {r}"),
            );
            let mut f = finding(
                "deprecated-api",
                Severity::Warning,
                "/apiVersion",
                format!(
                    "{api_version} {kind} is deprecated since {} and {when}; {}",
                    row.deprecated,
                    row.advice()
                ),
                res.clone(),
            );
            f.api = Some(format!("{api_version} {kind}"));
            out.findings.push(f);
        }
        lint::deprecated_api::Status::Fine => {}
    }
    // What the cluster was last sent (kube-no-trouble reads the same annotation): a pipeline
    // that still applies an old apiVersion breaks on upgrade even if the stored object is new.
    if let Some((a, k, row)) = last_applied(node, api_version, version) {
        out.findings.push(finding(
            "deprecated-api",
            Severity::Warning,
            "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
            format!(
                "last applied as {a} {k} (deprecated in {}, removed in {}): whatever applies this object still writes the old apiVersion; {}",
                row.deprecated,
                row.removed.as_deref().unwrap_or("?"),
                row.advice()
            ),
            res.clone(),
        ));
    }
    if let Some(to) = options.upgrade_to.filter(|to| *to > version)
        && let Some(row) = lint::deprecated_api::breaks_between(api_version, kind, version, to)
    {
        let at = row.removed.clone().unwrap_or_default();
        let mut f = finding(
            "removed-api",
            Severity::Error,
            "/apiVersion",
            format!(
                "{api_version} {kind} breaks at {at} on the way from {version} to {to}; {}",
                row.advice()
            ),
            res.clone(),
        );
        f.breaks_at = Some(at);
        f.api = Some(format!("{api_version} {kind}"));
        f.upgrade = Some((version, to));
        out.findings.push(f);
    }
    let json = serde_json::to_value(node).unwrap_or_default();
    // A removed API gets its one clear finding above, never a second `no schema` one.
    // Checking an older version against the nearest newer schemas: an API that version still
    // serves (per the removal table) has no schema there, which is not the object's fault.
    let served_then_gone = version_note.is_some() && lint::deprecated_api::known(api_version, kind);
    let outcome = if removed {
        schema::Outcome::Valid
    } else {
        match catalog.validate(schema_version, api_version, kind, &json) {
            schema::Outcome::NoSchema { .. } if served_then_gone => {
                out.skipped = true;
                schema::Outcome::Valid
            }
            other => other,
        }
    };
    match outcome {
        schema::Outcome::Valid => {}
        schema::Outcome::NoSchema { suggestion } => {
            if options.skip_missing_schemas {
                out.skipped = true;
            } else {
                let mut msg = format!("no schema for {api_version} {kind} at {version}");
                match suggestion {
                    Some(s) => msg.push_str(&format!(": did you mean {s}?")),
                    None => msg.push_str(": import its CRD with `kiln schemas import`, or skip such kinds with `--skip-missing-schemas`"),
                }
                out.findings.push(finding(
                    "no-schema",
                    Severity::Error,
                    "/kind",
                    msg,
                    res.clone(),
                ));
            }
        }
        schema::Outcome::Broken(e) => out.findings.push(finding(
            "no-schema",
            Severity::Error,
            "/kind",
            e,
            res.clone(),
        )),
        schema::Outcome::Invalid(violations) => {
            for v in violations {
                let mut message = v.message;
                if let Some(field) = &v.unknown_field {
                    let parent = v.pointer.rsplit_once('/').map_or("", |(p, _)| p);
                    let fields = catalog.fields_at(schema_version, api_version, kind, parent);
                    if let Some(s) = did_you_mean(field, fields.iter().map(String::as_str)) {
                        message.push_str(&format!(": did you mean `{s}`?"));
                    } else {
                        message.push_str(&format!(" in {api_version} {kind}"));
                    }
                } else if !v.pointer.is_empty() {
                    message = format!("{message} (at `{}`)", dotted(&v.pointer));
                }
                // A Secret's values never appear in a report.
                if kind == "Secret"
                    && (v.pointer.starts_with("/data/") || v.pointer.starts_with("/stringData/"))
                {
                    message = format!("invalid value at `{}` (value hidden)", dotted(&v.pointer));
                }
                out.findings.push(finding(
                    "schema",
                    Severity::Error,
                    &v.pointer,
                    message,
                    res.clone(),
                ));
            }
        }
    }
    // API-server rules, then the reviewer and deprecated-field rules.
    for (rule, pointer, message, warning) in
        rules::check(node, kind).into_iter().chain(lint::review(
            node,
            kind,
            &options.lint,
            id.as_ref()
                .is_some_and(|i| options.host_network.contains(i)),
        ))
    {
        let severity = if warning {
            Severity::Warning
        } else {
            Severity::Error
        };
        out.findings
            .push(finding(rule, severity, &pointer, message, res.clone()));
    }
    // Configured severities, then suppressions (annotation, or comments in document/template).
    let chunk = &doc.text[doc.offset..doc.end.min(doc.text.len())];
    let texts: Vec<&str> = std::iter::once(chunk)
        .chain(doc.template_source.as_deref())
        .collect();
    let suppressed = lint::suppressed(node, &texts);
    out.findings.retain_mut(|f| {
        if suppressed.iter().any(|s| s == f.rule) {
            return false;
        }
        match options.lint.rules.get(f.rule) {
            Some(lint::Level::Off) => false,
            Some(lint::Level::Error) => {
                f.severity = Severity::Error;
                true
            }
            Some(lint::Level::Warning) => {
                f.severity = Severity::Warning;
                true
            }
            None => true,
        }
    });
    if let Some(note) = version_note {
        for f in &mut out.findings {
            if f.rule == "schema" || f.rule == "no-schema" {
                f.message.push_str(&format!(" ({note})"));
            }
        }
    }
    out
}

/// The apiVersion and kind in `kubectl.kubernetes.io/last-applied-configuration` when they differ
/// from the object's and are deprecated or removed at `version`.
fn last_applied(
    node: &Node,
    api_version: &str,
    version: KubeVersion,
) -> Option<(String, String, &'static lint::deprecated_api::Removal)> {
    let json = node
        .get("metadata")?
        .get("annotations")?
        .get_str("kubectl.kubernetes.io/last-applied-configuration")?;
    let applied: serde_json::Value = serde_json::from_str(json).ok()?;
    let a = applied.get("apiVersion")?.as_str()?;
    let k = applied.get("kind")?.as_str()?;
    if a == api_version {
        return None;
    }
    match lint::deprecated_api::status(a, k, version) {
        lint::deprecated_api::Status::Removed(row)
        | lint::deprecated_api::Status::Deprecated(row) => {
            Some((a.to_string(), k.to_string(), row))
        }
        lint::deprecated_api::Status::Fine => None,
    }
}

/// True for a well-formed apiVersion.
#[must_use]
pub fn api_version_ok(v: &str) -> bool {
    api_version_syntax(v).is_ok()
}

/// `apps/v1`, `v1`, `example.com/v1beta2`.
fn api_version_syntax(v: &str) -> Result<(), &'static str> {
    let version = match v.split_once('/') {
        Some((group, version)) => {
            if group.is_empty() || crate::kube::names::dns_subdomain(group).is_err() {
                return Err("has an invalid group (expected `group/version`, e.g. `apps/v1`)");
            }
            version
        }
        None => v,
    };
    let rest = version
        .strip_prefix('v')
        .ok_or("has no version (expected `v1`, `v1beta1`, `group/v1`)")?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return Err("has no version number");
    }
    let tail = &rest[digits_end..];
    let ok = tail.is_empty()
        || ["alpha", "beta"].iter().any(|p| {
            tail.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        });
    if ok {
        Ok(())
    } else {
        Err("is not a Kubernetes API version (`v1`, `v1beta1`, `v2alpha1`)")
    }
}

/// The node at a JSON pointer (`true`), or the deepest existing parent (`false`).
fn locate<'a>(root: &'a Node, pointer: &str) -> (&'a Node, bool) {
    let mut node = root;
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        let next = match &node.value {
            Value::Map(m) => m.get(&part),
            Value::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return (node, false),
        }
    }
    (node, true)
}

/// `/spec/template/spec/containers/0/image` -> `spec.template.spec.containers[0].image`.
#[must_use]
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(&part);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// Flag objects defined twice in one set of inputs (same apiVersion, kind, namespace, name).
pub fn flag_duplicates(results: &mut [Checked]) {
    let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for r in results.iter_mut() {
        // Skipped kinds are not checked at all, duplicates included (as kubeconform does).
        if !r.identified || r.skipped {
            continue;
        }
        let here = format!("{}:{}", r.file, r.line);
        if let Some(prev) = first.get(&r.resource) {
            r.findings.push(Finding {
                rule: "duplicate-resource",
                severity: Severity::Error,
                resource: Some(r.resource.clone()),
                path: None,
                message: format!(
                    "defined twice: first at {prev}; applying both keeps only the last"
                ),
                file: r.file.clone(),
                line: Some(r.line),
                column: Some(1),
                template: None,
                kube_version: None,
                breaks_at: None,
                api: None,
                upgrade: None,
                excerpt: None,
            });
        } else {
            first.insert(r.resource.clone(), here);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        for ok in ["v1", "apps/v1", "example.com/v1beta2", "batch/v2alpha1"] {
            assert!(api_version_syntax(ok).is_ok(), "{ok}");
        }
        for bad in [
            "apps", "/v1", "apps/", "apps/1", "v1beta", "Apps/v1", "v1gamma1",
        ] {
            assert!(api_version_syntax(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(
            dotted("/spec/containers/0/image"),
            "spec.containers[0].image"
        );
        assert_eq!(
            dotted("/metadata/labels/app.kubernetes.io~1name"),
            "metadata.labels.app.kubernetes.io/name"
        );
    }
}
