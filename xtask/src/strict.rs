//! Turns schemars' output for a k8s-openapi resource type into a strict, small, self-contained
//! JSON Schema (draft 2020-12). The rules are listed in `xtask/README.md`; each function below
//! implements one of them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
const DEFS_PREFIX: &str = "#/$defs/";

const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// `apiextensions.k8s.io/v1` `JSON`: any JSON value (CRD `default`, `enum`, `example`).
/// k8s-openapi says `"type": "object"`, which would reject `default: 3`.
const JSON_ANY: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";
/// Objects whose content is free by design; they stay `{"type": "object"}`.
const FREE_FORM: [&str; 2] = [
    "io.k8s.apimachinery.pkg.runtime.RawExtension", // an embedded object of any kind
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", // managedFields tries
];

/// Keywords that only annotate; they are dropped everywhere.
const ANNOTATIONS: [&str; 5] = ["description", "title", "examples", "example", "$comment"];

/// What [`make_strict`] noticed, for the generator's report.
#[derive(Default, Debug)]
pub struct Notes {
    /// Definitions left free-form by design (RawExtension, FieldsV1, JSON).
    pub free_form: BTreeSet<String>,
    /// Definitions of Go structs without fields (k8s-openapi gives them `{"type": "object"}`),
    /// closed with `additionalProperties: false`.
    pub empty_structs: BTreeSet<String>,
    /// Optional properties that could not be made nullable (no `type`, not a `$ref`).
    pub not_nullable: BTreeSet<String>,
}

/// Applies every rule, in order, to one root schema from `schemars`.
pub fn make_strict(mut root: Value, notes: &mut Notes) -> Value {
    let obj = root.as_object_mut().expect("root schema is an object");
    let mut defs = match obj.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        None => Map::new(),
        Some(other) => panic!("$defs is not an object: {other}"),
    };

    replace_special_defs(&mut defs, notes);
    let mut root = Value::Object(std::mem::take(obj));
    for body in defs.values_mut() {
        walk(body, &mut strip_and_close);
    }
    walk(&mut root, &mut strip_and_close);

    inline_leaf_defs(&mut root, &mut defs);
    make_optional_nullable(&mut root, &mut defs, notes);
    prune_defs(&root, &mut defs);

    let obj = root.as_object_mut().unwrap();
    obj.insert("$schema".into(), DRAFT.into());
    if !defs.is_empty() {
        obj.insert("$defs".into(), Value::Object(defs));
    }
    sorted(root)
}

/// IntOrString = integer or string; Quantity = string or number; apiextensions JSON = anything.
/// Any other definition that is a bare `{"type": "object"}` (a Go struct without fields, such as
/// `CustomResourceSubresourceStatus`) is closed, except the free-form ones listed in [`FREE_FORM`].
fn replace_special_defs(defs: &mut Map<String, Value>, notes: &mut Notes) {
    for (name, body) in defs.iter_mut() {
        match name.as_str() {
            INT_OR_STRING => *body = json!({"type": ["integer", "string"]}),
            QUANTITY => *body = json!({"type": ["string", "number"]}),
            JSON_ANY => {
                *body = json!({});
                notes.free_form.insert(name.clone());
            }
            n if FREE_FORM.contains(&n) => {
                notes.free_form.insert(name.clone());
            }
            _ if body.get("type") == Some(&json!("object"))
                && body.get("properties").is_none()
                && body.get("additionalProperties").is_none() =>
            {
                body.as_object_mut()
                    .unwrap()
                    .insert("additionalProperties".into(), false.into());
                notes.empty_structs.insert(name.clone());
            }
            _ => {}
        }
    }
}

/// Drops annotations and `x-kubernetes-*` extensions, and closes every object schema that
/// declares `properties` but says nothing about other properties.
fn strip_and_close(schema: &mut Map<String, Value>) {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        && !schema.contains_key("type")
    {
        schema.insert("type".into(), json!(["integer", "string"]));
    }
    for key in ANNOTATIONS {
        schema.remove(key);
    }
    schema.retain(|k, _| !k.starts_with("x-kubernetes-"));
    if schema.contains_key("properties") && !schema.contains_key("additionalProperties") {
        schema.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// Definitions that hold no `$ref` and declare no `properties` (Time, MicroTime, IntOrString,
/// Quantity, JSON, RawExtension, FieldsV1, ...) are small: they are written where they are used.
fn inline_leaf_defs(root: &mut Value, defs: &mut Map<String, Value>) {
    let leaves: BTreeMap<String, Value> = defs
        .iter()
        .filter(|(_, body)| !contains_key(body, "$ref") && !contains_key(body, "properties"))
        .map(|(name, body)| (format!("{DEFS_PREFIX}{name}"), body.clone()))
        .collect();
    let mut inline = |schema: &mut Map<String, Value>| {
        let Some(Value::String(target)) = schema.get("$ref") else {
            return;
        };
        let Some(body) = leaves.get(target) else {
            return;
        };
        assert_eq!(schema.len(), 1, "a $ref with sibling keywords: {schema:?}");
        *schema = body.as_object().unwrap().clone();
    };
    walk(root, &mut inline);
    for body in defs.values_mut() {
        walk(body, &mut inline);
    }
}

/// Kubernetes treats `null` for an optional field as "not set" (`creationTimestamp: null` in
/// kubectl output, an empty `args:` in YAML): every property that is not `required` accepts
/// `null`. Required properties, list items and map values do not.
///
/// Inline schemas get `"null"` added to their `type`. A property that is a `$ref` cannot be
/// widened in place without `anyOf` (which would blur error messages), so definitions themselves
/// accept `null`, and every `$ref` that is *not* an optional property is narrowed back with a
/// sibling `type` (its definition's original type).
fn make_optional_nullable(root: &mut Value, defs: &mut Map<String, Value>, notes: &mut Notes) {
    const MARK: &str = "\u{0}optional-ref";
    let def_types: BTreeMap<String, Value> = defs
        .iter()
        .filter_map(|(name, body)| {
            Some((format!("{DEFS_PREFIX}{name}"), body.get("type")?.clone()))
        })
        .collect();

    let mut mark = |schema: &mut Map<String, Value>| {
        let required: BTreeSet<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some(Value::Object(props)) = schema.get_mut("properties") else {
            return;
        };
        for (name, prop) in props.iter_mut() {
            if required.contains(name) {
                continue;
            }
            let Value::Object(p) = prop else { continue };
            if p.contains_key("$ref") {
                p.insert(MARK.into(), Value::Bool(true));
            } else if let Some(t) = p.get_mut("type") {
                add_null(t);
            } else if !p.is_empty() {
                notes.not_nullable.insert(name.clone());
            }
        }
    };
    walk(root, &mut mark);
    for body in defs.values_mut() {
        walk(body, &mut mark);
    }

    let mut narrow = |schema: &mut Map<String, Value>| {
        if schema.remove(MARK).is_some() {
            return;
        }
        let Some(Value::String(target)) = schema.get("$ref") else {
            return;
        };
        if let Some(t) = def_types.get(target) {
            schema.insert("type".into(), t.clone());
        }
    };
    walk(root, &mut narrow);
    for body in defs.values_mut() {
        walk(body, &mut narrow);
    }

    for body in defs.values_mut() {
        if let Some(t) = body.get_mut("type") {
            add_null(t);
        }
    }
}

fn add_null(t: &mut Value) {
    match t {
        Value::String(s) if s != "null" => *t = json!([s.clone(), "null"]),
        Value::Array(a) if !a.iter().any(|v| v == "null") => a.push("null".into()),
        _ => {}
    }
}

/// Keeps only the definitions reachable from the root.
fn prune_defs(root: &Value, defs: &mut Map<String, Value>) {
    let mut reached = BTreeSet::new();
    let mut todo = Vec::new();
    collect_refs(root, &mut todo);
    while let Some(target) = todo.pop() {
        let name = target
            .strip_prefix(DEFS_PREFIX)
            .unwrap_or_else(|| panic!("unexpected $ref {target}"))
            .to_owned();
        if reached.insert(name.clone()) {
            let body = defs
                .get(&name)
                .unwrap_or_else(|| panic!("dangling $ref {target}"));
            collect_refs(body, &mut todo);
        }
    }
    defs.retain(|name, _| reached.contains(name));
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                match (k.as_str(), child) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    ("$defs", _) => {}
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

/// Whether `key` appears as a keyword anywhere in this schema (not as a property name).
fn contains_key(schema: &Value, key: &str) -> bool {
    let mut found = false;
    let mut copy = schema.clone();
    walk(&mut copy, &mut |s: &mut Map<String, Value>| {
        found |= s.contains_key(key)
    });
    found
}

/// Calls `f` on every schema object (pre-order), following only subschema keywords, so that
/// property *names* such as `description` in `JSONSchemaProps` are never taken for keywords,
/// and `default`/`enum`/`const` values are never entered.
pub fn walk(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Value::Object(obj) = schema else { return };
    f(obj);
    for (key, child) in obj.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                if let Value::Object(map) = child {
                    for sub in map.values_mut() {
                        walk(sub, f);
                    }
                }
            }
            "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedProperties"
            | "unevaluatedItems"
            | "additionalItems" => walk(child, f),
            "items" | "allOf" | "anyOf" | "oneOf" | "prefixItems" => match child {
                Value::Array(list) => list.iter_mut().for_each(|sub| walk(sub, f)),
                other => walk(other, f),
            },
            _ => {}
        }
    }
}

/// The same value with every object's keys in sorted order (also when serde_json keeps
/// insertion order), so the output is byte-for-byte reproducible.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let ordered: BTreeMap<String, Value> =
                o.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Problems that make a generated schema not strict (used by `check` on the written files).
pub fn lint(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut copy = schema.clone();
    walk(&mut copy, &mut |s: &mut Map<String, Value>| {
        for key in ANNOTATIONS {
            if s.contains_key(key) {
                problems.push(format!("keyword {key:?} left in"));
            }
        }
        if s.contains_key("properties") && !s.contains_key("additionalProperties") {
            problems.push("object with properties but no additionalProperties".into());
        }
        if s.keys().any(|k| k.starts_with("x-kubernetes-")) {
            problems.push("x-kubernetes-* extension left in".into());
        }
    });
    if schema.get("$schema").and_then(Value::as_str) != Some(DRAFT) {
        problems.push("$schema is not draft 2020-12".into());
    }
    problems
}
