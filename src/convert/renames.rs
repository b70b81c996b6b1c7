//! Migrations that rename or move a few fields: RBAC v1alpha1 subjects, RuntimeClass,
//! PriorityLevelConfiguration, EndpointSlice, PodDisruptionBudget, CertificateSigningRequest.

use super::tree::{child_map, map_mut, node, rename_key, s, seq_mut};
use crate::yaml::{Node, Value};

pub(super) fn rbac_subjects(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(subjects) = map_mut(obj)
        .and_then(|m| m.get_mut("subjects"))
        .and_then(seq_mut)
    else {
        return Ok(());
    };
    let mut changed = false;
    for (i, subject) in subjects.iter_mut().enumerate() {
        let sm = map_mut(subject).ok_or_else(|| format!("`subjects[{i}]` is not a mapping"))?;
        let Some(at) = sm.get_index_of("apiVersion") else {
            continue;
        };
        sm.shift_remove_index(at);
        changed = true;
        let group = match sm.get("kind").map(|k| &k.value) {
            Some(Value::Str(k)) if k == "ServiceAccount" => None,
            _ => Some("rbac.authorization.k8s.io"),
        };
        if let Some(g) = group
            && !sm.contains_key("apiGroup")
        {
            sm.shift_insert(at.min(sm.len()), "apiGroup".into(), s(g));
        }
    }
    if changed {
        notes.push("`subjects[].apiVersion` -> `subjects[].apiGroup`".into());
    }
    Ok(())
}

pub(super) fn runtime_class(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let m = map_mut(obj).ok_or("not a mapping")?;
    let Some(i) = m.get_index_of("spec") else {
        return Err("`spec.runtimeHandler` is missing (v1 requires `handler`)".into());
    };
    let Some((_, spec)) = m.shift_remove_index(i) else {
        return Ok(());
    };
    let Value::Map(spec) = spec.value else {
        return Err("`spec` is not a mapping".into());
    };
    for (at, (k, v)) in (i..).zip(spec) {
        let new = match k.as_str() {
            "runtimeHandler" => "handler",
            "overhead" => "overhead",
            "scheduling" => "scheduling",
            other => return Err(format!("`spec.{other}` has no place in node.k8s.io/v1")),
        };
        m.shift_insert(at.min(m.len()), new.into(), v);
    }
    notes.push("`spec.runtimeHandler`/`overhead`/`scheduling` -> top-level `handler`/`overhead`/`scheduling`".into());
    Ok(())
}

pub(super) fn priority_level(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(limited) = child_map(obj, "spec")
        .and_then(|s| s.get_mut("limited"))
        .and_then(map_mut)
    else {
        return Ok(());
    };
    if limited.contains_key("assuredConcurrencyShares") {
        if limited.contains_key("nominalConcurrencyShares") {
            return Err(
                "sets both `assuredConcurrencyShares` and `nominalConcurrencyShares`".into(),
            );
        }
        rename_key(
            limited,
            "assuredConcurrencyShares",
            "nominalConcurrencyShares",
        );
        notes.push(
            "`spec.limited.assuredConcurrencyShares` -> `spec.limited.nominalConcurrencyShares`"
                .into(),
        );
    }
    if let Some(shares) = limited.get_mut("nominalConcurrencyShares")
        && shares.value == Value::Int(0)
    {
        shares.value = Value::Int(30);
        notes.push(
            "explicit 0 concurrency shares meant the default 30; now written as 30 (v1 keeps 0)"
                .into(),
        );
    }
    Ok(())
}

pub(super) fn endpoint_slice(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";
    let Some(endpoints) = map_mut(obj)
        .and_then(|m| m.get_mut("endpoints"))
        .and_then(seq_mut)
    else {
        return Ok(());
    };
    let mut changed = false;
    for (i, e) in endpoints.iter_mut().enumerate() {
        let em = map_mut(e).ok_or_else(|| format!("`endpoints[{i}]` is not a mapping"))?;
        let Some(at) = em.get_index_of("topology") else {
            continue;
        };
        let Some((_, topology)) = em.shift_remove_index(at) else {
            continue;
        };
        let Value::Map(mut topology) = topology.value else {
            return Err(format!("`endpoints[{i}].topology` is not a mapping"));
        };
        changed = true;
        let mut at = at;
        for (key, field) in [(HOST, "nodeName"), (ZONE, "zone")] {
            if let Some(v) = topology.shift_remove(key)
                && !em.contains_key(field)
            {
                em.shift_insert(at.min(em.len()), field.into(), v);
                at += 1;
            }
        }
        if !topology.is_empty() {
            em.shift_insert(
                at.min(em.len()),
                "deprecatedTopology".into(),
                node(Value::Map(topology)),
            );
        }
    }
    if changed {
        notes.push(
            "`endpoints[].topology` -> `nodeName`/`zone` (other keys: `deprecatedTopology`)".into(),
        );
    }
    Ok(())
}

pub(super) fn pdb(obj: &mut Node) -> Result<(), String> {
    let Some(selector) = map_mut(obj)
        .and_then(|m| m.get("spec"))
        .and_then(|s| s.get("selector"))
    else {
        return Ok(());
    };
    let empty = |k: &str| {
        selector.get(k).is_none_or(|v| match &v.value {
            Value::Map(m) => m.is_empty(),
            Value::Seq(s) => s.is_empty(),
            Value::Null => true,
            _ => false,
        })
    };
    if matches!(selector.value, Value::Map(_)) && empty("matchLabels") && empty("matchExpressions")
    {
        return Err("its empty `spec.selector` selects no pods in policy/v1beta1 but every pod in the namespace in policy/v1: give it a real selector (or delete it), then convert".into());
    }
    Ok(())
}

pub(super) fn csr(obj: &mut Node) -> Result<(), String> {
    let spec = map_mut(obj).and_then(|m| m.get("spec"));
    let signer = spec.and_then(|s| s.get_str("signerName"));
    let usages = spec.and_then(|s| s.get("usages"));
    match signer {
        None | Some("kubernetes.io/legacy-unknown") => Err(
            "certificates.k8s.io/v1 requires a `spec.signerName` other than `kubernetes.io/legacy-unknown`: choose the signer, then convert".into(),
        ),
        Some(_) if !matches!(usages.map(|u| &u.value), Some(Value::Seq(u)) if !u.is_empty()) => Err(
            "certificates.k8s.io/v1 requires `spec.usages`: list them, then convert".into(),
        ),
        Some(_) => Ok(()),
    }
}
