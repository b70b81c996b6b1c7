//! Manifests read straight from the parser's events, without serde: the common shape of a
//! Kubernetes manifest (block and flow collections of untagged scalars) costs about half as much
//! this way, and manifests are what every render, check and lint reads most.
//!
//! It reads only what it is sure of, as [`super::parse_unlocated`] types it in the `Kube`
//! dialect: quoted and block scalars are strings, and plain ones that are plainly text, small
//! decimal integers or null. A plain scalar it is not sure of (`10.0.0.1`, `0755`, `yes`, `1e3`)
//! is typed by serde-saphyr on its own. Anything else (anchors, aliases, tags, complex keys, a
//! duplicate key, a syntax error, a document near serde-saphyr's limits) answers `None`, and the
//! caller reads the text with serde-saphyr, which gives the same tree or the error.

use granit_parser::{Event, Parser, ScalarStyle};

use super::{Dialect, Map, Node, Value, locate::loc_of};
use crate::source::Loc;

/// Seven eighths of the depth, nodes and documents (empty ones included) of one text that
/// serde-saphyr's budget allows, as kiln configures it: a text beyond them is left to
/// serde-saphyr, which refuses what breaches its budget.
pub(super) struct Limits {
    pub(super) depth: usize,
    pub(super) nodes: usize,
    pub(super) documents: usize,
}

pub(super) fn limits() -> &'static Limits {
    static LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();
    LIMITS.get_or_init(|| {
        let budget = super::options(Dialect::Kube).budget.unwrap_or_default();
        let margin = |n: usize| n / 8 * 7;
        Limits {
            depth: margin(budget.max_depth),
            nodes: margin(budget.max_nodes),
            documents: margin(budget.max_documents),
        }
    })
}

/// A collection being read.
enum Open {
    Seq(Vec<Node>),
    /// Entries, and the key read that waits for its value (with whether it was a string).
    Map(Map, Option<(String, bool)>),
}

/// The documents of `text` as `parse_stream_unlocated` reads them in the `Kube` dialect (each
/// document's root with its location, empty documents left out), or `None` (see the module):
/// line by line ([`super::lines`]) where that reader is sure, else from the parser's events.
pub(super) fn stream(text: &str) -> Option<Vec<Node>> {
    super::lines::stream(text).or_else(|| events(text))
}

/// [`stream`] from the parser's events alone.
pub(super) fn events(text: &str) -> Option<Vec<Node>> {
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut root_loc = Loc::default();
    let mut nodes = 0usize;
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        let done = match event {
            // Comments are not data.
            Event::StreamStart | Event::StreamEnd | Event::Comment(..) => continue,
            Event::DocumentStart(..) => {
                // Empty documents count too.
                documents += 1;
                if documents > limits().documents {
                    return None;
                }
                root = None;
                continue;
            }
            Event::DocumentEnd => {
                if let Some(doc) = root.take().filter(|d| d.value != Value::Null) {
                    docs.push(doc);
                }
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                Node::new(scalar(&value, style)?, Loc::default())
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                // A collection as a mapping key is left to serde-saphyr.
                let is_key = matches!(stack.last(), Some(Open::Map(_, None)));
                if anchor != 0 || tag.is_some() || is_key || stack.len() >= limits().depth {
                    return None;
                }
                if stack.is_empty() {
                    root_loc = loc_of(&span);
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Vec::new())
                } else {
                    Open::Map(Map::default(), None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop()? {
                Open::Seq(items) => Node::new(Value::Seq(items), Loc::default()),
                Open::Map(entries, None) => Node::new(Value::Map(entries), Loc::default()),
                Open::Map(_, Some(_)) => return None,
            },
            // Aliases, anchors and anything new go to serde-saphyr.
            _ => return None,
        };
        nodes += 1;
        if nodes > limits().nodes {
            return None;
        }
        let mut node = done;
        match stack.last_mut() {
            None => {
                node.loc = if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                    root_loc
                } else {
                    loc_of(&span)
                };
                node.key_loc = node.loc;
                root = Some(node);
            }
            Some(Open::Seq(items)) => items.push(node),
            Some(Open::Map(entries, pending)) => match pending.take() {
                None => *pending = Some(key(node.value)?),
                Some((k, was_string)) => {
                    if entries.contains_key(&k) || k == "<<" {
                        return None;
                    }
                    node.key_was_string = was_string;
                    entries.insert(k, node);
                }
            },
        }
    }
    stack.is_empty().then_some(docs)
}

/// A mapping key as serde-saphyr names it: its text, and whether it was a string.
pub(super) fn key(value: Value) -> Option<(String, bool)> {
    Some(match value {
        Value::Str(s) => (s, true),
        Value::Int(i) => (i.to_string(), false),
        Value::Bool(b) => (b.to_string(), false),
        Value::Float(f) => (f.to_string(), false),
        Value::Null => ("null".to_string(), false),
        Value::Seq(_) | Value::Map(_) => return None,
    })
}

/// An untagged scalar's value.
pub(super) fn scalar(value: &str, style: ScalarStyle) -> Option<Value> {
    if style != ScalarStyle::Plain {
        return Some(Value::Str(value.to_string()));
    }
    if matches!(value, "" | "~" | "null" | "Null" | "NULL") {
        return Some(Value::Null);
    }
    let bytes = value.as_bytes();
    let first = bytes[0];
    if first.is_ascii_digit() {
        if bytes.iter().all(u8::is_ascii_digit) && (first != b'0' || bytes.len() == 1) {
            if let Ok(i) = value.parse::<i64>() {
                return Some(Value::Int(i));
            }
        } else if bytes.iter().any(|b| !NUMBER_BYTES.contains(b)) {
            // `500m`, `256Mi`: no number has these bytes.
            return Some(Value::Str(value.to_string()));
        }
        return typed_by_serde_saphyr(value);
    }
    // After a sign or a point, a number needs a digit, a point, or `inf`/`nan` next.
    let maybe_number = matches!(first, b'+' | b'-' | b'.')
        && bytes.get(1).is_none_or(|b| {
            b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'i' | b'I' | b'n' | b'N')
        });
    let maybe_typed = maybe_number
        || first == b'$'
        || value.contains("${")
        || (value.len() <= 8
            && matches!(
                value.to_ascii_lowercase().as_str(),
                "y" | "yes"
                    | "n"
                    | "no"
                    | "true"
                    | "false"
                    | "on"
                    | "off"
                    | "nan"
                    | "inf"
                    | "infinity"
            ));
    if maybe_typed {
        return typed_by_serde_saphyr(value);
    }
    Some(Value::Str(value.to_string()))
}

/// Every byte a number of any form YAML 1.1 or 1.2 knows may hold (digits, signs, points,
/// exponents, radix prefixes and hex digits, underscores, sexagesimal colons).
const NUMBER_BYTES: &[u8] = b"0123456789+-._:eExXoObBaAcCdDfF";

/// A plain scalar typed by serde-saphyr alone, read as a document of its own (which types it
/// the same, as plain scalars are typed by their text only); `None` when it cannot be read so.
fn typed_by_serde_saphyr(value: &str) -> Option<Value> {
    let unsafe_alone =
        value.contains(['\n', '#', ':']) || value.starts_with("---") || value.starts_with("...");
    if unsafe_alone {
        return None;
    }
    super::parse_unlocated_by_serde(value, Dialect::Kube)
        .ok()
        .map(|n| n.value)
        .filter(|v| !matches!(v, Value::Seq(_) | Value::Map(_)))
}
