//! YAML-safe interpolation, and the load-time check that keeps it safe.
//!
//! In a `*.yaml.j2` template every `{{ x }}` is written as JSON (minijinja's JSON auto-escape):
//! a string becomes a double-quoted scalar that cannot change type or break the document,
//! numbers, booleans and null stay themselves, maps and lists become flow collections. That is
//! only safe when the expression stands alone as a YAML value, so templates that wrap an
//! expression in quotes (`"{{ x }}"`) or glue it to other text (`{{ x }}-config`) are refused
//! at load time, with the fix: build the string inside the expression, `{{ x ~ "-config" }}`.

use std::fmt::Write as _;

use minijinja::value::Value;
use minijinja::{AutoEscape, Error, Output, State};

use super::budget;

/// The escaping for a template name: JSON (YAML-safe) for every template except `*.txt.j2`.
#[must_use]
pub fn auto_escape_for(name: &str) -> AutoEscape {
    if name.ends_with(".txt.j2") {
        AutoEscape::None
    } else {
        AutoEscape::Json
    }
}

/// The formatter for `{{ x }}`: minijinja's JSON escaping, after measuring the value against the
/// size budget, with characters YAML cannot carry literally (C1 controls, U+FFFE, U+FFFF, ...)
/// written as `\uXXXX` escapes, which JSON and YAML double-quoted strings both read back.
pub fn yaml_formatter(
    out: &mut Output<'_>,
    state: &mut State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    if *state.auto_escape() != AutoEscape::Json || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    if !budget::measure(value, "the printed value")?.unprintable {
        return minijinja::escape_formatter(out, state, value);
    }
    let json = serde_json::to_string(value).map_err(|e| {
        Error::new(minijinja::ErrorKind::BadSerialization, "cannot print value").with_source(e)
    })?;
    out.write_str(&escape_unprintable(&json))?;
    Ok(())
}

/// `text` (JSON) with every character YAML cannot carry written as a `\uXXXX` escape.
#[must_use]
pub fn escape_unprintable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if crate::yaml::needs_escape(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An interpolation that would break YAML-safe output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misuse {
    /// Byte range of the offending `{{ ... }}` including surrounding quote/glued text.
    pub range: std::ops::Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to write it instead.
    pub help: String,
}

/// Find expressions wrapped in quotes or glued to text in a template's source.
#[must_use]
pub fn find_misuse(source: &str) -> Vec<Misuse> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = source[i..].find(['{']) {
        let start = i + rel;
        let rest = &source[start..];
        if rest.starts_with("{#") {
            i = rest.find("#}").map_or(source.len(), |e| start + e + 2);
            continue;
        }
        if let Some(body) = rest.strip_prefix("{%") {
            // An unclosed tag runs to the end (minijinja reports it).
            let (body_end, end) = body.find("%}").map_or((source.len(), source.len()), |e| {
                (start + 2 + e, start + 2 + e + 2)
            });
            let tag = source[start + 2..body_end].trim_matches(['-', '+', ' ', '\t', '\n']);
            if tag == "raw" {
                i = source[end..]
                    .find("endraw")
                    .map_or(source.len(), |e| end + e);
            } else {
                i = end;
            }
            continue;
        }
        if !rest.starts_with("{{") {
            i = start + 1;
            continue;
        }
        let Some(close) = rest.find("}}") else { break };
        let end = start + close + 2;
        let expr = source[start + 2..end - 2].trim_matches(['-', '+', ' ', '\t']);
        let before = source[..start].chars().next_back();
        let after = source[end..].chars().next();
        let fix_quoted = format!(
            "remove the quotes: `{{{{ {expr} }}}}` is already written as a quoted YAML string"
        );
        match (before, after) {
            (Some(q @ ('"' | '\'')), _) => out.push(Misuse {
                range: start - 1..end + usize::from(after == Some(q)),
                message: format!("expression `{{{{ {expr} }}}}` is wrapped in quotes"),
                help: format!("{fix_quoted}; to build a longer string, join it in the expression: `{{{{ \"prefix-\" ~ {expr} }}}}`"),
            }),
            (Some(b), _) if glued_before(b) => out.push(Misuse {
                range: line_start(source, start)..end,
                message: format!("expression `{{{{ {expr} }}}}` is glued to the text before it"),
                help: format!("build the whole string in the expression: `{{{{ \"...{b}\" ~ {expr} }}}}`"),
            }),
            (_, Some(a)) if glued_after(a, &source[end..]) => out.push(Misuse {
                range: start..line_end(source, end),
                message: format!("expression `{{{{ {expr} }}}}` is glued to the text after it"),
                help: format!("build the whole string in the expression: `{{{{ {expr} ~ \"{a}...\" }}}}`"),
            }),
            _ => {}
        }
        i = end;
    }
    out
}

fn glued_before(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '[' | '{' | ',' | '(' | '}' | ']'))
}

fn glued_after(c: char, rest: &str) -> bool {
    if c.is_whitespace() || matches!(c, ',' | ']' | '}' | '{' | ')') {
        return false;
    }
    if c == ':' {
        // `{{ key }}: value` makes a mapping key; `{{ a }}:{{ b }}` glues.
        return !rest[1..].starts_with([' ', '\t', '\n', '\r']) && rest.len() > 1;
    }
    true
}

fn line_start(s: &str, at: usize) -> usize {
    s[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(s: &str, at: usize) -> usize {
    s[at..].find('\n').map_or(s.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_expressions_pass() {
        for ok in [
            "a: {{ x }}\n",
            "- {{ x }}\n",
            "l: [{{ a }}, {{ b }}]\n",
            "{{ k }}: {{ v }}\n",
            "m: {a: {{ x }}}\n",
            "{% if x %}\na: 1\n{% endif %}\n",
            "{# \"{{ x }}\" #}\n",
            "{% raw %}\"{{ x }}\"{% endraw %}\n",
            "a: {{ x }}",
            "{%- for i in l %}\n- {{ i }}\n{%- endfor %}",
        ] {
            assert_eq!(find_misuse(ok), vec![], "{ok}");
        }
    }

    #[test]
    fn unclosed_tags_are_left_to_the_engine() {
        // Found by the fuzz harness: the end of an unclosed tag fell inside `）`.
        for text in [
            "{%板）",
            "{%}",
            "{%",
            "{% raw",
            "{% raw %}{{ x }}",
            "a: {%- 中文",
        ] {
            assert_eq!(find_misuse(text), vec![], "{text}");
        }
    }

    #[test]
    fn quoted_and_glued_expressions_are_found() {
        for (bad, what) in [
            ("a: \"{{ x }}\"\n", "quotes"),
            ("a: '{{ x }}'\n", "quotes"),
            ("a: \"v{{ x }}\"\n", "glued"),
            ("name: {{ x }}-config\n", "after"),
            ("image: {{ repo }}:{{ tag }}\n", "after"),
            ("- --port={{ p }}\n", "before"),
            ("path: /var/log/{{ s }}\n", "before"),
        ] {
            let found = find_misuse(bad);
            assert!(!found.is_empty(), "{bad}");
            assert!(
                found[0].message.contains(what) || what == "glued",
                "{bad}: {}",
                found[0].message
            );
        }
    }
}
