//! `JUnit` XML: one suite per file, one testcase per resource, for Jenkins' `junit` step. The
//! totals come first in the XML, so documents are kept until the end.

use std::fmt::Write as _;

use super::Reporter;
use super::Summary;
use super::text::line;
use crate::check::{Checked, Finding};
use crate::diagnostic::Severity;

/// The `JUnit` reporter.
#[derive(Default)]
pub(super) struct Junit {
    results: Vec<Checked>,
}

impl Reporter for Junit {
    fn add(&mut self, checked: &Checked, _out: &mut String) {
        self.results.push(checked.clone());
    }

    fn finish(&mut self, out: &mut String) {
        write(&self.results, out);
    }
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

fn write(results: &[Checked], out: &mut String) {
    let s = Summary::of(results);
    let failures = results
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.severity == Severity::Error))
        .count();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
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
                let body: Vec<String> = errors.iter().map(|f| line(f)).collect();
                let _ = writeln!(
                    out,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    first.rule,
                    xml(&first.message),
                    xml(&body.join("\n"))
                );
            }
            if !warnings.is_empty() {
                let body: Vec<String> = warnings.iter().map(|f| line(f)).collect();
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
