//! The built-in `_env` set, fitted per environment like an instance's set: the environment's
//! Namespace (`namespace.labels`), the team access bindings (`teams`: a RoleBinding to the
//! ClusterRole of the team's access, its ServiceAccount and token Secret) and ingress-nginx
//! (`ingressNginx`: the controller Deployment and the `tcp-services`/`udp-services` entries no
//! service's `expose` claims) are read back from the objects no instance rendered.
//! `builtin::fit_env` renders the candidate with the real templates and keeps it only when
//! every environment's `_env` objects equal the input; without ingress-nginx when only that
//! part differs.

use indexmap::IndexMap;

use super::fit::{at, map_node, put, seq, seq_node, str_node};
use super::read::{EnvInput, Object};
use crate::manifest::ResourceId;
use crate::source::Loc;
use crate::yaml::{Node, Value};

/// The `_env` templates a fit without ingress-nginx keeps; the others are replaced by empty
/// project files.
pub const KEPT: [&str; 2] = ["namespace.yaml.j2", "rbac.yaml.j2"];

/// The image the controller template defaults to.
const CONTROLLER_IMAGE: &str = "registry.k8s.io/ingress-nginx/controller:v1.12.3";

/// The label the `_env` Namespace carries with the environment's name.
const ENV_LABEL: &str = "kiln.dev/environment";

/// A candidate: each folder's environment values (`namespace`) and the teams of all folders.
#[derive(Debug)]
pub struct Candidate {
    /// `namespace: {labels}` of each input folder.
    pub namespace: Vec<Node>,
    /// `teams`, every team once with the environments it has access to.
    pub teams: Node,
    /// `ingressNginx` of each input folder (an empty mapping when it has none).
    pub ingress: Vec<Node>,
}

/// `ingressNginx` read from a folder's controller Deployment and port maps; `exposed` gives
/// the `<port>` -> `<namespace>/<service>:<port>` entries the fitted services' `expose` claims.
fn ingress(free: &[&Object], e: &EnvInput, exposed: &[(String, String, String)]) -> Node {
    let mut v = map_node();
    let controller = free.iter().find(|o| {
        o.id.kind == "Deployment" && o.id.name == crate::render::platform::INGRESS_CONTROLLER
    });
    let maps = free.iter().filter(|o| {
        o.id.kind == "ConfigMap" && (o.id.name == "tcp-services" || o.id.name == "udp-services")
    });
    let mut namespace = None;
    for m in maps {
        let protocol = if m.id.name == "tcp-services" {
            "tcp"
        } else {
            "udp"
        };
        namespace.clone_from(&m.id.namespace);
        let mut entries = Vec::new();
        if let Some(Value::Map(data)) = m.doc.get("data").map(|d| &d.value) {
            for (port, target) in data {
                let Value::Str(target) = &target.value else {
                    continue;
                };
                if exposed
                    .iter()
                    .any(|(p, x, t)| p == protocol && x == port && t == target)
                {
                    continue;
                }
                let (Ok(number), Some((service, to))) =
                    (port.parse::<i64>(), target.rsplit_once(':'))
                else {
                    continue;
                };
                let mut entry = map_node();
                put(
                    &mut entry,
                    &["port"],
                    Node::new(Value::Int(number), Loc::default()),
                );
                put(&mut entry, &["service"], str_node(service));
                if let Ok(t) = to.parse::<i64>()
                    && t != number
                {
                    put(
                        &mut entry,
                        &["targetPort"],
                        Node::new(Value::Int(t), Loc::default()),
                    );
                }
                entries.push(entry);
            }
        }
        if !entries.is_empty() {
            put(&mut v, &[protocol], seq_node(entries));
        }
    }
    if let Some(c) = controller {
        namespace.clone_from(&c.id.namespace);
        put(
            &mut v,
            &["controller", "enabled"],
            Node::new(Value::Bool(true), Loc::default()),
        );
        if let Some(ns) = &c.id.namespace {
            put(&mut v, &["controller", "namespace"], str_node(ns));
        }
        let pod = at(&c.doc, &["spec", "template", "spec"]);
        if let Some(app) = pod.and_then(|p| seq(p.get("containers")).first())
            && let Some(image) = app.get_str("image")
            && image != CONTROLLER_IMAGE
        {
            put(&mut v, &["controller", "image"], str_node(image));
        }
        if let Some(Value::Map(m)) = pod.and_then(|p| p.get("nodeSelector")).map(|n| &n.value) {
            let mut extra = m.clone();
            extra.shift_remove("kubernetes.io/os");
            if !extra.is_empty() {
                put(
                    &mut v,
                    &["controller", "nodeSelector"],
                    Node::new(Value::Map(extra), Loc::default()),
                );
            }
        }
        if let Some(t) = pod.and_then(|p| p.get("tolerations"))
            && !seq(Some(t)).is_empty()
        {
            put(&mut v, &["controller", "tolerations"], t.clone());
        }
        if let Some(r) = at(&c.doc, &["spec", "replicas"])
            && r.value != Value::Int(1)
        {
            put(&mut v, &["controller", "replicas"], r.clone());
        }
    }
    if let Some(ns) = namespace.filter(|ns| *ns != e.namespace) {
        put(&mut v, &["namespace"], str_node(&ns));
    }
    v
}

/// A team as its RoleBinding says: name, group, access, whether it has a ServiceAccount.
fn team_of(b: &Object, env: &EnvInput) -> Option<(String, String, String, bool)> {
    let name = b.id.name.strip_prefix("team-")?;
    let role = b.doc.get("roleRef")?;
    if role.get_str("kind") != Some("ClusterRole") {
        return None;
    }
    let access = role.get_str("name")?;
    if !["view", "edit", "admin"].contains(&access) {
        return None;
    }
    let team = name.strip_suffix(&format!("-{access}"))?;
    let subjects = seq(b.doc.get("subjects"));
    let group = subjects.first()?;
    if group.get_str("kind") != Some("Group") {
        return None;
    }
    let account = match subjects.get(1) {
        None => false,
        Some(s) => {
            let expected = format!("team-{team}");
            if s.get_str("kind") != Some("ServiceAccount")
                || s.get_str("name") != Some(&expected)
                || s.get_str("namespace") != Some(&env.namespace)
                || subjects.len() > 2
            {
                return None;
            }
            true
        }
    };
    Some((
        team.to_string(),
        group.get_str("name")?.to_string(),
        access.to_string(),
        account,
    ))
}

/// Read the `_env` values from each folder's objects that `taken` does not claim (an
/// instance's), given the port-map entries each folder's fitted services expose; none when a
/// folder has no Namespace of its own for the set to render.
#[must_use]
pub fn candidate(
    envs: &[EnvInput],
    taken: &dyn Fn(usize, &ResourceId) -> bool,
    exposed: &dyn Fn(usize) -> Vec<(String, String, String)>,
) -> Option<Candidate> {
    let mut namespace = Vec::new();
    let mut ingress_values = Vec::new();
    // (name, group, access, account) -> environments, in order of first appearance.
    let mut teams: IndexMap<(String, String, String, bool), Vec<String>> = IndexMap::new();
    for (ei, e) in envs.iter().enumerate() {
        let free: Vec<&Object> = e.objects.iter().filter(|o| !taken(ei, &o.id)).collect();
        let ns = free
            .iter()
            .find(|o| o.id.kind == "Namespace" && o.id.name == e.namespace)?;
        let mut labels = at(&ns.doc, &["metadata", "labels"])
            .cloned()
            .unwrap_or_else(map_node);
        let Value::Map(l) = &mut labels.value else {
            return None;
        };
        if l.shift_remove(ENV_LABEL).map(|v| v.value) != Some(Value::Str(e.env.clone())) {
            return None;
        }
        let mut n = map_node();
        if !l.is_empty() {
            put(&mut n, &["namespace", "labels"], labels);
        }
        namespace.push(n);
        let mut i = map_node();
        let read = ingress(&free, e, &exposed(ei));
        if !super::fit::is_empty(&read) {
            put(&mut i, &["ingressNginx"], read);
        }
        ingress_values.push(i);
        for b in free.iter().filter(|o| o.id.kind == "RoleBinding") {
            if let Some(t) = team_of(b, e) {
                let at_env = teams.entry(t).or_default();
                if !at_env.contains(&e.env) {
                    at_env.push(e.env.clone());
                }
            }
        }
    }
    let list = teams
        .into_iter()
        .map(|((name, group, access, account), on)| {
            let mut t = map_node();
            put(&mut t, &["name"], str_node(&name));
            put(&mut t, &["group"], str_node(&group));
            put(&mut t, &["access"], str_node(&access));
            put(
                &mut t,
                &["envs"],
                seq_node(on.iter().map(|e| str_node(e)).collect()),
            );
            if account {
                put(
                    &mut t,
                    &["serviceAccount"],
                    Node::new(Value::Bool(true), Loc::default()),
                );
            }
            t
        })
        .collect();
    Some(Candidate {
        namespace,
        teams: seq_node(list),
        ingress: ingress_values,
    })
}

#[cfg(test)]
mod tests {
    use super::super::read::tests::object;
    use super::*;

    fn env(objects: Vec<Object>) -> EnvInput {
        EnvInput {
            name: "dev".into(),
            env: "dev".into(),
            cluster: None,
            folder: "dev".into(),
            namespace: "dev".into(),
            objects,
            bytes: 0,
            lines: 0,
        }
    }

    #[test]
    fn namespace_labels_teams_and_unclaimed_ports_are_read_back() {
        let e = env(vec![
            object(
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {kiln.dev/environment: dev, tier: a}}",
            ),
            object(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-qa-edit, namespace: dev}\nroleRef: {kind: ClusterRole, name: edit}\nsubjects: [{kind: Group, name: 'mall:qa'}, {kind: ServiceAccount, name: team-qa, namespace: dev}]",
            ),
            object(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: other, namespace: dev}\nroleRef: {kind: ClusterRole, name: edit}\nsubjects: [{kind: Group, name: x}]",
            ),
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tcp-services, namespace: dev}\ndata: {'53': 'kube-system/kube-dns:5353', '9400': 'dev/pay:9400'}",
            ),
        ]);
        let exposed = |_: usize| {
            vec![(
                "tcp".to_string(),
                "9400".to_string(),
                "dev/pay:9400".to_string(),
            )]
        };
        let c = candidate(&[e], &|_, _| false, &exposed).unwrap();
        let text = crate::yaml::emit(&c.namespace[0]).unwrap();
        assert_eq!(text, "namespace:\n  labels:\n    tier: a\n");
        let teams = crate::yaml::emit(&c.teams).unwrap();
        assert_eq!(
            teams,
            "- name: qa\n  group: mall:qa\n  access: edit\n  envs:\n  - dev\n  serviceAccount: true\n"
        );
        let ingress = crate::yaml::emit(&c.ingress[0]).unwrap();
        assert_eq!(
            ingress,
            "ingressNginx:\n  tcp:\n  - port: 53\n    service: kube-system/kube-dns\n    targetPort: 5353\n"
        );
    }

    #[test]
    fn a_namespace_for_another_environment_is_no_fit() {
        let e = env(vec![object(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {kiln.dev/environment: prod}}",
        )]);
        assert!(candidate(&[e], &|_, _| false, &|_| Vec::new()).is_none());
    }
}
