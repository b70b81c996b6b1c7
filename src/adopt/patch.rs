//! Patches for what a fitted built-in set renders differently from the input: RFC 6902
//! operations per object (`patches:` entries by kind and name), a few at most.

use super::fit::{map_node, put, seq_node, str_node};
use super::read::Object;
use crate::yaml::{Node, Value};

/// The most JSON-patch operations an instance may need to still count as fitted.
pub const MAX_PATCH_OPS: usize = 8;

/// Compare an instance's rendered objects with the input: the identities of the input objects
/// they reproduce and the `patches:` entries (RFC 6902, by kind and name) that make every
/// rendered object equal its input, or none when an object is rendered that the input does not
/// have or more than [`MAX_PATCH_OPS`] operations would be needed.
#[must_use]
pub fn compare(
    rendered: &[Node],
    input: &[&Object],
) -> Option<(Vec<crate::manifest::ResourceId>, Vec<Node>)> {
    let mut covered = Vec::new();
    let mut patches = Vec::new();
    let mut ops_total = 0;
    for r in rendered {
        let id = crate::manifest::ResourceId::of(r).ok()?;
        let o = input.iter().find(|o| o.id == id)?;
        let (r, i) = (super::factor::plain(r), super::factor::plain(&o.doc));
        if r != i {
            let mut ops = Vec::new();
            diff(&r, &i, &mut String::new(), &mut ops);
            ops_total += ops.len();
            if ops_total > MAX_PATCH_OPS {
                return None;
            }
            let mut p = map_node();
            put(&mut p, &["target", "kind"], str_node(&id.kind));
            put(&mut p, &["target", "name"], str_node(&id.name));
            put(&mut p, &["json"], seq_node(ops));
            patches.push(p);
        }
        covered.push(id);
    }
    Some((covered, patches))
}

/// RFC 6902 operations turning `from` into `to` (mappings key by key, lists of equal length
/// item by item, anything else replaced).
fn diff(from: &Node, to: &Node, path: &mut String, ops: &mut Vec<Node>) {
    let op = |name: &str, path: &str, value: Option<&Node>| {
        let mut o = map_node();
        put(&mut o, &["op"], str_node(name));
        put(&mut o, &["path"], str_node(path));
        if let Some(v) = value {
            put(&mut o, &["value"], v.clone());
        }
        o
    };
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match (&from.value, &to.value) {
        (Value::Map(a), Value::Map(b)) if !path.is_empty() || !a.is_empty() => {
            for (k, v) in a {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(k));
                match b.get(k) {
                    Some(w) => diff(v, w, path, ops),
                    None => ops.push(op("remove", path, None)),
                }
                path.truncate(len);
            }
            for (k, w) in b {
                if !a.contains_key(k) {
                    ops.push(op("add", &format!("{path}/{}", escape(k)), Some(w)));
                }
            }
        }
        (Value::Seq(a), Value::Seq(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                diff(v, w, path, ops);
                path.truncate(len);
            }
        }
        _ if from == to => {}
        _ => ops.push(op("replace", path, Some(to))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::factor::tests::yaml;
    use super::super::fit::seq;
    use super::*;

    #[test]
    fn differences_become_json_patch_operations_or_no_fit() {
        let input = Object {
            id: crate::manifest::ResourceId::of(&yaml(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}",
            ))
            .unwrap(),
            doc: yaml(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {x: y}}\ndata: {k: v, new: m}\n",
            ),
            instance: "a".into(),
        };
        let rendered =
            yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w, old: o}\n");
        let (covered, patches) = compare(&[rendered], &[&input]).unwrap();
        assert_eq!(covered, std::slice::from_ref(&input.id));
        let ops: Vec<String> = seq(patches[0].get("json"))
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o.get_str("op").unwrap(),
                    o.get_str("path").unwrap()
                )
            })
            .collect();
        assert_eq!(
            ops,
            [
                "add /metadata/labels",
                "replace /data/k",
                "remove /data/old",
                "add /data/new"
            ]
        );
        // An object the input does not have cannot be patched away.
        let other = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n");
        assert!(compare(&[other], &[&input]).is_none());
    }

    #[test]
    fn equal_objects_need_no_patch() {
        let a = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: [1, 2]}\n");
        let mut ops = Vec::new();
        diff(&a, &a, &mut String::new(), &mut ops);
        assert!(ops.is_empty());
    }
}
