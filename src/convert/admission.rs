//! Admission webhooks and policies to admissionregistration.k8s.io/v1.

use std::collections::BTreeSet;

use super::tree::{insert_after, map_mut, s, seq, seq_mut};
use crate::yaml::{Node, Value};

pub(super) fn webhooks(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(list) = map_mut(obj).and_then(|m| m.get_mut("webhooks")) else {
        return Ok(());
    };
    let list = seq_mut(list).ok_or("`webhooks` is not a list")?;
    let mut names = BTreeSet::new();
    let mut problems = Vec::new();
    for (i, w) in list.iter().enumerate() {
        let name = w.get_str("name").unwrap_or("?");
        if !names.insert(name.to_string()) {
            return Err(format!(
                "webhook name `{name}` is used twice; v1 requires unique names"
            ));
        }
        match w.get("sideEffects").map(|s| &s.value) {
            None => problems.push(format!("webhooks[{i}] ({name}) has no `sideEffects`")),
            Some(Value::Str(v)) if v == "None" || v == "NoneOnDryRun" => {}
            Some(Value::Str(v)) => {
                problems.push(format!("webhooks[{i}] ({name}) has `sideEffects: {v}`"));
            }
            Some(other) => problems.push(format!(
                "webhooks[{i}] ({name}) has a {} `sideEffects`",
                other.type_name()
            )),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{}: admissionregistration.k8s.io/v1 requires `sideEffects: None` or `NoneOnDryRun` (the v1beta1 default `Unknown` is not allowed) and only the webhook's author knows which is true; set it, then convert again",
            problems.join(", ")
        ));
    }
    let mut added = 0;
    let mut defaults = BTreeSet::new();
    for w in list.iter_mut() {
        let Some(wm) = map_mut(w) else { continue };
        if !wm.contains_key("admissionReviewVersions") {
            insert_after(
                wm,
                "sideEffects",
                "admissionReviewVersions",
                seq(vec![s("v1beta1")]),
            );
            added += 1;
        }
        for (k, d) in [
            ("failurePolicy", "failurePolicy Fail (was Ignore)"),
            ("matchPolicy", "matchPolicy Equivalent (was Exact)"),
            ("timeoutSeconds", "timeoutSeconds 10 (was 30)"),
        ] {
            if !wm.contains_key(k) {
                defaults.insert(d);
            }
        }
    }
    if added > 0 {
        notes.push(format!(
            "added `admissionReviewVersions: [v1beta1]` to {added} webhook(s) (required in v1; the v1beta1 default)"
        ));
    }
    if !defaults.is_empty() {
        notes.push(format!(
            "unset fields now default to {}",
            defaults.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}
