//! Text: one line per finding as it comes, then the upgrade path and a summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Reporter, Summary, severity};
use crate::check::{Checked, Finding, rule};
use crate::kube::KubeVersion;

/// `file:line:col: error[rule] resource: message (template)`.
#[must_use]
pub fn line(f: &Finding) -> String {
    let mut line = String::new();
    write_line(f, &mut line);
    line
}

/// [`line`], written at the end of `out` (a report of thousands of findings makes no copies).
fn write_line(f: &Finding, out: &mut String) {
    // Pieces pushed, numbers by `itoa`: the lines of a fleet's report are written one after
    // another after the checks, and `write!` went through `core::fmt` for each piece (about 9 M
    // of `check`'s 2,900 M instructions on a 1,000-service fleet, README, Performance).
    let mut number = itoa::Buffer::new();
    out.push_str(&f.file);
    if let Some(line) = f.line {
        out.push(':');
        out.push_str(number.format(line));
        if let Some(column) = f.column {
            out.push(':');
            out.push_str(number.format(column));
        }
    }
    out.push_str(": ");
    out.push_str(severity(f.severity));
    out.push('[');
    out.push_str(f.rule);
    out.push(']');
    if let Some(r) = &f.resource {
        out.push(' ');
        out.push_str(r);
    }
    out.push_str(": ");
    out.push_str(&f.message);
    if let Some(t) = &f.template {
        out.push_str(" (from template ");
        out.push_str(t);
        out.push(')');
    }
}

/// The text reporter: totals, and what breaks at each version on the way of `--upgrade-to`.
#[derive(Default)]
pub(super) struct Text {
    summary: Summary,
    /// Per version at which objects break: each removed-API finding's `apiVersion kind`, when
    /// it was found on the way of the upgrade.
    hops: BTreeMap<KubeVersion, Vec<Option<String>>>,
    upgrade: Option<(KubeVersion, KubeVersion)>,
}

impl Reporter for Text {
    fn add(&mut self, checked: &Checked, out: &mut String) {
        self.summary.add(checked);
        for f in &checked.findings {
            write_line(f, out);
            out.push('\n');
            if self.upgrade.is_none() {
                self.upgrade = f.upgrade;
            }
            if f.rule == rule::REMOVED_API.id
                && let Some(v) = f.breaks_at.as_deref().and_then(KubeVersion::parse)
            {
                let api = f.api.clone().filter(|_| f.upgrade.is_some());
                self.hops.entry(v).or_default().push(api);
            }
        }
    }

    fn finish(&mut self, out: &mut String) {
        if let Some((from, to)) = self.upgrade {
            let _ = writeln!(out, "upgrade {from} -> {to}:");
            for (at, found) in &self.hops {
                let mut kinds: Vec<&str> = found.iter().filter_map(Option::as_deref).collect();
                kinds.sort_unstable();
                kinds.dedup();
                let _ = writeln!(
                    out,
                    "  breaks at {at}: {} object(s): {}",
                    found.len(),
                    kinds.join(", ")
                );
            }
        }
        let s = self.summary;
        let _ = write!(
            out,
            "checked {} resource(s): {} error(s), {} warning(s)",
            s.resources, s.errors, s.warnings
        );
        if s.skipped > 0 {
            let _ = write!(out, ", {} skipped (no schema)", s.skipped);
        }
        out.push('\n');
    }
}
