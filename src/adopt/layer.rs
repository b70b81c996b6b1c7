//! Layering: each value goes to the lowest layer that says it once for many instances. What all
//! instances share goes to `values/defaults.yaml`, what an environment's instances share to
//! `values/envs/<env>.yaml`, what a service keeps in every environment to
//! `values/services/<s>.yaml`, and only true per-environment differences to
//! `values/services/<s>.<env>.yaml`.
//!
//! Maps deep-merge across layers (lists and scalars replace), so a value that is a mapping is
//! written in exactly one layer per instance: merging two would add keys the input never had.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::yaml::Map;
use indexmap::IndexMap;

use crate::yaml::{Node, Value};

/// One instance's values.
#[derive(Debug, Clone)]
pub struct Member {
    /// Service name.
    pub service: String,
    /// Environment name.
    pub env: String,
    /// Its values, by name.
    pub values: Map,
    /// Values it must not get from any layer (it takes its template's default or leaves the
    /// entry out).
    pub absent: BTreeSet<String>,
}

/// The values files' contents.
#[derive(Debug, Default)]
pub struct Layers {
    /// `values/defaults.yaml`.
    pub defaults: Map,
    /// `values/envs/<env>.yaml`.
    pub envs: BTreeMap<String, Map>,
    /// `values/clusters/<c>.yaml` (see `clusters::fold`).
    pub clusters: BTreeMap<String, Map>,
    /// `values/services/<s>.yaml`.
    pub services: BTreeMap<String, Map>,
    /// `values/services/<s>.<env>.yaml`.
    pub service_envs: BTreeMap<(String, String), Map>,
}

/// The most common value of `vals` (ties: the first seen).
fn mode<'a>(vals: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut count: IndexMap<&str, usize> = IndexMap::new();
    for v in vals {
        *count.entry(v).or_default() += 1;
    }
    let best = count.values().copied().max()?;
    count.into_iter().find(|(_, c)| *c == best).map(|(v, _)| v)
}

/// Layer the values of every member.
#[must_use]
pub fn layer(members: &[Member], envs: &[String], sparse: &BTreeSet<String>) -> Layers {
    let mut out = Layers::default();
    let mut keys: IndexMap<&str, ()> = IndexMap::new();
    for m in members {
        for k in m.values.keys() {
            keys.insert(k, ());
        }
    }
    for key in keys.keys() {
        // (service, env) -> canonical text; canonical text -> the value.
        let mut at: BTreeMap<(&str, &str), String> = BTreeMap::new();
        let mut node_of: HashMap<String, &Node> = HashMap::new();
        let mut has_map = false;
        for m in members {
            if let Some(v) = m.values.get(*key) {
                let canon = serde_json::to_string(v).unwrap_or_default();
                has_map |= matches!(v.value, Value::Map(_));
                node_of.entry(canon.clone()).or_insert(v);
                at.insert((&m.service, &m.env), canon);
            }
        }
        let put = |layer: &mut Map, canon: &str| {
            layer.insert((*key).to_string(), node_of[canon].clone());
        };
        let d = mode(at.values().map(String::as_str))
            .unwrap_or_default()
            .to_string();
        let is_sparse = sparse.contains(*key);
        if !is_sparse && at.values().all(|v| *v == d) {
            put(&mut out.defaults, &d);
            continue;
        }
        // Grouped once per key (by environment, by service): linear in the members.
        let mut env_groups: HashMap<&str, Vec<(&(&str, &str), &String)>> = HashMap::new();
        let mut service_groups: BTreeMap<&str, Vec<(&(&str, &str), &String)>> = BTreeMap::new();
        for entry in &at {
            env_groups.entry(entry.0.1).or_default().push(entry);
            service_groups.entry(entry.0.0).or_default().push(entry);
        }
        let absent_in: BTreeSet<&str> = if is_sparse {
            members
                .iter()
                .filter(|m| m.absent.contains(*key))
                .map(|m| m.service.as_str())
                .collect()
        } else {
            BTreeSet::new()
        };
        let by_env = |e: &str| -> Vec<(&(&str, &str), &String)> {
            env_groups.get(e).cloned().unwrap_or_default()
        };
        let by_service = |s: &str| -> Vec<(&(&str, &str), &String)> {
            service_groups.get(s).cloned().unwrap_or_default()
        };
        let mut services: Vec<&str> = at.keys().map(|(s, _)| *s).collect();
        services.dedup();
        if has_map || is_sparse {
            // One layer per instance: the environment when it decides, else the service, else
            // both together.
            let env_decides = envs.iter().all(|e| {
                let all = by_env(e);
                let mut vs = all.iter().map(|(_, v)| v);
                vs.next().is_none_or(|f| vs.all(|v| v == f))
            });
            if env_decides && services.len() > 1 && !is_sparse {
                for e in envs {
                    if let Some((_, v)) = by_env(e).first() {
                        put(out.envs.entry(e.clone()).or_default(), v);
                    }
                }
                continue;
            }
            // Per service: its own file when it keeps the value in every environment, else
            // one file per environment.
            for s in &services {
                let all = by_service(s);
                let first = all[0].1;
                let absent_somewhere = absent_in.contains(s);
                if !absent_somewhere && all.iter().all(|(_, v)| *v == first) {
                    put(out.services.entry((*s).to_string()).or_default(), first);
                } else {
                    for ((_, e), v) in all {
                        let layer = out
                            .service_envs
                            .entry(((*s).to_string(), (*e).to_string()))
                            .or_default();
                        put(layer, v);
                    }
                }
            }
            continue;
        }
        put(&mut out.defaults, &d);
        // An environment layer where most of the environment's instances agree on another value
        // (and it saves lines).
        let mut base: HashMap<&str, String> = HashMap::new();
        for e in envs {
            let vs: Vec<&str> = by_env(e).into_iter().map(|(_, v)| v.as_str()).collect();
            let Some(ev) = mode(vs.iter().copied()) else {
                continue;
            };
            let n_ev = vs.iter().filter(|v| **v == ev).count();
            let n_d = vs.iter().filter(|v| **v == d).count();
            if ev != d && n_ev > n_d + 1 {
                put(out.envs.entry(e.clone()).or_default(), ev);
                base.insert(e, ev.to_string());
            } else {
                base.insert(e, d.clone());
            }
        }
        for s in services {
            let mine: Vec<(&str, &str)> = by_service(s)
                .into_iter()
                .map(|((_, e), v)| (*e, v.as_str()))
                .collect();
            let miss = |x: Option<&str>| {
                mine.iter()
                    .filter(|(e, v)| *v != x.unwrap_or_else(|| base[e].as_str()))
                    .count()
            };
            let mut best: (usize, Option<&str>) = (miss(None), None);
            for (_, x) in &mine {
                let cost = 1 + miss(Some(x));
                if cost < best.0 {
                    best = (cost, Some(x));
                }
            }
            if let Some(x) = best.1 {
                put(out.services.entry(s.to_string()).or_default(), x);
            }
            for (e, v) in &mine {
                if *v != best.1.unwrap_or_else(|| base[e].as_str()) {
                    let layer = out
                        .service_envs
                        .entry((s.to_string(), (*e).to_string()))
                        .or_default();
                    put(layer, v);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Loc;

    fn member(s: &str, e: &str, replicas: i64, image: &str) -> Member {
        let mut values = Map::default();
        values.insert(
            "replicas".into(),
            Node::new(Value::Int(replicas), Loc::default()),
        );
        values.insert(
            "image".into(),
            Node::new(Value::Str(image.into()), Loc::default()),
        );
        Member {
            service: s.into(),
            env: e.into(),
            values,
            absent: BTreeSet::new(),
        }
    }

    #[test]
    fn values_go_to_the_lowest_layer_that_holds_them() {
        let envs: Vec<String> = vec!["dev".into(), "prod".into()];
        let mut members = Vec::new();
        for s in ["a", "b", "c", "d"] {
            members.push(member(s, "dev", 1, s));
            members.push(member(s, "prod", if s == "a" { 5 } else { 3 }, s));
        }
        let l = layer(&members, &envs, &BTreeSet::new());
        assert_eq!(l.defaults["replicas"].value, Value::Int(1));
        assert_eq!(l.envs["prod"]["replicas"].value, Value::Int(3));
        assert_eq!(l.services["b"]["image"].value, Value::Str("b".into()));
        let a_prod = &l.service_envs[&("a".to_string(), "prod".to_string())];
        assert_eq!(a_prod["replicas"].value, Value::Int(5));
        assert_eq!(l.service_envs.len(), 1);
    }
}
