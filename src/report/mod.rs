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

/// One line on what a rule catches.
#[must_use]
pub fn rule_description(id: &str) -> &'static str {
    match id {
        "schema" => {
            "The object does not match the strict JSON Schema of its kind at the target Kubernetes version."
        }
        "no-schema" => {
            "No schema is known for the kind at the target version (a typo, or a CRD that was not imported)."
        }
        "yaml-syntax" => "The document is not valid YAML.",
        "duplicate-key" => "A mapping repeats a key; Kubernetes would silently keep one of them.",
        "not-an-object" => "The document is not a mapping.",
        "missing-type" => "The document has no apiVersion or kind.",
        "api-version" => "The apiVersion is not of the form group/version.",
        "metadata-name" => "metadata.name is missing or not a valid name for the kind.",
        "label-syntax" => "A label or annotation key or value has invalid syntax.",
        "duplicate-name" => "Two containers, ports, volumes or environment variables share a name.",
        "selector-mismatch" => "A workload's selector does not match its pod template's labels.",
        "enum" => "A field holds a value outside the spellings the API server accepts.",
        "required-field" => "A field the API server requires is missing.",
        "crd-schema" => "A CustomResourceDefinition's schema uses an invalid type.",
        "duplicate-resource" => "Two documents define the same object.",
        "golden-drift" => "The render differs from the reviewed golden files.",
        "removed-api" => "The apiVersion is not served by the target Kubernetes version.",
        "deprecated-api" => "The apiVersion is deprecated and will be removed.",
        "deprecated-field" => "A deprecated field or annotation.",
        "typographic" => "Typographic characters where ASCII was meant.",
        "image-tag" => "An image without a pinned tag.",
        "no-resources" => "A container without resource requests and limits.",
        "no-readiness-probe" => "A serving container without a readiness probe.",
        "host-network" => "hostNetwork outside the allow-list.",
        "configmap-key" => "A ConfigMap key that is not a string in the source.",
        "empty-file" => "A file holds no Kubernetes objects.",
        "unreadable" => "A file could not be read or is not UTF-8.",
        _ => "A kiln check.",
    }
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
