//! kiln's YAML tree as the instance jsonschema validates, read in place: no `serde_json` copy of
//! every object before its schema check (building that copy cost about as much as validating).
//!
//! The tree reads exactly as `serde_json::to_value` of it would: integers and finite floats are
//! numbers, a float that is not finite is null (JSON has no such number), mappings keep their
//! order. Where a validator needs a `serde_json::Value` (an error quoting the instance), it gets
//! that copy.
//!
//! Every validator kiln builds (Kubernetes schemas, CRD imports, values schemas) is built for
//! this tree and no other instance type, so jsonschema's generic validators are compiled into
//! kiln once, not once per type (they were a third of the binary's code each).

use std::borrow::Cow;
use std::cell::Cell;

use super::Map;
use indexmap::IndexMap;
use jsonschema::json::{Array, Json, Node as JsonNode, NodeIdentity, Object};
use jsonschema::types::JsonType;

use crate::source::Loc;
use crate::yaml::{Node, Value};

/// The representation: `&yaml::Node`.
pub struct Tree;

impl Json for Tree {
    type Node<'a> = &'a Node;
    type PreparedKey = String;
    type StringBuffer = ();

    // Lookups are hash probes: measured faster than scanning members on the fleet's objects.
    const KEYS_PER_LOOKUP: usize = 0;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(&Node) -> T) -> T {
        thread_local! {
            // Backs every name node on this thread, so names allocate only while it grows.
            static NAME: Cell<String> = const { Cell::new(String::new()) };
        }
        let mut name = NAME.take();
        name.clear();
        name.push_str(string);
        let node = Node::new(Value::Str(name), Loc::default());
        let result = f(&node);
        if let Value::Str(name) = node.value {
            NAME.set(name);
        }
        result
    }
}

impl<'a> JsonNode<'a, Tree> for &'a Node {
    type Object = &'a Map;
    type Array = &'a [Node];
    type Number = serde_json::Number;

    fn as_object(&self) -> Option<&'a Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match &self.value {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<serde_json::Number> {
        match self.value {
            Value::Int(i) => Some(i.into()),
            Value::Float(f) => serde_json::Number::from_f64(f),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.json_type() == JsonType::Null
    }

    fn json_type(&self) -> JsonType {
        match &self.value {
            Value::Null => JsonType::Null,
            Value::Float(f) if !f.is_finite() => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Int(_) | Value::Float(_) => JsonType::Number,
            Value::Str(_) => JsonType::String,
            Value::Seq(_) => JsonType::Array,
            Value::Map(_) => JsonType::Object,
        }
    }

    // `enum` and `const` compare without copying the node (the default copies it first).
    fn equals_value(&self, expected: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (&self.value, expected) {
            (Value::Str(a), J::String(b)) => a == b,
            (Value::Bool(a), J::Bool(b)) => a == b,
            (Value::Seq(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.equals_value(b))
            }
            (Value::Map(a), J::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, a)| b.get(k).is_some_and(|b| a.equals_value(b)))
            }
            (Value::Int(_) | Value::Float(_), J::Number(_)) => self
                .as_number()
                .is_some_and(|n| jsonschema::json::cmp::equal(&J::Number(n), expected)),
            _ => self.is_null() && expected.is_null(),
        }
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(serde_json::to_value(*self).unwrap_or_default())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(self) as usize))
    }
}

impl<'a> Object<'a, Tree> for &'a Map {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter = std::iter::Map<
        indexmap::map::Iter<'a, String, Node>,
        fn((&'a String, &'a Node)) -> (&'a str, &'a Node),
    >;

    fn len(&self) -> usize {
        IndexMap::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Node> {
        IndexMap::get(self, key)
    }

    fn members(&self) -> Self::MembersIter {
        self.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<'a> Array<'a, Tree> for &'a [Node] {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        <[Node]>::len(self)
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse_unlocated};

    /// A schema's verdict and its errors are the same on the tree and on its JSON copy.
    #[test]
    fn the_tree_validates_as_its_json_copy() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 1},
                "f": {"type": "number"},
                "s": {"type": "string", "maxLength": 3, "enum": ["ab", "中文"]},
                "e": {"enum": [1, 2.5, null, [1, "a"], {"a": [true]}]},
                "l": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
                "m": {"type": "object", "additionalProperties": false, "properties": {"a": {}}},
                "z": {"type": "null"},
                "b": {"const": true}
            },
            "propertyNames": {"maxLength": 2},
            "required": ["n"]
        });
        let on_tree = jsonschema::options_for::<Tree>().build(&schema).unwrap();
        let on_json = jsonschema::validator_for(&schema).unwrap();
        for doc in [
            "n: 2\nf: 1.5\ns: 中文\nl: [a, b]\nm: {a: 1}\nz: ~\nb: true\ne: 1.0\n",
            "n: 2\ne: [1, a]\n",
            "n: 2\ne: {a: [true]}\n",
            "n: 2\ne: {a: [true], b: 1}\n",
            "n: 2\ne: 2.5\n",
            "n: 2\ne: ~\n",
            "n: 2\ne: '1'\n",
            "n: 0\nf: x\ns: abcd\nl: [a, a, 3]\nm: {x: 1}\nz: 1\nb: false\nlong: 1\n",
            "f: 2\nn: 1.0\n",
            "[1, 2]\n",
        ] {
            let tree = parse_unlocated(doc, Dialect::Kube).unwrap();
            let json = serde_json::to_value(&tree).unwrap();
            assert_eq!(on_tree.is_valid(&tree), on_json.is_valid(&json), "{doc}");
            let errors = |e: jsonschema::ErrorIterator<'_>| -> Vec<String> {
                e.map(|e| format!("{} at {}", e, e.instance_path().as_str()))
                    .collect()
            };
            assert_eq!(
                errors(on_tree.iter_errors(&tree)),
                errors(on_json.iter_errors(&json)),
                "{doc}"
            );
        }
    }
}
