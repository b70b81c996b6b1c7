//! What the API server would reject even when the JSON Schema passes: name formats and
//! lengths, label and annotation syntax, duplicate container/port names, a workload whose
//! selector does not match its pod template. Each check returns findings; none prints.

use crate::check::rule::{self, Rule};
use crate::kube::names::{dns_label, dns_subdomain, label_value, path_segment, qualified_name};
use crate::kube::pointer::{escape, list_item};
use crate::yaml::{Node, Value};

/// A problem found by a rule: (the rule, JSON pointer, message).
pub type Problem = (&'static Rule, String, String);

/// Kinds whose names must be DNS-1123 labels (63 characters, no dots), as the API server
/// validates them; every other kind takes a DNS-1123 subdomain (253, dots allowed).
const LABEL_NAMED: &[&str] = &["Namespace", "Service"];

/// Check one object with a known identity.
#[must_use]
pub fn check(doc: &Node, kind: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    metadata(doc, kind, &mut out);
    if let Some((pointer, pod)) = pod_spec(doc, kind) {
        pod_rules(pod, pointer, &mut out);
    }
    selector(doc, kind, &mut out);
    if kind == "Service"
        && let Some(spec) = doc.get("spec")
    {
        one_of(
            spec,
            "type",
            &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
            "/spec",
            &mut out,
        );
        each(spec, "ports", "/spec", &mut out, |p, here, out| {
            one_of(p, "protocol", PROTOCOLS, here, out);
        });
    }
    if kind == "CustomResourceDefinition" {
        crd_schemas(doc, &mut out);
    }
    out
}

const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

/// Enumerated fields: the API server accepts only these spellings (`udp` is not `UDP`). The
/// generated schemas carry no enums, so the common ones are checked here.
fn one_of(parent: &Node, key: &str, allowed: &[&str], pointer: &str, out: &mut Vec<Problem>) {
    if let Some(v) = parent.get_str(key)
        && !allowed.contains(&v)
    {
        let hint = allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v))
            .map_or_else(String::new, |a| format!(" (did you mean `{a}`?)"));
        out.push((
            &rule::ENUM,
            format!("{pointer}/{key}"),
            format!("`{key}: {v}` is not one of {}{hint}", allowed.join(", ")),
        ));
    }
}

fn each(
    parent: &Node,
    list: &str,
    pointer: &str,
    out: &mut Vec<Problem>,
    f: impl Fn(&Node, &str, &mut Vec<Problem>),
) {
    if let Some(Value::Seq(items)) = parent.get(list).map(|n| &n.value) {
        for (i, item) in items.iter().enumerate() {
            f(item, &list_item(pointer, list, i), out);
        }
    }
}

/// A CRD's `openAPIV3Schema` must use valid JSON Schema types (`strign` is rejected).
fn crd_schemas(doc: &Node, out: &mut Vec<Problem>) {
    const TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
    fn walk(n: &Node, pointer: &str, out: &mut Vec<Problem>) {
        match &n.value {
            Value::Map(m) => {
                for (k, v) in m {
                    let here = format!("{pointer}/{}", escape(k));
                    if k == "type"
                        && let Value::Str(t) = &v.value
                    {
                        if !TYPES.contains(&t.as_str()) {
                            let hint = crate::diagnostic::did_you_mean(t, TYPES.iter().copied())
                                .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"));
                            out.push((
                                &rule::CRD_SCHEMA,
                                here.clone(),
                                format!(
                                    "schema type `{t}` is not one of {}{hint}",
                                    TYPES.join(", ")
                                ),
                            ));
                        }
                        continue;
                    }
                    walk(v, &here, out);
                }
            }
            Value::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{pointer}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let Some(spec) = doc.get("spec") else { return };
    if let Some(v) = spec.get("validation") {
        walk(v, "/spec/validation", out);
    }
    if let Some(Value::Seq(versions)) = spec.get("versions").map(|n| &n.value) {
        for (i, v) in versions.iter().enumerate() {
            if let Some(schema) = v.get("schema") {
                walk(schema, &format!("/spec/versions/{i}/schema"), out);
            }
        }
    }
}

fn metadata(doc: &Node, kind: &str, out: &mut Vec<Problem>) {
    let Some(meta) = doc.get("metadata") else {
        out.push((
            &rule::METADATA_NAME,
            "/metadata".into(),
            "missing `metadata` (with at least `name`)".into(),
        ));
        return;
    };
    match meta.get("name").map(|n| &n.value) {
        None => {
            if meta.get("generateName").is_none() {
                out.push((
                    &rule::METADATA_NAME,
                    "/metadata".into(),
                    "missing `metadata.name`".into(),
                ));
            }
        }
        Some(Value::Str(name)) => {
            let label = LABEL_NAMED.contains(&kind);
            // RBAC objects only need a valid path segment: `system:coredns` is a fine name.
            let rbac = matches!(
                kind,
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            );
            let check = if rbac {
                path_segment(name)
            } else if label {
                dns_label(name)
            } else {
                dns_subdomain(name)
            };
            if let Err(why) = check {
                let what = if label {
                    "a DNS-1123 label (lowercase letters, digits, `-`; at most 63)"
                } else {
                    "a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`; at most 253)"
                };
                out.push((
                    &rule::METADATA_NAME,
                    "/metadata/name".into(),
                    format!(
                        "name `{name}` {why}: {} {kind} name must be {what}",
                        if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
                            "an"
                        } else {
                            "a"
                        }
                    ),
                ));
            }
        }
        Some(other) => out.push((
            &rule::METADATA_NAME,
            "/metadata/name".into(),
            format!(
                "`metadata.name` must be a string, found {}",
                other.type_name()
            ),
        )),
    }
    for (field, values_are_labels) in [("labels", true), ("annotations", false)] {
        let Some(Value::Map(map)) = meta.get(field).map(|n| &n.value) else {
            continue;
        };
        for (key, value) in map {
            // Made only for a finding: every label and annotation of every object is asked.
            let pointer = || format!("/metadata/{field}/{}", escape(key));
            if let Err(why) = qualified_name(key) {
                out.push((
                    &rule::LABEL_SYNTAX,
                    pointer(),
                    format!("{} key `{key}` {why}", &field[..field.len() - 1]),
                ));
            }
            match &value.value {
                Value::Str(v) if values_are_labels => {
                    if let Err(why) = label_value(v) {
                        out.push((
                            &rule::LABEL_SYNTAX,
                            pointer(),
                            format!("label `{key}` value `{v}` {why}"),
                        ));
                    }
                }
                Value::Str(_) => {}
                other => out.push((
                    &rule::LABEL_SYNTAX,
                    pointer(),
                    format!(
                        "{} `{key}` must be a string, found {} (quote it)",
                        &field[..field.len() - 1],
                        other.type_name()
                    ),
                )),
            }
        }
    }
}

/// Where the pod spec of a kind lives.
#[must_use]
pub fn pod_spec<'a>(doc: &'a Node, kind: &str) -> Option<(&'static str, &'a Node)> {
    let pointer = match kind {
        "Pod" => "/spec",
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    };
    let mut n = doc;
    for key in pointer.split('/').skip(1) {
        n = n.get(key)?;
    }
    Some((pointer, n))
}

fn pod_rules(pod: &Node, pointer: &str, out: &mut Vec<Problem>) {
    let mut names: Vec<(&str, String)> = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(Value::Seq(items)) = pod.get(list).map(|n| &n.value) else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            let here = list_item(pointer, list, i);
            if let Some(name) = c.get_str("name") {
                if names.iter().any(|(n, _)| *n == name) {
                    out.push((
                        &rule::DUPLICATE_NAME,
                        format!("{here}/name"),
                        format!("container name `{name}` is used twice in the pod"),
                    ));
                } else {
                    names.push((name, here.clone()));
                }
            }
            duplicates(
                c,
                "ports",
                "name",
                &here,
                "port name",
                &rule::DUPLICATE_NAME,
                out,
            );
            duplicates(
                c,
                "env",
                "name",
                &here,
                "environment variable",
                &rule::DUPLICATE_ENV,
                out,
            );
            if c.get("image").is_none() && list != "ephemeralContainers" {
                out.push((
                    &rule::REQUIRED_FIELD,
                    format!("{here}/image"),
                    format!(
                        "container `{}` has no `image`",
                        c.get_str("name").unwrap_or("?")
                    ),
                ));
            }
            one_of(
                c,
                "imagePullPolicy",
                &["Always", "IfNotPresent", "Never"],
                &here,
                out,
            );
            each(c, "ports", &here, out, |p, at, out| {
                one_of(p, "protocol", PROTOCOLS, at, out);
            });
            port_pairs(c, &here, out);
        }
    }
    duplicates(
        pod,
        "volumes",
        "name",
        pointer,
        "volume name",
        &rule::DUPLICATE_NAME,
        out,
    );
    one_of(
        pod,
        "restartPolicy",
        &["Always", "OnFailure", "Never"],
        pointer,
        out,
    );
    one_of(
        pod,
        "dnsPolicy",
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        pointer,
        out,
    );
}

/// Container ports are a map keyed by (containerPort, protocol): a pair may appear once.
fn port_pairs(c: &Node, pointer: &str, out: &mut Vec<Problem>) {
    let Some(Value::Seq(ports)) = c.get("ports").map(|n| &n.value) else {
        return;
    };
    let mut seen: Vec<(i64, &str)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let Some(Value::Int(port)) = p.get("containerPort").map(|n| &n.value) else {
            continue;
        };
        let protocol = p.get_str("protocol").unwrap_or("TCP");
        if seen.contains(&(*port, protocol)) {
            out.push((
                &rule::DUPLICATE_NAME,
                list_item(pointer, "ports", i),
                format!("container port {port}/{protocol} is listed twice"),
            ));
        } else {
            seen.push((*port, protocol));
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "small internal helper")]
fn duplicates(
    parent: &Node,
    list: &str,
    key: &str,
    pointer: &str,
    what: &str,
    rule: &'static Rule,
    out: &mut Vec<Problem>,
) {
    let Some(Value::Seq(items)) = parent.get(list).map(|n| &n.value) else {
        return;
    };
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(name) = item.get_str(key) else {
            continue;
        };
        if seen.contains(&name) {
            let msg = if rule.id == rule::DUPLICATE_ENV.id {
                format!("{what} `{name}` is set twice in one container; the last one silently wins")
            } else {
                format!("{what} `{name}` is used twice")
            };
            out.push((rule, format!("{pointer}/{list}/{i}/{key}"), msg));
        } else {
            seen.push(name);
        }
    }
}

fn selector(doc: &Node, kind: &str, out: &mut Vec<Problem>) {
    if !matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
    ) {
        return;
    }
    let api = doc.get_str("apiVersion").unwrap_or_default();
    let Some(spec) = doc.get("spec") else { return };
    let labels = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"));
    let Some(selector) = spec.get("selector") else {
        if api == "apps/v1" {
            out.push((&rule::SELECTOR_MISMATCH, "/spec".into(), format!("`spec.selector` is required for apps/v1 {kind}; set it to the pod template's labels")));
        }
        return;
    };
    let label = |k: &str| labels.and_then(|l| l.get_str(k));
    if let Some(Value::Map(m)) = selector.get("matchLabels").map(|n| &n.value) {
        for (k, v) in m {
            let want = match &v.value {
                Value::Str(s) => s.clone(),
                other => format!("{other:?}"),
            };
            if label(k) != Some(want.as_str()) {
                out.push((
                    &rule::SELECTOR_MISMATCH,
                    format!("/spec/selector/matchLabels/{}", escape(k)),
                    format!("selector `{k}: {want}` does not match the pod template's labels (found {}); the API server rejects this", label(k).map_or_else(|| "no such label".to_string(), |v| format!("`{v}`")))));
            }
        }
    }
    if let Some(Value::Seq(exprs)) = selector.get("matchExpressions").map(|n| &n.value) {
        for (i, e) in exprs.iter().enumerate() {
            let (Some(key), Some(op)) = (e.get_str("key"), e.get_str("operator")) else {
                continue;
            };
            let values: Vec<&str> = match e.get("values").map(|n| &n.value) {
                Some(Value::Seq(v)) => v
                    .iter()
                    .filter_map(|x| {
                        if let Value::Str(s) = &x.value {
                            Some(s.as_str())
                        } else {
                            None
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let have = label(key);
            let ok = match op {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => !have.is_some_and(|h| values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => true,
            };
            if !ok {
                out.push((
                    &rule::SELECTOR_MISMATCH,
                    format!("/spec/selector/matchExpressions/{i}"),
                    format!(
                        "selector expression `{key} {op}` does not match the pod template's labels"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse};

    fn rules(text: &str) -> Vec<&'static str> {
        let doc = parse(text, 0, Dialect::Kube).unwrap();
        let kind = doc.get_str("kind").unwrap().to_string();
        check(&doc, &kind).into_iter().map(|p| p.0.id).collect()
    }

    /// "an Ingress", "a Deployment": the name rule's message reads as English.
    #[test]
    fn a_bad_name_is_explained_with_the_right_article() {
        let message = |kind: &str| {
            let doc = parse(
                &format!("apiVersion: v1\nkind: {kind}\nmetadata: {{name: 订单}}\n"),
                0,
                Dialect::Kube,
            )
            .unwrap();
            check(&doc, kind).remove(0).2
        };
        assert!(message("Ingress").contains(": an Ingress name must be"));
        assert!(message("Deployment").contains(": a Deployment name must be"));
    }

    #[test]
    fn rule_table() {
        let cases: &[(&str, &[&str])] = &[
            ("kind: ConfigMap\nmetadata: {name: ok}\n", &[]),
            ("kind: ConfigMap\nmetadata: {}\n", &["metadata-name"]),
            ("kind: Service\nmetadata: {name: a.b}\n", &["metadata-name"]),
            (
                "kind: ClusterRole\nmetadata: {name: \"system:coredns\"}\n",
                &[],
            ),
            (
                "kind: ConfigMap\nmetadata: {name: \"system:coredns\"}\n",
                &["metadata-name"],
            ),
            ("kind: ConfigMap\nmetadata: {name: a.b}\n", &[]),
            (
                "kind: ConfigMap\nmetadata: {name: x, labels: {\"a b\": x, ok: \"bad value\"}}\n",
                &["label-syntax", "label-syntax"],
            ),
            (
                "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: x}, {name: a, image: x}]}\n",
                &["duplicate-name"],
            ),
            (
                "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: x, ports: [{name: h, containerPort: 1}, {name: h, containerPort: 2}]}]}\n",
                &["duplicate-name"],
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: y}}}}\n",
                &["selector-mismatch"],
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x, v: \"1\"}}}}\n",
                &[],
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {metadata: {labels: {app: x}}}}\n",
                &["selector-mismatch"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(rules(text), *want, "{text}");
        }
    }
}
