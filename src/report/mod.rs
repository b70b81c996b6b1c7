//! Reports: the same findings as text (one line each, for logs and terminals), JSON Lines,
//! `JUnit` XML (one testcase per resource, for Jenkins' `junit` step) and SARIF 2.1.0 (for code
//! scanning). Every format is built from the same [`Checked`] list, so adding a format never
//! touches the checks.

use std::fmt::Write as _;

use clap::ValueEnum;

use crate::check::{Checked, Finding};
use crate::diagnostic::Severity;

/// Output format of `kiln check` and `kiln lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// One line per finding, then a summary.
    #[default]
    Text,
    /// JSON Lines: one object per finding.
    Json,
    /// `JUnit` XML: one testcase per resource.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
}

/// Counts for the summary and the exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Resources checked.
    pub resources: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Resources skipped for want of a schema.
    pub skipped: usize,
}

impl Summary {
    /// Count a result list.
    #[must_use]
    pub fn of(results: &[Checked]) -> Summary {
        let mut s = Summary {
            resources: results.len(),
            ..Summary::default()
        };
        for r in results {
            s.skipped += usize::from(r.skipped);
            for f in &r.findings {
                match f.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                }
            }
        }
        s
    }
}

/// Render the results in `format`.
#[must_use]
pub fn render(results: &[Checked], format: Format) -> String {
    // Whatever made a finding, a value decrypted from a SOPS file is not quoted in it.
    let hidden: Vec<Checked>;
    let results = if crate::secret::any_decrypted() {
        hidden = results
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for f in &mut r.findings {
                    if let Some(m) = crate::secret::hide_decrypted(&f.message) {
                        f.message = m;
                    }
                }
                r
            })
            .collect();
        &hidden
    } else {
        results
    };
    match format {
        Format::Text => text(results),
        Format::Json => json(results),
        Format::Junit => junit(results),
        Format::Sarif => sarif(results),
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `file:line:col: error[rule] resource: message (template)`.
#[must_use]
pub fn text_line(f: &Finding) -> String {
    let mut line = format!("{}: {}[{}]", f.location(), severity(f.severity), f.rule);
    if let Some(r) = &f.resource {
        let _ = write!(line, " {r}");
    }
    let _ = write!(line, ": {}", f.message);
    if let Some(t) = &f.template {
        let _ = write!(line, " (from template {t})");
    }
    line
}

fn text(results: &[Checked]) -> String {
    let mut out = String::new();
    for f in results.iter().flat_map(|r| &r.findings) {
        out.push_str(&text_line(f));
        out.push('\n');
    }
    // The upgrade path: what breaks at each version on the way.
    let mut hops: std::collections::BTreeMap<(u32, u32), Vec<&Finding>> =
        std::collections::BTreeMap::new();
    for f in results
        .iter()
        .flat_map(|r| &r.findings)
        .filter(|f| f.rule == "removed-api")
    {
        if let Some(v) = f
            .breaks_at
            .as_deref()
            .and_then(crate::config::KubeVersion::parse)
        {
            hops.entry((v.major, v.minor)).or_default().push(f);
        }
    }
    let upgrade = results
        .iter()
        .flat_map(|r| &r.findings)
        .find_map(|f| f.upgrade);
    if let Some((from, to)) = upgrade {
        let _ = writeln!(out, "upgrade {from} -> {to}:");
        for ((major, minor), fs) in &hops {
            let mut kinds: Vec<&str> = fs
                .iter()
                .filter(|f| f.upgrade.is_some())
                .filter_map(|f| f.api.as_deref())
                .collect();
            kinds.sort_unstable();
            kinds.dedup();
            let _ = writeln!(
                out,
                "  breaks at {major}.{minor}: {} object(s): {}",
                fs.len(),
                kinds.join(", ")
            );
        }
    }
    let s = Summary::of(results);
    let _ = write!(
        out,
        "checked {} resource(s): {} error(s), {} warning(s)",
        s.resources, s.errors, s.warnings
    );
    if s.skipped > 0 {
        let _ = write!(out, ", {} skipped (no schema)", s.skipped);
    }
    out.push('\n');
    out
}

fn json(results: &[Checked]) -> String {
    let mut out = String::new();
    for f in results.iter().flat_map(|r| &r.findings) {
        if let Ok(line) = serde_json::to_string(f) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Escape text for XML attributes and content.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn junit(results: &[Checked]) -> String {
    let s = Summary::of(results);
    let failures = results
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.severity == Severity::Error))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kiln\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{}\">",
        s.resources, s.skipped
    );
    // One suite per file keeps Jenkins' tree readable: file > resource.
    let mut files: Vec<&str> = results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(*f));
    for file in files {
        let in_file: Vec<&Checked> = results.iter().filter(|r| r.file == file).collect();
        let f_failures = in_file
            .iter()
            .filter(|r| r.findings.iter().any(|f| f.severity == Severity::Error))
            .count();
        let f_skipped = in_file.iter().filter(|r| r.skipped).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f_failures}\" errors=\"0\" skipped=\"{f_skipped}\">",
            xml(file),
            in_file.len()
        );
        for r in in_file {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(file),
                xml(&r.resource)
            );
            let errors: Vec<&Finding> = r
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            let warnings: Vec<&Finding> = r
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .collect();
            if errors.is_empty() && warnings.is_empty() && !r.skipped {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            if r.skipped {
                out.push_str("      <skipped message=\"no schema for this kind\"/>\n");
            }
            if let Some(first) = errors.first() {
                let body: Vec<String> = errors.iter().map(|f| text_line(f)).collect();
                let _ = writeln!(
                    out,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    first.rule,
                    xml(&first.message),
                    xml(&body.join("\n"))
                );
            }
            if !warnings.is_empty() {
                let body: Vec<String> = warnings.iter().map(|f| text_line(f)).collect();
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    xml(&body.join("\n"))
                );
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn sarif(results: &[Checked]) -> String {
    let findings: Vec<&Finding> = results.iter().flat_map(|r| &r.findings).collect();
    let mut rule_ids: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<serde_json::Value> = rule_ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "name": id, "shortDescription": {"text": rule_description(id)}}))
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut region = serde_json::Map::new();
            if let Some(l) = f.line {
                region.insert("startLine".into(), l.into());
            }
            if let Some(c) = f.column {
                region.insert("startColumn".into(), c.into());
            }
            let mut message = f.message.clone();
            if let Some(r) = &f.resource {
                message = format!("{r}: {message}");
            }
            serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": severity(f.severity),
                "message": {"text": message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.file.replace('\\', "/")}, "region": region}}],
            })
        })
        .collect();
    let doc = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "kiln", "version": env!("CARGO_PKG_VERSION"), "informationUri": "https://github.com/kiln-dev/kiln", "rules": rules}},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// Every rule: id, what it catches, why it matters, how to fix it. `kiln explain` prints these.
pub const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "schema",
        "The object does not match the strict JSON Schema of its kind at the target Kubernetes version: an unknown field, a wrong type, a missing required field.",
        "The API server rejects it (or, without strict validation, silently drops the misspelled field).",
        "Fix the field named in the message; `did you mean` suggests the real name of a misspelled one.",
    ),
    (
        "no-schema",
        "No schema is known for the apiVersion and kind at the target version.",
        "Usually a typo in `kind`/`apiVersion`, or a custom resource whose CRD kiln has not seen; either way nothing was validated.",
        "Fix the typo, or import the CRD (`kiln schemas import crd.yaml --kube-version X.Y`), or pass `--skip-missing-schemas`.",
    ),
    (
        "yaml-syntax",
        "The document is not valid YAML (or is a template, not a manifest).",
        "kubectl cannot read it.",
        "Fix the YAML at the line shown.",
    ),
    (
        "duplicate-key",
        "A mapping repeats a key.",
        "Kubernetes' YAML reader keeps only one of them, so half of what you wrote is silently ignored.",
        "Merge the two entries into one.",
    ),
    (
        "not-an-object",
        "The document is a list or a scalar, not a mapping.",
        "Only mappings can be Kubernetes objects.",
        "Check the indentation, or remove the stray document.",
    ),
    (
        "missing-type",
        "The document has no `apiVersion` or no `kind`.",
        "The API server cannot tell what it is.",
        "Add both, e.g. `apiVersion: apps/v1` and `kind: Deployment`.",
    ),
    (
        "api-version",
        "The apiVersion is not of the form `group/version` (`apps/v1`) or `v1`.",
        "No API server serves it.",
        "Write the group and the version.",
    ),
    (
        "metadata-name",
        "`metadata.name` is missing, or not a valid name for the kind (DNS-1123 label or subdomain, length limits).",
        "The API server rejects the object.",
        "Use lowercase letters, digits and `-` (and `.` where allowed), within 63 or 253 characters.",
    ),
    (
        "label-syntax",
        "A label or annotation key, or a label value, has invalid syntax or is not a string.",
        "The API server rejects the object.",
        "Keys are `[prefix/]name`, values at most 63 characters of letters, digits, `-`, `_`, `.`; quote numbers and booleans.",
    ),
    (
        "duplicate-name",
        "Two containers, ports, volumes or environment variables in a pod share a name (or a port/protocol pair).",
        "The API server rejects duplicate containers and ports; duplicate environment variables silently keep the last.",
        "Rename or remove one.",
    ),
    (
        "selector-mismatch",
        "A Deployment/StatefulSet/DaemonSet/ReplicaSet selector does not match its pod template labels (or is missing in apps/v1).",
        "The API server rejects it; a mismatched selector would orphan pods.",
        "Make `spec.selector.matchLabels` a subset of `spec.template.metadata.labels`.",
    ),
    (
        "enum",
        "A field has a value outside its allowed spellings (`protocol: udp`).",
        "The API server rejects it; the values are case-sensitive.",
        "Use one of the values listed.",
    ),
    (
        "required-field",
        "A field the API server requires is missing (a container's `image`).",
        "The object is rejected at apply time.",
        "Add the field.",
    ),
    (
        "crd-schema",
        "A CustomResourceDefinition's schema uses an invalid type (`strign`).",
        "The API server rejects the CRD.",
        "Use array, boolean, integer, number, object or string.",
    ),
    (
        "duplicate-resource",
        "Two documents define the same object (apiVersion, kind, namespace, name).",
        "Applying both keeps only the last one.",
        "Remove or rename one.",
    ),
    (
        "empty-file",
        "A file holds no Kubernetes objects.",
        "Usually a mistake in a manifest folder.",
        "Delete the file or add the objects.",
    ),
    (
        "unreadable",
        "A file could not be read, is not UTF-8, or is a symlink loop.",
        "Nothing in it was checked.",
        "Fix the file or the link; save as UTF-8.",
    ),
    (
        "golden-drift",
        "The render differs from the reviewed golden files in golden/, or there is no golden/ (an empty one means nothing recorded yet).",
        "An unreviewed change to values or templates would reach the cluster.",
        "Review with `kiln diff`; if intended, run `kiln golden update` and commit golden/.",
    ),
    (
        "removed-api",
        "The apiVersion is no longer served by the target Kubernetes version (or stops being served on the way to `--upgrade-to`).",
        "`kubectl apply` fails after the upgrade; the objects cannot be updated.",
        "Move to the replacement apiVersion in the message; `kiln convert --to X.Y` does it where the change is mechanical.",
    ),
    (
        "deprecated-api",
        "The apiVersion is deprecated at the target version and has a removal date.",
        "It will break at the removal release.",
        "Move to the replacement before upgrading to the removal release.",
    ),
    (
        "deprecated-field",
        "A field or annotation the upgrade guides call deprecated (`serviceAccount`, seccomp/AppArmor annotations, `kubernetes.io/ingress.class`).",
        "Deprecated fields are ignored or removed in later releases.",
        "Use the field named in the message.",
    ),
    (
        "typographic",
        "Curly quotes, en/em dashes, minus signs or invisible spaces where ASCII was meant.",
        "Copy-paste from documents turns `--flag` into `—flag` and `\"x\"` into `“x”`; the program then gets the wrong argument or value.",
        "Retype the character in ASCII.",
    ),
    (
        "image-tag",
        "An image with no tag or with `:latest`.",
        "The image changes under you; rollouts and rollbacks are not reproducible.",
        "Pin a version tag or a digest.",
    ),
    (
        "no-resources",
        "A container without resource requests and limits.",
        "The scheduler cannot place it well, and it can starve its neighbours.",
        "Set `resources.requests` and `resources.limits`.",
    ),
    (
        "no-readiness-probe",
        "A serving container (one with ports) in a workload has no readinessProbe.",
        "It receives traffic before it is ready, and during rollouts.",
        "Add a `readinessProbe`.",
    ),
    (
        "host-network",
        "`hostNetwork: true` on an object not in `lint.hostNetworkAllow`.",
        "The pod shares the node's network namespace and ports.",
        "Remove it, or allow the object by name in kiln.yaml.",
    ),
    (
        "configmap-key",
        "A ConfigMap key that is not a string in the source (`53:`).",
        "YAML reads it as a number or boolean; `1.10:` becomes `\"1.1\"`.",
        "Quote the key: `\"53\":`.",
    ),
];

/// How any rule can be suppressed.
pub const SUPPRESS: &str = "annotate the object `kiln.dev/ignore: <rule>` (several: comma-separated), write `# kiln-ignore: <rule>` in the manifest document or the template that renders it, or set `lint: {rules: {<rule>: off}}` (or `warning`/`error`) in kiln.yaml";

/// One line on what a rule catches.
#[must_use]
pub fn rule_description(id: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| r.0 == id)
        .map_or("A kiln check.", |r| r.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{fffd}"
        );
    }
}
