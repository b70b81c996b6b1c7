//! `patches:` from values layers, applied to an instance's rendered objects before any check:
//! kustomize's inline form, a `target` and either a `strategic` merge patch (a mapping) or a
//! `json` patch (an RFC 6902 list).
//!
//! Strategic merge follows `kubectl`: lists with a merge key (containers and volumes by `name`,
//! volume mounts by `mountPath`, ...) merge item by item, keeping the base order and appending
//! new items (kustomize puts patched items first; kiln keeps the app container first, the
//! default of `kubectl logs`); other lists are replaced; `null` deletes a key; `$patch: delete`
//! and `$patch: replace` work on mappings and list items. Every problem is reported at the
//! values line of the patch.

use crate::diagnostic::Diagnostic;
use crate::manifest::{Manifest, ResourceId};
use crate::source::{Loc, Sources};
use crate::yaml::{Node, Value};

/// One parsed patch.
struct Patch<'a> {
    node: &'a Node,
    kind: Option<&'a str>,
    name: Option<&'a str>,
    api_version: Option<&'a str>,
    namespace: Option<&'a str>,
    body: Body<'a>,
}

enum Body<'a> {
    Strategic(&'a Node),
    Json(&'a [Node]),
}

fn bad(sources: &Sources, at: Loc, msg: String) -> Diagnostic {
    Diagnostic::error(msg).at(sources, at, "in this patch")
}

fn parse<'a>(node: &'a Node, sources: &Sources) -> Result<Patch<'a>, Diagnostic> {
    let Value::Map(m) = &node.value else {
        return Err(bad(
            sources,
            node.loc,
            format!(
                "a patch is a mapping with `target` and `strategic` or `json`, found a {}",
                node.type_name()
            ),
        ));
    };
    for (k, v) in m {
        if !matches!(k.as_str(), "target" | "strategic" | "json") {
            return Err(bad(sources, v.key_loc, format!("unknown patch key `{k}`"))
                .help("a patch has `target` (optional), and `strategic` or `json`"));
        }
    }
    let (mut kind, mut name, mut api_version, mut namespace) = (None, None, None, None);
    if let Some(t) = node.get("target") {
        let Value::Map(tm) = &t.value else {
            return Err(bad(
                sources,
                t.loc,
                "`target` must be a mapping: {kind, name, apiVersion, namespace}".into(),
            ));
        };
        for (k, v) in tm {
            if !matches!(k.as_str(), "kind" | "name" | "apiVersion" | "namespace") {
                return Err(bad(sources, v.key_loc, format!("unknown target key `{k}`"))
                    .help("a target has `kind`, `name` (a glob), `apiVersion`, `namespace`"));
            }
        }
        kind = target_text(t, "kind", sources)?;
        name = target_text(t, "name", sources)?;
        api_version = target_text(t, "apiVersion", sources)?;
        namespace = target_text(t, "namespace", sources)?;
    }
    let body = match (node.get("strategic"), node.get("json")) {
        (Some(s), None) => {
            if !matches!(s.value, Value::Map(_)) {
                return Err(bad(
                    sources,
                    s.loc,
                    "`strategic` must be a mapping: the fields to merge into the object".into(),
                ));
            }
            Body::Strategic(s)
        }
        (None, Some(j)) => match &j.value {
            Value::Seq(ops) => Body::Json(ops),
            _ => {
                return Err(bad(
                    sources,
                    j.loc,
                    "`json` must be a list of RFC 6902 operations".into(),
                ));
            }
        },
        _ => {
            return Err(bad(
                sources,
                node.loc,
                "a patch needs exactly one of `strategic` and `json`".into(),
            ));
        }
    };
    Ok(Patch {
        node,
        kind,
        name,
        api_version,
        namespace,
        body,
    })
}

fn target_text<'a>(
    t: &'a Node,
    key: &str,
    sources: &Sources,
) -> Result<Option<&'a str>, Diagnostic> {
    match t.get(key) {
        None => Ok(None),
        Some(n) => match &n.value {
            Value::Str(s) => Ok(Some(s.as_str())),
            _ => Err(bad(
                sources,
                n.loc,
                format!("`target.{key}` must be a string"),
            )),
        },
    }
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character).
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Patch<'_> {
    fn matches(&self, m: &Manifest) -> bool {
        self.kind.is_none_or(|k| k == m.id.kind)
            && self.name.is_none_or(|n| glob(n, &m.id.name))
            && self.api_version.is_none_or(|a| a == m.id.api_version)
            && self
                .namespace
                .is_none_or(|n| glob(n, m.id.namespace.as_deref().unwrap_or_default()))
    }
}

/// Apply an instance's patches, in order, to its manifests.
pub fn apply(
    manifests: &mut [Manifest],
    patches: &[Node],
    sources: &Sources,
) -> Result<(), Diagnostic> {
    for node in patches {
        let patch = parse(node, sources)?;
        let mut matched = 0;
        for m in manifests.iter_mut() {
            if !patch.matches(m) {
                continue;
            }
            matched += 1;
            let result = match patch.body {
                Body::Strategic(p) => strategic(&mut m.doc, p, &mut Vec::new()).map(|_| ()),
                Body::Json(ops) => json(&mut m.doc, ops, sources),
            };
            result.map_err(|d| {
                let d = if d.location().is_some() {
                    d
                } else {
                    d.at(sources, patch.node.loc, "in this patch")
                };
                d.note(format!(
                    "while patching `{}` of `{}`",
                    m.id, m.origin.instance
                ))
            })?;
            // Findings on this object name the patch beside the template.
            let mut origin = (*m.origin).clone();
            origin.template_shown = format!(
                "{}, patched by {}",
                origin.template_shown,
                sources.describe(patch.node.loc)
            );
            m.origin = std::sync::Arc::new(origin);
            match ResourceId::of(&m.doc) {
                Ok(id) => m.id = id,
                Err(why) => {
                    return Err(bad(
                        sources,
                        patch.node.loc,
                        format!(
                            "after this patch `{}` is not a Kubernetes object: {why}",
                            m.id
                        ),
                    ));
                }
            }
        }
        if matched == 0 {
            let what = [
                patch.kind.map(|k| format!("kind `{k}`")),
                patch.name.map(|n| format!("name `{n}`")),
                patch.api_version.map(|a| format!("apiVersion `{a}`")),
                patch.namespace.map(|n| format!("namespace `{n}`")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            let objects = manifests
                .iter()
                .map(|m| format!("`{}`", m.id))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(bad(
                sources,
                patch.node.loc,
                format!("this patch matches no object (target: {what})"),
            )
            .note(format!("the instance's objects: {objects}")));
        }
    }
    Ok(())
}

/// The merge key of a list field, as the Kubernetes API declares it (`patchMergeKey`).
fn merge_key(path: &[String]) -> Option<&'static str> {
    let field = path.last()?;
    let in_container = path.iter().rev().skip(1).any(|p| {
        matches!(
            p.as_str(),
            "containers" | "initContainers" | "ephemeralContainers"
        )
    });
    Some(match field.as_str() {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ownerReferences" => "uid",
        "ports" if in_container => "containerPort",
        "ports" => "port",
        _ => return None,
    })
}

/// The patch value without its `$patch` directives, as it goes into the object.
fn clean(node: &Node) -> Node {
    let mut n = node.clone();
    match &mut n.value {
        Value::Map(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            for v in m.values_mut() {
                *v = clean(v);
            }
        }
        Value::Seq(items) => {
            items.retain(|i| directive(i).is_none());
            for i in items.iter_mut() {
                *i = clean(i);
            }
        }
        _ => {}
    }
    n
}

fn directive(node: &Node) -> Option<&str> {
    node.get("$patch").and_then(|d| match &d.value {
        Value::Str(s) => Some(s.as_str()),
        _ => None,
    })
}

/// What a strategic merge asks of the value it was merged into.
enum Outcome {
    Keep,
    Delete,
}

fn strategic(base: &mut Node, patch: &Node, at: &mut Vec<String>) -> Result<Outcome, Diagnostic> {
    match (&mut base.value, &patch.value) {
        (Value::Map(bm), Value::Map(pm)) => {
            match directive(patch) {
                Some("delete") => return Ok(Outcome::Delete),
                Some("replace") => {
                    *base = clean(patch);
                    return Ok(Outcome::Keep);
                }
                Some(other) => {
                    return Err(Diagnostic::error(format!(
                        "unknown `$patch: {other}` (kiln knows `delete` and `replace`)"
                    )));
                }
                None => {}
            }
            for (k, v) in pm {
                if k.starts_with('$') {
                    continue;
                }
                if matches!(v.value, Value::Null) {
                    bm.shift_remove(k);
                    continue;
                }
                match bm.get_mut(k) {
                    Some(existing) => {
                        at.push(k.clone());
                        let r = strategic(existing, v, at)?;
                        at.pop();
                        if matches!(r, Outcome::Delete) {
                            bm.shift_remove(k);
                        }
                    }
                    None => {
                        if directive(v) != Some("delete") {
                            bm.insert(k.clone(), clean(v));
                        }
                    }
                }
            }
            Ok(Outcome::Keep)
        }
        (Value::Seq(items), Value::Seq(pitems)) => {
            let Some(key) = merge_key(at) else {
                *base = clean(patch);
                return Ok(Outcome::Keep);
            };
            if pitems.iter().any(|i| directive(i) == Some("replace")) {
                *base = clean(patch);
                return Ok(Outcome::Keep);
            }
            for p in pitems {
                let Some(kv) = p.get(key) else {
                    return Err(Diagnostic::error(format!(
                        "an item of `{}` has no `{key}`: this list merges by `{key}`",
                        at.join(".")
                    )));
                };
                let pos = items
                    .iter()
                    .position(|i| i.get(key).map(|n| &n.value) == Some(&kv.value));
                match (pos, directive(p)) {
                    (Some(i), Some("delete")) => {
                        items.remove(i);
                    }
                    (None, Some("delete")) => {}
                    (Some(i), _) => {
                        at.push(format!("{key}={}", display(&kv.value)));
                        let r = strategic(&mut items[i], p, at)?;
                        at.pop();
                        if matches!(r, Outcome::Delete) {
                            items.remove(i);
                        }
                    }
                    (None, _) => items.push(clean(p)),
                }
            }
            Ok(Outcome::Keep)
        }
        _ => {
            if directive(patch) == Some("delete") {
                return Ok(Outcome::Delete);
            }
            *base = clean(patch);
            Ok(Outcome::Keep)
        }
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// RFC 6901 pointer to its unescaped parts.
fn pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    if !p.starts_with('/') {
        return Err(format!("path `{p}` must start with `/`"));
    }
    Ok(crate::kube::pointer::segments(p)
        .map(std::borrow::Cow::into_owned)
        .collect())
}

fn walk<'a>(root: &'a mut Node, parts: &[String], full: &str) -> Result<&'a mut Node, String> {
    let mut n = root;
    for (i, part) in parts.iter().enumerate() {
        let here = || format!("/{}", parts[..=i].join("/"));
        n = match &mut n.value {
            Value::Map(m) => m
                .get_mut(part)
                .ok_or_else(|| format!("path `{full}` does not exist: no `{}`", here()))?,
            Value::Seq(items) => {
                let idx: usize = part
                    .parse()
                    .map_err(|_| format!("path `{full}`: `{part}` is not a list index"))?;
                let len = items.len();
                items.get_mut(idx).ok_or_else(|| {
                    format!("path `{full}` does not exist: index {idx} of a list of {len}")
                })?
            }
            _ => {
                return Err(format!(
                    "path `{full}` does not exist: `{}` is not a mapping or list",
                    here()
                ));
            }
        };
    }
    Ok(n)
}

fn remove(root: &mut Node, parts: &[String], full: &str) -> Result<Node, String> {
    let (last, parent) = parts
        .split_last()
        .ok_or_else(|| "cannot remove the whole object".to_string())?;
    match &mut walk(root, parent, full)?.value {
        Value::Map(m) => m
            .shift_remove(last)
            .ok_or_else(|| format!("path `{full}` does not exist")),
        Value::Seq(items) => {
            let idx: usize = last
                .parse()
                .map_err(|_| format!("path `{full}`: `{last}` is not a list index"))?;
            if idx < items.len() {
                Ok(items.remove(idx))
            } else {
                Err(format!(
                    "path `{full}` does not exist: index {idx} of a list of {}",
                    items.len()
                ))
            }
        }
        _ => Err(format!("path `{full}` does not exist")),
    }
}

fn add(
    root: &mut Node,
    parts: &[String],
    value: Node,
    full: &str,
    replace: bool,
) -> Result<(), String> {
    let Some((last, parent)) = parts.split_last() else {
        *root = value;
        return Ok(());
    };
    match &mut walk(root, parent, full)?.value {
        Value::Map(m) => {
            if replace && !m.contains_key(last) {
                return Err(format!(
                    "path `{full}` does not exist (replace needs an existing value; use add)"
                ));
            }
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Seq(items) => {
            if last == "-" && !replace {
                items.push(value);
                return Ok(());
            }
            let idx: usize = last
                .parse()
                .map_err(|_| format!("path `{full}`: `{last}` is not a list index"))?;
            if replace {
                let len = items.len();
                let slot = items.get_mut(idx).ok_or_else(|| {
                    format!("path `{full}` does not exist: index {idx} of a list of {len}")
                })?;
                *slot = value;
            } else if idx <= items.len() {
                items.insert(idx, value);
            } else {
                return Err(format!(
                    "path `{full}`: index {idx} is past the end of a list of {}",
                    items.len()
                ));
            }
            Ok(())
        }
        _ => Err(format!(
            "path `{full}` does not exist: its parent is not a mapping or list"
        )),
    }
}

fn json(doc: &mut Node, ops: &[Node], sources: &Sources) -> Result<(), Diagnostic> {
    for op in ops {
        let fail = |msg: String| bad(sources, op.loc, msg);
        let field = |k: &str| -> Result<&str, Diagnostic> {
            op.get_str(k)
                .ok_or_else(|| fail(format!("a JSON patch operation needs `{k}` (a string)")))
        };
        let name = field("op")?;
        let path = field("path")?;
        let parts = pointer(path).map_err(&fail)?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| fail(format!("`{name}` needs a `value`")))
        };
        match name {
            "add" => add(doc, &parts, value()?, path, false),
            "replace" => add(doc, &parts, value()?, path, true),
            "remove" => remove(doc, &parts, path).map(|_| ()),
            "move" | "copy" => {
                let from = field("from")?;
                let from_parts = pointer(from).map_err(&fail)?;
                let v = if name == "move" {
                    remove(doc, &from_parts, from)
                } else {
                    walk(doc, &from_parts, from).map(|n| n.clone())
                };
                v.and_then(|v| add(doc, &parts, v, path, false))
            }
            "test" => {
                let want = value()?;
                walk(doc, &parts, path).and_then(|n| {
                    if serde_json::to_value(&*n).ok() == serde_json::to_value(&want).ok() {
                        Ok(())
                    } else {
                        Err(format!("test failed: `{path}` is not the given value"))
                    }
                })
            }
            other => Err(format!(
                "unknown JSON patch op `{other}` (add, remove, replace, move, copy, test)"
            )),
        }
        .map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*", "order-service", true),
            ("order-*", "order-service", true),
            ("*-service", "gateway", false),
            ("o?der-service", "order-service", true),
            ("order-service", "order-service-stress", false),
            ("*stress", "order-service-stress", true),
        ] {
            assert_eq!(glob(p, t), want, "{p} {t}");
        }
    }
}
