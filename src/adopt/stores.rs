//! Readers of the built-in sets for data kept outside the app: `stateful` (a StatefulSet with
//! its headless Service, a PVC per pod, config files) and `external` (a Service with no pods:
//! an ExternalName, or EndpointSlices listing addresses). Like [`super::fit`]'s, a reader only
//! guesses the values; the trial render decides.

use super::fit::{
    at, copy, find, map_node, put, read_labels, seq, seq_node, split_image, str_node, text,
};
use super::read::Object;
use crate::source::Loc;
use crate::yaml::{Node, Value};

fn boolean(b: bool) -> Node {
    Node::new(Value::Bool(b), Loc::default())
}

/// `external`: a Service named `name` without selector, an ExternalName or the EndpointSlices
/// `<name>-ipv4`/`<name>-ipv6` with its addresses.
#[must_use]
pub fn external(name: &str, objects: &[&Object]) -> Option<Node> {
    let svc = find(objects, "Service", name)?;
    let spec = svc.doc.get("spec")?;
    if spec.get("selector").is_some() {
        return None;
    }
    let port = seq(spec.get("ports")).first()?;
    let mut v = map_node();
    copy(&mut v, &["external", "port"], port.get("port"));
    copy(&mut v, &["external", "portName"], port.get("name"));
    copy(&mut v, &["external", "protocol"], port.get("protocol"));
    if spec.get_str("type") == Some("ExternalName") {
        copy(&mut v, &["external", "hostname"], spec.get("externalName"));
    } else {
        let mut addresses = Vec::new();
        for family in ["ipv4", "ipv6"] {
            if let Some(slice) = find(objects, "EndpointSlice", &format!("{name}-{family}")) {
                for e in seq(slice.doc.get("endpoints")) {
                    addresses.extend(seq(e.get("addresses")).iter().cloned());
                }
            }
        }
        if addresses.is_empty() {
            return None;
        }
        put(&mut v, &["external", "addresses"], seq_node(addresses));
    }
    let labels = at(&svc.doc, &["metadata", "labels"]);
    let version = labels
        .and_then(|l| l.get("app.kubernetes.io/version"))
        .and_then(text)
        .unwrap_or_default();
    put(&mut v, &["external", "version"], str_node(version));
    read_labels(&mut v, labels, (name, name), version);
    Some(v)
}

/// `stateful`: a StatefulSet named `name` whose container is `name`, its headless Service,
/// and when present the `<name>-client` Service, the `<name>-config` ConfigMap and a PDB.
#[must_use]
pub fn stateful(name: &str, objects: &[&Object]) -> Option<Node> {
    let sts = find(objects, "StatefulSet", name)?;
    find(objects, "Service", name)?;
    let spec = sts.doc.get("spec")?;
    let pod = at(spec, &["template", "spec"])?;
    let c = seq(pod.get("containers")).first()?;
    if c.get_str("name") != Some(name) || seq(pod.get("containers")).len() != 1 {
        return None;
    }
    let mut v = map_node();
    let (repo, tag) = split_image(c.get_str("image")?);
    if repo.is_empty() || tag.is_empty() {
        return None;
    }
    put(&mut v, &["image", "repository"], str_node(repo));
    put(&mut v, &["image", "tag"], str_node(tag));
    copy(&mut v, &["image", "pullPolicy"], c.get("imagePullPolicy"));
    read_labels(
        &mut v,
        at(&sts.doc, &["metadata", "labels"]),
        (name, name),
        tag,
    );
    for (key, from) in [
        ("replicas", spec.get("replicas")),
        ("podManagementPolicy", spec.get("podManagementPolicy")),
        ("updateStrategy", spec.get("updateStrategy")),
        ("imagePullSecrets", pod.get("imagePullSecrets")),
        ("priorityClassName", pod.get("priorityClassName")),
        ("podSecurityContext", pod.get("securityContext")),
        (
            "terminationGracePeriodSeconds",
            pod.get("terminationGracePeriodSeconds"),
        ),
        ("nodeSelector", pod.get("nodeSelector")),
        ("tolerations", pod.get("tolerations")),
        ("affinity", pod.get("affinity")),
        ("command", c.get("command")),
        ("args", c.get("args")),
        ("resources", c.get("resources")),
        ("securityContext", c.get("securityContext")),
    ] {
        copy(&mut v, &[key], from);
    }
    let mut annotations = at(spec, &["template", "metadata", "annotations"])
        .cloned()
        .unwrap_or_else(map_node);
    if let Value::Map(a) = &mut annotations.value {
        a.shift_remove("checksum/config");
    }
    copy(&mut v, &["annotations"], Some(&annotations));
    let mut ports = Vec::new();
    for p in seq(c.get("ports")) {
        let mut e = map_node();
        copy(&mut e, &["name"], p.get("name"));
        copy(&mut e, &["port"], p.get("containerPort"));
        if p.get_str("protocol").is_some_and(|x| x != "TCP") {
            copy(&mut e, &["protocol"], p.get("protocol"));
        }
        ports.push(e);
    }
    put(&mut v, &["ports"], seq_node(ports));
    let mut env = map_node();
    for e in seq(c.get("env")) {
        let (k, val) = super::fit::env_entry(e)?;
        if env.get(k).is_some() {
            return None;
        }
        put(&mut env, &[k], val);
    }
    copy(&mut v, &["env"], Some(&env));
    for (probe, field) in [
        ("readiness", "readinessProbe"),
        ("liveness", "livenessProbe"),
    ] {
        match c.get(field) {
            Some(p) => {
                put(
                    &mut v,
                    &["probes", probe, "command"],
                    at(p, &["exec", "command"])?.clone(),
                );
                for k in [
                    "initialDelaySeconds",
                    "periodSeconds",
                    "timeoutSeconds",
                    "failureThreshold",
                ] {
                    copy(&mut v, &["probes", probe, k], p.get(k));
                }
            }
            None => put(&mut v, &["probes", probe, "command"], seq_node(Vec::new())),
        }
    }
    let mounts = seq(c.get("volumeMounts"));
    copy(
        &mut v,
        &["storage", "mountPath"],
        mounts.first()?.get("mountPath"),
    );
    if let Some(cm) = find(objects, "ConfigMap", &format!("{name}-config")) {
        copy(
            &mut v,
            &["config", "mountPath"],
            mounts.get(1)?.get("mountPath"),
        );
        put(&mut v, &["config", "files"], cm.doc.get("data")?.clone());
    }
    let claim = seq(spec.get("volumeClaimTemplates")).first()?;
    copy(
        &mut v,
        &["storage", "accessModes"],
        at(claim, &["spec", "accessModes"]),
    );
    copy(
        &mut v,
        &["storage", "className"],
        at(claim, &["spec", "storageClassName"]),
    );
    copy(
        &mut v,
        &["storage", "size"],
        at(claim, &["spec", "resources", "requests", "storage"]),
    );
    put(
        &mut v,
        &["clientService", "enabled"],
        boolean(find(objects, "Service", &format!("{name}-client")).is_some()),
    );
    match find(objects, "PodDisruptionBudget", name) {
        Some(p) => {
            for k in ["minAvailable", "maxUnavailable"] {
                copy(
                    &mut v,
                    &["podDisruptionBudget", k],
                    at(&p.doc, &["spec", k]),
                );
            }
        }
        None => put(&mut v, &["podDisruptionBudget", "enabled"], boolean(false)),
    }
    Some(v)
}
