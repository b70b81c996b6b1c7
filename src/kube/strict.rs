//! Strict Kubernetes JSON schemas: the rules that turn OpenAPI definitions (or schemars' output
//! for k8s-openapi's types) into small, closed, self-contained draft 2020-12 schemas. One home
//! for both users: `kiln schemas import` (`check/import.rs`) and the generator of the embedded
//! schemas (`xtask`, which includes this file), so the two cannot drift. It depends on
//! `serde_json` and `std` only. The rules are listed in `xtask/README.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// The JSON Schema dialect of every written file.
pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
pub const DEFS_PREFIX: &str = "#/$defs/";

const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// apiextensions `JSON` (a CRD's `default`, `enum` items, `example`): any JSON value.
const JSON_ANY: [&str; 2] = [
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSON",
];
/// Objects whose content is free by design; they stay `{"type": "object"}`.
const FREE_FORM: [&str; 2] = [
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
];
/// Keywords that only annotate; dropped everywhere (`default` too: it validates nothing).
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "examples",
    "example",
    "$comment",
    "default",
    "externalDocs",
];

/// A document's definitions with every strictness rule applied, from which each kind's schema is
/// cut.
pub struct Strict {
    /// What was noticed on the way, for the generator's report.
    pub notes: Notes,
    defs: Map<String, Value>,
    /// Each definition's `type` before `null` was added (a kind's root is never nullable).
    types: BTreeMap<String, Value>,
}

/// What [`Strict::new`] noticed.
#[derive(Debug, Default)]
pub struct Notes {
    /// Definitions left free-form by design (`RawExtension`, `FieldsV1`, apiextensions `JSON`).
    pub free_form: BTreeSet<String>,
    /// Definitions of Go structs without fields, closed with `additionalProperties: false`.
    pub empty_structs: BTreeSet<String>,
}

impl Strict {
    #[must_use]
    pub fn new(source: &Map<String, Value>, prefix: &str) -> Strict {
        let mut defs = source.clone();
        let free_form = defs
            .keys()
            .filter(|n| FREE_FORM.contains(&n.as_str()) || JSON_ANY.contains(&n.as_str()))
            .cloned()
            .collect();
        replace_special_defs(&mut defs);
        for body in defs.values_mut() {
            walk(body, &mut |s| normalize(s, prefix));
        }
        let empty_structs = close_fieldless_structs(&mut defs);
        inline_leaf_defs(&mut defs);
        let types: BTreeMap<String, Value> = defs
            .iter()
            .filter_map(|(n, b)| Some((n.clone(), b.get("type")?.clone())))
            .collect();
        let ref_types: BTreeMap<String, Value> = types
            .iter()
            .map(|(n, t)| (format!("{DEFS_PREFIX}{n}"), t.clone()))
            .collect();
        make_optional_nullable(defs.values_mut(), &ref_types);
        for body in defs.values_mut() {
            if let Value::Object(o) = body {
                accept_null(o);
            }
        }
        Strict {
            notes: Notes {
                free_form,
                empty_structs,
            },
            defs,
            types,
        }
    }

    pub fn kind_schema(&self, name: &str) -> Result<Value, String> {
        let mut root = self
            .defs
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no definition `{name}`"))?;
        if let (Value::Object(o), Some(t)) = (&mut root, self.types.get(name)) {
            o.insert("type".into(), t.clone());
        }
        let mut reached = BTreeSet::new();
        let mut todo = Vec::new();
        collect_refs(&root, &mut todo);
        while let Some(target) = todo.pop() {
            let Some(def) = target.strip_prefix(DEFS_PREFIX) else {
                return Err(format!("{name}: unsupported $ref `{target}`"));
            };
            if reached.insert(def.to_string()) {
                let body = self
                    .defs
                    .get(def)
                    .ok_or_else(|| format!("{name}: dangling $ref `{target}`"))?;
                collect_refs(body, &mut todo);
            }
        }
        let obj = root
            .as_object_mut()
            .ok_or_else(|| format!("{name}: not an object schema"))?;
        obj.insert("$schema".into(), DRAFT.into());
        if !reached.is_empty() {
            let defs: Map<String, Value> = reached
                .into_iter()
                .filter_map(|d| Some((d.clone(), self.defs.get(&d)?.clone())))
                .collect();
            obj.insert("$defs".into(), Value::Object(defs));
        }
        Ok(sorted(root))
    }
}

/// IntOrString = integer or string; Quantity = string or number; apiextensions JSON = anything;
/// RawExtension and FieldsV1 = any object; the `JSONSchemaPropsOr*` unions (which OpenAPI leaves
/// untyped) = what k8s-openapi says they are.
fn replace_special_defs(defs: &mut Map<String, Value>) {
    for (name, body) in &mut *defs {
        let props_ref = |suffix: &str| {
            let target = name.strip_suffix(suffix).unwrap_or(name);
            json!({ "$ref": format!("{DEFS_PREFIX}{target}") })
        };
        match name.as_str() {
            INT_OR_STRING => *body = json!({"type": ["integer", "string"]}),
            QUANTITY => *body = json!({"type": ["string", "number"]}),
            n if JSON_ANY.contains(&n) => *body = json!({}),
            n if FREE_FORM.contains(&n) => *body = json!({"type": "object"}),
            n if n.ends_with(".JSONSchemaPropsOrBool") => {
                *body = json!({"oneOf": [props_ref("OrBool"), {"type": "boolean"}]});
            }
            n if n.ends_with(".JSONSchemaPropsOrArray") => {
                let r = props_ref("OrArray");
                *body = json!({"oneOf": [r.clone(), {"type": "array", "items": r}]});
            }
            n if n.ends_with(".JSONSchemaPropsOrStringArray") => {
                *body = json!({"oneOf": [props_ref("OrStringArray"),
                    {"type": "array", "items": {"type": "string"}}]});
            }
            _ => {}
        }
    }
}

/// Go structs without fields (`{"type": "object"}`) are closed, except the free-form ones.
fn close_fieldless_structs(defs: &mut Map<String, Value>) -> BTreeSet<String> {
    let mut closed = BTreeSet::new();
    for (name, body) in &mut *defs {
        if FREE_FORM.contains(&name.as_str()) {
            continue;
        }
        if let Value::Object(o) = body
            && o.get("type") == Some(&json!("object"))
            && !o.contains_key("properties")
            && !o.contains_key("additionalProperties")
        {
            o.insert("additionalProperties".into(), false.into());
            closed.insert(name.clone());
        }
    }
    closed
}

/// One schema object, made strict (everything but nullability):
///
/// - OpenAPI v3's `allOf: [{$ref}]` wrapper becomes the `$ref`, and refs point into `$defs`;
/// - `x-kubernetes-int-or-string` is `{"type": ["integer", "string"]}`;
/// - `x-kubernetes-embedded-resource` objects may hold `apiVersion`, `kind` and `metadata`;
/// - `nullable: true` adds `null` to the type, OpenAPI 3.0's boolean `exclusiveMinimum`/
///   `exclusiveMaximum` become 2020-12's numbers;
/// - annotations and other `x-kubernetes-*` extensions are dropped;
/// - an object with `properties` and no `additionalProperties` is closed, unless it has
///   `x-kubernetes-preserve-unknown-fields: true`.
pub fn normalize(s: &mut Map<String, Value>, prefix: &str) {
    if !s.contains_key("$ref")
        && let Some(Value::Array(all)) = s.get("allOf")
        && let [Value::Object(only)] = all.as_slice()
        && only.len() == 1
        && let Some(target) = only.get("$ref").cloned()
    {
        s.remove("allOf");
        s.insert("$ref".into(), target);
    }
    if let Some(Value::String(r)) = s.get_mut("$ref")
        && let Some(name) = r.strip_prefix(prefix)
    {
        *r = format!("{DEFS_PREFIX}{name}");
    }
    let flag = |s: &Map<String, Value>, k: &str| s.get(k) == Some(&Value::Bool(true));
    let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
    if flag(s, "x-kubernetes-int-or-string") {
        s.entry("type").or_insert(json!(["integer", "string"]));
        // CRDs spell it out as `anyOf: [{type: integer}, {type: string}]` too: redundant now.
        for key in ["anyOf", "oneOf"] {
            let only_types = s.get(key).and_then(Value::as_array).is_some_and(|bs| {
                bs.iter().all(|b| {
                    b.as_object()
                        .is_some_and(|o| o.keys().all(|k| k == "type" || k == "format"))
                })
            });
            if only_types {
                s.remove(key);
            }
        }
    }
    if flag(s, "x-kubernetes-embedded-resource")
        && let Some(Value::Object(props)) = s.get_mut("properties")
    {
        for (field, schema) in [
            ("apiVersion", json!({"type": "string"})),
            ("kind", json!({"type": "string"})),
            ("metadata", json!({"type": "object"})),
        ] {
            props.entry(field).or_insert(schema);
        }
    }
    if s.remove("nullable") == Some(Value::Bool(true)) {
        accept_null(s);
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(on)) = s.get(exclusive).cloned() {
            s.remove(exclusive);
            if on && let Some(b) = s.remove(bound) {
                s.insert(exclusive.into(), b);
            }
        }
    }
    for key in ANNOTATIONS {
        s.remove(key);
    }
    // Canonical: the order of `required` means nothing (k8s-openapi's is sorted).
    if let Some(Value::Array(required)) = s.get_mut("required") {
        required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    s.retain(|k, _| !k.starts_with("x-kubernetes-"));
    if s.contains_key("properties") && !s.contains_key("additionalProperties") && !preserve {
        s.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// Definitions that hold no `$ref` and declare no `properties` (Time, IntOrString, Quantity,
/// JSON, RawExtension, FieldsV1, closed field-less structs, ...) are written where they are used.
fn inline_leaf_defs(defs: &mut Map<String, Value>) {
    let leaves: BTreeMap<String, Map<String, Value>> = defs
        .iter()
        .filter(|(_, body)| !has_keyword(body, "$ref") && !has_keyword(body, "properties"))
        .filter_map(|(name, body)| {
            Some((format!("{DEFS_PREFIX}{name}"), body.as_object()?.clone()))
        })
        .collect();
    for body in defs.values_mut() {
        walk(body, &mut |s: &mut Map<String, Value>| {
            let Some(leaf) = s
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|t| leaves.get(t))
            else {
                return;
            };
            let mut merged = leaf.clone();
            for (k, v) in std::mem::take(s) {
                if k != "$ref" {
                    merged.entry(k).or_insert(v);
                }
            }
            *s = merged;
        });
    }
}

/// Kubernetes treats `null` for an optional field as "not set": every property that is not
/// `required` accepts `null` (xtask's rule 6). Inline schemas get `"null"` added to their `type`;
/// a `$ref` property is left as is (its definition accepts `null`), and every other `$ref` (a
/// required property, a list item, a map value) gets a sibling `type`, its definition's own,
/// which narrows it back. `ref_types` maps `#/$defs/<name>` to that type.
pub fn make_optional_nullable<'a>(
    schemas: impl Iterator<Item = &'a mut Value>,
    ref_types: &BTreeMap<String, Value>,
) {
    const MARK: &str = "\u{0}optional-ref";
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
        for (name, prop) in &mut *props {
            if required.contains(name) {
                continue;
            }
            let Value::Object(p) = prop else { continue };
            if p.contains_key("$ref") {
                p.insert(MARK.into(), Value::Bool(true));
            } else {
                accept_null(p);
            }
        }
    };
    let mut narrow = |schema: &mut Map<String, Value>| {
        if schema.remove(MARK).is_some() {
            return;
        }
        let Some(t) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|target| ref_types.get(target))
        else {
            return;
        };
        if !schema.contains_key("type") {
            schema.insert("type".into(), t.clone());
        }
    };
    for schema in schemas {
        walk(schema, &mut mark);
        walk(schema, &mut narrow);
    }
}

/// Let a schema accept `null`: added to its `type` (and to its `enum`, which would reject it).
/// Schemas without a `type` are left alone (they either accept `null` already or are unions).
pub fn accept_null(s: &mut Map<String, Value>) {
    let Some(t) = s.get_mut("type") else { return };
    match t {
        Value::String(one) if one != "null" => *t = json!([one.clone(), "null"]),
        Value::Array(a) if !a.iter().any(|v| v == "null") => a.push("null".into()),
        _ => return,
    }
    if let Some(Value::Array(e)) = s.get_mut("enum")
        && !e.contains(&Value::Null)
    {
        e.push(Value::Null);
    }
}

/// Keys of every object in sorted order, so the output is reproducible.
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

/// Whether `key` is a keyword anywhere in this schema (not a property name).
fn has_keyword(schema: &Value, key: &str) -> bool {
    let Value::Object(obj) = schema else {
        return false;
    };
    if obj.contains_key(key) {
        return true;
    }
    obj.iter().any(|(k, child)| match k.as_str() {
        k if MAP_OF_SCHEMAS.contains(&k) => child
            .as_object()
            .is_some_and(|m| m.values().any(|s| has_keyword(s, key))),
        k if SCHEMA_OR_LIST.contains(&k) => match child {
            Value::Array(list) => list.iter().any(|s| has_keyword(s, key)),
            other => has_keyword(other, key),
        },
        k if ONE_SCHEMA.contains(&k) => has_keyword(child, key),
        _ => false,
    })
}

/// Keywords whose value maps names to subschemas.
const MAP_OF_SCHEMAS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is one subschema.
const ONE_SCHEMA: &[&str] = &[
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
];
/// Keywords whose value is a subschema or a list of them.
const SCHEMA_OR_LIST: &[&str] = &["items", "allOf", "anyOf", "oneOf", "prefixItems"];

/// Calls `f` on every schema object (pre-order), following only subschema keywords, so property
/// *names* such as `description` are never taken for keywords, and `default`/`enum`/`example`
/// values are never entered (xtask/src/strict.rs's walk).
pub fn walk(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Value::Object(obj) = schema else { return };
    f(obj);
    for (key, child) in &mut *obj {
        match key.as_str() {
            k if MAP_OF_SCHEMAS.contains(&k) => {
                if let Value::Object(map) = child {
                    for sub in map.values_mut() {
                        walk(sub, f);
                    }
                }
            }
            k if ONE_SCHEMA.contains(&k) => walk(child, f),
            k if SCHEMA_OR_LIST.contains(&k) => match child {
                Value::Array(list) => list.iter_mut().for_each(|sub| walk(sub, f)),
                other => walk(other, f),
            },
            _ => {}
        }
    }
}

/// What makes a generated schema of a built-in kind not strict: annotations or `x-kubernetes-*`
/// left in, an object with `properties` that is not closed, another dialect (xtask's `check`).
#[must_use]
pub fn problems(schema: &Value) -> Vec<String> {
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
