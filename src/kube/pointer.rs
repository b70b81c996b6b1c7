//! JSON pointers (RFC 6901), as JSON Schema errors and patches name a place in an object, and
//! the dotted paths users read (`spec.template.spec.containers[0].image`).

/// One segment escaped for a pointer: `~` is `~0`, `/` is `~1`.
#[must_use]
pub fn escape(segment: &str) -> String {
    if !segment.contains(['~', '/']) {
        return segment.to_string();
    }
    segment.replace('~', "~0").replace('/', "~1")
}

/// The pointer to item `i` of the list `list` under `pointer`: `/spec/containers/0`. Made for
/// every item of every list a check walks, so without `format!`'s machinery.
#[must_use]
pub fn list_item(pointer: &str, list: &str, i: usize) -> String {
    let mut index = itoa::Buffer::new();
    let index = index.format(i);
    let mut out = String::with_capacity(pointer.len() + list.len() + index.len() + 2);
    out.push_str(pointer);
    out.push('/');
    out.push_str(list);
    out.push('/');
    out.push_str(index);
    out
}

/// The segments of a pointer, unescaped: `/metadata/labels/app.kubernetes.io~1name` gives
/// `metadata`, `labels`, `app.kubernetes.io/name`. The empty pointer has none.
#[allow(
    clippy::manual_pattern_char_comparison,
    reason = "a plain loop: `split('/')`'s searcher costs more on segments this short"
)]
pub fn segments(pointer: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> + '_ {
    // Byte loops, not `split('/')`'s and `contains('~')`'s searchers: segments are short, and
    // a check makes a pointer for every finding.
    pointer.split(|c| c == '/').skip(1).map(|s| {
        if s.bytes().any(|b| b == b'~') {
            std::borrow::Cow::Owned(s.replace("~1", "/").replace("~0", "~"))
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    })
}

/// `/spec/template/spec/containers/0/image` -> `spec.template.spec.containers[0].image`.
#[must_use]
pub fn dotted(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + 8);
    for part in segments(pointer) {
        // Most segments are keys: a number starts with a digit (or `+`, which `usize` reads).
        if part.starts_with(|c: char| c.is_ascii_digit() || c == '+')
            && part.parse::<usize>().is_ok()
        {
            out.push('[');
            out.push_str(&part);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_and_escapes() {
        assert_eq!(
            dotted("/spec/containers/0/image"),
            "spec.containers[0].image"
        );
        assert_eq!(dotted("/tolerations/0/key"), "tolerations[0].key");
        assert_eq!(
            dotted("/metadata/labels/app.kubernetes.io~1name"),
            "metadata.labels.app.kubernetes.io/name"
        );
        assert_eq!(dotted(""), "");
        assert_eq!(list_item("/spec", "containers", 12), "/spec/containers/12");
        assert_eq!(escape("a/b~c"), "a~1b~0c");
        assert_eq!(
            segments(&format!("/x/{}", escape("a/b~c"))).collect::<Vec<_>>(),
            ["x", "a/b~c"]
        );
    }
}
