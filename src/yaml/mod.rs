//! YAML in and out: a tree of [`Node`]s that remembers where every key and value came from.
//!
//! Parsing and emitting both go through `serde-saphyr` (never `serde_yaml`, whose emitter writes
//! `on`, `yes` or `y` unquoted and so turns strings into booleans for Kubernetes). Two reading
//! modes exist because two audiences read the text:
//!
//! - [`Dialect::Values`]: kiln's own files. YAML 1.2 core: `yes`/`on` and `0755` stay strings.
//! - [`Dialect::Kube`]: manifests, read the way the API server's YAML 1.1 reader reads them, so a
//!   check sees what the cluster would see (`yes` is a boolean, `0644` is octal).
//!
//! This module does no file I/O and knows nothing about values layering or Kubernetes kinds.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_saphyr::{DuplicateKeyPolicy, Location, Options, SerializerOptions, Spanned};

use crate::source::{Loc, SrcId};

mod fast;
pub mod json;
mod lines;
mod locate;
pub mod placed;
mod typed;
pub use locate::{Spot, locate};
pub use typed::from_node;

/// A YAML value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value is written.
    pub loc: Loc,
    /// Where its mapping key is written (equal to `loc` outside mappings).
    pub key_loc: Loc,
    /// False when the mapping key holding this value was not a string in the source
    /// (`53: x`); kept so checks can flag `ConfigMap` keys the author did not quote.
    pub key_was_string: bool,
}

/// The YAML data model kiln uses (JSON's, with integers kept apart from floats).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Map),
}

/// A mapping's entries, in source order, hashed with foldhash: kiln looks keys up in millions of
/// small maps, where SipHash (std's default) cost more than the lookup itself.
pub type Map = IndexMap<String, Node, foldhash::fast::RandomState>;

/// The value at `key` in `map`. Most mappings of an object are small, and the checks look up
/// many keys in each: up to [`SCAN_UP_TO`] entries, comparing the keys one by one costs less
/// than hashing the one asked for (measured: the API-server rules 30% faster, the reviewer's
/// 20%).
#[must_use]
fn lookup<'a>(map: &'a Map, key: &str) -> Option<&'a Node> {
    if map.len() <= SCAN_UP_TO {
        map.iter()
            .find_map(|(k, v)| (k.as_str() == key).then_some(v))
    } else {
        map.get(key)
    }
}

/// Mappings up to this many entries are searched by [`lookup`] key by key.
const SCAN_UP_TO: usize = 8;

impl Node {
    /// A node with no meaningful location (built by kiln, not read from a file).
    #[must_use]
    pub fn new(value: Value, loc: Loc) -> Node {
        Node {
            value,
            loc,
            key_loc: loc,
            key_was_string: true,
        }
    }

    /// The value at `key` when this is a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => lookup(m, key),
            _ => None,
        }
    }

    /// The value at `key` when this is a mapping, for changing it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(m) => m.get_mut(key),
            _ => None,
        }
    }

    /// The string at `key` when this is a mapping and the value is a string.
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key).map(|n| &n.value) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Name of the node's type, for messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// Give every location in the tree the source id `src` (parsing does not know it).
    pub fn set_src(&mut self, src: SrcId) {
        self.loc.src = src;
        self.key_loc.src = src;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_src(src)),
            Value::Map(map) => map.values_mut().for_each(|n| n.set_src(src)),
            _ => {}
        }
    }
}

impl Value {
    /// The same value, wherever each was written: `==` also compares every nested node's
    /// location, so two trees read from different texts (a render and a golden file) are never
    /// equal by it. Mappings compare by key, in any order, as `==` does.
    #[must_use]
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Seq(a), Value::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.value.same(&y.value))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, x)| b.get(k).is_some_and(|y| x.value.same(&y.value)))
            }
            (Value::Seq(_) | Value::Map(_), _) | (_, Value::Seq(_) | Value::Map(_)) => false,
            (a, b) => a == b,
        }
    }

    /// Name of the type, for messages: `mapping`, `string`, ...
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

/// How plain scalars are typed when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// kiln's values and config: YAML 1.2 core schema, leading-zero numbers stay strings.
    Values,
    /// Kubernetes manifests: YAML 1.1 booleans and octals, as the API server reads them.
    Kube,
}

fn options(dialect: Dialect) -> Options {
    let mut o = Options::default();
    o.duplicate_keys = DuplicateKeyPolicy::Error;
    // kiln's trees hold no comments. Captured, they are buffered while the parser looks ahead
    // for a key's value, and more than 32 in a row (a commented-out block under a key of a
    // values file) failed as "too many buffered comments while looking ahead" (found by
    // tests/fuzz.rs).
    o.emit_comments = false;
    match dialect {
        Dialect::Values => {
            o.strict_booleans = true;
            o.leading_zero_numbers_as_strings = true;
            o.underscored_numbers_as_strings = true;
        }
        Dialect::Kube => {
            o.legacy_octal_numbers = true;
        }
    }
    o
}

/// A YAML syntax or structure error, with its place in the text.
#[derive(Debug, Clone)]
pub struct ParseError {
    /// What went wrong, without location prefix.
    pub message: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub col: u32,
    /// Byte offset when known.
    pub offset: Option<usize>,
    /// A mapping holds the same key twice (the one structural error reported as its own
    /// rule); decided from the parser's error variant, never from the message.
    pub duplicate_key: bool,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ParseError {
    #[must_use]
    pub fn from_saphyr(err: &serde_saphyr::Error) -> ParseError {
        let loc = err.location();
        let mut message = err.without_snippet().to_string();
        // "line 3 column 1: duplicate mapping key: a, set DuplicateKeyPolicy in Options if
        // acceptable": keep only the part that speaks to a user.
        if let Some(rest) = message.strip_prefix("error: ") {
            message = rest.to_string();
        }
        if message.starts_with("line ")
            && let Some((_, rest)) = message.split_once(": ")
        {
            message = rest.to_string();
        }
        if let Some((head, _)) = message.split_once(", set DuplicateKeyPolicy") {
            message = head.to_string();
        }
        // The parser's hint names its own API; say what it means for the file instead.
        if message.contains("use from_str_multiple") {
            message = "a second YAML document where one was expected (a values file holds one document; remove the extra `---` or `...` part)".to_string();
        }
        if let Some(first) = message.lines().next() {
            message = first.to_string();
        }
        // The location is reported separately; drop the parser's own " at line 7, column 6".
        if let Some(i) = message.rfind(" at line ")
            && message[i..].contains(", column ")
        {
            message.truncate(i);
        }
        ParseError {
            message,
            line: loc.map_or(0, |l| l.line() as u32),
            col: loc.map_or(0, |l| l.column() as u32),
            offset: loc.and_then(|l| l.span().byte_offset()).map(|o| o as usize),
            duplicate_key: matches!(
                err.without_snippet(),
                serde_saphyr::Error::DuplicateMappingKey { .. }
            ),
        }
    }

    /// The location of the error in source `src`.
    #[must_use]
    pub fn loc(&self, src: SrcId, text: &str) -> Loc {
        let offset = self.offset.unwrap_or_else(|| {
            let line_start = crate::source::line_offset(text, self.line as usize);
            let col = text[line_start..]
                .char_indices()
                .nth(self.col.saturating_sub(1) as usize)
                .map_or(0, |(i, _)| i);
            line_start + col
        });
        Loc {
            src,
            line: self.line.max(1),
            col: self.col.max(1),
            offset: offset as u32,
            len: 1,
        }
    }
}

/// Parse one YAML document. An empty text (or only comments) gives `Null`.
pub fn parse(text: &str, src: SrcId, dialect: Dialect) -> Result<Node, ParseError> {
    let parsed: Option<Spanned<Node>> = serde_saphyr::from_str_with_options(text, options(dialect))
        .map_err(|e| ParseError::from_saphyr(&e))?;
    let mut node = match parsed {
        Some(s) => spanned(s),
        None => Node::new(Value::Null, Loc::whole(src)),
    };
    if dialect == Dialect::Values {
        core_numbers(&mut node, text)?;
    }
    node.set_src(src);
    Ok(node)
}

/// Hold values to the YAML 1.2 core schema where the reader is laxer, by looking at each
/// number as written: `0b101` is a string (core has no binary integers), and an integer
/// literal too large for i64, which the reader turned into a float, is an error at its line.
fn core_numbers(node: &mut Node, text: &str) -> Result<(), ParseError> {
    let raw = |loc: Loc| -> Option<&str> {
        text.get(loc.range())
            .map(|t| t.trim_matches(|c: char| c.is_whitespace()))
    };
    match &mut node.value {
        Value::Int(_) => {
            if let Some(r) = raw(node.loc)
                && r.trim_start_matches(['-', '+']).starts_with("0b")
            {
                node.value = Value::Str(r.to_string());
            }
        }
        Value::Float(_) => {
            if let Some(r) = raw(node.loc)
                && !r.is_empty()
                && r.trim_start_matches(['-', '+'])
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            {
                let err: de::value::Error = too_large(r);
                return Err(ParseError {
                    message: err.to_string(),
                    line: node.loc.line,
                    col: node.loc.col,
                    offset: Some(node.loc.offset as usize),
                    duplicate_key: false,
                });
            }
        }
        Value::Seq(items) => {
            for item in items {
                core_numbers(item, text)?;
            }
        }
        Value::Map(entries) => {
            for item in entries.values_mut() {
                core_numbers(item, text)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parse one YAML document without recording locations inside it (about twice as fast; for
/// checks, which re-parse with locations only the documents that have findings).
pub fn parse_unlocated(text: &str, dialect: Dialect) -> Result<Node, ParseError> {
    if dialect == Dialect::Kube
        && let Some(mut docs) = fast::stream(text)
        && docs.len() <= 1
    {
        let mut root = docs
            .pop()
            .unwrap_or_else(|| Node::new(Value::Null, Loc::default()));
        root.loc = Loc::default();
        root.key_loc = root.loc;
        return Ok(root);
    }
    parse_unlocated_by_serde(text, dialect)
}

/// [`parse_unlocated`] by serde-saphyr alone.
fn parse_unlocated_by_serde(text: &str, dialect: Dialect) -> Result<Node, ParseError> {
    let parsed: Option<Plain> = serde_saphyr::from_str_with_options(text, options(dialect))
        .map_err(|e| ParseError::from_saphyr(&e))?;
    Ok(parsed.map_or_else(|| Node::new(Value::Null, Loc::default()), |p| p.0))
}

/// Parse a stream of YAML documents; empty documents are left out.
pub fn parse_stream(text: &str, src: SrcId, dialect: Dialect) -> Result<Vec<Node>, ParseError> {
    let docs: Vec<Option<Spanned<Node>>> =
        serde_saphyr::from_str_multiple_with_options(text, options(dialect))
            .map_err(|e| ParseError::from_saphyr(&e))?;
    Ok(docs
        .into_iter()
        .flatten()
        .map(spanned)
        .filter(|n| n.value != Value::Null)
        .map(|mut n| {
            n.set_src(src);
            n
        })
        .collect())
}

/// [`parse_stream_unlocated`] by serde-saphyr alone, never the fast reader: the reference the
/// fast reader is tested against.
#[doc(hidden)]
pub fn parse_stream_unlocated_by_serde(
    text: &str,
    dialect: Dialect,
) -> Result<Vec<Node>, ParseError> {
    let docs: Vec<Option<Spanned<Plain>>> =
        serde_saphyr::from_str_multiple_with_options(text, options(dialect))
            .map_err(|e| ParseError::from_saphyr(&e))?;
    Ok(docs
        .into_iter()
        .flatten()
        .map(|s| {
            let mut node = s.value.0;
            node.loc = loc_of(&s.referenced);
            node.key_loc = node.loc;
            node
        })
        .filter(|n| n.value != Value::Null)
        .collect())
}

/// The documents of `text` as the line reader alone reads them, `None` where it leaves the text
/// to the parser: for tests that hold it to serde-saphyr.
#[doc(hidden)]
#[must_use]
pub fn read_by_lines(text: &str) -> Option<Vec<Node>> {
    lines::stream(text)
}

/// Like [`parse_stream`], but only each document's own location is recorded: for rendered
/// output, whose template-output line numbers no one reads.
pub fn parse_stream_unlocated(text: &str, dialect: Dialect) -> Result<Vec<Node>, ParseError> {
    if dialect == Dialect::Kube
        && let Some(docs) = fast::stream(text)
    {
        return Ok(docs);
    }
    parse_stream_unlocated_by_serde(text, dialect)
}

fn loc_of(l: &Location) -> Loc {
    let span = l.span();
    Loc {
        src: 0,
        line: l.line() as u32,
        col: l.column() as u32,
        offset: span.byte_offset().unwrap_or(0) as u32,
        len: span.byte_len().unwrap_or(0) as u32,
    }
}

fn spanned(s: Spanned<Node>) -> Node {
    let mut node = s.value;
    node.loc = loc_of(&s.referenced);
    node.key_loc = node.loc;
    node
}

/// A mapping key as written: kept apart so a non-string key can be flagged.
enum Key {
    Str(String),
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
                Ok(Key::Str(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key::Other(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key::Other(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key::Other(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key::Other(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key::Other("null".to_string()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key::Other("null".to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// Builds a [`Node`]; with `SPANS` every child records its location (slower: about half of a
/// large render's parse time goes to locations, which rendered output does not need).
struct NodeVisitor<const SPANS: bool>;

impl<'de, const SPANS: bool> Visitor<'de> for NodeVisitor<SPANS> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::new(Value::Null, Loc::default()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::new(Value::Null, Loc::default()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::new(Value::Bool(v), Loc::default()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::new(Value::Int(v), Loc::default()))
    }
    // Integers are exact up to i64: anything larger is an error at its line, never a float
    // that silently loses digits (`replicas: 99999999999999999999` is not `1e20`).
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(|i| Node::new(Value::Int(i), Loc::default()))
            .map_err(|_| too_large(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        i64::try_from(v)
            .map(|i| Node::new(Value::Int(i), Loc::default()))
            .map_err(|_| too_large(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        i64::try_from(v)
            .map(|i| Node::new(Value::Int(i), Loc::default()))
            .map_err(|_| too_large(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::new(Value::Float(v), Loc::default()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::new(Value::Str(v.to_string()), Loc::default()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::new(Value::Str(v), Loc::default()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::new(
            Value::Str(String::from_utf8_lossy(v).into_owned()),
            Loc::default(),
        ))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        if SPANS {
            while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                items.push(spanned(item));
            }
        } else {
            while let Some(Plain(item)) = seq.next_element::<Plain>()? {
                items.push(item);
            }
        }
        Ok(Node::new(Value::Seq(items), Loc::default()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Map::default();
        loop {
            let (key, mut value) = if SPANS {
                let Some(key) = map.next_key::<Spanned<Key>>()? else {
                    break;
                };
                let mut value = spanned(map.next_value::<Spanned<Node>>()?);
                value.key_loc = loc_of(&key.referenced);
                (key.value, value)
            } else {
                let Some(key) = map.next_key::<Key>()? else {
                    break;
                };
                (key, map.next_value::<Plain>()?.0)
            };
            let name = match key {
                Key::Str(s) => s,
                Key::Other(s) => {
                    value.key_was_string = false;
                    s
                }
            };
            entries.insert(name, value);
        }
        Ok(Node::new(Value::Map(entries), Loc::default()))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor::<true>)
    }
}

/// A [`Node`] read without locations.
struct Plain(Node);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Plain, D::Error> {
        d.deserialize_any(NodeVisitor::<false>).map(Plain)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(v),
            Value::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    placed::note();
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    placed::note();
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The emitter settings for every YAML kiln writes: block style, two-space indent, lists at the
/// parent's indentation (as `kubectl get -o yaml` writes them), multi-line strings as `|`
/// blocks, long single-line strings never folded (folding makes diffs noisy).
#[must_use]
pub fn emit_options() -> SerializerOptions {
    let mut o = SerializerOptions::default();
    o.folded_wrap_chars = usize::MAX / 2;
    o
}

fn too_large<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!(
        "the integer {v} is too large (kiln keeps integers exact up to 9223372036854775807); quote it if it is meant as text"
    ))
}

/// Whether YAML cannot carry `c` literally and it must be written as a `\uXXXX` escape: YAML's
/// printable set is tab, newline, carriage return, U+0020..U+007E, U+0085, U+00A0..U+D7FF,
/// U+E000..U+FFFD and above U+FFFF (YAML 1.2, section 5.1). U+0085 is escaped too, as some
/// readers treat it as a line break.
#[must_use]
pub fn needs_escape(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Emit any serializable value as normalised block YAML.
pub fn emit<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string_with_options(value, emit_options()).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Streams of documents
// ---------------------------------------------------------------------------------------------

/// A `---` document marker line (optionally followed by a space or a comment).
#[must_use]
pub fn is_marker(bare: &str) -> bool {
    bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t")
}

/// True for a chunk with no content: blank lines, comments, markers.
#[must_use]
pub fn is_blank(chunk: &str) -> bool {
    chunk.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// Byte ranges (start, lines before start, end) of the documents in a stream. A line that is
/// `---` (optionally followed by a space or comment) starts a new document, unless all before
/// it in the current one is directives (`%YAML 1.2`) and comments; the marker line belongs to
/// the new document, so its line numbers stay right. A `...` line ends a document, so a bare
/// document may follow it.
#[must_use]
pub fn split(text: &str) -> Vec<(usize, u32, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut start_line = 0u32;
    let mut pos = 0;
    // Content, or a `---`, seen in the current document: only directives and comments may
    // stand before the `---` that starts a document.
    let mut begun = false;
    for (line_no, line) in (0u32..).zip(text.split_inclusive('\n')) {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare) && pos > start && begun {
            out.push((start, start_line, pos));
            start = pos;
            start_line = line_no;
        }
        pos += line.len();
        if bare == "..." || bare.starts_with("... ") || bare.starts_with("...\t") {
            out.push((start, start_line, pos));
            start = pos;
            start_line = line_no + 1;
            begun = false;
            continue;
        }
        if is_marker(bare) {
            begun = true;
            continue;
        }
        let t = bare.trim_start();
        if !(t.is_empty() || t.starts_with('#') || bare.starts_with('%')) {
            begun = true;
        }
    }
    if start < text.len() || out.is_empty() {
        out.push((start, start_line, text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::new(Value::Str(v.to_string()), Loc::default())
    }

    #[test]
    fn get_finds_every_key_of_small_and_large_mappings() {
        // Small mappings are searched key by key, larger ones hashed: both answer alike.
        for size in [0, 1, SCAN_UP_TO, SCAN_UP_TO + 1, 40] {
            let map: Map = (0..size)
                .map(|i| (format!("k{i}"), s(&i.to_string())))
                .collect();
            let node = Node::new(Value::Map(map), Loc::default());
            for i in 0..size {
                assert_eq!(node.get_str(&format!("k{i}")), Some(i.to_string().as_str()));
            }
            assert!(node.get("k").is_none() && node.get(&format!("k{size}")).is_none());
            assert!(node.get("").is_none());
        }
        assert!(s("x").get("x").is_none());
    }

    #[test]
    fn strings_that_look_like_other_types_round_trip() {
        for text in [
            "on",
            "yes",
            "NO",
            "y",
            "n",
            "0755",
            "1.10",
            "~",
            "null",
            "",
            "a: b",
            "-x",
            "#c",
            "---",
            " lead",
            "multi\nline\n",
            "20161216e3",
            "123",
            "unicode é ✓",
            "true",
            "\"",
            "'",
        ] {
            let out = emit(&s(text)).unwrap();
            for dialect in [Dialect::Values, Dialect::Kube] {
                let back = parse(&out, 0, dialect).unwrap();
                assert_eq!(
                    back.value,
                    Value::Str(text.to_string()),
                    "{text:?} emitted as {out:?}"
                );
            }
        }
    }

    #[test]
    fn dialects_type_plain_scalars_differently() {
        let v = parse("a: yes\nb: 0755\nc: on\n", 0, Dialect::Values).unwrap();
        assert_eq!(v.get_str("a"), Some("yes"));
        assert_eq!(v.get_str("b"), Some("0755"));
        let k = parse("a: yes\nb: 0644\n", 0, Dialect::Kube).unwrap();
        assert_eq!(k.get("a").unwrap().value, Value::Bool(true));
        assert_eq!(k.get("b").unwrap().value, Value::Int(0o644));
    }

    #[test]
    fn locations_point_at_keys_and_values() {
        let v = parse("a: 1\nb:\n  c: x\n", 3, Dialect::Values).unwrap();
        let c = v.get("b").unwrap().get("c").unwrap();
        assert_eq!((c.loc.src, c.loc.line, c.loc.col), (3, 3, 6));
        assert_eq!((c.key_loc.line, c.key_loc.col), (3, 3));
    }

    #[test]
    fn a_long_commented_out_block_under_a_key_is_read() {
        // serde-saphyr buffered comments while looking for a key's value and refused a 33rd.
        let block = "# - old item\n".repeat(100);
        let text = format!("env:\n{block}  a: 1\nlast:\n{block}");
        for dialect in [Dialect::Values, Dialect::Kube] {
            let tree = parse(&text, 0, dialect).unwrap();
            assert_eq!(
                tree.get("env").and_then(|e| e.get("a")).map(|a| &a.value),
                Some(&Value::Int(1))
            );
            assert_eq!(tree.get("last").map(|l| &l.value), Some(&Value::Null));
            assert_eq!(
                parse_stream_unlocated_by_serde(&text, dialect)
                    .map(|d| d.len())
                    .ok(),
                Some(1)
            );
        }
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_line() {
        let e = parse("a: 1\nb: 2\na: 3\n", 0, Dialect::Values).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.duplicate_key && e.message.contains("duplicate"),
            "{}",
            e.message
        );
    }

    #[test]
    fn non_string_keys_are_remembered() {
        let v = parse("53: x\n\"54\": y\n", 0, Dialect::Kube).unwrap();
        assert!(!v.get("53").unwrap().key_was_string);
        assert!(v.get("54").unwrap().key_was_string);
    }
}
