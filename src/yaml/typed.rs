//! Typed reading of a parsed tree: kiln's own settings (`kiln.yaml`) become Rust types through
//! serde from a [`Node`], and each error is placed at the key or value it is about.
//!
//! Reading the tree the file was parsed into anyway, rather than the text again through
//! serde-saphyr's deserializer, keeps that deserializer's large generic code out of the build
//! for every settings type (README, Performance), and lets the messages speak YAML (`expected a
//! mapping, found a list`) and suggest the field meant.

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::{Node, ParseError, Value};
use crate::source::Loc;

/// Read `node` (parsed from `text`) as a `T`.
pub fn from_node<T: DeserializeOwned>(node: &Node, text: &str) -> Result<T, ParseError> {
    T::deserialize(Reader { node, text }).map_err(|e| {
        let loc = e.at.unwrap_or(node.loc);
        ParseError {
            message: e.message,
            line: loc.line,
            col: loc.col,
            offset: Some(loc.offset as usize),
            duplicate_key: false,
        }
    })
}

/// What went wrong, and where once known: the innermost node that saw the error places it.
#[derive(Debug)]
struct Error {
    message: String,
    at: Option<Loc>,
}

impl Error {
    fn at(mut self, loc: Loc) -> Error {
        self.at.get_or_insert(loc);
        self
    }

    /// `node` is not `what` was wanted: said by [`de::Error::invalid_type`], at the node.
    fn expected(what: &str, node: &Node) -> Error {
        let unexpected = match &node.value {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::Str(s) => de::Unexpected::Str(s),
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Map(_) => de::Unexpected::Map,
        };
        <Error as de::Error>::invalid_type(unexpected, &what).at(node.loc)
    }

    /// An unknown field or value `name` (`kind`), with the one meant when one is close, else
    /// `otherwise` and the names allowed.
    fn unknown(kind: &str, name: &str, allowed: &[&str], otherwise: &str) -> Error {
        let message = match crate::diagnostic::did_you_mean(name, allowed.iter().copied()) {
            Some(meant) => format!("unknown {kind} `{name}`: did you mean `{meant}`?"),
            None => format!("unknown {kind} `{name}`; {otherwise} {}", listed(allowed)),
        };
        Error { message, at: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error {
            message: msg.to_string(),
            at: None,
        }
    }

    /// In YAML's words: `expected a version ..., found a list`, not serde's `sequence`.
    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Error {
        let found = match unexpected {
            de::Unexpected::Unit | de::Unexpected::Option => "nothing (null)".to_string(),
            de::Unexpected::Seq => "a list".to_string(),
            de::Unexpected::Map => "a mapping".to_string(),
            de::Unexpected::Str(s) => format!("the string \"{}\"", s.escape_debug()),
            other => other.to_string(),
        };
        Error {
            message: format!("expected {expected}, found {found}"),
            at: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Error {
        Error::unknown("field", field, expected, "the fields here are")
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Error {
        Error::unknown("value", variant, expected, "write one of")
    }
}

fn listed(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One node as a serde deserializer.
struct Reader<'a> {
    node: &'a Node,
    text: &'a str,
}

impl<'de> de::Deserializer<'de> for Reader<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let Reader { node, text } = self;
        match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(Items {
                items: items.iter(),
                text,
            }),
            Value::Map(map) => visitor.visit_map(Entries {
                rest: map.iter(),
                value: None,
                text,
            }),
        }
        .map_err(|e| e.at(node.loc))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// A plain scalar is a string when a string is wanted (`namespace: 123` is "123"), as
    /// written; a list or a mapping is not.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        let written = match &node.value {
            Value::Str(s) => s.as_str(),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => self
                .text
                .get(node.loc.range())
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::expected("a string", node))?,
            _ => return Err(Error::expected("a string", node)),
        };
        visitor
            .visit_str(written)
            .map_err(|e: Error| e.at(node.loc))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Seq(_) => self.deserialize_any(visitor),
            _ => Err(Error::expected("a list", self.node)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Map(_) => self.deserialize_any(visitor),
            _ => Err(Error::expected("a mapping", self.node)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// Only unit variants, written as a string: `scope: cluster`.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Str(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: Error| e.at(self.node.loc)),
            _ => Err(Error::expected(
                &format!("one of {}", listed(variants)),
                self.node,
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct tuple tuple_struct identifier ignored_any
    }
}

/// A list's items.
struct Items<'a> {
    items: std::slice::Iter<'a, Node>,
    text: &'a str,
}

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.items
            .next()
            .map(|node| {
                seed.deserialize(Reader {
                    node,
                    text: self.text,
                })
            })
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A mapping's entries; an error about a key is placed at the key.
struct Entries<'a> {
    rest: indexmap::map::Iter<'a, String, Node>,
    value: Option<&'a Node>,
    text: &'a str,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.rest.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(key.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: Error| e.at(value.key_loc))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let node = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value without its key"))?;
        seed.deserialize(Reader {
            node,
            text: self.text,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.rest.len())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_node;
    use crate::source::SrcId;
    use crate::yaml::{Dialect, ParseError, parse};

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Settings {
        namespace: String,
        #[serde(default)]
        hosts: Vec<String>,
        replicas: Option<u32>,
    }

    fn read(text: &str) -> Result<Settings, ParseError> {
        let node = parse(text, SrcId::default(), Dialect::Values).unwrap();
        from_node(&node, text)
    }

    #[test]
    fn a_plain_scalar_is_read_as_written_where_a_string_is_wanted() {
        let s = read("namespace: 1.10\nhosts: [0755, true, 中文]\nreplicas: 3\n").unwrap();
        assert_eq!(s.namespace, "1.10");
        assert_eq!(s.hosts, ["0755", "true", "中文"]);
        assert_eq!(s.replicas, Some(3));
    }

    #[test]
    fn an_unknown_field_is_placed_at_its_key_with_the_field_meant() {
        let e = read("namespace: a\n  # 注释\nhostz: []\n").unwrap_err();
        assert_eq!(e.message, "unknown field `hostz`: did you mean `hosts`?");
        assert_eq!((e.line, e.col), (3, 1));
        let e = read("namespace: a\nzzz: 1\n").unwrap_err();
        assert_eq!(
            e.message,
            "unknown field `zzz`; the fields here are `namespace`, `hosts`, `replicas`"
        );
    }

    #[test]
    fn a_wrong_type_is_placed_at_the_value_in_yaml_words() {
        let e = read("namespace: a\nhosts: web\n").unwrap_err();
        assert_eq!(e.message, "expected a list, found the string \"web\"");
        assert_eq!((e.line, e.col), (2, 8));
        let e = read("namespace: {a: 1}\n").unwrap_err();
        assert_eq!(e.message, "expected a string, found a mapping");
        let e = read("namespace: a\nreplicas: -1\n").unwrap_err();
        assert!(e.message.contains("-1"), "{}", e.message);
        assert_eq!((e.line, e.col), (2, 11));
        let e = read("").unwrap_err();
        assert_eq!(e.message, "expected a mapping, found nothing (null)");
    }

    #[test]
    fn a_missing_field_is_placed_at_its_mapping() {
        let e = read("x:\n  y: 1\n").unwrap_err();
        assert!(e.message.starts_with("unknown field `x`"), "{}", e.message);
        let e = read("hosts: []\n").unwrap_err();
        assert_eq!(e.message, "missing field `namespace`");
        assert_eq!(e.line, 1);
    }
}
