//! Hiding secrets in YAML text shown to a user, line by line (excerpts of text that may not parse).

use super::{HIDDEN, hide_decrypted, is_secret_key, mask_url_password};

/// Hide secrets in YAML text shown to a user (a diagnostic's excerpt): the values of
/// secret-looking keys, the `value` after a secret-looking `name`, URL passwords, and every
/// value under a Secret's `data`/`stringData`. Works line by line on text that may not even
/// parse. `context` is the text before the first line (the start of its document) so state
/// such as "inside a Secret's data" is known. Returns the new text and `range` moved to match.
#[must_use]
pub fn redact_lines(
    context: &str,
    text: &str,
    range: std::ops::Range<usize>,
) -> (String, std::ops::Range<usize>) {
    let mut state = LineState::default();
    for line in context.lines() {
        state.see(line);
    }
    let mut out = String::with_capacity(text.len());
    let mut range_out = range.clone();
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let hidden = match state.hide(body) {
            Some(h) => Some(hide_decrypted(&h).unwrap_or(h)),
            None => hide_decrypted(body),
        };
        state.see(body);
        let new = hidden.as_deref().unwrap_or(body);
        // Keep the underline on the same line: clamp it into the rewritten line.
        let (start, end) = (offset, offset + body.len());
        let shift = |p: usize| -> usize {
            if p < start {
                p
            } else if p <= end {
                out.len() + (p - start).min(new.len())
            } else {
                p
            }
        };
        if (start..=end).contains(&range.start) {
            range_out.start = shift(range.start);
        }
        if (start..=end).contains(&range.end) {
            range_out.end = shift(range.end).max(range_out.start);
        }
        out.push_str(new);
        out.push_str(nl);
        offset += line.len();
    }
    // A place past the text is the end of the new text, which hiding may have lengthened: an
    // end left unmoved there could fall before a start that was moved.
    if range.end > offset {
        range_out.end = out.len();
    }
    if range.start > offset {
        range_out.start = out.len();
    }
    let end = range_out.end.min(out.len());
    (out, range_out.start.min(end)..end)
}

/// What the lines seen so far say about the next one.
#[derive(Debug, Default)]
struct LineState {
    /// Inside a document whose `kind` is Secret.
    secret_object: bool,
    /// Indentation of a key whose nested lines are all secret (a Secret's `data:`, a block
    /// scalar or mapping under `password:`), while lines are deeper than it.
    secret_block: Option<usize>,
    /// The previous `name:` named a secret, so the next `value:` is one.
    named_secret: bool,
}

impl LineState {
    fn see(&mut self, line: &str) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            *self = LineState::default();
            return;
        }
        if let Some(block) = self.secret_block
            && !trimmed.is_empty()
            && indent <= block
        {
            self.secret_block = None;
        }
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let item_indent = indent + (trimmed.len() - item.len());
        if let Some((key, value)) = split_key(item) {
            let value = value.trim();
            if key == "kind" {
                self.secret_object = value.trim_matches(['"', '\'']) == "Secret";
            }
            if key == "name" {
                self.named_secret = is_secret_key(value.trim_matches(['"', '\'']));
            } else if key != "value" && item_indent == indent {
                self.named_secret &= !trimmed.starts_with("- ");
            }
            let opens_block = value.is_empty() || value.starts_with(['|', '>']);
            let secret_key = is_secret_key(key)
                || (self.secret_object && indent == 0 && matches!(key, "data" | "stringData"));
            if opens_block && secret_key && self.secret_block.is_none() {
                self.secret_block = Some(item_indent);
            }
        }
    }

    /// The line with its secret part hidden, or `None` to show it as it is.
    fn hide(&self, line: &str) -> Option<String> {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(block) = self.secret_block
            && !trimmed.is_empty()
            && indent > block
        {
            // Keep a nested key visible, hide its value; hide block-scalar text whole.
            return Some(
                match split_key(trimmed.strip_prefix("- ").unwrap_or(trimmed)) {
                    Some((_, v)) if !v.trim().is_empty() => {
                        let cut = line.len() - v.len();
                        format!("{} {HIDDEN}", line[..cut].trim_end())
                    }
                    Some(_) => return None,
                    None => format!("{}{HIDDEN}", &line[..indent]),
                },
            );
        }
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if let Some((key, value)) = split_key(item) {
            let v = value.trim();
            let inline_secret = is_secret_key(key)
                || (key == "value" && self.named_secret)
                || (self.secret_object && matches!(key, "data" | "stringData") && indent == 0);
            if inline_secret && !v.is_empty() && !v.starts_with(['|', '>']) {
                let cut = line.len() - value.len();
                return Some(format!("{} {HIDDEN}", line[..cut].trim_end()));
            }
        }
        mask_url_password(line)
    }
}

/// `key: value` on a YAML line (plain or quoted key), or `None`.
fn split_key(item: &str) -> Option<(&str, &str)> {
    let (key, rest) = if let Some(q) = item.strip_prefix('"') {
        let end = q.find('"')?;
        (&q[..end], q[end + 1..].strip_prefix(':')?)
    } else if let Some(q) = item.strip_prefix('\'') {
        let end = q.find('\'')?;
        (&q[..end], q[end + 1..].strip_prefix(':')?)
    } else {
        let i = item
            .find(": ")
            .or_else(|| item.strip_suffix(':').map(str::len))?;
        (&item[..i], &item[i + 1..])
    };
    (rest.is_empty() || rest.starts_with(' ')).then_some((key.trim(), rest))
}
