//! What golden files keep of a secret: a salted digest, never the value.

use super::{collect, is_secret_key, scalar_text, walk};
use crate::yaml::{Node, Value};

/// How golden files keep a Secret's value: `sha256:` and 64 hex digits.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Whether `text` is a digest as [`digest_secret_data`] writes it.
#[must_use]
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix(DIGEST_PREFIX).is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The digest golden files keep of the value at `<field>.<key>` (`data.DB_PASSWORD`) of the
/// Secret `namespace/name`: SHA-256 over `namespace`, `name`, `field`, `key` and the value as
/// written, separated by NUL bytes. Salting with the object and key means equal values in two
/// Secrets (dev and prod) give unrelated digests, and no precomputed table of common
/// passwords applies; a guessable value can still be guessed, as from any digest.
#[must_use]
pub fn digest(namespace: &str, name: &str, field: &str, key: &str, value: &str) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let mut h = sha2::Sha256::new();
    for part in [namespace, name, field, key] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(value.as_bytes());
    let mut out = String::with_capacity(DIGEST_PREFIX.len() + 64);
    out.push_str(DIGEST_PREFIX);
    for b in h.finalize() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whether `doc` is a core `v1` Secret (whose `data` and `stringData` are secret).
#[must_use]
pub fn is_secret_object(doc: &Node) -> bool {
    doc.get_str("kind") == Some("Secret") && doc.get_str("apiVersion") == Some("v1")
}

/// An object's namespace and name, which salt the digests of its values.
fn salt(doc: &Node) -> (String, String) {
    let meta = doc.get("metadata");
    let field = |f: &str| {
        meta.and_then(|m| m.get_str(f))
            .unwrap_or_default()
            .to_string()
    };
    (field("namespace"), field("name"))
}

/// Replace every value under a Secret's `data` and `stringData` with its [`digest`], as golden
/// files keep it; anything else is left alone. Returns whether anything changed.
pub fn digest_secret_data(doc: &mut Node) -> bool {
    if !is_secret_object(doc) {
        return false;
    }
    let (namespace, name) = salt(doc);
    let mut changed = false;
    for field in ["data", "stringData"] {
        let Some(data) = doc.get_mut(field) else {
            continue;
        };
        match &mut data.value {
            Value::Map(m) => {
                for (key, v) in m.iter_mut() {
                    if let Some(text) = scalar_text(v) {
                        v.value = Value::Str(digest(&namespace, &name, field, key, &text));
                        changed = true;
                    }
                }
            }
            Value::Null => {}
            _ => {
                // Not a mapping (Kubernetes rejects it): still never written out as it is.
                let text = serde_json::to_string(&*data).unwrap_or_default();
                data.value = Value::Str(digest(&namespace, &name, field, "", &text));
                changed = true;
            }
        }
    }
    changed
}

/// Replace every other secret of a Kubernetes object (what [`redact`] hides outside a Secret's
/// `data`/`stringData`: `{name: DB_PASSWORD, value: ...}` pairs, secret-looking keys, URL
/// passwords) with its digest, salted with the object's namespace and name, as golden files keep
/// it. Returns whether anything changed.
pub fn digest_other_secrets(doc: &mut Node) -> bool {
    let (namespace, name) = salt(doc);
    let mut changed = false;
    let mut with = |value: &str| {
        changed = true;
        digest(&namespace, &name, "", "", value)
    };
    if is_secret_object(doc) {
        // `data`/`stringData` are [`digest_secret_data`]'s, keyed by field and key.
        let Value::Map(m) = &mut doc.value else {
            return false;
        };
        for (k, v) in m.iter_mut() {
            if k != "data" && k != "stringData" {
                walk(v, is_secret_key(k), &mut with);
            }
        }
    } else {
        walk(doc, false, &mut with);
    }
    changed
}

/// Whether [`redact`] would hide anything in `node` beyond a Secret's `data`/`stringData`,
/// decided without copying the tree.
#[must_use]
pub fn has_other_secrets(node: &Node) -> bool {
    let mut out = Vec::new();
    collect(node, false, false, true, &mut out);
    !out.is_empty()
}

/// Whether a Kubernetes object holds, outside a Secret's `data`/`stringData`, a secret that is
/// not a digest: what a golden file must not hold.
#[must_use]
pub fn has_other_plaintext(doc: &Node) -> bool {
    let mut copy = doc.clone();
    let mut plain = false;
    let mut check = |value: &str| {
        plain |= !is_digest(value);
        value.to_string()
    };
    if is_secret_object(&copy) {
        if let Value::Map(m) = &mut copy.value {
            for (k, v) in m.iter_mut() {
                if k != "data" && k != "stringData" {
                    walk(v, is_secret_key(k), &mut check);
                }
            }
        }
    } else {
        walk(&mut copy, false, &mut check);
    }
    plain
}

/// The `<field>.<key>` paths of a Secret's values that are not digests: plaintext, which a
/// golden file must not hold.
#[must_use]
pub fn plaintext_secret_keys(doc: &Node) -> Vec<String> {
    let mut out = Vec::new();
    if !is_secret_object(doc) {
        return out;
    }
    for field in ["data", "stringData"] {
        match doc.get(field).map(|n| &n.value) {
            None | Some(Value::Null) => {}
            Some(Value::Map(m)) => {
                for (key, v) in m {
                    let digested = matches!(&v.value, Value::Str(s) if is_digest(s));
                    if !digested && !matches!(v.value, Value::Null) {
                        out.push(format!("{field}.{key}"));
                    }
                }
            }
            Some(Value::Str(s)) if is_digest(s) => {}
            Some(_) => out.push(field.to_string()),
        }
    }
    out
}
