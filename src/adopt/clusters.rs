//! Environments on several clusters: input folders `<env>@<cluster>` (as `kiln render` writes
//! an environment with `clusters: [..]`) become one environment on those clusters. Values are
//! first layered per folder; then what every cluster of an environment shares goes to
//! `values/envs/<env>.yaml`, what one cluster has apart to `values/clusters/<c>.yaml`. When a
//! service differs between the clusters of one environment (kiln has no per-service, per-cluster
//! layer), or the folders do not form such a project, every folder is an environment of its own.

use std::collections::{BTreeMap, BTreeSet};

use super::factor::plain;
use super::layer::Layers;
use super::read::{EnvInput, Object, env_name};
use crate::yaml::Map;

/// Whether the folders form environments on clusters: each environment's folders all name a
/// cluster (or it has one folder without), one namespace per environment, and a cluster hosts
/// one environment.
#[must_use]
pub fn consistent(envs: &[EnvInput]) -> bool {
    let mut of_env: BTreeMap<&str, Vec<&EnvInput>> = BTreeMap::new();
    let mut env_of_cluster: BTreeMap<&str, &str> = BTreeMap::new();
    for e in envs {
        of_env.entry(&e.env).or_default().push(e);
        if let Some(c) = &e.cluster
            && *env_of_cluster.entry(c).or_insert(&e.env) != e.env
        {
            return false;
        }
    }
    of_env.values().all(|targets| {
        let clustered = targets.iter().filter(|t| t.cluster.is_some()).count();
        (clustered == targets.len() || targets.len() == 1)
            && targets.iter().all(|t| t.namespace == targets[0].namespace)
    })
}

/// Every folder an environment of its own (`prod@x` is `prod-x`).
#[must_use]
pub fn split(mut envs: Vec<EnvInput>) -> Vec<EnvInput> {
    for e in &mut envs {
        if e.cluster.take().is_some() {
            e.env = env_name(&e.name);
            e.name = e.env.clone();
        }
    }
    envs
}

/// Fold the per-folder layers of environments on clusters into environment and cluster
/// layers; false when a service differs between the clusters of one environment.
pub fn fold(layers: &mut Layers, envs: &[EnvInput]) -> bool {
    let mut targets: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for e in envs {
        if let Some(c) = &e.cluster {
            targets.entry(&e.env).or_default().push((&e.name, c));
        }
    }
    let same = |a: Option<&Map>, b: Option<&Map>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| plain(v) == plain(w)))
        }
        _ => false,
    };
    for (env, ts) in &targets {
        let services: BTreeSet<String> = layers
            .service_envs
            .keys()
            .filter(|(_, t)| ts.iter().any(|(l, _)| l == t))
            .map(|(s, _)| s.clone())
            .collect();
        for s in services {
            let first = layers.service_envs.get(&(s.clone(), ts[0].0.to_string()));
            if !ts[1..].iter().all(|(l, _)| {
                same(
                    first,
                    layers.service_envs.get(&(s.clone(), (*l).to_string())),
                )
            }) {
                return false;
            }
            let kept = first.cloned();
            for (l, _) in ts {
                layers.service_envs.remove(&(s.clone(), (*l).to_string()));
            }
            if let Some(m) = kept {
                layers.service_envs.insert((s, (*env).to_string()), m);
            }
        }
        let per: Vec<Map> = ts
            .iter()
            .map(|(l, _)| layers.envs.remove(*l).unwrap_or_default())
            .collect();
        let common: Map = per[0]
            .iter()
            .filter(|(k, v)| {
                per[1..]
                    .iter()
                    .all(|m| m.get(*k).is_some_and(|w| plain(w) == plain(v)))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !common.is_empty() {
            layers.envs.insert((*env).to_string(), common.clone());
        }
        for ((_, c), m) in ts.iter().zip(per) {
            let rest: Map = m
                .into_iter()
                .filter(|(k, _)| !common.contains_key(k))
                .collect();
            if !rest.is_empty() {
                layers.clusters.insert((*c).to_string(), rest);
            }
        }
    }
    true
}

/// The project's `kiln.yaml`: its environments (on their clusters) and the input's ApplySet.
pub fn kiln_yaml(
    envs: &[EnvInput],
    kube_version: Option<&str>,
    applyset: bool,
) -> Result<String, String> {
    let version_of = |e: &EnvInput| {
        let objects: Vec<&Object> = e.objects.iter().collect();
        kube_version.map_or_else(|| super::kube_version_of(&objects), str::to_string)
    };
    let mut kiln = String::from("# Written by `kiln adopt`: one environment per input folder");
    let clustered: Vec<&EnvInput> = envs.iter().filter(|e| e.cluster.is_some()).collect();
    if clustered.is_empty() {
        kiln.push_str(".\n");
    } else {
        kiln.push_str(
            " (`<env>@<cluster>` folders: one environment on its clusters).\n# kiln adopt cannot know a cluster's API server: set `server` (and `caData`) before `kiln kubeconfig`.\nclusters:\n",
        );
        for e in &clustered {
            let c = e.cluster.as_deref().unwrap_or_default();
            kiln.push_str(&format!(
                "  {c}:\n    server: https://{c}.invalid:6443\n    kubeVersion: \"{}\"\n",
                version_of(e)
            ));
        }
    }
    kiln.push_str("environments:\n");
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for e in envs {
        if !done.insert(&e.env) {
            continue;
        }
        kiln.push_str(&format!(
            "  {}:\n    namespace: {}\n",
            e.env,
            crate::yaml::emit(&e.namespace)?.trim_end()
        ));
        let clusters: Vec<&str> = envs
            .iter()
            .filter(|t| t.env == e.env)
            .filter_map(|t| t.cluster.as_deref())
            .collect();
        match clusters.as_slice() {
            [] => kiln.push_str(&format!("    kubeVersion: \"{}\"\n", version_of(e))),
            [one] => kiln.push_str(&format!("    cluster: {one}\n")),
            many => kiln.push_str(&format!("    clusters: [{}]\n", many.join(", "))),
        }
    }
    if applyset {
        kiln.push_str("# The input carried ApplySet parents and member labels (`kubectl apply --prune --applyset`):\napplyset:\n  scope: environment\n");
    }
    Ok(kiln)
}

/// The trial project's `kiln.yaml`: every folder an environment `t<i>` of its own (a trial
/// renders each folder's candidates apart).
pub fn trial_kiln_yaml(envs: &[EnvInput], kube_version: Option<&str>) -> Result<String, String> {
    let mut kiln = String::from("environments:\n");
    for (i, e) in envs.iter().enumerate() {
        let objects: Vec<&Object> = e.objects.iter().collect();
        kiln.push_str(&format!(
            "  t{i}:\n    namespace: {}\n    kubeVersion: \"{}\"\n",
            crate::yaml::emit(&e.namespace)?.trim_end(),
            kube_version.map_or_else(|| super::kube_version_of(&objects), str::to_string)
        ));
    }
    Ok(kiln)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(folder: &str, namespace: &str) -> EnvInput {
        let (env, cluster) = super::super::read::env_and_cluster(folder);
        EnvInput {
            name: folder.to_string(),
            env,
            cluster,
            folder: folder.to_string(),
            namespace: namespace.to_string(),
            objects: Vec::new(),
            bytes: 0,
            lines: 0,
        }
    }

    #[test]
    fn folders_on_clusters_must_form_environments() {
        let ok = [
            target("dev", "dev"),
            target("prod@a", "prod"),
            target("prod@b", "prod"),
        ];
        assert!(consistent(&ok));
        // One cluster for two environments: its layer would reach both.
        assert!(!consistent(&[
            target("prod@a", "prod"),
            target("stage@a", "stage")
        ]));
        // An environment with and without a cluster, or in two namespaces.
        assert!(!consistent(&[
            target("prod", "prod"),
            target("prod@b", "prod")
        ]));
        assert!(!consistent(&[
            target("prod@a", "prod"),
            target("prod@b", "prod2")
        ]));
        let parted = split(Vec::from(ok));
        let names: Vec<&str> = parted.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dev", "prod-a", "prod-b"]);
        assert!(parted.iter().all(|e| e.cluster.is_none()));
    }
}
