//! Source texts and locations inside them.
//!
//! Every file kiln reads (values layers, `kiln.yaml`, templates, rendered documents) is kept as a
//! [`Source`] so that a problem found later can point back at the exact line and column. This
//! module owns no I/O; it only stores text and maps byte offsets to lines.

use std::sync::Arc;

/// One text kiln has read, with the name it is shown under (a path relative to the project).
#[derive(Debug)]
pub struct Source {
    /// How the source is named in messages: `values/envs/prod.yaml`, `--set #2`.
    pub name: String,
    /// The full text.
    pub text: String,
}

/// Index of a [`Source`] in a [`Sources`] table.
pub type SrcId = u32;

/// The table of every source read in one run; cheap to clone.
#[derive(Debug, Default, Clone)]
pub struct Sources(Vec<Arc<Source>>);

impl Sources {
    /// Add a source and return its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SrcId {
        self.0.push(Arc::new(Source {
            name: name.into(),
            text: text.into(),
        }));
        SrcId::try_from(self.0.len() - 1).unwrap_or(SrcId::MAX)
    }

    /// The source with this id.
    #[must_use]
    pub fn get(&self, id: SrcId) -> &Source {
        &self.0[id as usize]
    }

    /// `name:line:col` for a location.
    #[must_use]
    pub fn describe(&self, loc: Loc) -> String {
        format!("{}:{}:{}", self.get(loc.src).name, loc.line, loc.col)
    }
}

/// A place in a source: 1-based line and column, and the byte range of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Which source.
    pub src: SrcId,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// Byte offset of the node's first character.
    pub offset: u32,
    /// Length of the node in bytes (0 when unknown).
    pub len: u32,
}

impl Loc {
    /// A location that only names a source (a whole file, or a `--set` flag).
    #[must_use]
    pub fn whole(src: SrcId) -> Self {
        Loc {
            src,
            line: 1,
            col: 1,
            offset: 0,
            len: 0,
        }
    }

    /// The byte range the location covers inside its source text.
    #[must_use]
    pub fn range(self) -> std::ops::Range<usize> {
        let start = self.offset as usize;
        start..start + self.len as usize
    }
}

/// How many line feeds `text` holds: the line of an offset, where a rendered document's lines
/// start (asked for every document and finding, so with memchr's vectorised search).
#[must_use]
pub fn line_feeds(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count()
}

/// The byte offset where 1-based `line` starts in `text` (the end of the text if past it).
#[must_use]
pub fn line_offset(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

/// `range` moved onto character boundaries of `text` and clamped to it: the start down to the
/// character it falls in, the end up to the end of its character. Locations from parsers and
/// template engines may count characters or point inside a multi-byte character (CJK text, a
/// BOM); slicing with them directly would panic.
#[must_use]
pub fn char_range(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let mut start = range.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = range.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::char_range;

    #[test]
    fn char_range_snaps_to_whole_characters() {
        let t = "\u{feff}日本: 語";
        assert_eq!(char_range(t, 0..1), 0..3);
        assert_eq!(char_range(t, 4..5), 3..6);
        assert_eq!(char_range(t, 5..100), 3..t.len());
        assert_eq!(char_range(t, 100..200), t.len()..t.len());
        assert_eq!(char_range(t, std::ops::Range { start: 7, end: 2 }), 6..6);
    }
}
