//! Where values are written in one YAML document, read from the parser's events without building
//! a tree: how a finding in a document read without locations gets its line and column. A
//! located tree costs about twice a plain parse and `kiln check` would build one for every
//! object with a finding; this walk skips every subtree off the wanted paths and stops once all
//! of them are found.
//!
//! The places are exactly those [`super::parse`] records (both come from the same parser's
//! spans). Where the walk could disagree with the tree (an alias or merge key on a wanted path,
//! a key the reader would type as a number, boolean or null), it answers `None` and the caller
//! builds the located tree instead.

use granit_parser::{Event, Parser, ScalarStyle, Span};

use crate::source::Loc;

/// Where one wanted path is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spot {
    /// The value at the path, or at its deepest existing parent.
    pub loc: Loc,
    /// The mapping key holding that value (equal to `loc` in sequences and at the root).
    pub key_loc: Loc,
    /// True when the whole path exists.
    pub found: bool,
}

impl Spot {
    /// Where a finding about this path points: the key of a field found, else the value (or
    /// the deepest existing parent) itself; `root`: the path is empty (the document has no key).
    #[must_use]
    pub fn pointed(&self, root: bool) -> Loc {
        if self.found && !root {
            self.key_loc
        } else {
            self.loc
        }
    }
}

/// An open mapping or sequence on a wanted path.
struct Frame {
    /// Mappings: the key read, waiting for its value (with the key's place).
    key: Option<(String, Loc)>,
    /// Sequences: the index of the next item.
    index: Option<usize>,
}

/// For each path (segments from the document's root), where it is written in `text`, one YAML
/// document, as [`super::parse`] records it. `None` when the document cannot be read this way
/// (see the module comment); then parse it with locations.
#[must_use]
pub fn locate(text: &str, paths: &[Vec<String>]) -> Option<Vec<Spot>> {
    if paths.is_empty() {
        return Some(Vec::new());
    }
    let mut spots: Vec<Option<(usize, Spot)>> = vec![None; paths.len()];
    let mut stack: Vec<Frame> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    // Depth inside a subtree off every wanted path, skipped without looking.
    let mut skipping = 0usize;
    // A plain decimal key (`53:`) and a quoted one (`"53":`) are one key in the tree, where the
    // later wins: once a key of digits is seen, the walk goes on to the end, so that a later
    // spelling of it is found too.
    let mut decimal_keys = false;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        if skipping > 0 {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => skipping += 1,
                Event::MappingEnd | Event::SequenceEnd => {
                    skipping -= 1;
                    if skipping == 0 {
                        next_item(&mut stack);
                    }
                }
                _ => {}
            }
            continue;
        }
        let opens = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
        match event {
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                // The root has no segment of its own.
                if !stack.is_empty() {
                    path.pop();
                }
                next_item(&mut stack);
            }
            Event::Scalar(..)
            | Event::MappingStart(..)
            | Event::SequenceStart(..)
            | Event::Alias(_) => {
                let loc = loc_of(&span);
                // A mapping key: kept until its value arrives.
                if let Some(frame) = stack.last_mut()
                    && frame.index.is_none()
                    && frame.key.is_none()
                {
                    let Event::Scalar(key, style, ..) = &event else {
                        return None;
                    };
                    // A merge key brings in keys the walk does not see.
                    if style == &ScalarStyle::Plain && (!plain_text_key(key) || key == "<<") {
                        return None;
                    }
                    decimal_keys |= !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
                    frame.key = Some((key.to_string(), loc));
                    continue;
                }
                let (segment, key_loc) = match stack.last() {
                    None => (None, loc),
                    Some(Frame {
                        key: Some((k, at)), ..
                    }) => (Some(k.clone()), *at),
                    Some(Frame { index, .. }) => (index.map(|i| i.to_string()), loc),
                };
                let depth = path.len() + usize::from(segment.is_some());
                let (mut matched, mut descend) = (false, false);
                for (wanted, spot) in paths.iter().zip(spots.iter_mut()) {
                    let on_path = wanted.len() >= depth
                        && wanted[..path.len()] == path[..]
                        && segment.as_ref().is_none_or(|s| &wanted[depth - 1] == s);
                    if on_path {
                        *spot = Some((
                            depth,
                            Spot {
                                loc,
                                key_loc,
                                found: wanted.len() == depth,
                            },
                        ));
                        matched = true;
                        descend |= wanted.len() > depth;
                    }
                }
                // An alias's place is its anchor's or its own, as the reader decides.
                if matches!(event, Event::Alias(_)) && matched {
                    return None;
                }
                if !opens {
                    next_item(&mut stack);
                } else if descend || stack.is_empty() {
                    if let Some(s) = segment {
                        path.push(s);
                    }
                    let sequence = matches!(event, Event::SequenceStart(..));
                    stack.push(Frame {
                        key: None,
                        index: sequence.then_some(0),
                    });
                } else {
                    skipping = 1;
                }
                if !decimal_keys && spots.iter().all(|s| s.is_some_and(|(_, s)| s.found)) {
                    break;
                }
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    spots.into_iter().map(|s| s.map(|(_, s)| s)).collect()
}

/// After a value: a mapping waits for its next key, a sequence counts the item.
fn next_item(stack: &mut [Frame]) {
    if let Some(frame) = stack.last_mut() {
        frame.key = None;
        if let Some(i) = &mut frame.index {
            *i += 1;
        }
    }
}

/// Whether a plain key is read as the text it is (so it names the same segment the tree has):
/// not a number, boolean or null in either dialect, apart from plain decimal integers, which
/// the tree spells the same way.
fn plain_text_key(key: &str) -> bool {
    let decimal = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'))
        && key.parse::<i64>().is_ok();
    if decimal {
        return true;
    }
    let typed_word = matches!(
        key.to_ascii_lowercase().as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    !typed_word && !key.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

pub(super) fn loc_of(span: &Span) -> Loc {
    let start = span.start.byte_offset().unwrap_or(0);
    let end = span.end.byte_offset().unwrap_or(start);
    Loc {
        src: 0,
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        offset: u32::try_from(start).unwrap_or(u32::MAX),
        len: u32::try_from(end.saturating_sub(start)).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, Node, Value, parse};

    /// Every path in the located tree, with the spot the tree records for it.
    fn tree_spots(node: &Node, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Spot)>) {
        out.push((
            path.clone(),
            Spot {
                loc: node.loc,
                key_loc: node.key_loc,
                found: true,
            },
        ));
        match &node.value {
            Value::Map(m) => {
                for (k, v) in m {
                    path.push(k.clone());
                    tree_spots(v, path, out);
                    path.pop();
                }
            }
            Value::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(i.to_string());
                    tree_spots(v, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// The walk agrees with the located tree on every path of `text` (when it answers).
    pub(crate) fn agrees(text: &str) -> bool {
        let Ok(tree) = parse(text, 0, Dialect::Kube) else {
            return true;
        };
        let mut all = Vec::new();
        tree_spots(&tree, &mut Vec::new(), &mut all);
        let paths: Vec<Vec<String>> = all.iter().map(|(p, _)| p.clone()).collect();
        let Some(spots) = locate(text, &paths) else {
            return true;
        };
        for ((path, want), got) in all.iter().zip(&spots) {
            let mut want = *want;
            if path.is_empty() {
                // The root's key place is its own.
                want.key_loc = want.loc;
            }
            assert_eq!(&want, got, "{path:?} in\n{text}");
        }
        true
    }

    #[test]
    fn spots_match_the_located_tree() {
        let text = "# Source: x\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: {app: \"b\", 53: x}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: 'i:1'\n        env:\n        - {name: A, value: \"中文\"}\n        - name: B\n          value: |\n            two\n            lines\n      - name: empty\n        args: []\n";
        assert!(agrees(text));
    }

    /// `"53":` and `53:` are one key of the tree, the later one's (found by the fuzz harness:
    /// the walk stopped at the first).
    #[test]
    fn a_key_of_digits_written_twice_is_where_the_later_is() {
        for text in [
            "  \"53\":\n  53:\n",
            "53: a\n'53': {b: 1}\n",
            "x: {\"1\": a, 1: b}\n",
        ] {
            assert!(agrees(text));
        }
        let spots = locate("\"53\": a\n53: b\n", &[vec!["53".to_string()]]).unwrap();
        assert_eq!(spots[0].key_loc.line, 2);
    }

    #[test]
    fn missing_paths_stop_at_the_deepest_parent() {
        let text = "a:\n  b: 1\n  c: [x, y]\n";
        let want = |p: &[&str]| p.iter().map(ToString::to_string).collect::<Vec<_>>();
        let spots = locate(
            text,
            &[want(&["a", "c", "1"]), want(&["a", "zz", "q"]), want(&[])],
        )
        .unwrap();
        assert!(spots[0].found);
        assert_eq!((spots[0].loc.line, spots[0].loc.col), (3, 10));
        assert!(!spots[1].found);
        assert_eq!(
            spots[1].loc.line, 2,
            "the mapping under `a` starts at line 2"
        );
        assert!(spots[2].found);
    }

    #[test]
    fn aliases_merge_keys_and_typed_keys_give_way_to_the_tree() {
        let paths = [vec!["b".to_string(), "x".to_string()]];
        assert_eq!(locate("a: &x {x: 1}\nb: *x\n", &paths), None);
        assert_eq!(locate("a: &x {x: 1}\nb:\n  <<: *x\n", &paths), None);
        assert_eq!(locate("on: 1\nb: {x: 2}\n", &paths), None);
        // Off the wanted paths they do not matter.
        assert!(locate("a: &x {x: 1}\nc: *x\nb: {x: 2}\n", &paths).is_some());
    }
}
