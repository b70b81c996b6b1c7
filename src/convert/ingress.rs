//! Ingress to networking.k8s.io/v1: backends, `spec.defaultBackend`, `pathType`.

use crate::yaml::Map;

use super::tree::{child_map, insert_after, map, map_mut, node, rename_key, s, seq_mut};
use crate::yaml::{Node, Value};

pub(super) fn ingress(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(spec) = map_mut(obj).and_then(|m| m.get_mut("spec")) else {
        return Ok(());
    };
    let spec = map_mut(spec).ok_or("`spec` is not a mapping")?;
    let mut backends = 0;
    let mut numbers = Vec::new();
    if spec.contains_key("backend") {
        if spec.contains_key("defaultBackend") {
            return Err("sets both `spec.backend` and `spec.defaultBackend`".into());
        }
        if let Some(b) = spec.get_mut("backend") {
            backends += usize::from(backend(b, "spec.backend", &mut numbers)?);
        }
        rename_key(spec, "backend", "defaultBackend");
        notes.push("`spec.backend` -> `spec.defaultBackend`".into());
    }
    let mut path_types = 0;
    if let Some(rules) = spec.get_mut("rules").and_then(seq_mut) {
        for (i, rule) in rules.iter_mut().enumerate() {
            let Some(paths) = child_map(rule, "http")
                .and_then(|h| h.get_mut("paths"))
                .and_then(seq_mut)
            else {
                continue;
            };
            for (j, p) in paths.iter_mut().enumerate() {
                let at = format!("spec.rules[{i}].http.paths[{j}]");
                let pm = map_mut(p).ok_or_else(|| format!("`{at}` is not a mapping"))?;
                if let Some(b) = pm.get_mut("backend") {
                    backends += usize::from(backend(b, &format!("{at}.backend"), &mut numbers)?);
                }
                if !pm.contains_key("pathType") {
                    insert_after(pm, "path", "pathType", s("ImplementationSpecific"));
                    path_types += 1;
                }
            }
        }
    }
    if backends > 0 {
        notes.push(format!(
            "{backends} backend(s) `serviceName`/`servicePort` -> `service.name`/`service.port`"
        ));
    }
    for at in numbers {
        notes.push(format!(
            "`{at}.servicePort` was a quoted number: now `port.number`"
        ));
    }
    if path_types > 0 {
        notes.push(format!(
            "added `pathType: ImplementationSpecific` to {path_types} path(s) (the old behaviour)"
        ));
    }
    Ok(())
}

/// `{serviceName, servicePort}` -> `{service: {name, port: {number|name}}}`; true when changed.
fn backend(backend: &mut Node, at: &str, numbers: &mut Vec<String>) -> Result<bool, String> {
    let m = map_mut(backend).ok_or_else(|| format!("`{at}` is not a mapping"))?;
    let Some(i) = m
        .get_index_of("serviceName")
        .or_else(|| m.get_index_of("servicePort"))
    else {
        return Ok(false);
    };
    if m.contains_key("service") {
        return Err(format!(
            "`{at}` mixes `serviceName`/`servicePort` with `service`"
        ));
    }
    let name = m.shift_remove("serviceName");
    let port = m.shift_remove("servicePort");
    let mut service = Map::default();
    if let Some(name) = name {
        service.insert("name".to_string(), name);
    }
    if let Some(port) = port {
        let port = match &port.value {
            Value::Int(_) => map([("number", port.clone())]),
            Value::Str(v) if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) => {
                let number: i64 = v
                    .parse()
                    .map_err(|_| format!("`{at}.servicePort` `{v}` is not a port"))?;
                numbers.push(at.to_string());
                map([("number", node(Value::Int(number)))])
            }
            Value::Str(_) => map([("name", port.clone())]),
            other => {
                return Err(format!(
                    "`{at}.servicePort` is a {}, not a port number or name",
                    other.type_name()
                ));
            }
        };
        service.insert("port".to_string(), port);
    }
    m.shift_insert(
        i.min(m.len()),
        "service".to_string(),
        node(Value::Map(service)),
    );
    Ok(true)
}
