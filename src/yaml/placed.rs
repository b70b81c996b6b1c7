//! Where kiln's own emitter writes each node: `kiln check` checks the render's trees, which
//! were never read from the text it reports on, so a finding's line and column come from where
//! the emitter wrote the node. Recording that while emitting costs next to nothing; reading the
//! text again to find out ([`super::locate`]) costs a parse.
//!
//! Each place is checked against the text (the key written there, the `- ` of an item): any
//! place that does not check out, or a node this does not place (a scalar or an empty
//! collection as the deepest parent), answers `None`, and the caller asks the parser.

use std::cell::Cell;
use std::fmt;

use super::{Node, Value};
use crate::source::Loc;

thread_local! {
    /// Nodes begun since [`emit_placed`]'s writer last wrote: the tree's `Serialize` counts
    /// them ([`note`]) and the writer records where they begin when it next writes. One
    /// counter, no borrow and no length kept on every write: this runs for every node and
    /// every write of `kiln check`'s output (README, Performance).
    static BEGUN: Cell<u32> = const { Cell::new(0) };
}

/// Called by the tree's `Serialize` before each mapping entry and sequence item. Outside
/// [`emit_placed`], the count is never read (it is reset when one begins).
pub(super) fn note() {
    BEGUN.set(BEGUN.get().wrapping_add(1));
}

/// Writes what the emitter writes, and where each node noted since the last write begins.
struct Counting<'a> {
    out: &'a mut String,
    offsets: Vec<u32>,
}

impl Counting<'_> {
    #[inline]
    fn record(&mut self) {
        let begun = BEGUN.replace(0);
        if begun != 0 {
            let at = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
            self.offsets.extend(std::iter::repeat_n(at, begun as usize));
        }
    }
}

// Inlined into the emitter, as `String`'s own writes are: called for every indent and every
// `: `, a call each made `kiln check`'s emit 12% slower than `render`'s (README, Performance).
impl fmt::Write for Counting<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.record();
        self.out.push_str(s);
        Ok(())
    }

    #[inline]
    fn write_char(&mut self, c: char) -> fmt::Result {
        self.record();
        self.out.push(c);
        Ok(())
    }
}

/// Where the emitter began each node of a tree after its root, in pre-order (offsets into the
/// emitted text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed(pub Vec<u32>);

/// Emit `node` exactly as [`super::emit`] does, with where each node was begun.
///
/// # Errors
/// What the emitter reports.
pub fn emit_placed(node: &Node) -> Result<(String, Placed), String> {
    let mut out = String::new();
    let mut writer = Counting {
        out: &mut out,
        // Room for every node of a typical object (a Deployment has about 70) at once.
        offsets: Vec::with_capacity(128),
    };
    BEGUN.set(0);
    let result = serde_saphyr::to_fmt_writer_with_options(&mut writer, node, super::emit_options());
    // Nodes begun after the last write (none in valid output: each writes something).
    writer.record();
    let offsets = writer.offsets;
    result.map_err(|e| e.to_string())?;
    Ok((out, Placed(offsets)))
}

/// What a path's last step was.
#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Item,
}

impl Placed {
    /// For each path (segments from the root) of `tree`, emitted as `text`: where a finding
    /// there points (line and column in `text`): the key of a mapping entry, an item of a
    /// sequence, or the deepest existing parent when the path is missing. `None` when any path
    /// cannot be placed this way.
    #[must_use]
    pub fn spots<S: AsRef<str>>(
        &self,
        tree: &Node,
        text: &str,
        paths: &[Vec<S>],
    ) -> Option<Vec<Loc>> {
        paths
            .iter()
            .map(|path| {
                let mut node = tree;
                let mut index = 0usize;
                let mut last = Step::Root;
                for segment in path {
                    let segment = segment.as_ref();
                    let mut next = index + 1;
                    let child = match &node.value {
                        Value::Map(m) => m.iter().find_map(|(k, v)| {
                            if k == segment {
                                return Some((v, Step::Key(k.as_str())));
                            }
                            next += size(v);
                            None
                        }),
                        Value::Seq(items) => segment.parse::<usize>().ok().and_then(|i| {
                            let item = items.get(i)?;
                            next += items[..i].iter().map(size).sum::<usize>();
                            Some((item, Step::Item))
                        }),
                        _ => None,
                    };
                    match child {
                        Some((child, step)) => {
                            (node, index, last) = (child, next, step);
                        }
                        None => return self.value_at(node, index, last, text),
                    }
                }
                match last {
                    Step::Root => self.value_at(node, index, last, text),
                    Step::Key(k) => self.key_at(index, k, text),
                    Step::Item => self.item_at(index, text),
                }
            })
            .collect()
    }

    /// Where the key of the entry begun as node `index` is written.
    fn key_at(&self, index: usize, key: &str, text: &str) -> Option<Loc> {
        let mut p = skip_blank(text, self.begun(index)?);
        while text[p..].starts_with("- ") {
            p = skip_blank(text, p + 2);
        }
        let written = text[p..].strip_prefix(key)?;
        written.starts_with(':').then(|| loc_at(text, p))
    }

    /// Where the item begun as node `index` is written: just past its `- ` (not for an item
    /// that is itself a block sequence or a block scalar, which the reader places elsewhere).
    fn item_at(&self, index: usize, text: &str) -> Option<Loc> {
        let p = skip_blank(text, self.begun(index)?);
        let content = text[p..].strip_prefix("- ")?;
        let elsewhere = content.starts_with(['|', '>'])
            || content.starts_with("- ")
            || content.starts_with("-\n");
        (!elsewhere).then(|| loc_at(text, p + 2))
    }

    /// Where the value of node `index` starts: a mapping at its first key, a sequence at its
    /// first item, an item past its `- `.
    fn value_at(&self, node: &Node, index: usize, last: Step<'_>, text: &str) -> Option<Loc> {
        match (&node.value, last) {
            (Value::Map(m), _) if !m.is_empty() => {
                let (first, _) = m.first()?;
                self.key_at(index + 1, first, text)
            }
            (_, Step::Item) => self.item_at(index, text),
            // The reader places a sequence at the document's root at its first `-`, and one
            // under a key (written at the key's indentation, without a start of its own) at
            // its first item's content.
            (Value::Seq(items), Step::Root) if !items.is_empty() => {
                let p = skip_blank(text, self.begun(index + 1)?);
                text[p..].starts_with("- ").then(|| loc_at(text, p))
            }
            (Value::Seq(items), Step::Key(_)) if !items.is_empty() => self.item_at(index + 1, text),
            _ => None,
        }
    }

    /// Where node `index` (pre-order, the root is 0) was begun.
    fn begun(&self, index: usize) -> Option<usize> {
        let at = *self.0.get(index.checked_sub(1)?)?;
        usize::try_from(at).ok()
    }
}

/// Nodes in a subtree.
fn size(node: &Node) -> usize {
    1 + match &node.value {
        Value::Map(m) => m.values().map(size).sum(),
        Value::Seq(items) => items.iter().map(size).sum(),
        _ => 0,
    }
}

fn skip_blank(text: &str, mut p: usize) -> usize {
    let bytes = text.as_bytes();
    while p < bytes.len() && matches!(bytes[p], b' ' | b'\n') {
        p += 1;
    }
    p.min(text.len())
}

/// Line and column (1-based, in characters) of byte `p` of `text`.
fn loc_at(text: &str, p: usize) -> Loc {
    let before = &text[..p];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Loc {
        src: 0,
        line: u32::try_from(crate::source::line_feeds(before) + 1).unwrap_or(u32::MAX),
        col: u32::try_from(before[line_start..].chars().count() + 1).unwrap_or(u32::MAX),
        offset: u32::try_from(p).unwrap_or(u32::MAX),
        len: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, emit, locate, parse_unlocated};

    /// Every path the emitter placed is where the parser finds it in the same text.
    fn agrees(yaml: &str, extra: &[&[&str]]) -> usize {
        let tree = parse_unlocated(yaml, Dialect::Kube).unwrap();
        let (text, placed) = emit_placed(&tree).unwrap();
        assert_eq!(text, emit(&tree).unwrap(), "the same text as emit");
        let mut paths = Vec::new();
        all_paths(&tree, &mut Vec::new(), &mut paths);
        paths.extend(
            extra
                .iter()
                .map(|p| p.iter().map(ToString::to_string).collect()),
        );
        let want: Vec<Loc> = locate(&text, &paths)
            .unwrap()
            .into_iter()
            .zip(&paths)
            .map(|(s, p)| s.pointed(p.is_empty()))
            .collect();
        let mut placed_count = 0;
        for (path, want) in paths.iter().zip(&want) {
            if let Some(got) = placed.spots(&tree, &text, std::slice::from_ref(path)) {
                assert_eq!(
                    (got[0].line, got[0].col, got[0].offset),
                    (want.line, want.col, want.offset),
                    "{path:?} in\n{text}"
                );
                placed_count += 1;
            }
        }
        placed_count
    }

    fn all_paths(node: &Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        let children: Vec<(String, &Node)> = match &node.value {
            Value::Map(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Seq(s) => s
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        };
        for (k, v) in children {
            path.push(k);
            all_paths(v, path, out);
            path.pop();
        }
    }

    #[test]
    fn emitted_places_are_where_the_parser_finds_them() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: {app: b, \"53\": x, 'on': y}\n  annotations: {}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: i:1\n        args: [\"--a\", \"中文 值\"]\n        env:\n        - {name: A, value: \"two\\nlines\\n\"}\n        - name: B\n          value: \"\"\n      - name: empty\n        ports: []\n      - [nested, list]\n";
        let placed = agrees(
            yaml,
            &[
                &[
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    "0",
                    "readinessProbe",
                ],
                &["spec", "template", "spec", "securityContext"],
                &["spec", "template", "spec", "containers", "9"],
                &["metadata", "annotations", "x"],
            ],
        );
        assert!(placed > 20, "most paths are placed from the emit: {placed}");
    }
}
