//! Editing one value in the text of a values file, keeping everything else byte for byte.
//!
//! `kiln set` writes through here: a value that is there already is replaced where it is written
//! (the located byte range of its scalar), so comments, key order, quoting style, flow mappings
//! and CRLF line ends stay; a key that is missing is added after the last entry of the deepest
//! mapping that exists, at that mapping's indentation (or inside its braces for a flow mapping).
//! The edited text is parsed again and must hold exactly the old values plus the new one, or the
//! edit is refused. This module does no I/O.

use crate::source::{Loc, SrcId};
use crate::values::set::{Seg, display_path};
use crate::yaml::Map;
use crate::yaml::{self, Dialect, Node, Value};

/// Why a value cannot be written into a file: the message, and the place in the file it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct EditError {
    /// What is wrong, lowercase, values in backticks.
    pub message: String,
    /// Where in the file, when it is about a place.
    pub at: Option<Loc>,
    /// What to do.
    pub help: Option<String>,
}

impl EditError {
    fn new(message: impl Into<String>, at: Option<Loc>, help: Option<&str>) -> EditError {
        EditError {
            message: message.into(),
            at,
            help: help.map(str::to_string),
        }
    }
}

/// The text of a new values file that holds only `path: value`.
pub fn new_file(path: &[Seg], value: &Value) -> Result<String, EditError> {
    let keys = keys_of(path, None)?;
    let mut out = String::new();
    for (depth, key) in keys.iter().enumerate() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&key_text(key));
        out.push(':');
        if depth + 1 == keys.len() {
            out.push(' ');
            out.push_str(&scalar_text(value, None));
        }
        out.push('\n');
    }
    Ok(out)
}

/// `text` (the values file parsed as `root`, source `src`) with `path` set to `value`.
pub fn set_in_text(
    text: &str,
    src: SrcId,
    root: &Node,
    path: &[Seg],
    value: &Value,
) -> Result<String, EditError> {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    // Walk down as far as the file goes.
    let mut node = root;
    let mut depth = 0;
    while depth < path.len() {
        let next = match (&path[depth], &node.value) {
            (Seg::Key(k), Value::Map(m)) => m.get(k),
            (Seg::Index(i), Value::Seq(items)) => {
                let found = items.get(*i);
                if found.is_none() {
                    return Err(EditError::new(
                        format!(
                            "`{}` has {} item(s); there is no item {i} to set",
                            display_path(&path[..depth]),
                            items.len()
                        ),
                        Some(node.key_loc),
                        Some(
                            "kiln set changes list items that exist; edit the list itself to add one",
                        ),
                    ));
                }
                found
            }
            (Seg::Index(_) | Seg::Key(_), Value::Null) => None,
            (Seg::Index(_), other) => {
                return Err(EditError::new(
                    format!(
                        "`{}` is a {}, not a list",
                        display_path(&path[..depth]),
                        other.type_name()
                    ),
                    Some(if matches!(other, Value::Map(_)) {
                        node.key_loc
                    } else {
                        node.loc
                    }),
                    Some("check the path with `kiln values SERVICE --env ENV`"),
                ));
            }
            (Seg::Key(_), other) => {
                return Err(EditError::new(
                    format!(
                        "`{}` is a {}, not a mapping, so it has no `{}`",
                        display_path(&path[..depth]),
                        other.type_name(),
                        display_path(&path[..=depth])
                    ),
                    Some(node.loc),
                    Some("set the value itself, or write the mapping by hand"),
                ));
            }
        };
        match next {
            Some(n) => {
                node = n;
                depth += 1;
            }
            None => break,
        }
    }
    let edited = if depth == path.len() {
        replace(text, node, value, path)?
    } else {
        add(text, root, node, &path[depth..], value, nl, path)?
    };
    verify(&edited, src, root, path, value)?;
    Ok(edited)
}

/// Replace the scalar `node` (found at `path`) with `value`.
fn replace(text: &str, node: &Node, value: &Value, path: &[Seg]) -> Result<String, EditError> {
    match &node.value {
        Value::Map(_) | Value::Seq(_) => {
            return Err(EditError::new(
                format!(
                    "`{}` is a {}; kiln set writes single values",
                    display_path(path),
                    node.type_name()
                ),
                Some(node.loc),
                Some("name one of its keys (`image.tag`), or edit the file by hand"),
            ));
        }
        _ => {}
    }
    let range = node.loc.range();
    let Some(old) = text.get(range.clone()) else {
        return Err(EditError::new(
            format!(
                "cannot find where `{}` is written in the file",
                display_path(path)
            ),
            Some(node.loc),
            None,
        ));
    };
    if is_block_scalar(text, node) {
        return Err(EditError::new(
            format!(
                "`{}` is written as a block scalar (`|` or `>`); kiln set replaces one-line values",
                display_path(path)
            ),
            Some(node.key_loc),
            Some("edit the file by hand"),
        ));
    }
    if old.is_empty() {
        // An empty value (`key:`) is a null written as nothing: the new value goes after the
        // colon.
        let at = after_colon(text, node).ok_or_else(|| {
            EditError::new(
                format!("cannot find where `{}` is written", display_path(path)),
                Some(node.loc),
                None,
            )
        })?;
        let mut out = text.to_string();
        out.insert_str(at, &format!(" {}", scalar_text(value, None)));
        return Ok(out);
    }
    let style = old.chars().next().filter(|c| *c == '"' || *c == '\'');
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..range.start]);
    out.push_str(&scalar_text(value, style));
    out.push_str(&text[range.end..]);
    Ok(out)
}

/// Add the missing keys `rest` (of `path`) under `node`, the deepest mapping that exists (or an
/// empty value, which becomes a flow mapping).
fn add(
    text: &str,
    root: &Node,
    node: &Node,
    rest: &[Seg],
    value: &Value,
    nl: &str,
    path: &[Seg],
) -> Result<String, EditError> {
    let keys = keys_of(rest, Some(node))?;
    let flow_value = || {
        let mut s = scalar_text(value, None);
        for k in keys[1..].iter().rev() {
            s = format!("{{{}: {s}}}", key_text(k));
        }
        format!("{}: {s}", key_text(keys[0]))
    };
    let mut out = text.to_string();
    match &node.value {
        Value::Null => {
            if node.loc.len != 0 {
                return Err(EditError::new(
                    format!(
                        "`{}` is `null` here, which removes it; kiln set does not add keys under it",
                        display_path(&path[..path.len() - rest.len()])
                    ),
                    Some(node.loc),
                    Some("replace the `null` with the keys by hand"),
                ));
            }
            let at = after_colon(text, node).ok_or_else(|| {
                EditError::new(
                    "cannot find where the value is written",
                    Some(node.loc),
                    None,
                )
            })?;
            out.insert_str(at, &format!(" {{{}}}", flow_value()));
        }
        Value::Map(m) if is_flow(text, node) => {
            let end = m
                .values()
                .map(|c| subtree_end(text, c))
                .max()
                .unwrap_or(node.loc.offset as usize + 1);
            let close = text[end..].find('}').map(|i| end + i).ok_or_else(|| {
                EditError::new(
                    "cannot find the end of the flow mapping",
                    Some(node.loc),
                    None,
                )
            })?;
            if m.is_empty() && std::ptr::eq(node, root) {
                // A file that is only `{}`: write block YAML in its place.
                let block = block_lines(&keys, value, 0, "  ", nl);
                let block = block.strip_suffix(nl).unwrap_or(&block).to_string();
                out.replace_range(node.loc.offset as usize..=close, &block);
            } else {
                let sep = if m.is_empty() { "" } else { ", " };
                // Right after the last entry, so a space or comment before `}` stays where it is.
                let at = if m.is_empty() { close } else { end };
                out.insert_str(at, &format!("{sep}{}", flow_value()));
            }
        }
        Value::Map(m) => {
            let indent = m
                .values()
                .next()
                .map_or(0, |first| first.key_loc.col.saturating_sub(1) as usize);
            let step = indent_step(root);
            let end = subtree_end(text, node);
            let insert_at = if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
                end
            } else {
                text[end..].find('\n').map_or(text.len(), |i| end + i + 1)
            };
            let mut block = block_lines(&keys, value, indent, &" ".repeat(step), nl);
            if insert_at == text.len() && !text.is_empty() && !text.ends_with('\n') {
                block = format!("{nl}{block}");
            }
            out.insert_str(insert_at, &block);
        }
        _ => unreachable_kind(node)?,
    }
    Ok(out)
}

fn unreachable_kind(node: &Node) -> Result<(), EditError> {
    Err(EditError::new(
        format!("cannot add keys to a {}", node.type_name()),
        Some(node.loc),
        None,
    ))
}

/// The keys of `rest`, which must all be keys (a list item is never created).
fn keys_of<'a>(rest: &'a [Seg], under: Option<&Node>) -> Result<Vec<&'a str>, EditError> {
    rest.iter()
        .map(|s| match s {
            Seg::Key(k) => Ok(k.as_str()),
            Seg::Index(_) => Err(EditError::new(
                "kiln set does not create lists or list items",
                under.map(|n| n.key_loc),
                Some("write the list by hand, then set its items with `list[0].key=...`"),
            )),
        })
        .collect()
}

/// `keys` nested as block mappings starting at `indent` columns, the last holding `value`.
fn block_lines(keys: &[&str], value: &Value, indent: usize, step: &str, nl: &str) -> String {
    let mut out = String::new();
    for (depth, key) in keys.iter().enumerate() {
        out.push_str(&" ".repeat(indent));
        out.push_str(&step.repeat(depth));
        out.push_str(&key_text(key));
        out.push(':');
        if depth + 1 == keys.len() {
            out.push(' ');
            out.push_str(&scalar_text(value, None));
        }
        out.push_str(nl);
    }
    out
}

/// The indentation step the file uses (the first nested block mapping's), or 2.
fn indent_step(root: &Node) -> usize {
    fn find(node: &Node) -> Option<usize> {
        let Value::Map(m) = &node.value else {
            return None;
        };
        for child in m.values() {
            if let Value::Map(cm) = &child.value
                && let Some(grand) = cm.values().next()
                && grand.key_loc.line > child.key_loc.line
                && grand.key_loc.col > child.key_loc.col
            {
                return Some((grand.key_loc.col - child.key_loc.col) as usize);
            }
            if let Some(s) = find(child) {
                return Some(s);
            }
        }
        None
    }
    find(root).unwrap_or(2)
}

/// Just past the `:` after the key of `node` (a value written as nothing), if it has a key.
fn after_colon(text: &str, node: &Node) -> Option<usize> {
    if node.key_loc == node.loc {
        return None;
    }
    let from = (node.key_loc.offset + node.key_loc.len) as usize;
    text.get(from..)?.find(':').map(|i| from + i + 1)
}

/// Whether a mapping is written in flow style (`{a: 1}`).
fn is_flow(text: &str, node: &Node) -> bool {
    text.as_bytes().get(node.loc.offset as usize) == Some(&b'{')
}

/// Whether a scalar is a block scalar: `|` or `>` after its key's colon.
fn is_block_scalar(text: &str, node: &Node) -> bool {
    if node.loc.line == node.key_loc.line {
        return false;
    }
    let from = (node.key_loc.offset + node.key_loc.len) as usize;
    let to = node.loc.offset as usize;
    text.get(from..to).is_some_and(|between| {
        let after_colon = between.split_once(':').map_or(between, |(_, r)| r);
        after_colon.trim_start().starts_with(['|', '>'])
    })
}

/// The byte offset just past the last thing written inside `node` (past the `}` or `]` of a
/// flow collection).
fn subtree_end(text: &str, node: &Node) -> usize {
    let own = (node.loc.offset + node.loc.len) as usize;
    let children_end = match &node.value {
        Value::Map(m) => m.values().map(|c| subtree_end(text, c)).max(),
        Value::Seq(items) => items.iter().map(|c| subtree_end(text, c)).max(),
        _ => None,
    };
    let mut end = own.max(children_end.unwrap_or(0));
    let close = match text.as_bytes().get(node.loc.offset as usize) {
        Some(b'{') => Some('}'),
        Some(b'[') => Some(']'),
        _ => None,
    };
    if let Some(close) = close
        && matches!(node.value, Value::Map(_) | Value::Seq(_))
        && let Some(i) = text[end..].find(close)
    {
        end += i + 1;
    }
    end.min(text.len())
}

/// A key as YAML: plain when that reads back as the same string, else double-quoted.
fn key_text(key: &str) -> String {
    scalar_text(&Value::Str(key.to_string()), None)
}

/// A scalar as YAML text that reads back as the same value both as YAML 1.2 (kiln's values) and
/// as YAML 1.1 (so `on`, `yes` and `0755` stay strings for any reader), in flow and block
/// context. `style` keeps the quote character of the value it replaces.
fn scalar_text(value: &Value, style: Option<char>) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => serde_json::to_string(f).unwrap_or_else(|_| f.to_string()),
        Value::Str(s) => {
            let one_line = !s.chars().any(char::is_control);
            match style {
                Some('\'') if one_line => format!("'{}'", s.replace('\'', "''")),
                Some('"') => double_quoted(s),
                _ if plain_ok(s) => s.clone(),
                _ => double_quoted(s),
            }
        }
        Value::Seq(_) | Value::Map(_) => double_quoted(""),
    }
}

fn double_quoted(s: &str) -> String {
    // A JSON string is a YAML double-quoted scalar: every JSON escape is a YAML escape.
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Whether `s` may be written plain: safe characters only, and read back as the same string by
/// both YAML dialects.
fn plain_ok(s: &str) -> bool {
    let safe = !s.is_empty()
        && s.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | '+' | ':' | '=')
        })
        && s.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '/')
        && !s.ends_with(':');
    safe && [Dialect::Values, Dialect::Kube].into_iter().all(|d| {
        yaml::parse_unlocated(&format!("k: {s}"), d)
            .ok()
            .and_then(|n| n.get("k").map(|v| v.value == Value::Str(s.to_string())))
            .unwrap_or(false)
    })
}

/// The edited text must parse to the old values with `path` set to `value`, nothing else.
fn verify(
    edited: &str,
    src: SrcId,
    root: &Node,
    path: &[Seg],
    value: &Value,
) -> Result<(), EditError> {
    let failed = |why: &str| {
        EditError::new(
            format!(
                "kiln set cannot write `{}` into this file safely: {why}",
                display_path(path)
            ),
            None,
            Some("edit the file by hand; nothing was written"),
        )
    };
    let new_tree = yaml::parse(edited, src, Dialect::Values)
        .map_err(|_| failed("the result would not parse"))?;
    let mut expected = root.clone();
    put(&mut expected, path, value);
    let (a, b) = (yaml::emit(&expected), yaml::emit(&new_tree));
    match (a, b) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        _ => Err(failed("the result would change other values")),
    }
}

/// Set `path` to `value` in a tree, creating mappings on the way (keeping an explicit null).
fn put(root: &mut Node, path: &[Seg], value: &Value) {
    let mut node = root;
    for seg in path {
        if node.value == Value::Null {
            node.value = Value::Map(Map::default());
        }
        node = match (seg, &mut node.value) {
            (Seg::Key(k), Value::Map(m)) => m
                .entry(k.clone())
                .or_insert_with(|| Node::new(Value::Null, Loc::default())),
            (Seg::Index(i), Value::Seq(items)) if *i < items.len() => &mut items[*i],
            _ => return,
        };
    }
    node.value = value.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::set::parse_path;

    #[allow(clippy::needless_pass_by_value)] // reads better at the call sites
    fn set(text: &str, path: &str, value: Value) -> Result<String, String> {
        let root = yaml::parse(text, 0, Dialect::Values).unwrap();
        set_in_text(text, 0, &root, &parse_path(path).unwrap(), &value).map_err(|e| e.message)
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn replaces_in_place_keeping_everything_else() {
        let text = "# 镜像\nimage:\n  repository: reg/app   # 仓库\n  tag: '1.0'  # 版本\nflow: {a: 1, b: \"x\"}\n";
        assert_eq!(
            set(text, "image.tag", s("1.1")).unwrap(),
            text.replace("'1.0'", "'1.1'")
        );
        assert_eq!(
            set(text, "flow.b", s("on")).unwrap(),
            text.replace("\"x\"", "\"on\"")
        );
        assert_eq!(
            set(text, "flow.a", Value::Int(2)).unwrap(),
            text.replace("a: 1", "a: 2")
        );
        assert_eq!(
            set(text, "image.repository", s("reg/app2")).unwrap(),
            text.replace("reg/app ", "reg/app2 ")
        );
        let crlf = "a: 1\r\nb:\r\n  c: x\r\n";
        assert_eq!(
            set(crlf, "b.c", s("z")).unwrap(),
            "a: 1\r\nb:\r\n  c: z\r\n"
        );
        assert_eq!(
            set(crlf, "b.d", s("on")).unwrap(),
            "a: 1\r\nb:\r\n  c: x\r\n  d: \"on\"\r\n"
        );
    }

    #[test]
    fn adds_missing_keys_at_the_right_indentation() {
        let text = "image:\n    repository: reg/app\nreplicas: 2\n# end\n";
        assert_eq!(
            set(text, "image.tag", s("1.0.3")).unwrap(),
            "image:\n    repository: reg/app\n    tag: 1.0.3\nreplicas: 2\n# end\n"
        );
        assert_eq!(
            set(text, "resources.limits.cpu", s("500m")).unwrap(),
            "image:\n    repository: reg/app\nreplicas: 2\nresources:\n    limits:\n        cpu: 500m\n# end\n"
        );
        assert_eq!(
            set("a: {b: 1}\n", "a.c.d", Value::Bool(true)).unwrap(),
            "a: {b: 1, c: {d: true}}\n"
        );
        assert_eq!(set("{}\n", "a.b", s("yes")).unwrap(), "a:\n  b: \"yes\"\n");
        assert_eq!(set("a: 1", "b", s("x")).unwrap(), "a: 1\nb: x\n");
        assert_eq!(
            set("a:\nb: 1\n", "a.c", s("x")).unwrap(),
            "a: {c: x}\nb: 1\n"
        );
        assert_eq!(
            set("l:\n  - n: 1\n  - n: 2\n", "l[1].m", s("x")).unwrap(),
            "l:\n  - n: 1\n  - n: 2\n    m: x\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_write_faithfully() {
        for (text, path, want) in [
            ("image: x\n", "image.tag", "is a string, not a mapping"),
            (
                "image: {tag: 1}\n",
                "image",
                "kiln set writes single values",
            ),
            ("l: [1]\n", "l[3]", "no item 3"),
            ("a: 1\n", "l[0]", "does not create lists"),
            ("a: {b: 1}\n", "a[0]", "`a` is a mapping, not a list"),
            ("b: |\n  x\n", "b", "block scalar"),
            ("a: null\n", "a.b", "is `null` here"),
        ] {
            let err = set(text, path, s("v")).unwrap_err();
            assert!(err.contains(want), "{text:?} {path}: {err}");
        }
    }

    #[test]
    fn scalars_read_back_as_typed() {
        for v in [
            "on", "yes", "1.10", "0755", "", "a: b", "x,y", "#x", "- a", "null", "~", "中文",
            "it's", "a\nb", "{a}", "1e3", "@x",
        ] {
            let t = scalar_text(&s(v), None);
            for d in [Dialect::Values, Dialect::Kube] {
                let n = yaml::parse_unlocated(&format!("k: {t}\nf: {{k: {t}}}\n"), d).unwrap();
                assert_eq!(n.get("k").unwrap().value, s(v), "{v:?} as {t}");
                assert_eq!(n.get("f").unwrap().get("k").unwrap().value, s(v), "{v:?}");
            }
        }
        assert_eq!(scalar_text(&s("1.4.2"), None), "1.4.2");
        assert_eq!(scalar_text(&s("reg.io/app:1.2"), None), "reg.io/app:1.2");
    }

    #[test]
    fn new_files() {
        assert_eq!(
            new_file(&parse_path("image.tag").unwrap(), &s("1.0")).unwrap(),
            "image:\n  tag: \"1.0\"\n"
        );
    }
}
