//! What counts as a secret, the one place it is decided, and how it is hidden.
//!
//! A value is secret when it sits under a Kubernetes Secret's `data`/`stringData`, under a key
//! that names a secret (`DB_PASSWORD`, `redisPass`, `ENCRYPTION_KEY`, `secrets:`), as the `value`
//! of a `{name: DB_PASSWORD, value: ...}` pair, or as the password in a URL's userinfo
//! (`jdbc:mysql://app:pw@db:3306`). Whatever kiln prints (`kiln values`, diagnostics and their
//! excerpts, findings in every report format, diffs) goes through [`redact`] or [`redact_lines`]
//! first, unless the user asked for `--show-secrets`. This module reads and prints nothing.
//!
//! Every value decrypted from a SOPS file (`*.sops.yaml`) is a secret too, whatever its key is
//! called and wherever the templates put it: `values/` registers the decrypted texts with
//! [`register_decrypted`] and every hiding function here hides them as well.

use crate::yaml::{Node, Value};

mod decrypted;
mod digest;
mod lines;

use decrypted::hide_decrypted_in;
pub use decrypted::{any_decrypted, hide_decrypted, register_decrypted};
pub use digest::{
    DIGEST_PREFIX, digest, digest_other_secrets, digest_secret_data, has_other_plaintext,
    has_other_secrets, is_digest, is_secret_object, plaintext_secret_keys,
};
pub use lines::redact_lines;

/// What a hidden value is shown as.
pub const HIDDEN: &str = "(hidden)";

/// Words that make a key name a secret, matched against the key's words (`DB_PASSWORD` ->
/// `db`, `password`; `redisPass` -> `redis`, `pass`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "creds",
    "auth",
    "apikey",
    "cookie",
    "salt",
    "privatekey",
    "dsn",
];

/// Words that make `<word> key` a secret: `ENCRYPTION_KEY`, `accessKey`, `api-key`.
const KEY_QUALIFIERS: &[&str] = &[
    "encryption",
    "signing",
    "private",
    "secret",
    "access",
    "api",
    "master",
    "client",
    "license",
    "hmac",
    "jwt",
];

/// Words that make a key name *refer to* a secret rather than hold one: `secretName`,
/// `secretKeyRef`, `passwordFile`, `imagePullSecrets`, `tokenTTL`.
const REFERENCE_WORDS: &[&str] = &[
    "ref", "refs", "name", "names", "file", "files", "path", "mount", "dir", "from", "type",
    "mode", "ttl", "length", "enabled", "policy", "class", "id", "pull", "version", "expiry",
    "seconds", "url", "header", "provider", "issuer", "rotation", "generate", "required",
];

/// The words of a key: split at `_`, `-`, `.`, spaces and lower-to-upper case changes,
/// lowercased.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a key's value is a secret: `DB_PASSWORD`, `MYSQL_PWD`, `REDIS_PASS`, `BASIC_AUTH`,
/// `ENCRYPTION_KEY`, `apiKey`, `secrets`; not `secretName`, `passwordFile`, `author`.
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    // Most keys (`image`, `mountPath`) cannot hold a hint: answered without the table below.
    if !may_hold_hint(key.as_bytes()) {
        return false;
    }
    thread_local! {
        /// The answers given on this thread: the objects of a fleet repeat the same keys
        /// (`containerPort`, `mountPath`), and every key of an object with findings is asked.
        static ANSWERS: std::cell::RefCell<foldhash::HashMap<Box<str>, bool>> =
            std::cell::RefCell::new(foldhash::HashMap::default());
    }
    ANSWERS.with(|answers| {
        let Ok(mut answers) = answers.try_borrow_mut() else {
            return decide_secret_key(key);
        };
        if let Some(&known) = answers.get(key) {
            return known;
        }
        let secret = decide_secret_key(key);
        // Names unique to one object are asked too: the table is emptied before it grows large.
        if answers.len() >= 4096 {
            answers.clear();
        }
        answers.insert(key.into(), secret);
        secret
    })
}

/// [`is_secret_key`], worked out.
fn decide_secret_key(key: &str) -> bool {
    // Most keys (`image`, `containerPort`) hold none of these: decide those in one pass over
    // the key without allocating, as findings and redaction ask about every key of a tree. Only
    // a byte that starts some hint is compared further.
    let bytes = key.as_bytes();
    let hinted = (0..bytes.len()).any(|i| {
        // Only the hints that start with this byte are compared.
        let mut starting = HINT_START[usize::from(bytes[i])];
        while starting != 0 {
            let h = HINTS[starting.trailing_zeros() as usize];
            if bytes
                .get(i..i + h.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(h.as_bytes()))
            {
                return true;
            }
            starting &= starting - 1;
        }
        false
    });
    if !hinted {
        return false;
    }
    let words = words(key);
    if words.iter().any(|w| REFERENCE_WORDS.contains(&w.as_str())) {
        return false;
    }
    let joined: String = words.concat();
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| p[1] == "key" && KEY_QUALIFIERS.contains(&p[0].as_str()))
        || [
            "password",
            "passwd",
            "apikey",
            "privatekey",
            "accesskey",
            "secretkey",
        ]
        .iter()
        .any(|w| joined.contains(w))
}

/// Parts of a key that may make it secret (lowercase ASCII); [`is_secret_key`] decides.
const HINTS: &[&str] = &[
    "pass", "pwd", "secret", "token", "cred", "auth", "key", "cookie", "salt", "dsn",
];

/// For each byte (either case), the [`HINTS`] that start with it, one bit per hint.
const HINT_START: [u16; 256] = {
    assert!(HINTS.len() <= 16, "one bit per hint in a u16");
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < HINTS.len() {
        let first = HINTS[i].as_bytes()[0];
        table[first as usize] |= 1 << i;
        table[first.to_ascii_uppercase() as usize] |= 1 << i;
        i += 1;
    }
    table
};

/// For each byte's low 5 bits (a letter's in either case), the low 5 bits of the bytes that
/// follow it at the start of some [`HINTS`], one bit each.
const HINT_PAIRS: [u32; 32] = {
    let mut table = [0u32; 32];
    let mut i = 0;
    while i < HINTS.len() {
        let h = HINTS[i].as_bytes();
        table[(h[0] & 31) as usize] |= 1 << (h[1] & 31);
        i += 1;
    }
    table
};

/// Whether `key` may hold one of the [`HINTS`] (either case): whether two bytes in a row begin
/// one, told apart by their low 5 bits only. A key that holds a hint always answers yes; one
/// that answers yes is asked in full. Two table lookups a byte: about a third of what looking
/// the key up among the answers already given costs, for the four keys in five that hold none.
fn may_hold_hint(key: &[u8]) -> bool {
    key.windows(2)
        .any(|w| HINT_PAIRS[usize::from(w[0] & 31)] & (1 << (w[1] & 31)) != 0)
}

/// Whether a key names a reference to a secret (its subtree is shown even under a secret
/// key: `DB_PASSWORD: {secretKeyRef: {name: mysql, key: password}}`).
fn is_reference_key(key: &str) -> bool {
    words(key)
        .iter()
        .any(|w| REFERENCE_WORDS.contains(&w.as_str()))
}

/// `text` with the password of every URL userinfo (`scheme://user:password@host`) hidden, or
/// `None` when it has none.
#[must_use]
pub fn mask_url_password(text: &str) -> Option<String> {
    replace_url_password(text, &mut |_| HIDDEN.to_string())
}

/// `text` with the password of every URL userinfo replaced by `with(password)`, or `None` when
/// it has none.
fn replace_url_password(text: &str, with: &mut dyn FnMut(&str) -> String) -> Option<String> {
    // Most texts hold no URL: one pass over the bytes tells (every string of every object with
    // a finding is asked).
    if !text.as_bytes().windows(3).any(|w| w == b"://") {
        return None;
    }
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(['/', '?', '#', ' ', '"', '\''])
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) if authority[..at].contains(':') => {
                let colon = authority[..at].find(':').unwrap_or(at);
                out.push_str(&authority[..=colon]);
                out.push_str(&with(&authority[colon + 1..at]));
                out.push_str(&authority[at..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Hide every secret inside a values tree or a Kubernetes object (see the module doc).
pub fn redact(node: &mut Node) {
    let is_secret_object = node.get_str("kind") == Some("Secret");
    if is_secret_object {
        for field in ["data", "stringData"] {
            if let Some(data) = node.get_mut(field) {
                hide_all(data);
            }
        }
    }
    walk(node, false, &mut |_| HIDDEN.to_string());
    if any_decrypted() {
        hide_decrypted_in(node);
    }
}

/// The texts of the secrets in `root` (the scalars [`redact`] would hide, as written, at least
/// 3 characters long), found without copying anything: what a message about it must not quote.
#[must_use]
pub fn secrets_in(root: &Node) -> Vec<String> {
    secrets_of(root, true)
}

/// [`secrets_in`] without the strings that are secret only for a password in their URL: enough
/// for a message that cannot quote any of them whole ([`may_quote_url`]). Asking each string of
/// an object whether it holds a URL was a fifth of the walk.
#[must_use]
pub fn keyed_secrets_in(root: &Node) -> Vec<String> {
    secrets_of(root, false)
}

/// Whether `message` may quote a string that is secret for the password in its URL, so that
/// [`keyed_secrets_in`] is not enough to hide what it quotes.
#[must_use]
pub fn may_quote_url(message: &str) -> bool {
    message.contains("://")
}

fn secrets_of(root: &Node, urls: bool) -> Vec<String> {
    let mut out = Vec::new();
    if root.get_str("kind") == Some("Secret") {
        for field in ["data", "stringData"] {
            if let Some(data) = root.get(field) {
                collect(data, true, true, urls, &mut out);
            }
        }
    }
    collect(root, false, false, urls, &mut out);
    out.retain(|raw| raw.chars().count() >= 3);
    out
}

/// `message` with every one of `secrets` (from [`secrets_in`]) replaced by [`HIDDEN`]: for
/// messages from validators and rules, which quote the values they reject.
#[must_use]
pub fn hide_secrets(message: String, secrets: &[String]) -> String {
    let message = replace_all(message, secrets);
    hide_decrypted(&message).unwrap_or(message)
}

/// `text` with every one of `needles` replaced by [`HIDDEN`], in order (longest first where it
/// matters: a secret holding another is hidden whole).
fn replace_all(text: String, needles: &[String]) -> String {
    needles.iter().fold(text, |t, n| {
        if t.contains(n.as_str()) {
            t.replace(n.as_str(), HIDDEN)
        } else {
            t
        }
    })
}

/// The secrets under `node` into `out`; `urls`: with the strings that hold a URL password.
fn collect(node: &Node, under_secret: bool, all: bool, urls: bool, out: &mut Vec<String>) {
    match &node.value {
        Value::Map(m) => {
            // `{name: DB_PASSWORD, value: ...}`: the name is asked about only for a `value`
            // (most mappings with a `name`, a container's or a port's, have none), and found by
            // a scan, not a hash lookup: the maps of an object are small.
            let named_secret = || {
                m.iter().any(|(k, n)| {
                    k == "name" && matches!(&n.value, Value::Str(s) if is_secret_key(s))
                })
            };
            for (k, v) in m {
                let secret = all
                    || if under_secret || (k == "value" && named_secret()) {
                        !is_reference_key(k)
                    } else {
                        is_secret_key(k)
                    };
                collect(v, secret, all, urls, out);
            }
        }
        Value::Seq(items) => items
            .iter()
            .for_each(|v| collect(v, under_secret, all, urls, out)),
        Value::Str(s) if under_secret || (urls && mask_url_password(s).is_some()) => {
            out.push(s.clone());
        }
        Value::Int(i) if under_secret => out.push(i.to_string()),
        Value::Float(f) if under_secret => out.push(f.to_string()),
        Value::Bool(b) if under_secret => out.push(b.to_string()),
        _ => {}
    }
}

/// What a hidden value that differs from the other side of a diff is shown as.
pub const HIDDEN_CHANGED: &str = "(hidden; changed)";

/// Both sides of a diff with their secrets hidden; where a hidden value differs between the
/// two, the new side says so, so a diff shows that a secret changed without showing it.
#[must_use]
pub fn redact_pair(old: &Node, new: &Node) -> (Node, Node) {
    let (mut ro, mut rn) = (old.clone(), new.clone());
    redact(&mut ro);
    redact(&mut rn);
    mark_changed(old, new, &mut ro, &mut rn);
    (ro, rn)
}

fn mark_changed(old: &Node, new: &Node, ro: &mut Node, rn: &mut Node) {
    match (&old.value, &new.value, &mut ro.value, &mut rn.value) {
        (Value::Map(om), Value::Map(nm), Value::Map(rom), Value::Map(rnm)) => {
            for (k, r) in rnm.iter_mut() {
                if let (Some(o), Some(n), Some(rov)) = (om.get(k), nm.get(k), rom.get_mut(k)) {
                    mark_changed(o, n, rov, r);
                }
            }
        }
        (Value::Seq(os), Value::Seq(ns), Value::Seq(ros), Value::Seq(rns)) => {
            for (i, r) in rns.iter_mut().enumerate() {
                if let (Some(o), Some(n), Some(rov)) = (os.get(i), ns.get(i), ros.get_mut(i)) {
                    mark_changed(o, n, rov, r);
                }
            }
        }
        (o, n, rov, r) => {
            let hidden = *r != *n;
            // A value hidden on the new side (decrypted from a SOPS file, say) is hidden on
            // the old side too, where kiln may not know the old value is a secret.
            if hidden && *rov == *o && *o != Value::Null {
                *rov = Value::Str(HIDDEN.into());
            }
            if hidden && o != n && *rov == *r {
                *r = Value::Str(HIDDEN_CHANGED.into());
            }
        }
    }
}

/// The values a Kubernetes Secret holds: its `stringData` strings and its `data`, both as
/// written (base64) and decoded. Used to hide the values-file leaves that flow into a Secret.
#[must_use]
pub fn held_by_secret(doc: &Node) -> Vec<String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    if doc.get_str("kind") != Some("Secret") {
        return out;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Map(m)) = doc.get(field).map(|n| &n.value) {
            for v in m.values() {
                if let Value::Str(s) = &v.value {
                    out.push(s.clone());
                    if field == "data"
                        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s)
                        && let Ok(text) = String::from_utf8(bytes)
                    {
                        out.push(text);
                    }
                }
            }
        }
    }
    out
}

/// Hide every string leaf of `node` that is one of `secrets` (at least 3 characters long, so a
/// Secret holding `1` does not hide every `1`).
pub fn redact_matching<S: std::hash::BuildHasher>(
    node: &mut Node,
    secrets: &std::collections::HashSet<String, S>,
) {
    match &mut node.value {
        Value::Map(m) => m.values_mut().for_each(|v| redact_matching(v, secrets)),
        Value::Seq(items) => items.iter_mut().for_each(|v| redact_matching(v, secrets)),
        Value::Str(s) if s.chars().count() >= 3 && secrets.contains(s.as_str()) => {
            *s = HIDDEN.into();
        }
        _ => {}
    }
}

/// Hide every leaf of `node` for which `is_secret` says yes (given its location): the values
/// `kiln values` shows from an encrypted layer, whatever their type or length.
pub fn redact_located(node: &mut Node, is_secret: &dyn Fn(crate::source::Loc) -> bool) {
    match &mut node.value {
        Value::Map(m) => m.values_mut().for_each(|v| redact_located(v, is_secret)),
        Value::Seq(items) => items.iter_mut().for_each(|v| redact_located(v, is_secret)),
        Value::Null => {}
        _ if is_secret(node.loc) => node.value = Value::Str(HIDDEN.into()),
        _ => {}
    }
}

fn hide_all(node: &mut Node) {
    match &mut node.value {
        Value::Map(m) => m.values_mut().for_each(hide_all),
        Value::Seq(items) => items.iter_mut().for_each(hide_all),
        Value::Null => {}
        _ => node.value = Value::Str(HIDDEN.into()),
    }
}

/// Hide the secrets [`redact`] finds outside a Secret's `data`/`stringData` (secret-looking
/// keys, `{name: DB_PASSWORD, value: ...}` pairs, URL passwords), each replaced by `with(value)`.
fn walk(node: &mut Node, under_secret: bool, with: &mut dyn FnMut(&str) -> String) {
    match &mut node.value {
        Value::Map(m) => {
            // `{name: DB_PASSWORD, value: ...}` (a container's env list).
            let named_secret = m
                .get("name")
                .and_then(|n| match &n.value {
                    Value::Str(s) => Some(is_secret_key(s)),
                    _ => None,
                })
                .unwrap_or(false);
            for (k, v) in m.iter_mut() {
                // `is_secret_key` is false for reference keys already; the costlier
                // `is_reference_key` is asked only when something else makes the value secret.
                let secret = if under_secret || (named_secret && k == "value") {
                    !is_reference_key(k)
                } else {
                    is_secret_key(k)
                };
                walk(v, secret, with);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|v| walk(v, under_secret, with)),
        Value::Null => {}
        _ if under_secret => {
            let text = scalar_text(node).unwrap_or_default();
            node.value = Value::Str(with(&text));
        }
        Value::Str(s) => {
            if let Some(masked) = replace_url_password(s, with) {
                *s = masked;
            }
        }
        _ => {}
    }
}

/// The text a value stands for: a scalar as written, a collection as JSON; `None` for null
/// (nothing to hide).
#[must_use]
pub fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Null => None,
        Value::Str(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Seq(_) | Value::Map(_) => Some(serde_json::to_string(node).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse};

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "MYSQL_PWD",
            "REDIS_PASS",
            "KEYSTORE_PASS",
            "SSH_PASSPHRASE",
            "ENCRYPTION_KEY",
            "BASIC_AUTH",
            "apiKey",
            "api-key",
            "accessKey",
            "secretKey",
            "client_secret",
            "githubToken",
            "secrets",
            "mysqlRootPassword",
            "SPRING_DATASOURCE_PASSWORD",
            "jwtSigningKey",
            "privateKey",
        ] {
            assert!(is_secret_key(k), "{k} should be secret");
        }
        for k in [
            "secretName",
            "secretKeyRef",
            "passwordFile",
            "imagePullSecrets",
            "author",
            "passenger",
            "key",
            "name",
            "tokenTTL",
            "replicas",
            "JAVA_OPTS",
            "bypass",
            "compass",
        ] {
            assert!(!is_secret_key(k), "{k} should not be secret");
        }
    }

    #[test]
    fn secret_digests() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: dev}\ndata: {a: Y2FuYXJ5MQ==, n: null}\nstringData: {b: canary2, c: 7}\n";
        let mut doc = parse(text, 0, Dialect::Kube).unwrap();
        assert_eq!(
            plaintext_secret_keys(&doc),
            ["data.a", "stringData.b", "stringData.c"]
        );
        assert!(digest_secret_data(&mut doc));
        let out = crate::yaml::emit(&doc).unwrap();
        assert!(
            !out.contains("canary") && !out.contains("Y2FuYXJ5MQ=="),
            "{out}"
        );
        assert!(plaintext_secret_keys(&doc).is_empty(), "{out}");
        let b = doc.get("stringData").unwrap().get_str("b").unwrap();
        assert!(is_digest(b), "{b}");
        // printf 'dev\0s\0stringData\0b\0canary2' | sha256sum
        assert_eq!(
            b,
            "sha256:72da1d676cdc68699b77291780517cbad29fd2585594bf9cbe5042ca3d7d1d26"
        );
        // The same value elsewhere gives another digest.
        assert_ne!(digest("prod", "s", "stringData", "b", "canary2"), b);
        assert!(!is_digest("sha256:abc") && !is_digest("canary2"));
        let mut cm = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
            0,
            Dialect::Kube,
        )
        .unwrap();
        assert!(!digest_secret_data(&mut cm));
    }

    #[test]
    fn other_secrets_are_digested() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db, namespace: dev}\nspec:\n  env:\n    - {name: MYSQL_ROOT_PASSWORD, value: canary1}\n    - {name: USER, value: app}\n    - {name: URL, value: \"jdbc:mysql://u:canary2@h/db\"}\n    - {name: REF, valueFrom: {secretKeyRef: {name: s, key: password}}}\n";
        let mut doc = parse(text, 0, Dialect::Kube).unwrap();
        assert!(has_other_plaintext(&doc) && has_other_secrets(&doc));
        assert!(digest_other_secrets(&mut doc));
        let out = crate::yaml::emit(&doc).unwrap();
        assert!(!out.contains("canary"), "{out}");
        for shown in ["value: app", "jdbc:mysql://u:sha256:", "key: password"] {
            assert!(out.contains(shown), "{shown}: {out}");
        }
        assert!(!has_other_plaintext(&doc), "{out}");
        let again = out.clone();
        let mut twice = parse(&again, 0, Dialect::Kube).unwrap();
        digest_other_secrets(&mut twice);
        assert_ne!(
            crate::yaml::emit(&twice).unwrap(),
            again,
            "digests are digested again, never trusted"
        );
        let mut plain = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
            0,
            Dialect::Kube,
        )
        .unwrap();
        assert!(!has_other_secrets(&plain));
        assert!(!digest_other_secrets(&mut plain) && !has_other_plaintext(&plain));
    }

    #[test]
    fn keys_without_a_hint_pair_hold_no_hint() {
        // Every key that holds a hint, in either case, passes the pair filter; most others do not.
        for hint in HINTS {
            for key in [
                hint.to_string(),
                hint.to_ascii_uppercase(),
                format!("db_{hint}"),
                format!("x{}", hint.to_ascii_uppercase()),
            ] {
                assert!(may_hold_hint(key.as_bytes()), "{key}");
            }
        }
        for key in [
            "image",
            "name",
            "value",
            "ports",
            "resources",
            "memory",
            "env",
        ] {
            assert!(!may_hold_hint(key.as_bytes()), "{key}");
            assert!(!is_secret_key(key), "{key}");
        }
        for key in [
            "DB_PASSWORD",
            "redisPass",
            "apiKey",
            "MYSQL_PWD",
            "authToken",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn url_passwords() {
        assert_eq!(
            mask_url_password("jdbc:mysql://app:s3cr3t@db:3306/shop?x=1").as_deref(),
            Some("jdbc:mysql://app:(hidden)@db:3306/shop?x=1")
        );
        assert_eq!(mask_url_password("http://host:80/a@b"), None);
        assert_eq!(mask_url_password("redis://user@host"), None);
    }

    #[test]
    fn redact_trees() {
        let text = "env:\n  DB_PASSWORD: hunter2\n  REF: {secretKeyRef: {name: mysql, key: password}}\n  DB_PASSWORD2: {secretKeyRef: {name: mysql, key: pw}}\nlist:\n  - {name: MYSQL_PWD, value: canary1}\n  - {name: USER, value: app}\nurl: jdbc:mysql://u:canary2@h/db\nsecrets: {A: canary3}\n";
        let mut n = parse(text, 0, Dialect::Values).unwrap();
        redact(&mut n);
        let out = crate::yaml::emit(&n).unwrap();
        for c in ["hunter2", "canary1", "canary2", "canary3"] {
            assert!(!out.contains(c), "{c} in {out}");
        }
        for shown in ["mysql", "password", "app", "u:(hidden)@h"] {
            assert!(out.contains(shown), "{shown} missing from {out}");
        }
    }

    #[test]
    fn decrypted_values_are_hidden_everywhere() {
        // The registry is process-wide: these canaries appear in no other test.
        register_decrypted(["zq-canary-1".to_string(), "zq-line\nzq-second".to_string()]);
        let text = "plain: zq-canary-1\nurl: https://h/?k=zq-canary-1\nblock: |\n  zq-line\n  zq-second\nn: 1\n";
        let mut n = parse(text, 0, Dialect::Values).unwrap();
        redact(&mut n);
        let out = crate::yaml::emit(&n).unwrap();
        assert!(!out.contains("zq-"), "{out}");
        assert!(out.contains("https://h/?k=(hidden)"), "{out}");
        let (lines, _) = redact_lines("", text, 0..1);
        assert!(!lines.contains("zq-"), "{lines}");
        assert_eq!(
            hide_secrets("bad value zq-canary-1".into(), &[]),
            "bad value (hidden)"
        );
        // base64, as a Secret's data holds it.
        assert!(hide_decrypted("data: enEtY2FuYXJ5LTE=").is_some());
        // A diff's old side is hidden where the new side is, though the old value is unknown.
        let old = parse("greeting: zq-old-value\n", 0, Dialect::Values).unwrap();
        let new = parse("greeting: zq-canary-1\n", 0, Dialect::Values).unwrap();
        let (ro, rn) = redact_pair(&old, &new);
        assert_eq!(ro.get_str("greeting"), Some(HIDDEN));
        assert_eq!(rn.get_str("greeting"), Some(HIDDEN_CHANGED));
    }

    #[test]
    fn a_range_past_the_text_ends_with_the_redacted_text() {
        // Found by tests/fuzz.rs: the hidden line grew and an end past the text stayed put,
        // before the moved start.
        let (out, r) = redact_lines("", "password: a\nb", 12..14);
        assert_eq!((out.as_str(), r), ("password: (hidden)\nb", 19..20));
        let (out, r) = redact_lines("", "password: a\n", 30..40);
        assert_eq!(r, out.len()..out.len());
    }

    #[test]
    fn secrets_in_finds_what_redact_hides() {
        let text = "kind: Pod\nspec:\n  containers:\n    - name: app\n      env:\n        - {name: DB_PASSWORD, value: c11}\n        - {name: URL, value: \"jdbc:mysql://u:c22@h/db\"}\n        - name: REF\n          valueFrom: {secretKeyRef: {name: mysql, key: password}}\n      password: {inner: c33}\n";
        let root = parse(text, 0, Dialect::Kube).unwrap();
        let all = secrets_in(&root);
        for c in ["c11", "jdbc:mysql://u:c22@h/db", "c33"] {
            assert!(all.iter().any(|s| s == c), "{c} not in {all:?}");
        }
        assert!(
            !all.iter().any(|s| s == "mysql" || s == "password"),
            "{all:?}"
        );
        // A message without `://` cannot quote a URL whole: its secrets leave the URLs out,
        // and hide the same in it.
        let plain = "bad value c11 and c33";
        assert!(!may_quote_url(plain));
        let for_plain = keyed_secrets_in(&root);
        assert_eq!(
            for_plain,
            all.iter()
                .filter(|s| !s.contains("://"))
                .cloned()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            hide_secrets(plain.into(), &for_plain),
            hide_secrets(plain.into(), &all)
        );
        let quoting = "bad value jdbc:mysql://u:c22@h/db";
        assert!(may_quote_url(quoting));
        assert_eq!(hide_secrets(quoting.into(), &all), "bad value (hidden)");
        let mut redacted = root.clone();
        redact(&mut redacted);
        let shown = crate::yaml::emit(&redacted).unwrap();
        assert_eq!(
            hide_secrets(shown.clone(), &all),
            shown,
            "redact leaves none of them"
        );
        let secret = parse(
            "kind: Secret\nstringData: {a: c44}\ndata: {b: YzU=}\n",
            0,
            Dialect::Kube,
        )
        .unwrap();
        let all = secrets_in(&secret);
        assert!(
            all.contains(&"c44".to_string()) && all.contains(&"YzU=".to_string()),
            "{all:?}"
        );
        assert_eq!(
            hide_secrets("bad value YzU=".into(), &all),
            "bad value (hidden)"
        );
    }

    #[test]
    fn redact_excerpt_lines() {
        let doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: canary1\n  b: |\n    canary2\n  c: ok\ndata2: shown\n";
        let (out, r) = redact_lines("", doc, 0..3);
        assert!(
            !out.contains("canary1") && !out.contains("canary2"),
            "{out}"
        );
        assert!(
            out.contains("data2: shown") && out.contains("  c: (hidden)"),
            "{out}"
        );
        assert_eq!(r, 0..3);
        let env = "env:\n- name: DB_PASSWORD\n  value: canary3\n- name: USER\n  value: app\nx:\n  password: canary4\n  url: http://u:canary5@h\n";
        let (out, _) = redact_lines("", env, 0..0);
        for c in ["canary3", "canary4", "canary5"] {
            assert!(!out.contains(c), "{c}: {out}");
        }
        assert!(out.contains("value: app"), "{out}");
        // The range follows the line it was on.
        let text = "a: 1\npassword: hunter2\nb: 2\n";
        let (out, r) = redact_lines("", text, 15..22);
        assert_eq!(&out[r.clone()], &HIDDEN[..r.len()]);
        let (_, r) = redact_lines("", text, 26..27);
        assert_eq!(&out[r], "2");
    }
}
