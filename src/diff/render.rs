//! Printing a diff: per environment, the changed fields of each object, then a unified diff of
//! its YAML with word-level highlighting on a terminal (plain text otherwise); or JSON.

use anstyle::{AnsiColor, Style};
use std::fmt::Write as _;

use similar::algorithms::{Capture, Compact, Replace, myers};
use similar::{ChangeTag, group_diff_ops};

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
    // Lines with their line feeds, diffed by Myers' algorithm through the hooks
    // `TextDiff::from_lines` uses. Called directly rather than through `TextDiff`, whose choice of
    // algorithm at run time compiled every algorithm for every hook into the binary (half a
    // megabyte, growing and shrinking with unrelated changes).
    let (old, new): (Vec<&str>, Vec<&str>) = (
        old.split_inclusive('\n').collect(),
        new.split_inclusive('\n').collect(),
    );
    let mut hook = Compact::new(Replace::new(Capture::new()), &old, &new);
    let Ok(()) = myers::diff(&mut hook, &old, 0..old.len(), &new, 0..new.len());
    let ops = hook.into_inner().into_inner().into_ops();
    let mut out = String::new();
    for group in group_diff_ops(ops, 3) {
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
            let changes: Vec<_> = op.iter_changes(&old, &new).collect();
            // A replaced run of lines with as many new lines as old: each pair's differing
            // middle is highlighted (as git's diff-highlight does), on a terminal only.
            let deleted = changes
                .iter()
                .filter(|c| c.tag() == ChangeTag::Delete)
                .count();
            let paired = color && deleted > 0 && 2 * deleted == changes.len();
            for (i, change) in changes.iter().enumerate() {
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
                let line = change.value();
                // Its pair: the i-th removed line goes with the i-th added one.
                let pair = || {
                    changes[if i < deleted {
                        i + deleted
                    } else {
                        i - deleted
                    }]
                    .value()
                };
                match paired.then(|| changed_middle(line, pair())).flatten() {
                    Some((start, end)) => {
                        let _ = write!(
                            out,
                            "{}{REVERSE}{}{REVERSE:#}{code}{}",
                            &line[..start],
                            &line[start..end],
                            &line[end..]
                        );
                    }
                    None => out.push_str(line),
                }
                if color && code != PLAIN {
                    let _ = write!(out, "{code:#}");
                }
                if !line.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// The part of `line` that differs from `other`, widened to whole words: what is left between
/// their common start and common end (line breaks aside). `None` when nothing is common (the
/// whole line would be highlighted) or nothing differs.
fn changed_middle(line: &str, other: &str) -> Option<(usize, usize)> {
    let (a, b) = (line.trim_end_matches('\n'), other.trim_end_matches('\n'));
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut start = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    // Back to the start of the word it falls in.
    while let Some(c) = a[..start].chars().next_back().filter(|&c| word(c)) {
        start -= c.len_utf8();
    }
    let common_end = a[start..]
        .chars()
        .rev()
        // `start` is inside the common start, so on a character boundary of `b` too.
        .zip(b[start..].chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum::<usize>();
    let mut end = a.len() - common_end;
    // On to the end of the word it falls in.
    while let Some(c) = a[end..].chars().next().filter(|&c| word(c)) {
        end += c.len_utf8();
    }
    let whole = start == 0 && end == a.len();
    (end > start && !whole).then_some((start, end))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changed_middle_of_a_line_is_whole_words() {
        fn middle<'a>(a: &'a str, b: &str) -> Option<&'a str> {
            changed_middle(a, b).map(|(s, e)| &a[s..e])
        }
        assert_eq!(middle("  replicas: 2\n", "  replicas: 3\n"), Some("2"));
        assert_eq!(
            middle("image: app:1.0.0", "image: app:1.1.0"),
            Some("0"),
            "a version part, not the whole tag"
        );
        assert_eq!(
            middle("name: order-service", "name: order-server"),
            Some("service")
        );
        assert_eq!(
            middle("描述: 订单服务\n", "描述: 支付服务\n"),
            Some("订单服务"),
            "a run of CJK characters is one word"
        );
        assert_eq!(middle("a", "b"), None, "nothing in common: no highlight");
        assert_eq!(middle("same", "same"), None);
        assert_eq!(middle("key: v", "key: v2"), Some("v"));
    }

    /// Any two lines, CJK, combining marks, emoji and empty ones included: a range on character
    /// boundaries of the first, never a panic.
    #[test]
    fn the_changed_middle_of_any_two_lines_is_on_character_boundaries() {
        let lines = [
            "",
            "\n",
            "a",
            "ab",
            "a b",
            "key: 订单",
            "key: 订单服务\n",
            "描述：支付",
            "e\u{301}",
            "e\u{302}",
            "😀 x",
            "😁 x",
            "x😀",
            "  - name: app\n",
            "  - name: api\n",
            "订",
            "单",
        ];
        for a in lines {
            for b in lines {
                if let Some((start, end)) = changed_middle(a, b) {
                    assert!(start < end && end <= a.len(), "{a:?} {b:?}");
                    assert!(
                        a.is_char_boundary(start) && a.is_char_boundary(end),
                        "{a:?} {b:?}"
                    );
                }
            }
        }
    }

    /// On a terminal, each pair of a replaced line shows its changed word reversed; a run of
    /// removed lines without as many added ones, and plain text, show none.
    #[test]
    fn replaced_lines_highlight_their_changed_words_on_a_terminal() {
        let old = "a: 1\nb: 2\nc: 3\n";
        let new = "a: 1\nb: 20\nc: 3\n";
        let colored = unified(old, new, true);
        assert!(
            colored.contains(&format!("{REVERSE}2{REVERSE:#}")),
            "{colored}"
        );
        assert!(
            colored.contains(&format!("{REVERSE}20{REVERSE:#}")),
            "{colored}"
        );
        let plain = unified(old, new, false);
        assert!(
            plain.contains("    -b: 2\n") && plain.contains("    +b: 20\n"),
            "{plain}"
        );
        assert!(!plain.contains('\u{1b}'));
        let removed = unified("a: 1\nb: 2\nc: 3\n", "a: 1\n", true);
        assert!(!removed.contains(&format!("{REVERSE}")), "{removed}");
    }
}
