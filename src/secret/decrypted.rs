//! Values decrypted from SOPS files: registered once, hidden wherever kiln shows text.

use std::sync::{PoisonError, RwLock};

use super::HIDDEN;
use crate::yaml::{Node, Value};

/// The texts decrypted from SOPS files in this process, longest first (so a secret that holds
/// another is hidden whole).
static DECRYPTED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Record values decrypted from a SOPS file: from now on they are hidden wherever kiln shows
/// text. Each multi-line text also counts line by line (YAML output splits it into lines), and
/// each in its base64 form (how a Secret's `data` holds it). Texts shorter than 3 characters are
/// not recorded, as in [`secrets_in`].
pub fn register_decrypted(texts: impl IntoIterator<Item = String>) {
    use base64::Engine as _;
    let mut all = DECRYPTED.write().unwrap_or_else(PoisonError::into_inner);
    for text in texts {
        let mut forms = vec![base64::engine::general_purpose::STANDARD.encode(text.as_bytes())];
        if text.contains('\n') {
            forms.extend(text.lines().map(|l| l.trim().to_string()));
        }
        forms.push(text);
        for form in forms {
            if form.chars().count() >= 3 && !all.contains(&form) {
                all.push(form);
            }
        }
    }
    all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
}

/// `text` with every registered decrypted value replaced by [`HIDDEN`], or `None` when it holds
/// none.
#[must_use]
pub fn hide_decrypted(text: &str) -> Option<String> {
    let all = DECRYPTED.read().unwrap_or_else(PoisonError::into_inner);
    if all.is_empty() || !all.iter().any(|s| text.contains(s.as_str())) {
        return None;
    }
    Some(super::replace_all(text.to_string(), &all))
}

/// Whether any value was decrypted from a SOPS file in this process.
#[must_use]
pub fn any_decrypted() -> bool {
    !DECRYPTED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .is_empty()
}

/// Hide the registered decrypted values in every scalar of `node`.
pub(super) fn hide_decrypted_in(node: &mut Node) {
    match &mut node.value {
        Value::Map(m) => m.values_mut().for_each(hide_decrypted_in),
        Value::Seq(items) => items.iter_mut().for_each(hide_decrypted_in),
        Value::Str(s) => {
            if let Some(hidden) = hide_decrypted(s) {
                *s = hidden;
            }
        }
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            let text = super::scalar_text(node).unwrap_or_default();
            if hide_decrypted(&text).is_some() {
                node.value = Value::Str(HIDDEN.into());
            }
        }
        Value::Null => {}
    }
}
