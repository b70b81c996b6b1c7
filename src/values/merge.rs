//! The merge rule, in one place: maps deep-merge, lists and scalars replace, an explicit `null`
//! deletes the key.
//!
//! The rule is the same for every layer, so a `null` in `values/envs/prod.yaml` removes a key set
//! in `values/defaults.yaml`, and a `null` in the lowest layer simply leaves the key out.

use crate::yaml::{Node, Value};

/// Merge `over` into `base`. Locations travel with the nodes, so the result still says where
/// every leaf was set.
pub fn merge(base: &mut Node, over: &Node) {
    match (&mut base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (key, value) in o {
                if value.value == Value::Null {
                    b.shift_remove(key);
                } else if let Some(existing) = b.get_mut(key) {
                    merge(existing, value);
                } else {
                    b.insert(key.clone(), without_nulls(value));
                }
            }
        }
        _ => *base = without_nulls(over),
    }
}

/// A copy of `node` whose mappings hold no `null` values (deleting what is not there yet).
#[must_use]
pub fn without_nulls(node: &Node) -> Node {
    match &node.value {
        Value::Map(m) => {
            let mut copy = node.clone();
            if let Value::Map(c) = &mut copy.value {
                c.clear();
                for (k, v) in m {
                    if v.value != Value::Null {
                        c.insert(k.clone(), without_nulls(v));
                    }
                }
            }
            copy
        }
        Value::Seq(items) => {
            let mut copy = node.clone();
            copy.value = Value::Seq(items.iter().map(without_nulls).collect());
            copy
        }
        _ => node.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse};

    fn merged(layers: &[&str]) -> String {
        let mut acc = parse("{}", 0, Dialect::Values).unwrap();
        for (i, l) in layers.iter().enumerate() {
            merge(
                &mut acc,
                &parse(l, u32::try_from(i).unwrap(), Dialect::Values).unwrap(),
            );
        }
        crate::yaml::emit(&acc).unwrap()
    }

    #[test]
    fn merge_rules() {
        let cases: &[(&[&str], &str)] = &[
            (&["a: {b: 1, c: 2}", "a: {c: 3}"], "a:\n  b: 1\n  c: 3\n"),
            (&["l: [1, 2, 3]", "l: [4]"], "l:\n- 4\n"),
            (&["a: {b: 1, c: 2}", "a: {b: null}"], "a:\n  c: 2\n"),
            (&["a: {b: null, c: 1}"], "a:\n  c: 1\n"),
            (&["a: 1", "a: {b: 2}"], "a:\n  b: 2\n"),
            (&["a: {b: 2}", "a: x"], "a: x\n"),
            (&["a: 1", "b: null"], "a: 1\n"),
            (&["l: [{a: 1}]", "l: [{a: null, b: 2}]"], "l:\n- b: 2\n"),
            (&["x: 1\ny: 2", "y: 3\nz: 4"], "x: 1\n\"y\": 3\nz: 4\n"),
        ];
        for (layers, want) in cases {
            assert_eq!(merged(layers), *want, "{layers:?}");
        }
    }

    #[test]
    fn leaves_keep_their_origin() {
        let mut acc = parse("a: {b: 1, c: 2}", 0, Dialect::Values).unwrap();
        merge(
            &mut acc,
            &parse("a:\n  c: 3\n", 1, Dialect::Values).unwrap(),
        );
        let a = acc.get("a").unwrap();
        assert_eq!(a.get("b").unwrap().loc.src, 0);
        assert_eq!(a.get("c").unwrap().loc.src, 1);
        assert_eq!(a.get("c").unwrap().loc.line, 2);
    }
}
