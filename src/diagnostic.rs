//! The one shape every user-facing problem takes, and the one renderer that prints it.
//!
//! A [`Diagnostic`] carries its own copy of the lines it points at, so it can be created on any
//! thread and printed later without the source table. Rendering (plain or coloured) happens only
//! in [`render`]; nothing else formats problems for humans.

use std::fmt::Write as _;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet as AsSnippet};

use crate::source::{Loc, Sources, char_range, line_offset};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Stops the run or fails the check.
    Error,
    /// Reported, fails only with `--fail-on warning`.
    Warning,
}

/// A piece of source text with the part a diagnostic points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Excerpt {
    /// The file (or pseudo-file such as `--set #1`) the text comes from.
    pub path: String,
    /// A few whole lines of the source around the problem.
    pub text: String,
    /// 1-based number of the first line of `text`.
    pub line_start: usize,
    /// Byte range inside `text` to underline.
    pub range: Range<usize>,
    /// What the underline says.
    pub label: String,
    /// 1-based line and column of the problem, for the one-line form.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Excerpt {
    /// Cut an excerpt out of a whole source text: the lines from two before to two after `range`.
    #[must_use]
    pub fn from_text(path: &str, text: &str, range: Range<usize>, label: &str) -> Excerpt {
        let range = char_range(text, range);
        let (start, end) = (range.start, range.end);
        let line = crate::source::line_feeds(&text[..start]) + 1;
        let line_begin = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let col = text[line_begin..start].chars().count() + 1;
        let first = line.saturating_sub(2).max(1);
        let last_line = line + crate::source::line_feeds(&text[start..end]) + 2;
        let window_start = line_offset(text, first);
        let window_end = line_offset(text, last_line + 1);
        let mut window = text[window_start..window_end].to_string();
        if window.ends_with('\n') {
            window.pop();
        }
        // Secrets never reach a terminal or a report through an excerpt; the lines before the
        // window, back to the start of its document, tell whether it is inside a Secret.
        let doc_start = text[..window_start].rfind("\n---").map_or(0, |i| i + 1);
        let before = &text[doc_start..window_start];
        // Only the lines from the last top-level key on shape the state; a Secret's `kind`
        // line may be anywhere above.
        let top = before
            .match_indices('\n')
            .rev()
            .map(|(i, _)| i + 1)
            .find(|&i| before[i..].starts_with(|c: char| c.is_alphanumeric() || c == '"'))
            .unwrap_or(0);
        let is_secret = before.contains("Secret")
            && before.lines().any(|l| {
                l.strip_prefix("kind:")
                    .is_some_and(|k| k.trim().trim_matches(['"', '\'']) == "Secret")
            });
        let context = format!(
            "{}{}",
            if is_secret { "kind: Secret\n" } else { "" },
            &before[top..]
        );
        let (window, r) = crate::secret::redact_lines(
            &context,
            &window,
            start.saturating_sub(window_start)..end.saturating_sub(window_start),
        );
        let r = char_range(&window, r);
        Excerpt {
            path: path.to_string(),
            text: window,
            line_start: first,
            range: r,
            label: label.to_string(),
            line,
            col,
        }
    }
}

/// One problem, with where it is, what was expected, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line, lowercase, values in backticks.
    pub message: String,
    /// The place in a file, when there is one.
    pub excerpt: Option<Excerpt>,
    /// Further facts ("caused by", "first set in").
    pub notes: Vec<String>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with no location yet.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            excerpt: None,
            notes: Vec::new(),
            help: None,
        }
    }

    /// Point at `loc` in one of `sources`.
    #[must_use]
    pub fn at(mut self, sources: &Sources, loc: Loc, label: &str) -> Diagnostic {
        let source = sources.get(loc.src);
        let mut range = loc.range();
        if range.end > source.text.len() || range.start > source.text.len() {
            range = 0..0;
        }
        if loc.len == 0 && loc.line > 1 && range.start == 0 {
            // Only line/column are known: find the byte offset from them.
            let line_start = line_offset(&source.text, loc.line as usize);
            let col = source.text[line_start..]
                .char_indices()
                .nth(loc.col.saturating_sub(1) as usize)
                .map_or(0, |(i, _)| i);
            range = (line_start + col)..(line_start + col);
        }
        self.excerpt = Some(Excerpt::from_text(&source.name, &source.text, range, label));
        self
    }

    /// Attach an excerpt built elsewhere.
    #[must_use]
    pub fn with_excerpt(mut self, excerpt: Excerpt) -> Diagnostic {
        self.excerpt = Some(excerpt);
        self
    }

    /// Add a note.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Say what to do.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// `path:line:col` of the problem, when it has one.
    #[must_use]
    pub fn location(&self) -> Option<String> {
        self.excerpt
            .as_ref()
            .map(|e| format!("{}:{}:{}", e.path, e.line, e.col))
    }
}

/// Render diagnostics for a terminal (`color`) or a log file (plain).
#[must_use]
pub fn render(diagnostics: &[Diagnostic], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    // A message may quote a value a template or a check saw; a value decrypted from a SOPS file
    // is hidden whatever produced the message.
    let hide = |t: &str| crate::secret::hide_decrypted(t).unwrap_or_else(|| t.to_string());
    let hidden: Vec<Diagnostic>;
    let diagnostics = if crate::secret::any_decrypted() {
        hidden = diagnostics
            .iter()
            .map(|d| Diagnostic {
                severity: d.severity,
                message: hide(&d.message),
                excerpt: d.excerpt.clone().map(|mut e| {
                    e.label = hide(&e.label);
                    e
                }),
                notes: d.notes.iter().map(|n| hide(n)).collect(),
                help: d.help.as_deref().map(hide),
            })
            .collect();
        &hidden
    } else {
        diagnostics
    };
    for d in diagnostics {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group = Group::with_title(level.primary_title(d.message.as_str()));
        if let Some(e) = &d.excerpt {
            group = group.element(
                AsSnippet::source(e.text.as_str())
                    .line_start(e.line_start)
                    .path(e.path.as_str())
                    .annotation(
                        AnnotationKind::Primary
                            .span(e.range.clone())
                            .label(e.label.as_str()),
                    ),
            );
        }
        for n in &d.notes {
            group = group.element(Level::NOTE.message(n.as_str()));
        }
        if let Some(h) = &d.help {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        let groups = [group];
        let _ = writeln!(out, "{}", renderer.render(&groups));
    }
    out
}

/// The closest candidate to `name` (edit distance at most a third of its length), for
/// "did you mean" hints.
#[must_use]
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_points_at_line_and_column() {
        let text = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n";
        let e = Excerpt::from_text("x.yaml", text, 15..16, "here");
        assert_eq!((e.line, e.col), (4, 1));
        assert_eq!(e.line_start, 2);
        assert_eq!(&e.text[e.range.clone()], "d");
    }

    #[test]
    fn did_you_mean_finds_close_names() {
        assert_eq!(did_you_mean("prdo", ["dev", "prod", "stage"]), Some("prod"));
        assert_eq!(did_you_mean("qa", ["dev", "prod"]), None);
    }
}
