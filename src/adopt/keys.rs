//! What the built-in sets read and accept, for layering fitted values: each set's own defaults,
//! the key paths its templates read, the keys its values schema declares or rejects.

use super::fit::SEP;
use crate::yaml::{Node, Value};

/// The built-in defaults of `set`, parsed.
#[must_use]
pub fn set_defaults(set: &str) -> Option<Node> {
    let path = format!("{set}/defaults.yaml");
    let text = crate::render::Templates::builtins()
        .find(|(n, _)| *n == path)?
        .1;
    crate::yaml::parse_unlocated(text, crate::yaml::Dialect::Values).ok()
}

/// The top-level keys the built-in set's values schema declares.
#[must_use]
pub fn schema_keys(set: &str) -> Vec<String> {
    let path = format!("{set}/values.schema.json");
    crate::render::Templates::builtins()
        .find(|(n, _)| *n == path)
        .and_then(|(_, t)| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|s| {
            s.get("properties")
                .and_then(|p| p.as_object())
                .map(|p| p.keys().cloned().collect())
        })
        .unwrap_or_default()
}

/// Whether the built-in `set`'s templates read the key path `key`: a path of its defaults
/// (or `partOf`, which the shared labels read) is a prefix of it, or it is a prefix of one.
#[must_use]
pub fn reads(set: &str, key: &str) -> bool {
    fn walk(n: &Node, prefix: &str, out: &mut Vec<String>) {
        match &n.value {
            Value::Map(m) if !m.is_empty() && !super::fit::ATOMIC.contains(&prefix) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}{SEP}{k}")
                    };
                    walk(v, &key, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut paths = vec!["partOf".to_string()];
    if let Some(d) = set_defaults(set) {
        walk(&d, "", &mut paths);
    }
    let within = |long: &str, short: &str| {
        long == short || long.strip_prefix(short).is_some_and(|r| r.starts_with(SEP))
    };
    paths.iter().any(|p| within(key, p) || within(p, key))
}

/// `s` with its `$ref`s (local, `#/...`) followed.
fn resolve<'a>(root: &'a serde_json::Value, mut s: &'a serde_json::Value) -> &'a serde_json::Value {
    while let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
        match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
            Some(t) => s = t,
            None => break,
        }
    }
    s
}

/// Whether the values schema of the built-in `set` rejects the key path `key` (a mapping on the
/// way allows no other keys); a top-level key another set declares is let through by kiln.
#[must_use]
pub fn rejects(set: &str, key: &str) -> bool {
    let path = format!("{set}/values.schema.json");
    let Some(root) = crate::render::Templates::builtins()
        .find(|(n, _)| *n == path)
        .and_then(|(_, t)| serde_json::from_str::<serde_json::Value>(t).ok())
    else {
        return false;
    };
    let mut s = resolve(&root, &root);
    for (depth, seg) in key.split(SEP).enumerate() {
        if let Some(p) = s.get("properties").and_then(|p| p.get(seg)) {
            s = resolve(&root, p);
            continue;
        }
        match s.get("additionalProperties") {
            _ if depth == 0 => return false,
            Some(serde_json::Value::Bool(false)) => return true,
            Some(a @ serde_json::Value::Object(_)) => s = resolve(&root, a),
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_rejects_keys_its_closed_mappings_do_not_declare() {
        let key = |k: &str| k.replace('.', &SEP.to_string());
        assert!(rejects("spring-boot", &key("eureka.peers")));
        assert!(!rejects("spring-boot", &key("eureka.client.enabled")));
        assert!(!rejects("eureka-server", &key("eureka.client.enabled")));
        assert!(!rejects("eureka-server", &key("logging.filebeat.image")));
        // Top-level keys of other sets are let through by kiln itself.
        assert!(!rejects("spring-boot", "storage"));
        assert!(reads("eureka-server", "partOf"));
        assert!(reads("eureka-server", &key("labels.team")));
        assert!(reads("eureka-server", &key("eureka.peers")));
        assert!(!reads("eureka-server", &key("eureka.client.enabled")));
        assert!(!reads("eureka-server", "replicas"));
    }
}
