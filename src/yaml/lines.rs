//! Manifests read line by line, without a YAML parser: the layout templates write (block
//! mappings and sequences, one-line flow collections and quoted scalars, literal block scalars)
//! reads several times faster this way than from the parser's events ([`super::fast`]), which
//! took over a third of a render.
//!
//! It reads only what it is sure of and types scalars as [`super::fast`] does (the same
//! function). Anything else (a tab, a comment after a value, a multi-line plain or quoted
//! scalar, a folded or kept block scalar, anchors, tags, complex or quoted keys, a duplicate key,
//! directives, control characters, a document near the budget's limits) answers `None`, and the
//! caller reads the whole text with [`super::fast`], then serde-saphyr, which give the same tree
//! or the error. The fuzz test `fast_reader_agrees` holds both readers to serde-saphyr's trees.

use granit_parser::ScalarStyle;

use super::fast::{key, limits, scalar};
use super::{Map, Node, Value};
use crate::source::Loc;

/// The documents of `text` (each root with its location, empty documents left out), or `None`.
pub(super) fn stream(text: &str) -> Option<Vec<Node>> {
    if !printable(text) {
        return None;
    }
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        lines.push((offset, line));
        offset += line.len() + 1;
    }
    let mut reader = Reader {
        lines,
        at: 0,
        nodes: 0,
    };
    reader.documents()
}

/// No character the line reader would have to judge: tabs, carriage returns and other control
/// characters, the byte order mark, and the line and paragraph separators of YAML 1.1.
fn printable(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => false,
        0..0x20 | 0x7f => true,
        // C1 controls (NEL among them).
        0xc2 => bytes.get(i + 1).is_some_and(|n| (0x80..0xa0).contains(n)),
        // U+2028, U+2029.
        0xe2 => bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)),
        // U+FEFF, U+FFFE, U+FFFF.
        0xef => matches!(
            (bytes.get(i + 1), bytes.get(i + 2)),
            (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
        ),
        _ => false,
    })
}

struct Reader<'a> {
    /// Each line's byte offset and text (without its line break).
    lines: Vec<(usize, &'a str)>,
    /// The next line to read.
    at: usize,
    nodes: usize,
}

/// The spaces a line starts with.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `- x` or a lone `-`: an entry of a block sequence.
fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

fn null() -> Node {
    Node::new(Value::Null, Loc::default())
}

/// A mapping key as written.
enum Key<'a> {
    Plain(&'a str),
    /// A quoted key's value (a string, whatever it holds).
    Quoted(String),
}

/// What a line's content is, read as a mapping entry.
enum Entry<'a> {
    /// `key:` and the text after the colon.
    Key(Key<'a>, &'a str),
    /// Not a mapping entry (a scalar, a quoted or flow value, a sequence entry).
    Not,
    /// Something this reader does not judge (a comment before the colon, `key :`).
    Unsure,
}

fn entry(content: &str) -> Entry<'_> {
    let b = content.as_bytes();
    match b.first() {
        Some(b'"' | b'\'') => {
            return match quoted(content) {
                Some((k, used)) if content[used..].starts_with(':') => {
                    let rest = &content[used + 1..];
                    if rest.is_empty() || rest.starts_with(' ') {
                        Entry::Key(Key::Quoted(k), rest)
                    } else {
                        Entry::Unsure
                    }
                }
                _ => Entry::Not,
            };
        }
        None
        | Some(
            b'{' | b'[' | b'?' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' | b'#'
            | b',' | b']' | b'}' | b':',
        ) => return Entry::Not,
        _ => {}
    }
    let mut from = 0;
    while let Some(p) = content[from..].find(':') {
        let at = from + p;
        if at + 1 == b.len() || b[at + 1] == b' ' {
            let k = &content[..at];
            if k.ends_with(' ') || k.contains(" #") {
                return Entry::Unsure;
            }
            return Entry::Key(Key::Plain(k), &content[at + 1..]);
        }
        from = at + 1;
    }
    Entry::Not
}

impl<'a> Reader<'a> {
    /// Every document; `None` as soon as one is not sure.
    fn documents(&mut self) -> Option<Vec<Node>> {
        let mut docs = Vec::new();
        let mut documents = 0usize;
        let mut open = false;
        while let Some(i) = self.peek_any() {
            let (offset, line) = self.lines[i];
            if line == "---" || line.starts_with("--- ") {
                if !line[3..].trim_start_matches(' ').is_empty() {
                    return None;
                }
                documents += 1;
                open = true;
                self.at = i + 1;
            } else {
                if !open {
                    documents += 1;
                }
                if indent(line) != 0 {
                    return None;
                }
                let mut root = self.block(0, 0)?;
                // Only the next document (or the end) may follow the root.
                if self.peek().is_some() {
                    return None;
                }
                root.loc = Loc {
                    src: 0,
                    line: u32::try_from(i + 1).ok()?,
                    col: 1,
                    offset: u32::try_from(offset).ok()?,
                    len: 0,
                };
                root.key_loc = root.loc;
                docs.push(root);
                open = false;
            }
            if documents > limits().documents {
                return None;
            }
        }
        Some(docs)
    }

    /// The next line with content (not blank, not a comment), or the next document marker; `None`
    /// at the end. A line this reader cannot place (`...`, a directive) ends it too, and is left
    /// for [`Reader::documents`] to refuse.
    fn peek_any(&self) -> Option<usize> {
        (self.at..self.lines.len()).find(|&i| {
            let line = self.lines[i].1;
            let content = line.trim_start_matches(' ');
            !content.is_empty() && !content.starts_with('#')
        })
    }

    /// [`Reader::peek_any`] within the document: `None` at a document marker too.
    fn peek(&self) -> Option<usize> {
        self.peek_any().filter(|&i| {
            let line = self.lines[i].1;
            !(line.starts_with("---") || line.starts_with("...") || line.starts_with('%'))
        })
    }

    /// Count a node against the budget's limit.
    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= limits().nodes).then_some(())
    }

    /// The block node whose first line is the next one, at indent `n`.
    fn block(&mut self, n: usize, depth: usize) -> Option<Node> {
        let i = self.peek()?;
        let content = &self.lines[i].1[n..];
        if is_item(content) {
            self.seq(n, depth)
        } else {
            self.map(n, None, depth)
        }
    }

    /// A block mapping with keys at indent `n`; `first` is its first entry when it began on a
    /// sequence entry's line (`- name: x`).
    fn map(&mut self, n: usize, mut first: Option<&'a str>, depth: usize) -> Option<Node> {
        if depth >= limits().depth {
            return None;
        }
        let mut entries = Map::default();
        loop {
            let content = match first.take() {
                Some(c) => c,
                None => {
                    let Some(i) = self.peek() else { break };
                    let line = self.lines[i].1;
                    let ind = indent(line);
                    if ind < n {
                        break;
                    }
                    if ind > n || is_item(&line[ind..]) {
                        return None;
                    }
                    self.at = i + 1;
                    &line[ind..]
                }
            };
            let Entry::Key(k, rest) = entry(content) else {
                return None;
            };
            let (k, was_string) = match k {
                // serde-saphyr refuses implicit keys past 1,024 characters.
                Key::Plain(k) if k.len() > 1000 => return None,
                Key::Plain(k) => key(scalar(k, ScalarStyle::Plain)?)?,
                Key::Quoted(k) if k.chars().count() > 1000 => return None,
                Key::Quoted(k) => (k, true),
            };
            if entries.contains_key(&k) || k == "<<" {
                return None;
            }
            self.count()?;
            let mut value = self.after_key(n, rest, depth + 1)?;
            value.key_was_string = was_string;
            entries.insert(k, value);
        }
        self.count()?;
        Some(Node::new(Value::Map(entries), Loc::default()))
    }

    /// The value of a key at indent `n`, from the text after its colon.
    fn after_key(&mut self, n: usize, rest: &'a str, depth: usize) -> Option<Node> {
        let rest = rest.trim_start_matches(' ');
        if !rest.is_empty() {
            return self.inline(rest, n, depth);
        }
        let Some(i) = self.peek() else {
            return self.leaf(null());
        };
        let line = self.lines[i].1;
        let ind = indent(line);
        if ind > n {
            self.block(ind, depth)
        } else if ind == n && is_item(&line[ind..]) {
            // A sequence may sit at its key's indent.
            self.seq(n, depth)
        } else {
            self.leaf(null())
        }
    }

    /// A block sequence with entries at indent `n`.
    fn seq(&mut self, n: usize, depth: usize) -> Option<Node> {
        if depth >= limits().depth {
            return None;
        }
        let mut items = Vec::new();
        while let Some(i) = self.peek() {
            let line = self.lines[i].1;
            let ind = indent(line);
            if ind < n {
                break;
            }
            if ind > n {
                return None;
            }
            if !is_item(&line[ind..]) {
                break;
            }
            self.at = i + 1;
            let after = &line[ind + 1..];
            let item = after.trim_start_matches(' ');
            let node = if item.is_empty() {
                match self.peek() {
                    Some(j) if indent(self.lines[j].1) > n => {
                        let ind = indent(self.lines[j].1);
                        self.block(ind, depth + 1)?
                    }
                    _ => self.leaf(null())?,
                }
            } else if is_item(item) {
                return None;
            } else {
                match entry(item) {
                    Entry::Key(..) => {
                        let column = ind + 1 + (after.len() - item.len());
                        self.map(column, Some(item), depth + 1)?
                    }
                    Entry::Not => self.inline(item, n, depth + 1)?,
                    Entry::Unsure => return None,
                }
            };
            items.push(node);
        }
        self.count()?;
        Some(Node::new(Value::Seq(items), Loc::default()))
    }

    /// A value written on its key's or its entry's line, inside a node at indent `n`.
    fn inline(&mut self, text: &'a str, n: usize, depth: usize) -> Option<Node> {
        let node = match text.as_bytes()[0] {
            b'|' => {
                let value = self.literal(text, n)?;
                return self.leaf(Node::new(value, Loc::default()));
            }
            b'"' | b'\'' => {
                let (s, used) = quoted(text)?;
                if !text[used..].trim_end_matches(' ').is_empty() {
                    return None;
                }
                Node::new(Value::Str(s), Loc::default())
            }
            b'{' | b'[' => {
                let mut flow = Flow {
                    text,
                    at: 0,
                    nodes: 0,
                };
                let node = flow.node(depth)?;
                if !text[flow.at..].trim_end_matches(' ').is_empty() {
                    return None;
                }
                self.nodes += flow.nodes;
                node
            }
            b'>' | b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'?' | b'#' | b',' | b']' | b'}'
            | b':' => return None,
            _ => {
                let unsure = is_item(text)
                    || text.contains(": ")
                    || text.ends_with(':')
                    || text.contains(" #");
                if unsure {
                    return None;
                }
                Node::new(
                    scalar(text.trim_end_matches(' '), ScalarStyle::Plain)?,
                    Loc::default(),
                )
            }
        };
        // A more indented line after it would continue a plain scalar (or be an error).
        if let Some(i) = (self.at..self.lines.len())
            .find(|&i| !self.lines[i].1.trim_start_matches(' ').is_empty())
            && indent(self.lines[i].1) > n
        {
            return None;
        }
        self.leaf(node)
    }

    fn leaf(&mut self, node: Node) -> Option<Node> {
        self.count()?;
        Some(node)
    }

    /// A literal block scalar (`|` or `|-`) of a node at indent `n`, its lines from the next.
    fn literal(&mut self, header: &str, n: usize) -> Option<Value> {
        let strip = match header.trim_end_matches(' ') {
            "|" => false,
            "|-" => true,
            _ => return None,
        };
        let mut block_indent = None;
        let mut out = String::new();
        let mut blanks = 0;
        while let Some(&(_, line)) = self.lines.get(self.at) {
            let ind = indent(line);
            if ind == line.len() {
                // Blank: leading ones, or ones with spaces past the indent, are not judged.
                match block_indent {
                    Some(b) if ind <= b => blanks += 1,
                    _ => return None,
                }
                self.at += 1;
                continue;
            }
            let b = *block_indent.get_or_insert(ind);
            if ind < b || b <= n {
                break;
            }
            for _ in 0..blanks {
                out.push('\n');
            }
            blanks = 0;
            out.push_str(&line[b..]);
            out.push('\n');
            self.at += 1;
        }
        if strip {
            out.pop();
        }
        Some(Value::Str(out))
    }
}

/// A quoted scalar at the start of `text` (on one line): its value and the bytes it took.
fn quoted(text: &str) -> Option<(String, usize)> {
    let &quote = text.as_bytes().first()?;
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if quote == b'\'' => {
                if text[i + 1..].starts_with('\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Some((out, i + 1));
                }
            }
            '"' if quote == b'"' => return Some((out, i + 1)),
            '\\' if quote == b'"' => {
                let (_, e) = chars.next()?;
                let hex = |chars: &mut std::iter::Skip<std::str::CharIndices<'_>>, len: usize| {
                    let mut v = 0u32;
                    for _ in 0..len {
                        v = v * 16 + chars.next()?.1.to_digit(16)?;
                    }
                    char::from_u32(v)
                };
                out.push(match e {
                    '0' => '\0',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    't' => '\t',
                    'n' => '\n',
                    'v' => '\u{b}',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'e' => '\u{1b}',
                    ' ' => ' ',
                    '"' => '"',
                    '/' => '/',
                    '\\' => '\\',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    'U' => hex(&mut chars, 8)?,
                    _ => return None,
                });
            }
            c => out.push(c),
        }
    }
    None
}

/// A flow collection written on one line.
struct Flow<'a> {
    text: &'a str,
    at: usize,
    nodes: usize,
}

impl Flow<'_> {
    fn spaces(&mut self) {
        while self.text.as_bytes().get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    fn next_is(&mut self, b: u8) -> bool {
        self.spaces();
        if self.text.as_bytes().get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn node(&mut self, depth: usize) -> Option<Node> {
        self.spaces();
        self.nodes += 1;
        if self.nodes > limits().nodes {
            return None;
        }
        let value = match *self.text.as_bytes().get(self.at)? {
            b'{' => self.map(depth)?,
            b'[' => self.seq(depth)?,
            _ => self.scalar()?.0,
        };
        Some(Node::new(value, Loc::default()))
    }

    /// A scalar, and whether it was quoted.
    fn scalar(&mut self) -> Option<(Value, bool)> {
        let rest = &self.text[self.at..];
        let b = rest.as_bytes();
        let &first = b.first()?;
        if matches!(first, b'"' | b'\'') {
            let (s, used) = quoted(rest)?;
            self.at += used;
            return Some((Value::Str(s), true));
        }
        // `-` may start a scalar when a character of it follows (`-1`, `-Xmx1g`).
        let dash_scalar = first == b'-'
            && !matches!(
                b.get(1),
                None | Some(b' ' | b',' | b'[' | b']' | b'{' | b'}')
            );
        if matches!(
            first,
            b',' | b'['
                | b']'
                | b'{'
                | b'}'
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'%'
                | b'@'
                | b'`'
                | b'?'
                | b':'
                | b'-'
        ) && !dash_scalar
        {
            return None;
        }
        let mut end = 0;
        while end < b.len() {
            match b[end] {
                b',' | b'[' | b']' | b'{' | b'}' => break,
                b':' if matches!(
                    b.get(end + 1),
                    None | Some(b' ' | b',' | b'[' | b']' | b'{' | b'}')
                ) =>
                {
                    break;
                }
                b'#' if b[end - 1] == b' ' => return None,
                _ => end += 1,
            }
        }
        let plain = rest[..end].trim_end_matches(' ');
        if plain.is_empty() {
            return None;
        }
        self.at += end;
        Some((scalar(plain, ScalarStyle::Plain)?, false))
    }

    /// The entries of the flow collection that starts here, up to `close`, each read by `entry`;
    /// a trailing comma is left to the parser.
    fn entries(
        &mut self,
        close: u8,
        depth: usize,
        mut entry: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if depth >= limits().depth {
            return None;
        }
        self.at += 1;
        if self.next_is(close) {
            return Some(());
        }
        loop {
            entry(self)?;
            if self.next_is(close) {
                return Some(());
            }
            if !self.next_is(b',') || self.next_is(close) {
                return None;
            }
        }
    }

    fn map(&mut self, depth: usize) -> Option<Value> {
        let mut entries = Map::default();
        self.entries(b'}', depth, |flow| {
            flow.spaces();
            let (k, quoted) = flow.scalar()?;
            let (k, was_string) = key(k)?;
            if !flow.next_is(b':') || entries.contains_key(&k) || k == "<<" {
                return None;
            }
            // After a plain key the colon needs a space (`a:1` is one scalar).
            if !quoted && flow.text.as_bytes().get(flow.at) != Some(&b' ') {
                return None;
            }
            flow.spaces();
            if matches!(flow.text.as_bytes().get(flow.at), None | Some(b',' | b'}')) {
                return None;
            }
            let mut value = flow.node(depth + 1)?;
            value.key_was_string = was_string;
            flow.nodes += 1;
            entries.insert(k, value);
            Some(())
        })?;
        Some(Value::Map(entries))
    }

    fn seq(&mut self, depth: usize) -> Option<Value> {
        let mut items = Vec::new();
        self.entries(b']', depth, |flow| {
            items.push(flow.node(depth + 1)?);
            Some(())
        })?;
        Some(Value::Seq(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What this reader reads is what the parser's events give.
    fn agrees(text: &str) {
        let lines = stream(text).unwrap_or_else(|| panic!("not read line by line: {text:?}"));
        let events = super::super::fast::events(text).expect("read from events");
        assert_eq!(lines, events, "{text:?}");
    }

    #[test]
    fn the_layout_templates_write_is_read_as_the_parser_reads_it() {
        for text in [
            "a: 1\n",
            "# Source: x.yaml.j2\napiVersion: v1\nkind: ConfigMap\n",
            "---\na: 1\n---\n# c\n\nb: [1, 2]\n---\n",
            "a:\n- x\n- y\nb: {c: d, \"e\": 'f', g: [], h: {}}\n",
            "k: |\n  line1\n\n    line2\n\nz: 1\n",
            "k: |-\n  x\n  y\nl: |\nm: |\n  last\n",
            "list:\n  - name: a\n    v: 1\n  - b\n  -\n    c: d\n  - - x\n",
            "a: \"\\u00e9\\n\\t\\\"\\\\/\"\nb: 'it''s'\n",
            "a: on\nb: yes\nc: 0755\nd: 1.5\ne: ~\nf:\ng: 10.0.0.1\nh: 500m\ni: -Xms256m -Xmx1g\n",
            "中文: 值\n注释: \"你好\"\nurl: http://x:80/a#b\n",
            "a: {x: [1, {y: z}], w: [-1, -x]}\nb: {\"q\":1}\n",
            "- a\n- b: c\n  d: e\n",
            "a:\n  b:\n    c: 1\n  # comment\n  d: 2\n",
            "\"53\": kube-system/kube-dns:53\n'on': 1\n",
            "v: -XX:MaxRAMPercentage=75.0 -Djava.security.egd=file:/dev/./urandom\nw: ./start.sh\n",
            "labels: {app: svc-0001, env: dev}\nports: [{containerPort: 8080, name: http}]\n",
        ] {
            if text.contains("- - x") {
                assert!(stream(text).is_none());
                continue;
            }
            agrees(text);
        }
    }

    #[test]
    fn what_it_does_not_judge_is_left_to_the_parser() {
        for text in [
            "a: b # c\n",
            "a: &x 1\nb: *x\n",
            "a:\tb\n",
            "a: >\n  x\n",
            "a: |+\n  x\n",
            "a: |2\n  x\n",
            "a: b\n  c\n",
            "? a\n: b\n",
            "a: 1\na: 2\n",
            "\"a\":1\n",
            "a: \"multi\n  line\"\n",
            "a: {x: 1,\n  y: 2}\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: 1\n...\n",
            "\u{feff}a: 1\n",
            "a: 1\r\n",
            "a: !!str 1\n",
            "<<: {a: 1}\n",
            "a: {b}\n",
            "a: [1,]\n",
            "a: {b:1}\n",
            "plain\n",
            "  a: 1\n",
            "a: b: c\n",
            "k: |\n  \n  x\n",
        ] {
            assert!(stream(text).is_none(), "{text:?}");
        }
    }
}
