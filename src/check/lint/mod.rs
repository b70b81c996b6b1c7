//! Lint: what breaks on upgrade (removed and deprecated APIs, fields and annotations) and what a
//! reviewer would flag. Every rule has a stable id, a default severity that `kiln.yaml` can
//! change (`lint.rules.<id>: error | warning | off`), and can be suppressed per object.
//!
//! Suppressing: an annotation `kiln.dev/ignore: "image-tag,no-resources"` on the object, or a
//! comment `# kiln-ignore: image-tag` in the manifest document or in the template that renders
//! it.

pub mod deprecated_fields;
pub mod review;

use crate::yaml::Node;

pub use crate::check::rules::Problem;
pub use crate::config::{Level, LintConfig};

/// Rule ids suppressed for an object: its `kiln.dev/ignore` annotation plus `# kiln-ignore:`
/// comments in `texts` (the document, the template).
#[must_use]
pub fn suppressed(doc: &Node, texts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |list: &str| {
        out.extend(
            list.split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
    };
    if let Some(a) = doc
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get_str("kiln.dev/ignore"))
    {
        add(a);
    }
    for t in texts.iter().filter(|t| t.contains("kiln-ignore:")) {
        for line in t.lines() {
            if let Some(i) = line.find("kiln-ignore:") {
                let before = &line[..i];
                if before.trim_end().ends_with('#') || before.trim_end().ends_with("{#") {
                    add(line[i + "kiln-ignore:".len()..].trim_end_matches("#}"));
                }
            }
        }
    }
    out
}

/// The reviewer and deprecated-field rules for one object. `text`: what the object was read
/// from or written as, when known (its strings are only searched for typographic characters
/// when the text may hold one). `host_network_expected`: the object is one kiln renders on the
/// node network on purpose (see `check::Options::host_network`).
#[must_use]
pub fn review(
    doc: &Node,
    text: Option<&str>,
    kind: &str,
    config: &LintConfig,
    host_network_expected: bool,
) -> Vec<Problem> {
    let mut out = Vec::new();
    if !text.is_some_and(review::plain) {
        review::typographic(doc, &mut out);
    }
    let pod = crate::check::rules::pod_spec(doc, kind);
    if let Some((pointer, spec)) = &pod {
        let workload = matches!(
            kind,
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        );
        review::containers(spec, pointer, workload, &mut out);
        let name = doc
            .get("metadata")
            .and_then(|m| m.get_str("name"))
            .unwrap_or_default();
        if !host_network_expected {
            review::host_network(spec, pointer, name, &config.host_network_allow, &mut out);
        }
    }
    if kind == "ConfigMap" {
        review::configmap_keys(doc, &mut out);
    }
    deprecated_fields::check(doc, pod, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse};

    fn rules(text: &str) -> Vec<&'static str> {
        let doc = parse(text, 0, Dialect::Kube).unwrap();
        let kind = doc.get_str("kind").unwrap().to_string();
        let from_text = review(&doc, Some(text), &kind, &LintConfig::default(), false);
        let walked = review(&doc, None, &kind, &LintConfig::default(), false);
        assert_eq!(from_text, walked, "{text}");
        from_text.into_iter().map(|p| p.0.id).collect()
    }

    #[test]
    fn review_rules() {
        let good_container = "{name: a, image: 'x:1', resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}, readinessProbe: {tcpSocket: {port: 1}}}";
        let cases: Vec<(String, Vec<&str>)> = vec![
            (format!("kind: Deployment\nspec: {{template: {{spec: {{containers: [{good_container}]}}}}}}\n"), vec![]),
            ("kind: Pod\nspec: {containers: [{name: a, image: x, resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}]}\n".into(), vec!["image-tag"]),
            ("kind: Pod\nspec: {containers: [{name: a, image: 'x:latest', resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}]}\n".into(), vec!["image-tag"]),
            ("kind: Pod\nspec: {containers: [{name: a, image: 'r:5000/x@sha256:ab', resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}]}\n".into(), vec![]),
            ("kind: Pod\nspec: {containers: [{name: a, image: 'x:1'}]}\n".into(), vec!["no-resources"]),
            ("kind: Deployment\nspec: {template: {spec: {containers: [{name: a, image: 'x:1', ports: [{containerPort: 80}], resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}]}}}\n".into(), vec!["no-readiness-probe"]),
            ("kind: Deployment\nspec: {template: {spec: {containers: [{name: logs, image: 'x:1', resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}]}}}\n".into(), vec![]),
            (format!("kind: Deployment\nspec: {{template: {{spec: {{hostNetwork: true, containers: [{good_container}]}}}}}}\n"), vec!["host-network"]),
            ("kind: ConfigMap\ndata: {53: \"x\", \"54\": y}\n".into(), vec!["configmap-key"]),
            ("kind: ConfigMap\ndata: {a: \"\u{201C}kube-system/kube-dns:53\u{201D}\"}\n".into(), vec!["typographic"]),
            ("kind: Pod\nspec: {containers: [{name: a, image: 'x:1', args: [\"\u{2014}v=2\"], resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}]}\n".into(), vec!["typographic"]),
            // Written as an escape, in a text of plain ASCII.
            ("kind: ConfigMap\ndata: {a: \"it\\u2019s\", b: \"a\\_b\"}\n".into(), vec!["typographic", "typographic"]),
            ("kind: Ingress\nmetadata: {annotations: {kubernetes.io/ingress.class: nginx}}\n".into(), vec!["deprecated-field"]),
            (format!("kind: Deployment\nspec: {{template: {{metadata: {{annotations: {{container.apparmor.security.beta.kubernetes.io/a: runtime/default}}}}, spec: {{serviceAccount: x, containers: [{good_container}]}}}}}}\n"), vec!["deprecated-field", "deprecated-field"]),
        ];
        for (text, want) in cases {
            assert_eq!(rules(&text), want, "{text}");
        }
    }

    #[test]
    fn suppressions() {
        let doc = parse(
            "metadata: {annotations: {kiln.dev/ignore: \"image-tag, no-resources\"}}",
            0,
            Dialect::Kube,
        )
        .unwrap();
        assert_eq!(
            suppressed(
                &doc,
                &[
                    "# kiln-ignore: host-network\nx: 1 # kiln-ignore: typographic\n{# kiln-ignore: configmap-key #}"
                ]
            ),
            [
                "image-tag",
                "no-resources",
                "host-network",
                "typographic",
                "configmap-key"
            ]
        );
    }
}
