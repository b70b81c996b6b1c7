//! Reading manifests to check: split a stream into documents, parse each on its own (so one
//! broken document never hides the others), expand `kind: List`, and remember where each
//! document starts so findings can name the file's own line and column.

use std::borrow::Cow;
use std::sync::Arc;

use crate::source::Loc;
use crate::yaml::{self, Dialect, Node, ParseError, Value, is_blank, split};

/// One document of a file, parsed or not. Its tree is its own when read from a file, and
/// borrowed when `kiln check` checks the render's objects.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// The file it is in, as shown to users.
    pub file: Arc<str>,
    /// The whole file text (for excerpts).
    pub text: Arc<str>,
    /// Byte offset of the document's first line in `text`.
    pub offset: usize,
    /// Number of lines before the document in `text`.
    pub line_base: u32,
    /// The parsed tree (locations relative to the document), or why it does not parse.
    pub parsed: Result<Cow<'a, Node>, ParseError>,
    /// Byte offset just past the document in `text`.
    pub end: usize,
    /// For rendered output: the template that produced it.
    pub template: Option<Arc<str>>,
    /// For rendered output: that template's source (for `# kiln-ignore:` comments).
    pub template_source: Option<Arc<str>>,
    /// False when `parsed` was read without locations (see [`Document::located_tree`]).
    pub has_locations: bool,
    /// For rendered output: where kiln's emitter wrote `parsed` (the byte offset of its YAML in
    /// the document, and the places), so findings are placed without reading the text again.
    pub emitted: Option<(usize, yaml::placed::Placed)>,
    /// For an object of a `kind: List`: its index in `items`.
    pub list_index: Option<usize>,
}

impl Document<'_> {
    /// The document's own text.
    #[must_use]
    pub fn chunk(&self) -> &str {
        self.text
            .get(self.offset..self.end.min(self.text.len()))
            .unwrap_or_default()
    }

    /// The document's tree parsed again with locations (when its text cannot be walked for
    /// them, see [`crate::yaml::locate`]).
    pub fn located_tree(&self) -> Result<Node, ParseError> {
        yaml::parse(self.chunk(), 0, Dialect::Kube).map(|n| match self.list_index {
            Some(i) => expand_list(n)
                .into_iter()
                .nth(i)
                .unwrap_or_else(|| Node::new(Value::Null, Loc::default())),
            None => n,
        })
    }

    /// Absolute line and column of a location inside this document.
    #[must_use]
    pub fn position(&self, loc: Loc) -> (u32, u32, usize) {
        (
            self.line_base + loc.line,
            loc.col,
            self.offset + loc.offset as usize,
        )
    }
}

/// Split `text` at `---` document markers and parse every document (in parallel). Empty
/// documents are dropped; documents that are lists of objects (`kind: List`) are expanded.
#[must_use]
pub fn documents(
    file: &str,
    text: &str,
    template_of: &(dyn Fn(&str) -> Option<(Arc<str>, Arc<str>)> + Sync),
) -> Vec<Document<'static>> {
    map_documents(file, text, template_of, &|d| d)
}

/// Like [`documents`], but each document goes to `each` as soon as it is parsed and is dropped
/// when `each` returns: only the results (in document order) are kept, never every tree at once.
/// This is how `kiln lint` reads a file of thousands of documents in little memory.
#[must_use]
pub fn map_documents<R: Send>(
    file: &str,
    text: &str,
    template_of: &(dyn Fn(&str) -> Option<(Arc<str>, Arc<str>)> + Sync),
    each: &(dyn Fn(Document<'static>) -> R + Sync),
) -> Vec<R> {
    let file: Arc<str> = Arc::from(file);
    let text_arc: Arc<str> = Arc::from(text);
    crate::par::map(&split(text), |&(offset, line_base, end)| {
        parse_chunk(&file, &text_arc, (offset, line_base, end), template_of)
            .into_iter()
            .map(each)
            .collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// The documents of one chunk of `text` (none, one, or the items of a `kind: List`).
fn parse_chunk(
    file: &Arc<str>,
    text: &Arc<str>,
    (offset, line_base, end): (usize, u32, usize),
    template_of: &(dyn Fn(&str) -> Option<(Arc<str>, Arc<str>)> + Sync),
) -> Vec<Document<'static>> {
    let chunk = &text[offset..end];
    if is_blank(chunk) {
        return Vec::new();
    }
    let (template, template_source) = match chunk
        .lines()
        .find_map(|l| l.strip_prefix("# Source: "))
        .and_then(template_of)
    {
        Some((name, source)) => (Some(name), Some(source)),
        None => (None, None),
    };
    let doc = |parsed: Result<Node, ParseError>| Document {
        file: Arc::clone(file),
        text: Arc::clone(text),
        offset,
        line_base,
        end,
        parsed: parsed.map(Cow::Owned),
        template: template.clone(),
        template_source: template_source.clone(),
        has_locations: false,
        emitted: None,
        list_index: None,
    };
    // Without locations first: most documents have no findings, and the few that do are parsed
    // again with locations (`Document::located`).
    match yaml::parse_unlocated(chunk, Dialect::Kube) {
        Ok(node) if node.value == Value::Null => Vec::new(),
        Ok(node) => {
            let is_list = is_list(&node);
            expand_list(node)
                .into_iter()
                .enumerate()
                .map(|(i, n)| {
                    let mut d = doc(Ok(n));
                    d.list_index = is_list.then_some(i);
                    d
                })
                .collect()
        }
        // Errors carry their own position; parse again to get the located message.
        Err(_) => vec![doc(yaml::parse(chunk, 0, Dialect::Kube))],
    }
}

fn is_list(node: &Node) -> bool {
    node.get_str("kind")
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && node
            .get("items")
            .is_some_and(|i| matches!(i.value, Value::Seq(_)))
}

/// `kind: List` (and `*List`) documents hold their objects in `items`.
fn expand_list(node: Node) -> Vec<Node> {
    if !is_list(&node) {
        return vec![node];
    }
    match node.value {
        Value::Map(mut m) => match m.shift_remove("items").map(|i| i.value) {
            Some(Value::Seq(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keep_line_numbers() {
        let text = "a: 1\n---\nb: 2\nc: 3\n--- # x\nd: [\n---\n";
        let docs = documents("f.yaml", text, &|_| None);
        assert_eq!(docs.len(), 3);
        // Documents are read without locations; `located_tree()` reads one again with them.
        let located = docs[1].located_tree().unwrap();
        let c = located.get("c").unwrap();
        assert_eq!(docs[1].position(c.loc).0, 4);
        let err = docs[2].parsed.as_ref().unwrap_err();
        assert!(docs[2].line_base + err.line >= 6);
    }

    #[test]
    fn directives_and_document_ends_split_where_yaml_says() {
        let text = "%YAML 1.2\n---\na: 1\n...\nb: 2\n---\nc: 3\n---\n---\n# empty\n---\nd: 4\n";
        let docs = documents("f.yaml", text, &|_| None);
        assert_eq!(docs.len(), 4, "{docs:?}");
        assert!(docs.iter().all(|d| d.parsed.is_ok()), "{docs:?}");
        assert_eq!(docs[1].line_base, 4);
    }

    /// The streaming form sees the same documents, in order, as the collecting one.
    #[test]
    fn mapped_documents_come_back_in_order() {
        let text = "a: 1\n---\nkind: List\nitems: [{b: 2}, {c: 3}]\n---\n---\nd: [\n---\ne: 5\n";
        let lines = |d: &Document<'_>| (d.line_base, d.list_index, d.parsed.is_ok());
        let collected: Vec<_> = documents("f", text, &|_| None).iter().map(lines).collect();
        let mapped = map_documents("f", text, &|_| None, &|d| lines(&d));
        assert_eq!(mapped, collected);
        assert_eq!(mapped.len(), 5, "{mapped:?}");
    }

    #[test]
    fn lists_expand() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {kind: ConfigMap}\n- {kind: Service}\n";
        assert_eq!(documents("f", text, &|_| None).len(), 2);
    }
}
