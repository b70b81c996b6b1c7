//! `--set`, `--set-string` and `--set-json`: parse `PATH=VALUE` and apply it to merged values.
//!
//! Paths are `a.b.c` and `a.list[2].b`; `\.` escapes a dot inside a key. One assignment per flag:
//! unlike Helm, commas are part of the value, so `--set hosts=a,b` sets the string `a,b`.
//! `--set` types only integers, `true`/`false` and `null`; everything else is a string, so
//! `1.10`, `0755`, `yes` and `20161216e3` arrive exactly as typed.

use std::fmt::Write as _;

use crate::yaml::Map;

use crate::diagnostic::Diagnostic;
use crate::source::{Loc, Sources, SrcId};
use crate::yaml::{Node, Value};

/// One `--set`-family flag, in command-line order across the three flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFlag {
    /// Which flag.
    pub kind: SetKind,
    /// `PATH=VALUE` as typed.
    pub text: String,
}

/// How a `--set` value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// `--set`: integers, booleans and null typed, the rest strings.
    Auto,
    /// `--set-string`.
    String,
    /// `--set-json`.
    Json,
}

impl SetKind {
    /// The flag's name.
    #[must_use]
    pub fn flag(self) -> &'static str {
        match self {
            SetKind::Auto => "--set",
            SetKind::String => "--set-string",
            SetKind::Json => "--set-json",
        }
    }
}

/// One step of a `--set` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A parsed `--set` flag.
#[derive(Debug, Clone)]
pub struct SetOp {
    /// Where to set.
    pub path: Vec<Seg>,
    /// What to set (`Null` deletes).
    pub value: Node,
    /// The pseudo-source `--set #n` the flag is recorded under.
    pub src: SrcId,
}

/// Parse every flag, recording each as a source named `--set #n` for provenance.
pub fn parse_all(flags: &[SetFlag], sources: &mut Sources) -> Result<Vec<SetOp>, Diagnostic> {
    let mut ops = Vec::new();
    for (i, flag) in flags.iter().enumerate() {
        let src = sources.add(
            format!("{} #{}", flag.kind.flag(), i + 1),
            flag.text.clone(),
        );
        ops.push(parse_one(flag, src).map_err(|(msg, at)| {
            let loc = Loc {
                src,
                line: 1,
                col: 1 + u32::try_from(at).unwrap_or(0),
                offset: u32::try_from(at).unwrap_or(0),
                len: 1,
            };
            Diagnostic::error(format!(
                "malformed `{} {}`: {msg}",
                flag.kind.flag(),
                flag.text
            ))
            .at(sources, loc, msg)
            .help("write PATH=VALUE, e.g. `--set image.tag=1.4.2` or `--set ports[0].port=8080`")
        })?);
    }
    Ok(ops)
}

/// Parse one `PATH=VALUE`, or say what is wrong and at which byte of the text.
pub fn parse_one(flag: &SetFlag, src: SrcId) -> Result<SetOp, (&'static str, usize)> {
    let (path_text, value_text) =
        split_assignment(&flag.text).ok_or(("no `=` after the path", flag.text.len()))?;
    let path = parse_path(path_text)?;
    let loc = Loc {
        src,
        line: 1,
        col: 1,
        offset: 0,
        len: u32::try_from(flag.text.len()).unwrap_or(0),
    };
    let value = match flag.kind {
        SetKind::String => Value::Str(value_text.to_string()),
        SetKind::Auto => auto_type(value_text),
        SetKind::Json => {
            let json: serde_json::Value = serde_json::from_str(value_text)
                .map_err(|_| ("the value is not valid JSON", path_text.len() + 1))?;
            return Ok(SetOp {
                path,
                value: from_json(&json, loc),
                src,
            });
        }
    };
    Ok(SetOp {
        path,
        value: Node::new(value, loc),
        src,
    })
}

/// Split at the first `=` that is not escaped with a backslash.
fn split_assignment(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' => return Some((&text[..i], &text[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// The node at `path` in `root`, if there is one.
#[must_use]
pub fn lookup<'a>(root: &'a Node, path: &[Seg]) -> Option<&'a Node> {
    path.iter()
        .try_fold(root, |node, seg| match (seg, &node.value) {
            (Seg::Key(k), Value::Map(m)) => m.get(k),
            (Seg::Index(i), Value::Seq(items)) => items.get(*i),
            _ => None,
        })
}

/// Parse a values path: `a.b[2].c`, with `\\.` for a dot inside a key.
pub fn parse_path(text: &str) -> Result<Vec<Seg>, (&'static str, usize)> {
    let mut segs = Vec::new();
    let mut key = String::new();
    let mut chars = text.char_indices().peekable();
    let mut after_index = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => key.push(e),
                None => return Err(("dangling `\\` at the end of the path", i)),
            },
            '.' => {
                if key.is_empty() && !after_index {
                    return Err(("empty key in the path", i));
                }
                if !key.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut key)));
                }
                after_index = false;
            }
            '[' => {
                if !key.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut key)));
                }
                if segs.is_empty() {
                    return Err(("a path must start with a key", i));
                }
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some((_, ']')) => break,
                        Some((_, d)) if d.is_ascii_digit() => digits.push(d),
                        Some((j, _)) => {
                            return Err(("a list index must be a number: `list[2]`", j));
                        }
                        None => return Err(("unclosed `[`", i)),
                    }
                }
                let index = digits
                    .parse()
                    .map_err(|_| ("a list index must be a number: `list[2]`", i))?;
                segs.push(Seg::Index(index));
                after_index = true;
            }
            _ => {
                if after_index {
                    return Err(("expected `.` or `[` after `]`", i));
                }
                key.push(c);
            }
        }
    }
    if !key.is_empty() {
        segs.push(Seg::Key(key));
    } else if !after_index {
        return Err(("empty key in the path", text.len()));
    }
    if segs.len() > 64 {
        return Err(("the path is deeper than 64 levels", 0));
    }
    Ok(segs)
}

/// `--set` typing: integers, booleans and null; everything else stays the text typed.
fn auto_type(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        "null" => return Value::Null,
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match text.parse::<i64>() {
        Ok(i) if canonical => Value::Int(i),
        _ => Value::Str(text.to_string()),
    }
}

/// A JSON value as a node located at `loc`.
#[must_use]
pub fn from_json(json: &serde_json::Value, loc: Loc) -> Node {
    let value = match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::Seq(a.iter().map(|j| from_json(j, loc)).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), from_json(v, loc)))
                .collect::<Map>(),
        ),
    };
    Node::new(value, loc)
}

/// Apply one `--set` to merged values. Fails when the path runs into a value that is neither a
/// mapping nor a list (say `image.tag` when `image` is a string), naming where that was set.
pub fn apply(root: &mut Node, op: &SetOp) -> Result<(), (String, Loc)> {
    let mut node = root;
    let last = op.path.len() - 1;
    for (i, seg) in op.path.iter().enumerate() {
        let is_last = i == last;
        match seg {
            Seg::Key(k) => {
                if node.value == Value::Null {
                    node.value = Value::Map(Map::default());
                }
                let (type_name, at) = (node.value.type_name(), node.loc);
                let Value::Map(map) = &mut node.value else {
                    return Err((
                        format!(
                            "`{}` is a {type_name}, not a mapping",
                            display_path(&op.path[..i])
                        ),
                        at,
                    ));
                };
                if is_last {
                    if op.value.value == Value::Null {
                        map.shift_remove(k);
                    } else {
                        map.insert(k.clone(), super::merge::without_nulls(&op.value));
                    }
                    return Ok(());
                }
                node = map
                    .entry(k.clone())
                    .or_insert_with(|| Node::new(Value::Null, op.value.loc));
            }
            Seg::Index(idx) => {
                if node.value == Value::Null {
                    node.value = Value::Seq(Vec::new());
                }
                let (type_name, at) = (node.value.type_name(), node.loc);
                let Value::Seq(items) = &mut node.value else {
                    return Err((
                        format!(
                            "`{}` is a {type_name}, not a list",
                            display_path(&op.path[..i])
                        ),
                        at,
                    ));
                };
                if *idx > items.len() + 1000 {
                    return Err((
                        format!(
                            "index {idx} is far past the end of `{}`",
                            display_path(&op.path[..i])
                        ),
                        at,
                    ));
                }
                while items.len() <= *idx {
                    items.push(Node::new(Value::Null, op.value.loc));
                }
                if is_last {
                    items[*idx] = super::merge::without_nulls(&op.value);
                    return Ok(());
                }
                node = &mut items[*idx];
            }
        }
    }
    Ok(())
}

/// `a.b[2].c` for messages.
#[must_use]
pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, emit, parse};

    fn flag(kind: SetKind, text: &str) -> SetFlag {
        SetFlag {
            kind,
            text: text.to_string(),
        }
    }

    fn set(base: &str, flags: &[SetFlag]) -> Result<String, String> {
        let mut sources = Sources::default();
        let mut root = parse(base, 0, Dialect::Values).unwrap();
        for op in parse_all(flags, &mut sources).map_err(|d| d.message)? {
            apply(&mut root, &op).map_err(|(m, _)| m)?;
        }
        Ok(emit(&root).unwrap())
    }

    #[test]
    fn auto_typing_keeps_look_alikes_as_strings() {
        let cases = [
            ("1", Value::Int(1)),
            ("-7", Value::Int(-7)),
            ("0", Value::Int(0)),
            ("true", Value::Bool(true)),
            ("null", Value::Null),
            ("1.10", Value::Str("1.10".into())),
            ("0755", Value::Str("0755".into())),
            ("yes", Value::Str("yes".into())),
            ("20161216e3", Value::Str("20161216e3".into())),
            ("", Value::Str(String::new())),
            (
                "99999999999999999999",
                Value::Str("99999999999999999999".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(auto_type(text), want, "{text}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("a.b").unwrap(),
            [Seg::Key("a".into()), Seg::Key("b".into())]
        );
        assert_eq!(
            parse_path("a.l[2].b").unwrap(),
            [
                Seg::Key("a".into()),
                Seg::Key("l".into()),
                Seg::Index(2),
                Seg::Key("b".into())
            ]
        );
        assert_eq!(
            parse_path(r"ann.kubernetes\.io/x").unwrap(),
            [Seg::Key("ann".into()), Seg::Key("kubernetes.io/x".into())]
        );
        for bad in ["", "a..b", ".a", "a.", "[1]", "a[x]", "a[1", "a[1]b"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn applying_sets() {
        let auto = |t: &str| flag(SetKind::Auto, t);
        assert_eq!(
            set("a: {b: 1}", &[auto("a.c=2")]).unwrap(),
            "a:\n  b: 1\n  c: 2\n"
        );
        assert_eq!(set("a: {b: 1}", &[auto("a.b=null")]).unwrap(), "a: {}\n");
        assert_eq!(
            set("l: [{n: 1}, {n: 2}]", &[auto("l[1].n=5")]).unwrap(),
            "l:\n- \"n\": 1\n- \"n\": 5\n"
        );
        assert_eq!(set("{}", &[auto("v=1.10")]).unwrap(), "v: \"1.10\"\n");
        assert_eq!(
            set("{}", &[flag(SetKind::String, "v=1")]).unwrap(),
            "v: \"1\"\n"
        );
        assert_eq!(
            set("{}", &[flag(SetKind::Json, "v=[1,{\"a\":true}]")]).unwrap(),
            "v:\n- 1\n- a: true\n"
        );
        assert_eq!(set("{}", &[auto("hosts=a,b")]).unwrap(), "hosts: a,b\n");
        assert!(
            set("image: x", &[auto("image.tag=1")])
                .unwrap_err()
                .contains("`image` is a string")
        );
        assert!(
            set("{}", &[auto("novalue")])
                .unwrap_err()
                .contains("no `=`")
        );
        assert!(
            set("{}", &[flag(SetKind::Json, "a={")])
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
