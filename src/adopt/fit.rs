//! Fitting instances to the built-in template sets: candidate values read back from an
//! instance's objects (the inverse of the set's templates, one reader per set), merged over the
//! set's own `defaults.yaml`. A candidate is only a guess: `builtin` renders every candidate
//! with the real templates in a trial project and keeps the instances whose rendered objects
//! equal the input, field for field. What a fitted set does not render stays in the input and
//! is factored like any other object.

use crate::yaml::Map;

use super::read::Object;
use crate::source::Loc;
use crate::yaml::{Node, Value};

/// Separator of the key paths of flattened values (never inside a YAML key kiln writes).
pub const SEP: char = '\u{1f}';

/// Top-level keys whose mapping is one value (rendered in order: a list of variables).
pub(super) const ATOMIC: [&str; 2] = ["env", "secrets"];

/// A candidate fit: the set and the instance's complete values (set defaults included).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The built-in set.
    pub set: &'static str,
    /// Complete values (the set's defaults under what was read).
    pub values: Node,
}

/// What a fitting environment knows: its name, namespace and whether a Eureka server is fitted
/// in it (so clients may take their Eureka variables from it).
pub struct EnvCtx<'a> {
    /// Environment name.
    pub env: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// The Eureka server instance fitted in the environment, if any, with its URLs joined.
    pub eureka_urls: Option<String>,
}

pub(super) fn str_node(s: &str) -> Node {
    Node::new(Value::Str(s.to_string()), Loc::default())
}

pub(super) fn map_node() -> Node {
    Node::new(Value::Map(Map::default()), Loc::default())
}

pub(super) fn seq_node(items: Vec<Node>) -> Node {
    Node::new(Value::Seq(items), Loc::default())
}

/// Set `path` in the mapping `root` (creating mappings on the way).
pub(super) fn put(root: &mut Node, path: &[&str], v: Node) {
    let Value::Map(m) = &mut root.value else {
        return;
    };
    match path {
        [] => {}
        [last] => {
            m.insert((*last).to_string(), v);
        }
        [first, rest @ ..] => {
            let child = m.entry((*first).to_string()).or_insert_with(map_node);
            if !matches!(child.value, Value::Map(_)) {
                *child = map_node();
            }
            put(child, rest, v);
        }
    }
}

/// The node at `path`.
pub(super) fn at<'a>(n: &'a Node, path: &[&str]) -> Option<&'a Node> {
    path.iter().try_fold(n, |n, k| n.get(k))
}

pub(super) fn seq(n: Option<&Node>) -> &[Node] {
    match n.map(|n| &n.value) {
        Some(Value::Seq(s)) => s,
        _ => &[],
    }
}

pub(super) fn text(n: &Node) -> Option<&str> {
    match &n.value {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

pub(super) fn is_empty(n: &Node) -> bool {
    match &n.value {
        Value::Map(m) => m.is_empty(),
        Value::Seq(s) => s.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Copy `from` (when present and not empty) to `path`.
pub(super) fn copy(values: &mut Node, path: &[&str], from: Option<&Node>) {
    if let Some(n) = from
        && !is_empty(n)
    {
        put(values, path, n.clone());
    }
}

/// A candidate for the instance `name` made of `objects`, or none when no set is close.
#[must_use]
pub fn candidate(name: &str, objects: &[&Object], ctx: &EnvCtx<'_>) -> Option<Candidate> {
    if let Some(v) = spring_boot(name, objects, ctx) {
        return complete("spring-boot", &v);
    }
    if let Some(v) = super::stores::external(name, objects) {
        return complete("external", &v);
    }
    complete("stateful", &super::stores::stateful(name, objects)?)
}

pub(super) fn complete(set: &'static str, read: &Node) -> Option<Candidate> {
    let mut values = super::keys::set_defaults(set)?;
    crate::values::merge::merge(&mut values, read);
    put(&mut values, &["template"], str_node(set));
    Some(Candidate { set, values })
}

/// The built-in Eureka server set.
pub const EUREKA: &str = crate::render::platform::EUREKA_SET;

/// A candidate `eureka-server` for the instance `name` (a StatefulSet of that name, or
/// Deployments `name-0`..`name-N` in the instances `name-<i>`: pass all their objects) and the
/// peer URLs its clients list.
#[must_use]
pub fn eureka(name: &str, objects: &[&Object], ctx: &EnvCtx<'_>) -> Option<(Candidate, String)> {
    let (read, urls) = eureka_server(name, objects, ctx)?;
    Some((complete(EUREKA, &read)?, urls))
}

fn eureka_server(name: &str, objects: &[&Object], ctx: &EnvCtx<'_>) -> Option<(Node, String)> {
    let mut v = map_node();
    let (workload, shape, peers) = if let Some(s) = find(objects, "StatefulSet", name) {
        (s, "statefulset", at(&s.doc, &["spec", "replicas"])?.clone())
    } else {
        let first = find(objects, "Deployment", &format!("{name}-0"))?;
        let n = (0..15)
            .take_while(|i| find(objects, "Deployment", &format!("{name}-{i}")).is_some())
            .count();
        (
            first,
            "deployments",
            Node::new(Value::Int(i64::try_from(n).ok()?), Loc::default()),
        )
    };
    let Value::Int(n) = peers.value else {
        return None;
    };
    let pod = at(&workload.doc, &["spec", "template", "spec"])?;
    let app = seq(pod.get("containers")).first()?;
    if app.get_str("name") != Some("eureka") {
        return None;
    }
    put(&mut v, &["eureka", "shape"], str_node(shape));
    put(&mut v, &["eureka", "peers"], peers.clone());
    let tag = read_image(&mut v, app)?;
    let member = if shape == "statefulset" {
        name.to_string()
    } else {
        format!("{name}-0")
    };
    read_labels(
        &mut v,
        at(&workload.doc, &["metadata", "labels"]),
        (&member, name),
        tag,
    );
    copy(&mut v, &["imagePullSecrets"], pod.get("imagePullSecrets"));
    copy(&mut v, &["nodeSelector"], pod.get("nodeSelector"));
    copy(&mut v, &["tolerations"], pod.get("tolerations"));
    let port = seq(app.get("ports")).first()?.get("containerPort")?;
    put(&mut v, &["port"], port.clone());
    copy(&mut v, &["resources"], app.get("resources"));
    let env = seq(app.get("env"));
    let java = env
        .iter()
        .find(|e| e.get_str("name") == Some("JAVA_OPTS"))?;
    copy(&mut v, &["javaOpts"], java.get("value"));
    let secret_name = format!("{name}-secrets");
    if let Some(s) = find(objects, "Secret", &secret_name).and_then(|s| secret_values(&s.doc)) {
        copy(&mut v, &["secrets"], Some(&s));
    }
    let Value::Int(port) = port.value else {
        return None;
    };
    let ns = ctx.namespace;
    let urls: Vec<String> = (0..n)
        .map(|i| {
            if shape == "statefulset" {
                format!("http://{name}-{i}.{name}.{ns}.svc.cluster.local:{port}/eureka/")
            } else {
                format!("http://{name}-{i}.{ns}.svc.cluster.local:{port}/eureka/")
            }
        })
        .collect();
    Some((v, urls.join(",")))
}

/// The app container's `image` as `image.repository` and `image.tag` (and its pull policy);
/// the tag, or `None` when either part is missing (the sets require both, and a trial that
/// fails to render fits nothing at all).
fn read_image<'a>(v: &mut Node, app: &'a Node) -> Option<&'a str> {
    let (repo, tag) = split_image(app.get_str("image")?);
    if repo.is_empty() || tag.is_empty() {
        return None;
    }
    put(v, &["image", "repository"], str_node(repo));
    put(v, &["image", "tag"], str_node(tag));
    copy(v, &["image", "pullPolicy"], app.get("imagePullPolicy"));
    Some(tag)
}

/// An image reference as repository and tag (`""` without one).
pub(super) fn split_image(image: &str) -> (&str, &str) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], &image[slash + i + 1..]),
        None => (image, ""),
    }
}

pub(super) fn find<'a>(objects: &[&'a Object], kind: &str, name: &str) -> Option<&'a Object> {
    objects
        .iter()
        .copied()
        .find(|o| o.id.kind == kind && o.id.name == name)
}

/// Standard labels of the built-in sets (`_lib/k8s.j2` `labels`): what the instance's labels
/// add or change becomes `labels`, `component` and `partOf`.
pub(super) fn read_labels(
    values: &mut Node,
    labels: Option<&Node>,
    (name, base): (&str, &str),
    tag: &str,
) {
    let Some(Value::Map(labels)) = labels.map(|l| &l.value) else {
        return;
    };
    let mut extra = map_node();
    for (k, v) in labels {
        let expected = match k.as_str() {
            "app" | "app.kubernetes.io/instance" => Some(name),
            "app.kubernetes.io/name" => Some(base),
            "app.kubernetes.io/version" => Some(tag),
            "app.kubernetes.io/managed-by" => Some("kiln"),
            "app.kubernetes.io/component" => {
                put(values, &["component"], v.clone());
                continue;
            }
            "app.kubernetes.io/part-of" => {
                if v.value != Value::Str(base.to_string()) {
                    put(values, &["partOf"], v.clone());
                }
                continue;
            }
            _ => None,
        };
        if expected.is_none_or(|e| v.value != Value::Str(e.to_string())) {
            put(&mut extra, &[k], v.clone());
        }
    }
    if !is_empty(&extra) {
        put(values, &["labels"], extra);
    }
}

/// An env list entry's name and its value (a string) or source (`valueFrom`).
pub(super) fn env_entry(e: &Node) -> Option<(&str, Node)> {
    let name = e.get_str("name")?;
    if let Some(v) = e.get("valueFrom") {
        return Some((name, v.clone()));
    }
    Some((
        name,
        e.get("value").cloned().unwrap_or_else(|| str_node("")),
    ))
}

const EUREKA_VARS: [&str; 4] = [
    "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE",
    "EUREKA_INSTANCE_PREFER_IP_ADDRESS",
    "EUREKA_INSTANCE_IP_ADDRESS",
    "EUREKA_INSTANCE_INSTANCE_ID",
];

/// `spring-boot`: a Deployment whose first container is `app` and a Service of the same name;
/// filebeat sidecar, HPA, PDB, Ingress, ServiceAccount and `<name>-secrets` Secret when present.
#[allow(
    clippy::too_many_lines,
    reason = "one reader, key by key, in the template's order"
)]
fn spring_boot(name: &str, objects: &[&Object], ctx: &EnvCtx<'_>) -> Option<Node> {
    let dep = find(objects, "Deployment", name)?;
    let svc = find(objects, "Service", name)?;
    let doc = &dep.doc;
    let pod = at(doc, &["spec", "template", "spec"])?;
    let containers = seq(pod.get("containers"));
    let app = containers.first()?;
    if app.get_str("name") != Some("app") {
        return None;
    }
    let mut v = map_node();
    let tag = read_image(&mut v, app)?;
    read_labels(&mut v, at(doc, &["metadata", "labels"]), (name, name), tag);
    copy(&mut v, &["imagePullSecrets"], pod.get("imagePullSecrets"));
    let spec = doc.get("spec")?;
    copy(&mut v, &["replicas"], spec.get("replicas"));
    copy(&mut v, &["strategy"], spec.get("strategy"));
    // Ports: `http` first, then the exposed TCP/UDP ports.
    let ports = seq(app.get("ports"));
    let http = ports.first()?;
    copy(&mut v, &["port"], http.get("containerPort"));
    for p in &ports[1..] {
        let pname = p.get_str("name")?;
        let (proto, number) = pname.split_once('-')?;
        let number: i64 = number.parse().ok()?;
        let mut entry = map_node();
        put(
            &mut entry,
            &["port"],
            Node::new(Value::Int(number), Loc::default()),
        );
        if p.get("containerPort").map(|c| &c.value) != Some(&Value::Int(number)) {
            copy(&mut entry, &["targetPort"], p.get("containerPort"));
        }
        let list = match at(&v, &["expose", proto]) {
            Some(Node {
                value: Value::Seq(s),
                ..
            }) => s.clone(),
            _ => Vec::new(),
        };
        let mut list = list;
        list.push(entry);
        put(&mut v, &["expose", proto], seq_node(list));
    }
    // Filebeat: the second container and its ConfigMap.
    let fb = containers
        .get(1)
        .filter(|c| c.get_str("name") == Some("filebeat"));
    let fb_cm = find(objects, "ConfigMap", &format!("{name}-filebeat"));
    let mut annotations = at(doc, &["spec", "template", "metadata", "annotations"])
        .cloned()
        .unwrap_or_else(map_node);
    let mut extra_from = 1;
    let mut volumes = seq(pod.get("volumes")).to_vec();
    let mut mounts = seq(app.get("volumeMounts")).to_vec();
    if let (Some(fb), Some(cm)) = (fb, fb_cm) {
        extra_from = 2;
        put(
            &mut v,
            &["logging", "filebeat", "enabled"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        copy(&mut v, &["logging", "filebeat", "image"], fb.get("image"));
        copy(
            &mut v,
            &["logging", "filebeat", "resources"],
            fb.get("resources"),
        );
        let log_dir = seq(fb.get("volumeMounts")).first()?.get("mountPath")?;
        put(&mut v, &["logging", "filebeat", "logDir"], log_dir.clone());
        let text = at(&cm.doc, &["data", "filebeat.yml"])?;
        let Value::Str(text) = &text.value else {
            return None;
        };
        let conf = crate::yaml::parse_unlocated(text, crate::yaml::Dialect::Values).ok()?;
        let input = seq(conf.get("filebeat.inputs")).first()?;
        copy(
            &mut v,
            &["logging", "filebeat", "paths"],
            input.get("paths"),
        );
        let pattern = seq(input.get("parsers"))
            .first()
            .and_then(|p| at(p, &["multiline", "pattern"]))
            .cloned()
            .unwrap_or_else(|| str_node(""));
        put(&mut v, &["logging", "filebeat", "multiline"], pattern);
        let kafka = conf.get("output.kafka")?;
        put(
            &mut v,
            &["logging", "filebeat", "kafka", "hosts"],
            kafka.get("hosts")?.clone(),
        );
        put(
            &mut v,
            &["logging", "filebeat", "kafka", "topic"],
            kafka.get("topic")?.clone(),
        );
        if let Value::Map(a) = &mut annotations.value {
            a.shift_remove("checksum/filebeat-config");
        }
        if volumes.len() < 2 || mounts.is_empty() {
            return None;
        }
        volumes.drain(..2);
        mounts.remove(0);
    }
    copy(&mut v, &["annotations"], Some(&annotations));
    copy(&mut v, &["volumes"], Some(&seq_node(volumes)));
    copy(&mut v, &["volumeMounts"], Some(&seq_node(mounts)));
    copy(
        &mut v,
        &["extraContainers"],
        Some(&seq_node(containers[extra_from..].to_vec())),
    );
    // Pod spec.
    for (key, field) in [
        ("priorityClassName", "priorityClassName"),
        ("podSecurityContext", "securityContext"),
        ("shareProcessNamespace", "shareProcessNamespace"),
        ("nodeSelector", "nodeSelector"),
        ("tolerations", "tolerations"),
        ("affinity", "affinity"),
        ("topologySpreadConstraints", "topologySpreadConstraints"),
        ("initContainers", "initContainers"),
    ] {
        copy(&mut v, &[key], pod.get(field));
    }
    // The app container.
    for key in [
        "command",
        "args",
        "envFrom",
        "resources",
        "startupProbe",
        "lifecycle",
        "securityContext",
    ] {
        copy(&mut v, &[key], app.get(key));
    }
    for (probe, field) in [
        ("readiness", "readinessProbe"),
        ("liveness", "livenessProbe"),
    ] {
        let p = app.get(field)?;
        copy(
            &mut v,
            &["probes", probe, "path"],
            at(p, &["httpGet", "path"]),
        );
        for k in ["initialDelaySeconds", "periodSeconds", "failureThreshold"] {
            copy(&mut v, &["probes", probe, k], p.get(k));
        }
    }
    // Variables: seven of the set's own, Eureka's four, the service's, the Secret's.
    let env = seq(app.get("env"));
    let fixed = [
        "POD_IP",
        "POD_NAME",
        "POD_NAMESPACE",
        "JAVA_OPTS",
        "SERVER_PORT",
        "SPRING_APPLICATION_NAME",
        "SPRING_PROFILES_ACTIVE",
    ];
    if env.len() < fixed.len()
        || env
            .iter()
            .zip(fixed)
            .any(|(e, f)| e.get_str("name") != Some(f))
    {
        return None;
    }
    copy(&mut v, &["javaOpts"], env[3].get("value"));
    let profiles = env[6].get_str("value").unwrap_or_default();
    if profiles != ctx.env {
        put(&mut v, &["springProfiles"], str_node(profiles));
    }
    let mut rest = &env[fixed.len()..];
    if let Some(urls) = &ctx.eureka_urls
        && rest.len() >= EUREKA_VARS.len()
        && rest
            .iter()
            .zip(EUREKA_VARS)
            .all(|(e, n)| e.get_str("name") == Some(n))
        && rest[0].get_str("value") == Some(urls.as_str())
    {
        put(
            &mut v,
            &["eureka", "client", "enabled"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        rest = &rest[EUREKA_VARS.len()..];
    }
    let secret_name = format!("{name}-secrets");
    let secret = find(objects, "Secret", &secret_name).and_then(|s| secret_values(&s.doc));
    let mut vars = map_node();
    let mut secrets = map_node();
    for e in rest {
        let (k, val) = env_entry(e)?;
        let from_secret = at(&val, &["secretKeyRef", "name"]).and_then(text)
            == Some(secret_name.as_str())
            && at(&val, &["secretKeyRef", "key"]).and_then(text) == Some(k);
        if let (true, Some(s)) = (from_secret, &secret)
            && let Some(sv) = s.get(k)
        {
            put(&mut secrets, &[k], sv.clone());
            continue;
        }
        if vars.get(k).is_some() || secrets.get(k).is_some() {
            return None;
        }
        put(&mut vars, &[k], val);
    }
    copy(&mut v, &["env"], Some(&vars));
    copy(&mut v, &["secrets"], Some(&secrets));
    // Service account.
    let sa_name = pod.get_str("serviceAccountName");
    if let Some(sa) = find(objects, "ServiceAccount", sa_name.unwrap_or(name)) {
        put(
            &mut v,
            &["serviceAccount", "create"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        if sa.id.name != name {
            put(&mut v, &["serviceAccount", "name"], str_node(&sa.id.name));
        }
        copy(
            &mut v,
            &["serviceAccount", "automount"],
            sa.doc.get("automountServiceAccountToken"),
        );
        copy(
            &mut v,
            &["serviceAccount", "annotations"],
            at(&sa.doc, &["metadata", "annotations"]),
        );
    } else if let Some(n) = sa_name {
        put(&mut v, &["serviceAccount", "name"], str_node(n));
    }
    // HPA, PDB, Service, Ingress.
    if let Some(h) = find(objects, "HorizontalPodAutoscaler", name) {
        let s = h.doc.get("spec")?;
        put(
            &mut v,
            &["autoscaling", "enabled"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        copy(
            &mut v,
            &["autoscaling", "minReplicas"],
            s.get("minReplicas"),
        );
        copy(
            &mut v,
            &["autoscaling", "maxReplicas"],
            s.get("maxReplicas"),
        );
        let mut cpu = Node::new(Value::Null, Loc::default());
        for m in seq(s.get("metrics")) {
            let target = at(m, &["resource", "target", "averageUtilization"])?.clone();
            match at(m, &["resource", "name"]).and_then(text) {
                Some("cpu") => cpu = target,
                Some("memory") => put(
                    &mut v,
                    &["autoscaling", "targetMemoryUtilizationPercentage"],
                    target,
                ),
                _ => return None,
            }
        }
        put(
            &mut v,
            &["autoscaling", "targetCPUUtilizationPercentage"],
            cpu,
        );
    }
    if let Some(p) = find(objects, "PodDisruptionBudget", name) {
        put(
            &mut v,
            &["podDisruptionBudget", "enabled"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        for k in ["minAvailable", "maxUnavailable"] {
            copy(
                &mut v,
                &["podDisruptionBudget", k],
                at(&p.doc, &["spec", k]),
            );
        }
    }
    copy(
        &mut v,
        &["service", "type"],
        at(&svc.doc, &["spec", "type"]),
    );
    copy(
        &mut v,
        &["service", "nodePort"],
        seq(at(&svc.doc, &["spec", "ports"]))
            .first()
            .and_then(|p| p.get("nodePort")),
    );
    if let Some(i) = find(objects, "Ingress", name) {
        let s = i.doc.get("spec")?;
        let rule = seq(s.get("rules")).first()?;
        let path = seq(at(rule, &["http", "paths"])).first()?;
        put(
            &mut v,
            &["ingress", "enabled"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        copy(&mut v, &["ingress", "className"], s.get("ingressClassName"));
        copy(&mut v, &["ingress", "host"], rule.get("host"));
        copy(&mut v, &["ingress", "path"], path.get("path"));
        copy(&mut v, &["ingress", "pathType"], path.get("pathType"));
    }
    Some(v)
}

/// The decoded values of a Secret's `data` (or `stringData`), when every one is UTF-8 text.
fn secret_values(doc: &Node) -> Option<Node> {
    use base64::Engine as _;
    let mut out = map_node();
    if let Some(Value::Map(m)) = doc.get("data").map(|d| &d.value) {
        for (k, v) in m {
            let Value::Str(s) = &v.value else {
                return None;
            };
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
            put(&mut out, &[k], str_node(&String::from_utf8(bytes).ok()?));
        }
    }
    if let Some(Value::Map(m)) = doc.get("stringData").map(|d| &d.value) {
        for (k, v) in m {
            put(&mut out, &[k], v.clone());
        }
    }
    Some(out)
}

/// Flatten `values` into key paths joined by [`SEP`]: mappings are walked (except the
/// `ATOMIC` ones: `env`, `secrets`), empty mappings dropped (the set's defaults hold them), anything else is a
/// leaf.
#[must_use]
pub fn flatten(values: &Node) -> Map {
    fn walk(n: &Node, prefix: &str, out: &mut Map) {
        match &n.value {
            Value::Map(m) if !prefix.is_empty() && m.is_empty() => {}
            Value::Map(m) if !ATOMIC.contains(&prefix) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}{SEP}{k}")
                    };
                    walk(v, &key, out);
                }
            }
            _ => {
                out.insert(prefix.to_string(), n.clone());
            }
        }
    }
    let mut out = Map::default();
    walk(values, "", &mut out);
    out
}

/// Flattened values back into a tree (keys in first-seen order).
#[must_use]
pub fn unflatten(values: &Map) -> Map {
    let mut root = map_node();
    for (k, v) in values {
        let path: Vec<&str> = k.split(SEP).collect();
        put(&mut root, &path, v.clone());
    }
    match root.value {
        Value::Map(m) => m,
        _ => Map::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::factor::tests::yaml;
    use super::*;

    #[test]
    fn images_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_image("reg:5000/a/b:1.2"), ("reg:5000/a/b", "1.2"));
        assert_eq!(split_image("reg:5000/a/b"), ("reg:5000/a/b", ""));
        assert_eq!(split_image("nginx:1"), ("nginx", "1"));
    }

    #[test]
    fn values_flatten_by_key_path_but_variables_stay_one_value() {
        let v = yaml(
            "image: {repository: r, tag: '1'}\nlabels: {}\nenv: {B: '2', A: '1'}\nlabels2: {a.b/c: x}\n",
        );
        let flat = flatten(&v);
        let keys: Vec<String> = flat.keys().map(|k| k.replace(SEP, ".")).collect();
        assert_eq!(
            keys,
            ["image.repository", "image.tag", "env", "labels2.a.b/c"]
        );
        let back = Node::new(Value::Map(unflatten(&flat)), Loc::default());
        assert_eq!(
            super::super::factor::plain(&back),
            yaml("image: {repository: r, tag: '1'}\nenv: {B: '2', A: '1'}\nlabels2: {a.b/c: x}\n")
        );
    }
}
