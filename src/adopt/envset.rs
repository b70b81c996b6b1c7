//! The built-in `_env` set, fitted per environment like an instance's set: the environment's
//! Namespace (`namespace.labels`) and the team access bindings (`teams`: a RoleBinding to the
//! ClusterRole of the team's access, its ServiceAccount and token Secret) are read back from
//! the objects no instance rendered. The ingress-nginx templates of `_env` stay off (their
//! objects are factored). `builtin::fit_env` renders the candidate with the real templates and
//! keeps it only when every environment's `_env` objects equal the input.

use indexmap::IndexMap;

use super::fit::{at, map_node, put, seq, seq_node, str_node};
use super::read::{EnvInput, Object};
use crate::manifest::ResourceId;
use crate::source::Loc;
use crate::yaml::{Node, Value};

/// The `_env` templates a fit keeps; the others are replaced by empty project files.
pub const KEPT: [&str; 2] = ["namespace.yaml.j2", "rbac.yaml.j2"];

/// The label the `_env` Namespace carries with the environment's name.
const ENV_LABEL: &str = "kiln.dev/environment";

/// A candidate: each folder's environment values (`namespace`) and the teams of all folders.
#[derive(Debug)]
pub struct Candidate {
    /// `namespace: {labels}` of each input folder.
    pub namespace: Vec<Node>,
    /// `teams`, every team once with the environments it has access to.
    pub teams: Node,
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
/// instance's); none when a folder has no Namespace of its own for the set to render.
#[must_use]
pub fn candidate(
    envs: &[EnvInput],
    taken: &dyn Fn(usize, &ResourceId) -> bool,
) -> Option<Candidate> {
    let mut namespace = Vec::new();
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
    })
}
