//! Deployment, DaemonSet, ReplicaSet and StatefulSet to apps/v1.

use super::tree::{child_map, insert_before, map};
use crate::yaml::{Node, Value};

pub(super) fn workload(
    obj: &mut Node,
    from: &str,
    kind: &str,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let spec = child_map(obj, "spec").ok_or("`spec` is missing or not a mapping")?;
    if spec.contains_key("rollbackTo") {
        return Err("`spec.rollbackTo` has no apps/v1 equivalent (it asked for a one-off rollback; use `kubectl rollout undo`): remove it, then convert".into());
    }
    if spec.shift_remove("templateGeneration").is_some() {
        notes.push("dropped `spec.templateGeneration` (set by the server; not in apps/v1)".into());
    }
    if !spec.contains_key("selector") {
        let labels = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .filter(|l| matches!(&l.value, Value::Map(m) if !m.is_empty()))
            .cloned()
            .ok_or("no `spec.selector` and no pod template labels to copy into one (apps/v1 requires a selector)")?;
        insert_before(
            spec,
            &["template"],
            "selector",
            map([("matchLabels", labels)]),
        );
        notes.push(
            "added `spec.selector.matchLabels` from the pod template labels (the old default)"
                .into(),
        );
    }
    // Defaults that differ in apps/v1, for the fields left unset.
    let mut changed = Vec::new();
    let extensions = from == "extensions/v1beta1";
    match kind {
        "Deployment" if from != "apps/v1beta2" => {
            if !spec.contains_key("revisionHistoryLimit") {
                changed.push(if extensions {
                    "revisionHistoryLimit 10 (was unlimited)"
                } else {
                    "revisionHistoryLimit 10 (was 2)"
                });
            }
            if extensions {
                if !spec.contains_key("progressDeadlineSeconds") {
                    changed.push("progressDeadlineSeconds 600 (was none)");
                }
                let strategy = spec.get("strategy");
                let recreate = strategy.and_then(|s| s.get_str("type")) == Some("Recreate");
                let rolling = strategy.and_then(|s| s.get("rollingUpdate"));
                if !recreate
                    && (rolling.and_then(|r| r.get("maxSurge")).is_none()
                        || rolling.and_then(|r| r.get("maxUnavailable")).is_none())
                {
                    changed.push("maxSurge/maxUnavailable 25% (was 1)");
                }
            }
        }
        "DaemonSet" if extensions && !spec.contains_key("updateStrategy") => {
            changed.push("updateStrategy RollingUpdate (was OnDelete)");
        }
        "StatefulSet" if from == "apps/v1beta1" && !spec.contains_key("updateStrategy") => {
            changed.push("updateStrategy RollingUpdate (was OnDelete)");
        }
        _ => {}
    }
    if !changed.is_empty() {
        notes.push(format!(
            "unset fields now default to {}",
            changed.join(", ")
        ));
    }
    Ok(())
}
