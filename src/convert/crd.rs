//! CustomResourceDefinition to apiextensions.k8s.io/v1: everything moves into `versions`, and
//! schemas are made structural.

use std::collections::BTreeSet;

use super::tree::{
    child_map, insert_after, is_true, map, map_mut, node, rename_key, s, seq, seq_mut,
};
use crate::yaml::{Node, Value};

fn preserve_unknown() -> Node {
    map([
        ("type", s("object")),
        (
            "x-kubernetes-preserve-unknown-fields",
            node(Value::Bool(true)),
        ),
    ])
}

pub(super) fn crd(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let spec = child_map(obj, "spec").ok_or("`spec` is missing or not a mapping")?;
    match spec.get_index_of("versions") {
        Some(_) => {
            spec.shift_remove("version");
        }
        None => {
            let Some(Value::Str(v)) = spec.get("version").map(|n| n.value.clone()) else {
                return Err("neither `spec.version` nor `spec.versions` is set".into());
            };
            let entry = map([
                ("name", s(&v)),
                ("served", node(Value::Bool(true))),
                ("storage", node(Value::Bool(true))),
            ]);
            let i = spec.get_index_of("version").unwrap_or(spec.len());
            spec.shift_remove("version");
            spec.shift_insert(i.min(spec.len()), "versions".into(), seq(vec![entry]));
            notes.push("`spec.version` -> `spec.versions[]`".into());
        }
    }
    let validation = spec.shift_remove("validation");
    let top_schema = match &validation {
        Some(v) => Some(
            v.get("openAPIV3Schema")
                .cloned()
                .ok_or("`spec.validation` has no `openAPIV3Schema`")?,
        ),
        None => None,
    };
    let top_sub = spec.shift_remove("subresources");
    let top_cols = spec.shift_remove("additionalPrinterColumns");
    let mut moved: Vec<&str> = Vec::new();
    if top_schema.is_some() {
        moved.push("validation");
    }
    if top_sub.is_some() {
        moved.push("subresources");
    }
    if top_cols.is_some() {
        moved.push("additionalPrinterColumns");
    }
    let mut had_schema = top_schema.is_some();
    let mut defaulted = false;
    let mut fixed_types = 0;
    let versions = spec
        .get_mut("versions")
        .and_then(seq_mut)
        .filter(|v| !v.is_empty())
        .ok_or("`spec.versions` is not a non-empty list")?;
    for (i, v) in versions.iter_mut().enumerate() {
        let vm = map_mut(v).ok_or_else(|| format!("`spec.versions[{i}]` is not a mapping"))?;
        if vm.contains_key("schema") {
            had_schema = true;
        } else {
            let schema = top_schema.clone().unwrap_or_else(|| {
                defaulted = true;
                preserve_unknown()
            });
            vm.insert("schema".into(), map([("openAPIV3Schema", schema)]));
        }
        if let Some(sub) = &top_sub
            && !vm.contains_key("subresources")
        {
            vm.insert("subresources".into(), sub.clone());
        }
        if let Some(cols) = &top_cols
            && !vm.contains_key("additionalPrinterColumns")
        {
            vm.insert("additionalPrinterColumns".into(), cols.clone());
        }
        if let Some(cols) = vm.get_mut("additionalPrinterColumns").and_then(seq_mut) {
            for c in cols.iter_mut().filter_map(map_mut) {
                if c.contains_key("JSONPath") && !c.contains_key("jsonPath") {
                    rename_key(c, "JSONPath", "jsonPath");
                }
            }
        }
        let at = format!("spec.versions[{i}].schema.openAPIV3Schema");
        let schema = vm
            .get_mut("schema")
            .and_then(|s| map_mut(s))
            .and_then(|s| s.get_mut("openAPIV3Schema"))
            .ok_or_else(|| format!("`spec.versions[{i}].schema` has no `openAPIV3Schema`"))?;
        structural(schema, &at, true, &mut fixed_types)?;
    }
    if !moved.is_empty() {
        notes.push(format!(
            "`spec.{}` moved into each version",
            moved.join("`/`spec.")
        ));
    }
    if defaulted {
        notes.push("no schema: added one that keeps any fields (`type: object`, `x-kubernetes-preserve-unknown-fields: true`)".into());
    }
    if fixed_types > 0 {
        notes.push(format!(
            "added `type: object`/`type: array` to {fixed_types} schema node(s) with `properties`/`items` (v1 schemas must be structural)"
        ));
    }
    let preserved =
        spec.get("preserveUnknownFields").map(|n| &n.value) != Some(&Value::Bool(false));
    if preserved && had_schema {
        notes.push("v1 prunes fields the schema does not declare (v1beta1 kept them: `preserveUnknownFields` was not false); add `x-kubernetes-preserve-unknown-fields: true` where objects must keep them".into());
    }
    spec.insert("preserveUnknownFields".into(), node(Value::Bool(false)));
    if !spec.contains_key("scope") {
        insert_after(spec, "group", "scope", s("Namespaced"));
        notes.push("added `scope: Namespaced` (required in v1; the v1beta1 default)".into());
    }
    if let Some(conv) = spec.get_mut("conversion").and_then(map_mut) {
        let client = conv.shift_remove("webhookClientConfig");
        let reviews = conv.shift_remove("conversionReviewVersions");
        let webhook = conv.get("strategy").and_then(|s| match &s.value {
            Value::Str(v) => Some(v == "Webhook"),
            _ => None,
        }) == Some(true);
        if client.is_some() || reviews.is_some() || webhook {
            let mut w = conv
                .shift_remove("webhook")
                .and_then(|w| match w.value {
                    Value::Map(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            if let Some(c) = client {
                w.insert("clientConfig".into(), c);
            }
            let reviews = reviews.unwrap_or_else(|| seq(vec![s("v1beta1")]));
            if !w.contains_key("conversionReviewVersions") {
                w.insert("conversionReviewVersions".into(), reviews);
            }
            conv.insert("webhook".into(), node(Value::Map(w)));
            notes.push(
                "`spec.conversion.webhookClientConfig`/`conversionReviewVersions` -> `spec.conversion.webhook`"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Check that a schema is structural, as apiextensions.k8s.io/v1 requires, adding the `type`
/// that `properties` or `items` imply where it is missing. `root`: the top of a schema.
fn structural(n: &mut Node, at: &str, root: bool, fixed: &mut usize) -> Result<(), String> {
    walk_schema(n, at, false, root, fixed)
}

fn walk_schema(
    n: &mut Node,
    at: &str,
    junctor: bool,
    root: bool,
    fixed: &mut usize,
) -> Result<(), String> {
    const NOT_STRUCTURAL: &str = "v1 requires a structural schema";
    let m = map_mut(n).ok_or_else(|| format!("`{at}` is not a schema object"))?;
    for k in [
        "$ref",
        "definitions",
        "id",
        "patternProperties",
        "dependencies",
        "additionalItems",
    ] {
        if m.contains_key(k) {
            return Err(format!("`{at}.{k}` is not allowed in a CRD schema"));
        }
    }
    let int_or_string = is_true(m, "x-kubernetes-int-or-string");
    let preserve = is_true(m, "x-kubernetes-preserve-unknown-fields");
    if junctor {
        for k in [
            "type",
            "description",
            "default",
            "additionalProperties",
            "nullable",
        ] {
            if m.contains_key(k) {
                return Err(format!(
                    "`{at}.{k}` is not allowed inside allOf/anyOf/oneOf/not ({NOT_STRUCTURAL})"
                ));
            }
        }
    } else {
        let typed = matches!(m.get("type").map(|t| &t.value), Some(Value::Str(t)) if !t.is_empty());
        if !typed && !int_or_string && !preserve {
            if m.contains_key("properties") || m.contains_key("additionalProperties") {
                m.shift_insert(0, "type".into(), s("object"));
                *fixed += 1;
            } else if m.contains_key("items") {
                m.shift_insert(0, "type".into(), s("array"));
                *fixed += 1;
            } else {
                return Err(format!(
                    "`{at}` has no `type` ({NOT_STRUCTURAL}: every field needs a `type`, `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`)"
                ));
            }
        }
    }
    if root && let Some(meta) = m.get("properties").and_then(|p| p.get("metadata")) {
        let ok = match &meta.value {
            Value::Map(mm) => mm.iter().all(|(k, v)| match k.as_str() {
                "type" => true,
                "properties" => matches!(&v.value, Value::Map(p) if p.keys().all(|k| k == "name" || k == "generateName")),
                _ => false,
            }),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "`{at}.properties.metadata` may only restrict `name` and `generateName` ({NOT_STRUCTURAL})"
            ));
        }
    }
    let own_props: BTreeSet<String> = m
        .get("properties")
        .and_then(|p| match &p.value {
            Value::Map(pm) => Some(pm.keys().cloned().collect()),
            _ => None,
        })
        .unwrap_or_default();
    let has_items = m.contains_key("items");
    for (k, v) in m.iter_mut() {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "properties" => {
                let props = map_mut(v).ok_or_else(|| format!("`{here}` is not a mapping"))?;
                for (name, p) in props.iter_mut() {
                    if name == "metadata" && root {
                        continue;
                    }
                    walk_schema(p, &format!("{here}.{name}"), junctor, false, fixed)?;
                }
            }
            "items" => match &v.value {
                Value::Map(_) => walk_schema(v, &here, junctor, false, fixed)?,
                _ => return Err(format!("`{here}` must be a single schema in v1")),
            },
            "additionalProperties" => {
                if matches!(v.value, Value::Map(_)) {
                    walk_schema(v, &here, junctor, false, fixed)?;
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                let items = seq_mut(v).ok_or_else(|| format!("`{here}` is not a list"))?;
                for (i, item) in items.iter_mut().enumerate() {
                    let at_i = format!("{here}[{i}]");
                    // `x-kubernetes-int-or-string` may spell out its two types in anyOf.
                    if int_or_string && is_int_or_string_branch(item) {
                        continue;
                    }
                    junctor_fields(item, &at_i, &own_props, has_items)?;
                    walk_schema(item, &at_i, true, false, fixed)?;
                }
            }
            "not" => {
                junctor_fields(v, &here, &own_props, has_items)?;
                walk_schema(v, &here, true, false, fixed)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_int_or_string_branch(n: &Node) -> bool {
    matches!(&n.value, Value::Map(m) if m.len() == 1
        && matches!(m.get("type").map(|t| &t.value), Some(Value::Str(t)) if t == "integer" || t == "string"))
}

/// Fields named inside allOf/anyOf/oneOf/not must also be specified outside them.
fn junctor_fields(
    n: &Node,
    at: &str,
    outside: &BTreeSet<String>,
    has_items: bool,
) -> Result<(), String> {
    if let Some(Value::Map(props)) = n.get("properties").map(|p| &p.value) {
        for k in props.keys() {
            if !outside.contains(k) {
                return Err(format!(
                    "`{at}.properties.{k}` is not also specified outside the junctor (v1 requires a structural schema)"
                ));
            }
        }
    }
    if n.get("items").is_some() && !has_items {
        return Err(format!(
            "`{at}.items` is not also specified outside the junctor (v1 requires a structural schema)"
        ));
    }
    Ok(())
}
