//! Printing a diff: per environment, the changed fields of each object, then a unified diff of
//! its YAML with word-level highlighting on a terminal (plain text otherwise); or JSON.

use anstyle::{AnsiColor, Style};
use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::EnvDiff;

const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const REVERSE: Style = Style::new().invert();
const PLAIN: Style = Style::new();

/// Counts per environment, one line each.
#[must_use]
pub fn summary(diffs: &[EnvDiff]) -> String {
    let mut out = String::new();
    for d in diffs {
        let env = if d.env.is_empty() {
            "(no environment)"
        } else {
            &d.env
        };
        let _ = write!(
            out,
            "{env}: {} changed, {} added, {} removed",
            d.changed.len(),
            d.added.len(),
            d.removed.len()
        );
        match &d.prune {
            Some(p) if !p.objects.is_empty() => {
                let _ = writeln!(out, " ({} pruned)", p.objects.len());
            }
            _ => out.push('\n'),
        }
    }
    if diffs.iter().all(EnvDiff::is_empty) {
        out.push_str("no differences\n");
    }
    out
}

/// The full text report.
#[must_use]
pub fn text(diffs: &[EnvDiff], color: bool) -> String {
    let paint = |code: Style, s: &str| {
        if color {
            format!("{code}{s}{code:#}")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for d in diffs.iter().filter(|d| !d.is_empty()) {
        let env = if d.env.is_empty() {
            "(no environment)"
        } else {
            &d.env
        };
        let _ = writeln!(
            out,
            "{}",
            paint(
                BOLD,
                &format!(
                    "== {env}: {} changed, {} added, {} removed",
                    d.changed.len(),
                    d.added.len(),
                    d.removed.len()
                )
            )
        );
        for a in &d.added {
            let _ = writeln!(out, "{}", paint(GREEN, &format!("+ {a}")));
        }
        for r in &d.removed {
            let _ = writeln!(out, "{}", paint(RED, &format!("- {r}")));
        }
        if let Some(p) = d.prune.as_ref().filter(|p| !p.objects.is_empty()) {
            let _ = writeln!(
                out,
                "{}",
                paint(
                    BOLD,
                    &format!(
                        "prune: `kubectl apply --prune {}` deletes {} object(s) from the cluster:",
                        p.flags,
                        p.objects.len()
                    )
                )
            );
            for o in &p.objects {
                let _ = writeln!(out, "{}", paint(RED, &format!("  x {o}")));
            }
        }
        for c in &d.changed {
            let _ = writeln!(
                out,
                "{}",
                paint(CYAN, &format!("~ {} ({})", c.resource, c.source))
            );
            for f in &c.fields {
                let line = match (&f.old, &f.new) {
                    (Some(o), Some(n)) => format!("    {}: {o} -> {n}", f.path),
                    (None, Some(n)) => format!("    {}: added {n}", f.path),
                    (Some(o), None) => format!("    {}: removed (was {o})", f.path),
                    (None, None) => format!("    {}", f.path),
                };
                let _ = writeln!(out, "{line}");
            }
            out.push_str(&unified(&c.texts.0, &c.texts.1, color));
        }
    }
    out.push_str(&summary(diffs));
    out
}

/// A unified diff with three lines of context; changed words are highlighted when `color`.
fn unified(old: &str, new: &str, color: bool) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let header = format!(
            "    @@ -{},{} +{},{} @@",
            old_range.start + 1,
            old_range.len(),
            new_range.start + 1,
            new_range.len()
        );
        let _ = writeln!(
            out,
            "{}",
            if color {
                format!("{CYAN}{header}{CYAN:#}")
            } else {
                header
            }
        );
        for op in &group {
            for change in diff.iter_inline_changes(op) {
                let (sign, code) = match change.tag() {
                    ChangeTag::Delete => ('-', RED),
                    ChangeTag::Insert => ('+', GREEN),
                    ChangeTag::Equal => (' ', PLAIN),
                };
                out.push_str("    ");
                if color && code != PLAIN {
                    let _ = write!(out, "{code}");
                }
                out.push(sign);
                for (emphasized, value) in change.iter_strings_lossy() {
                    if color && emphasized {
                        let _ = write!(out, "{REVERSE}{value}{REVERSE:#}{code}");
                    } else {
                        out.push_str(&value);
                    }
                }
                if color && code != PLAIN {
                    let _ = write!(out, "{code:#}");
                }
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// The machine-readable report.
#[must_use]
pub fn json(diffs: &[EnvDiff]) -> String {
    let doc = serde_json::json!({
        "differences": diffs.iter().any(|d| !d.is_empty()),
        "environments": diffs,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
