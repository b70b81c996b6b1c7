//! autoscaling/v2beta1 HorizontalPodAutoscaler to v2: every metric target is restructured.

use crate::yaml::Map;

use super::tree::{child_map, map, map_mut, node, s, seq_mut};
use crate::yaml::{Node, Value};

pub(super) fn hpa_v2beta1(obj: &mut Node, notes: &mut Vec<String>) -> Result<(), String> {
    let mut changed = 0;
    if let Some(metrics) = child_map(obj, "spec")
        .and_then(|s| s.get_mut("metrics"))
        .and_then(seq_mut)
    {
        for (i, m) in metrics.iter_mut().enumerate() {
            changed += usize::from(metric(m, &format!("spec.metrics[{i}]"), false)?);
        }
    }
    if let Some(metrics) = child_map(obj, "status")
        .and_then(|s| s.get_mut("currentMetrics"))
        .and_then(seq_mut)
    {
        for (i, m) in metrics.iter_mut().enumerate() {
            changed += usize::from(metric(m, &format!("status.currentMetrics[{i}]"), true)?);
        }
    }
    if changed > 0 {
        notes.push(format!(
            "{changed} metric(s) restructured to `metric`/`target` (`current` in status)"
        ));
    }
    Ok(())
}

/// Restructure one v2beta1 metric (`status`: a current metric); true when it changed.
fn metric(m: &mut Node, at: &str, status: bool) -> Result<bool, String> {
    let Some(mm) = map_mut(m) else {
        return Err(format!("`{at}` is not a mapping"));
    };
    let ty = mm.get("type").and_then(|t| match &t.value {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    });
    let key = match ty.as_deref() {
        Some("Resource") => "resource",
        Some("ContainerResource") => "containerResource",
        Some("Pods") => "pods",
        Some("Object") => "object",
        Some("External") => "external",
        _ => return Ok(false),
    };
    let at = format!("{at}.{key}");
    let Some(src) = mm.get_mut(key).and_then(map_mut) else {
        return Ok(false);
    };
    // v2beta1 field names, per source type: (value field, average field, utilization field).
    let (value_key, average_key, util_key) = if status {
        (
            "currentValue",
            "currentAverageValue",
            "currentAverageUtilization",
        )
    } else {
        (
            "targetValue",
            "targetAverageValue",
            "targetAverageUtilization",
        )
    };
    let new_key = if status { "current" } else { "target" };
    let old_object_ref =
        key == "object" && src.get("target").is_some_and(|t| t.get("kind").is_some());
    let old = [
        value_key,
        average_key,
        util_key,
        "metricName",
        "metricSelector",
    ]
    .iter()
    .any(|k| src.contains_key(*k))
        || old_object_ref
        || (key == "object"
            && src.contains_key("averageValue")
            && !src.contains_key("describedObject"));
    if !old {
        return Ok(false);
    }
    if src.contains_key(new_key) && !old_object_ref {
        return Err(format!("`{at}` mixes v2beta1 fields with `{new_key}`"));
    }
    let value = src.shift_remove(value_key);
    let average = src.shift_remove(average_key).or_else(|| {
        if key == "object" {
            src.shift_remove("averageValue")
        } else {
            None
        }
    });
    let util = src.shift_remove(util_key);
    let target = if status {
        let mut t = Map::default();
        if let Some(u) = util {
            t.insert("averageUtilization".to_string(), u);
        }
        if let Some(a) = average {
            t.insert("averageValue".to_string(), a);
        }
        if let Some(v) = value {
            t.insert("value".to_string(), v);
        }
        node(Value::Map(t))
    } else {
        match (key, util, average, value) {
            ("resource" | "containerResource", Some(u), None, None) => {
                map([("type", s("Utilization")), ("averageUtilization", u)])
            }
            (_, None, Some(a), _) => map([("type", s("AverageValue")), ("averageValue", a)]),
            ("object" | "external", None, None, Some(v)) => {
                map([("type", s("Value")), ("value", v)])
            }
            _ => {
                return Err(format!(
                    "`{at}` does not set exactly one v2beta1 target (`{util_key}`, `{average_key}` or `{value_key}`)"
                ));
            }
        }
    };
    let mut out = Map::default();
    if key == "object"
        && let Some(r) = src.shift_remove("target")
    {
        out.insert("describedObject".to_string(), r);
    }
    if key == "resource" || key == "containerResource" {
        for k in ["name", "container"] {
            if let Some(v) = src.shift_remove(k) {
                out.insert(k.to_string(), v);
            }
        }
    } else {
        let name = src.shift_remove("metricName");
        let selector = src
            .shift_remove("metricSelector")
            .or_else(|| src.shift_remove("selector"));
        let mut metric = Map::default();
        if let Some(n) = name {
            metric.insert("name".to_string(), n);
        }
        if let Some(sel) = selector {
            metric.insert("selector".to_string(), sel);
        }
        out.insert("metric".to_string(), node(Value::Map(metric)));
    }
    out.insert(new_key.to_string(), target);
    out.extend(src.drain(..));
    *src = out;
    Ok(true)
}
