//! The rules a reviewer would flag: copy-paste typography, floating image tags, missing
//! resources and readiness probes, host networking, ConfigMap keys that were not strings.

use super::Problem;
use crate::check::rule;
use crate::kube::pointer::{escape, list_item};
use crate::yaml::{Node, Value};

/// Characters that are almost always copy-paste damage from a word processor or a web page.
const TYPOGRAPHIC: &[(char, &str, &str)] = &[
    ('\u{2018}', "left single quotation mark", "'"),
    ('\u{2019}', "right single quotation mark", "'"),
    ('\u{201C}', "left double quotation mark", "\""),
    ('\u{201D}', "right double quotation mark", "\""),
    ('\u{2013}', "en dash", "-"),
    ('\u{2014}', "em dash", "--"),
    ('\u{2212}', "minus sign", "-"),
    ('\u{00A0}', "no-break space", " "),
    ('\u{200B}', "zero-width space", ""),
];

/// Whether no string read from (or written as) `text` can hold a typographic character: each
/// is outside ASCII, and YAML writes one in ASCII only as an escape (`\u2019`, `\_`), which
/// starts with a backslash. A fleet's objects are mostly plain ASCII: this scan of the text
/// (70 ns for a Deployment) spares the walk of every string (about a microsecond).
#[must_use]
pub fn plain(text: &str) -> bool {
    text.is_ascii() && !text.contains('\\')
}

/// Every string in the document with a typographic character. The path is only spelled out
/// for a hit: this walks every value of every object.
pub fn typographic(doc: &Node, out: &mut Vec<Problem>) {
    /// A step of the path to a value: escaped and allocated only when the value has a hit.
    enum Step<'a> {
        Key(&'a str),
        Index(usize),
    }
    fn walk<'a>(n: &'a Node, path: &mut Vec<Step<'a>>, out: &mut Vec<Problem>) {
        match &n.value {
            Value::Str(s) => {
                if s.is_ascii() {
                    return;
                }
                if let Some((c, name, ascii)) = TYPOGRAPHIC.iter().find(|(c, _, _)| s.contains(*c))
                {
                    let extra = if *c == '\u{2014}' && s.starts_with(*c) {
                        format!(
                            "; `{s}` looks like a flag whose `--` became an em dash, so the program will not see the flag"
                        )
                    } else {
                        String::new()
                    };
                    let want = if ascii.is_empty() {
                        "nothing".to_string()
                    } else {
                        format!("`{ascii}`")
                    };
                    let pointer = path.iter().fold(String::new(), |acc, p| match p {
                        Step::Key(k) => acc + "/" + &escape(k),
                        Step::Index(i) => format!("{acc}/{i}"),
                    });
                    out.push((&rule::TYPOGRAPHIC, pointer, format!("{name} `{c}` (U+{:04X}) in `{s}`: {want} was probably meant (copy-paste damage){extra}", *c as u32)));
                }
            }
            Value::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(v, path, out);
                    path.pop();
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    path.push(Step::Key(k));
                    walk(v, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    walk(doc, &mut Vec::new(), out);
}

/// Container-level reviews: image tags, resources, readiness probes.
pub fn containers(pod: &Node, pointer: &str, workload: bool, out: &mut Vec<Problem>) {
    let Some(Value::Seq(items)) = pod.get("containers").map(|n| &n.value) else {
        return;
    };
    for (i, c) in items.iter().enumerate() {
        let here = list_item(pointer, "containers", i);
        let name = c.get_str("name").unwrap_or("?");
        if let Some(image) = c.get_str("image") {
            let last = image.rsplit('/').next().unwrap_or(image);
            if !image.contains('@') {
                if !last.contains(':') {
                    out.push((&rule::IMAGE_TAG, format!("{here}/image"), format!("image `{image}` has no tag, so it means `:latest` and changes under you; pin a version")));
                } else if last.ends_with(":latest") {
                    out.push((&rule::IMAGE_TAG, format!("{here}/image"), format!("image `{image}` uses `:latest`; pin a version so a rollout is reproducible")));
                }
            }
        }
        let res = c.get("resources");
        let has = |k: &str| {
            res.and_then(|r| r.get(k))
                .is_some_and(|m| matches!(&m.value, Value::Map(x) if !x.is_empty()))
        };
        if !has("requests") || !has("limits") {
            let missing = match (has("requests"), has("limits")) {
                (false, false) => "requests and limits",
                (false, true) => "requests",
                _ => "limits",
            };
            out.push((&rule::NO_RESOURCES, here.clone(), format!("container `{name}` sets no resource {missing}; the scheduler cannot place it well and it can starve its neighbours")));
        }
        // Only containers that serve (declare ports) receive traffic; a log shipper does not.
        let serves =
            matches!(c.get("ports").map(|n| &n.value), Some(Value::Seq(p)) if !p.is_empty());
        if workload && serves && c.get("readinessProbe").is_none() {
            out.push((&rule::NO_READINESS_PROBE, here.clone(), format!("container `{name}` has no readinessProbe; it receives traffic before it is ready")));
        }
    }
}

/// `hostNetwork: true` outside the allow-list.
pub fn host_network(
    pod: &Node,
    pointer: &str,
    name: &str,
    allow: &[String],
    out: &mut Vec<Problem>,
) {
    if matches!(
        pod.get("hostNetwork").map(|n| &n.value),
        Some(Value::Bool(true))
    ) && !allow.iter().any(|a| a == name)
    {
        out.push((&rule::HOST_NETWORK, format!("{pointer}/hostNetwork"), format!("`{name}` uses the node's network namespace (hostNetwork: true); allow it in kiln.yaml `lint.hostNetworkAllow` if intended")));
    }
}

/// ConfigMap `data` keys written as numbers or booleans (`53:`): they only work because the
/// YAML-to-JSON step stringifies them (`1.10:` becomes `"1.1"`).
pub fn configmap_keys(doc: &Node, out: &mut Vec<Problem>) {
    for field in ["data", "binaryData"] {
        let Some(Value::Map(m)) = doc.get(field).map(|n| &n.value) else {
            continue;
        };
        for (k, v) in m {
            if !v.key_was_string {
                out.push((&rule::CONFIGMAP_KEY, format!("/{field}/{}", escape(k)), format!("ConfigMap key `{k}` is not a string in the source; quote it (`\"{k}\":`) so YAML cannot turn it into a number or boolean")));
            }
        }
    }
}
