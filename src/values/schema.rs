//! Values schemas: a template set may carry `values.schema.json`, a JSON Schema for the merged
//! values of its instances. Every instance is checked before rendering, and each violation is
//! reported at the values file, line and column that set the offending value (the merged tree
//! keeps every leaf's location), with a "did you mean" for misspelled keys.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::kube::pointer::{dotted, segments};
use crate::source::Sources;
use crate::values::Instance;
use crate::yaml::json::Tree;
use crate::yaml::{Node, Value};

/// The file name of a set's values schema.
pub const FILE: &str = "values.schema.json";

/// Values schemas by template set: (schema, the file as shown, its validator). A schema the
/// project wrote is compiled when the project loads, so a broken one is an error at once; a
/// built-in set's (tested with kiln) only when an instance of the set is first checked, so a
/// project pays nothing for the built-in sets it does not use.
#[derive(Default)]
pub struct SetSchemas {
    validators: HashMap<String, (serde_json::Value, String, OnceLock<Option<Validator<Tree>>>)>,
}

impl SetSchemas {
    /// Read the `values.schema.json` of every set that has one: (set, the file as shown to
    /// the user, its text, whether the project wrote it).
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str, &'a str, bool)>,
    ) -> Result<SetSchemas, Vec<Diagnostic>> {
        let mut validators = HashMap::new();
        let mut problems = Vec::new();
        for (set, shown_as, source, from_project) in files {
            let schema: serde_json::Value = match serde_json::from_str(source) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(Diagnostic::error(format!(
                        "`{shown_as}` is not valid JSON: {e}"
                    )));
                    continue;
                }
            };
            let compiled = OnceLock::new();
            if from_project {
                match compile(&schema) {
                    Ok(v) => {
                        let _ = compiled.set(Some(v));
                    }
                    Err(e) => {
                        problems.push(Diagnostic::error(format!(
                            "`{shown_as}` is not a valid JSON Schema: {e}"
                        )));
                        continue;
                    }
                }
            }
            validators.insert(set.to_string(), (schema, shown_as.to_string(), compiled));
        }
        if problems.is_empty() {
            Ok(SetSchemas { validators })
        } else {
            Err(problems)
        }
    }

    /// Check one instance's merged values against its set's schema. A key set in a shared
    /// layer (`shared`: `values/defaults.yaml`, `values/envs/*`, `-f`, `--set`: they reach every
    /// instance)
    /// that another set of the project declares at the same place is meant for that set's
    /// instances, and is not an error here.
    #[must_use]
    pub fn check(
        &self,
        inst: &Instance,
        env: &str,
        sources: &Sources,
        shared: &std::collections::HashSet<crate::source::SrcId>,
    ) -> Vec<Diagnostic> {
        let Some((schema, shown, compiled)) = self.validators.get(&inst.template) else {
            return Vec::new();
        };
        let Some(validator) = compiled.get_or_init(|| compile(schema).ok()) else {
            return Vec::new();
        };
        // What another set declares, at a pointer: keys a shared layer sets for its instances.
        let declared_elsewhere = |pointer: &str| -> Vec<String> {
            self.validators
                .iter()
                .filter(|(set, _)| **set != inst.template)
                .flat_map(|(_, (other, _, _))| allowed_keys(other, pointer))
                .collect()
        };
        let from_shared = |n: &Node| shared.contains(&n.key_loc.src) && all_from(n, shared);
        // The usual case (`storage:` in `values/envs/` for the stateful instances) is left out
        // before validating, so that every other instance stays one short-circuiting `is_valid`
        // of its own values (copied only when something is left out).
        let left_out: Vec<&str> = match &inst.values.value {
            Value::Map(values) => {
                let own = allowed_keys(schema, "");
                let elsewhere = declared_elsewhere("");
                values
                    .iter()
                    .filter(|(k, v)| !own.contains(k) && from_shared(v) && elsewhere.contains(k))
                    .map(|(k, _)| k.as_str())
                    .collect()
            }
            _ => Vec::new(),
        };
        let trimmed;
        let instance = if left_out.is_empty() {
            &inst.values
        } else {
            let mut copy = inst.values.clone();
            if let Value::Map(map) = &mut copy.value {
                map.retain(|k, _| !left_out.contains(&k.as_str()));
            }
            trimmed = copy;
            &trimmed
        };
        let mut out = Vec::new();
        // `is_valid` short-circuits and allocates no errors: the common case is fast.
        if validator.is_valid(instance) {
            return out;
        }
        // Validator messages quote the values they reject; secrets are hidden in them.
        let secrets = std::cell::OnceCell::new();
        for err in validator.iter_errors(instance) {
            let pointer = err.instance_path().as_str().to_string();
            let path = dotted(&pointer);
            let target = find(&inst.values, &pointer);
            // Every unknown key of a mapping is its own diagnostic: all typos in one run.
            let found: Vec<Diagnostic> = match err.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    let allowed = allowed_keys(schema, &pointer);
                    let elsewhere = declared_elsewhere(&pointer);
                    unexpected
                        .iter()
                        .filter(|key| {
                            !(target.and_then(|t| t.get(key)).is_some_and(from_shared)
                                && elsewhere.contains(key))
                        })
                        .map(|key| {
                            let mut d = Diagnostic::error(format!(
                                "unknown values key `{}`",
                                join(&path, key)
                            ));
                            if let Some(node) = target.and_then(|t| t.get(key)) {
                                // A shared mapping one service file adds to: point at that file.
                                d = match first_not_from(node, shared) {
                                    Some(own) if shared.contains(&node.key_loc.src) => {
                                        d.at(sources, own.loc, "not a key of this template set")
                                    }
                                    _ => d.at(
                                        sources,
                                        node.key_loc,
                                        "not a key of this template set",
                                    ),
                                };
                            }
                            if let Some(s) = did_you_mean(key, allowed.iter().map(String::as_str)) {
                                d = d.help(format!("did you mean `{}`?", join(&path, s)));
                            } else if !allowed.is_empty() {
                                d = d.help(format!("keys here: {}", allowed.join(", ")));
                            }
                            d
                        })
                        .collect()
                }
                _ => {
                    let message = format!(
                        "invalid value for `{}`: {err}",
                        if path.is_empty() { "values" } else { &path }
                    );
                    let message = crate::secret::hide_secrets(
                        message,
                        secrets.get_or_init(|| crate::secret::secrets_in(&inst.values)),
                    );
                    let mut d = Diagnostic::error(message);
                    if let Some(node) = target {
                        d = d.at(sources, node.loc, "set here");
                    }
                    vec![d]
                }
            };
            for d in found {
                out.push(d.note(format!(
                    "checked against `{shown}` for `{}` in environment `{env}`",
                    inst.name
                )));
            }
        }
        out
    }
}

/// A values schema compiled for the values tree.
fn compile(
    schema: &serde_json::Value,
) -> Result<Validator<Tree>, jsonschema::ValidationError<'static>> {
    jsonschema::options_for::<Tree>().build(schema)
}

/// Every value under `node` was set by one of the `layers` (a service file that overrides one
/// leaf of a shared mapping makes it the service's own).
fn all_from(node: &Node, layers: &std::collections::HashSet<crate::source::SrcId>) -> bool {
    match &node.value {
        Value::Map(m) if !m.is_empty() => m.values().all(|v| all_from(v, layers)),
        Value::Seq(items) if !items.is_empty() => items.iter().all(|v| all_from(v, layers)),
        _ => layers.contains(&node.loc.src),
    }
}

/// The first value under `node` that none of the `layers` set.
fn first_not_from<'a>(
    node: &'a Node,
    layers: &std::collections::HashSet<crate::source::SrcId>,
) -> Option<&'a Node> {
    match &node.value {
        Value::Map(m) if !m.is_empty() => m.values().find_map(|v| first_not_from(v, layers)),
        Value::Seq(items) if !items.is_empty() => {
            items.iter().find_map(|v| first_not_from(v, layers))
        }
        _ => (!layers.contains(&node.loc.src)).then_some(node),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The node at a JSON pointer in the merged values.
fn find<'a>(root: &'a Node, pointer: &str) -> Option<&'a Node> {
    let mut node = root;
    for part in segments(pointer) {
        node = match &node.value {
            Value::Map(m) => m.get(part.as_ref())?,
            Value::Seq(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The property names the schema declares at a pointer: follows `properties`, `items`,
/// `additionalProperties` (a map of values such as `env`), local `$ref`s and the `then` of an
/// `if` (the object form of a value that may also be a scalar).
fn allowed_keys(schema: &serde_json::Value, pointer: &str) -> Vec<String> {
    let mut s = resolve(schema, schema);
    for part in segments(pointer) {
        let next = if part.parse::<usize>().is_ok() {
            s.get("items")
        } else {
            s.get("properties")
                .and_then(|p| p.get(part.as_ref()))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
        };
        match next {
            Some(n) => s = resolve(schema, n),
            None => return Vec::new(),
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for candidate in [Some(s), s.get("then").map(|t| resolve(schema, t))]
        .into_iter()
        .flatten()
    {
        if let Some(o) = candidate.get("properties").and_then(|p| p.as_object()) {
            keys.extend(o.keys().cloned());
        }
    }
    keys
}

/// Follow local `$ref`s (`#/$defs/probe`) to the schema they name; a bounded number of hops,
/// so a reference cycle cannot hang.
fn resolve<'a>(root: &'a serde_json::Value, mut s: &'a serde_json::Value) -> &'a serde_json::Value {
    for _ in 0..16 {
        let Some(target) = s
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p))
        else {
            break;
        };
        s = target;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_paths() {
        assert_eq!(dotted("/resources/limits/cpu"), "resources.limits.cpu");
        assert_eq!(dotted("/tolerations/0/key"), "tolerations[0].key");
        assert_eq!(
            dotted("/labels/app.kubernetes.io~1name"),
            "labels.app.kubernetes.io/name"
        );
        assert_eq!(dotted(""), "");
    }

    #[test]
    fn declared_keys_follow_refs_maps_and_then() {
        let schema = serde_json::json!({
            "properties": {
                "image": {"$ref": "#/$defs/image"},
                "env": {"additionalProperties": {"if": {"type": "object"}, "then": {"$ref": "#/$defs/source"}}},
                "list": {"items": {"properties": {"name": {}}}}
            },
            "$defs": {
                "image": {"properties": {"repository": {}, "tag": {}}},
                "source": {"properties": {"secretKeyRef": {}, "fieldRef": {}}}
            }
        });
        assert_eq!(allowed_keys(&schema, ""), ["image", "env", "list"]);
        assert_eq!(allowed_keys(&schema, "/image"), ["repository", "tag"]);
        assert_eq!(
            allowed_keys(&schema, "/env/DB_PASSWORD"),
            ["secretKeyRef", "fieldRef"]
        );
        assert_eq!(allowed_keys(&schema, "/list/0"), ["name"]);
        assert!(allowed_keys(&schema, "/nothing").is_empty());
    }
}
