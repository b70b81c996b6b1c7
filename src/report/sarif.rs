//! SARIF 2.1.0, for code scanning: one result per finding, with the rules they name.

use super::{Reporter, severity};
use crate::check::{Checked, Finding};

/// The SARIF reporter: findings are kept until the end.
#[derive(Default)]
pub(super) struct Sarif {
    findings: Vec<Finding>,
}

impl Reporter for Sarif {
    fn add(&mut self, checked: &Checked, _out: &mut String) {
        self.findings.extend(checked.findings.iter().cloned());
    }

    fn finish(&mut self, out: &mut String) {
        write(&self.findings, out);
    }
}

fn write(findings: &[Finding], out: &mut String) {
    let mut rule_ids: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<serde_json::Value> = rule_ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "name": id, "shortDescription": {"text": crate::check::rule::find(id).map_or("A kiln check.", |r| r.what)}}))
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
    out.push_str(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    out.push('\n');
}
