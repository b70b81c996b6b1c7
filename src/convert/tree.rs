//! Small edits of `Node` trees that the migrations share.

use crate::yaml::Map;

use crate::source::Loc;
use crate::yaml::{Node, Value};

pub(super) fn node(value: Value) -> Node {
    Node::new(value, Loc::default())
}

pub(super) fn s(v: &str) -> Node {
    node(Value::Str(v.to_string()))
}

pub(super) fn seq(items: Vec<Node>) -> Node {
    node(Value::Seq(items))
}

pub(super) fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    node(Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    ))
}

pub(super) fn map_mut(n: &mut Node) -> Option<&mut Map> {
    match &mut n.value {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

pub(super) fn seq_mut(n: &mut Node) -> Option<&mut Vec<Node>> {
    match &mut n.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }
}

/// The mapping at `key` of a mapping node.
pub(super) fn child_map<'a>(n: &'a mut Node, key: &str) -> Option<&'a mut Map> {
    map_mut(n)?.get_mut(key).and_then(map_mut)
}

pub(super) fn is_true(m: &Map, key: &str) -> bool {
    m.get(key).is_some_and(|n| n.value == Value::Bool(true))
}

/// Rename a key where it stands.
pub(super) fn rename_key(m: &mut Map, old: &str, new: &str) -> bool {
    let Some(i) = m.get_index_of(old) else {
        return false;
    };
    let Some((_, v)) = m.shift_remove_index(i) else {
        return false;
    };
    m.shift_insert(i.min(m.len()), new.to_string(), v);
    true
}

/// Insert `key` just before the first of `before` present, else at the end.
pub(super) fn insert_before(m: &mut Map, before: &[&str], key: &str, value: Node) {
    match before.iter().find_map(|b| m.get_index_of(*b)) {
        Some(i) => {
            m.shift_insert(i, key.to_string(), value);
        }
        None => {
            m.insert(key.to_string(), value);
        }
    }
}

/// Insert `key` just after `after` when present, else first.
pub(super) fn insert_after(m: &mut Map, after: &str, key: &str, value: Node) {
    let i = m.get_index_of(after).map_or(0, |i| i + 1);
    m.shift_insert(i.min(m.len()), key.to_string(), value);
}
