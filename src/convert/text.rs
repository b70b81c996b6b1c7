//! Converting a whole file: every object of every document, kept byte for byte when nothing
//! changes, and reports for the user.

use crate::kube::KubeVersion;
use crate::manifest::ResourceId;
use crate::yaml::{self, Dialect, Node, Value, is_blank, is_marker, split};

use super::tree::{child_map, insert_before, map, map_mut, s, seq_mut};
use super::{Outcome, convert_object};

/// How a report line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An object was converted.
    Converted,
    /// Information: left alone on purpose.
    Note,
    /// An object could not be converted (or a document could not be read).
    Error,
}

/// One line for the user about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// 1-based line of the object in the file.
    pub line: u32,
    /// What kind of line.
    pub level: Level,
    /// The message, without file and line.
    pub message: String,
}

/// A file, converted.
#[derive(Debug, Clone, Default)]
pub struct FileResult {
    /// The whole new text.
    pub text: String,
    /// True when some object changed.
    pub changed: bool,
    /// True when some document is not valid YAML.
    pub unparsable: bool,
    /// Objects converted.
    pub converted: usize,
    /// Objects (or documents) that could not be converted.
    pub failed: usize,
    /// Converted documents written out again (not edited in place): their comments are lost.
    pub rewritten: usize,
    /// One line per object that needed attention, in file order.
    pub reports: Vec<Report>,
}

/// `apps/v1 Deployment ns/web`, as `kiln lint` names resources.
fn identity(n: &Node) -> String {
    match ResourceId::of(n) {
        Ok(id) => id.to_string(),
        Err(_) => format!(
            "{} {}",
            n.get_str("apiVersion").unwrap_or("?"),
            n.get_str("kind").unwrap_or("?")
        ),
    }
}

/// A converted object: the new tree, and the text edits that make the same change in its
/// source when there are such (see [`text_edits`]).
struct Changed {
    node: Node,
    edits: Option<Vec<(usize, usize, String)>>,
}

/// Convert one object and say what happened; `None` when it did not change. `text`: the
/// document the object was parsed from (its locations are offsets into it).
fn object(
    obj: &Node,
    text: &str,
    line: u32,
    to: KubeVersion,
    out: &mut FileResult,
) -> Option<Changed> {
    match convert_object(obj, to) {
        Outcome::Unchanged => None,
        Outcome::Deprecated(row) => {
            let when = row.removed.as_deref().map_or_else(
                || "no removal scheduled".to_string(),
                |r| format!("removed in {r}; convert with `--to {r}`"),
            );
            out.reports.push(Report {
                line,
                level: Level::Note,
                message: format!(
                    "{} is deprecated but still served by Kubernetes {to}: left unchanged ({when})",
                    identity(obj)
                ),
            });
            None
        }
        Outcome::Failed(why) => {
            out.failed += 1;
            out.reports.push(Report {
                line,
                level: Level::Error,
                message: format!("cannot convert {}: {why}; left unchanged", identity(obj)),
            });
            None
        }
        Outcome::Converted {
            node,
            from,
            to: new,
            notes,
        } => {
            out.converted += 1;
            let mut message = format!("converted {} to {new}", identity(obj));
            if !notes.is_empty() {
                message.push_str(": ");
                message.push_str(&notes.join("; "));
            }
            out.reports.push(Report {
                line,
                level: Level::Converted,
                message,
            });
            let edits = text_edits(obj, &node, text, &from, &new);
            Some(Changed { node, edits })
        }
    }
}

/// Text edits (offset, length, replacement) that turn `old`'s source into `new`, when the
/// change is one that can be made in place: the apiVersion, and a workload's added
/// `spec.selector` (inserted above `spec.template` in block-style YAML). Editing the text keeps
/// every comment and the author's formatting.
fn text_edits(
    old: &Node,
    new: &Node,
    text: &str,
    from: &str,
    to: &str,
) -> Option<Vec<(usize, usize, String)>> {
    let mut probe = old.clone();
    map_mut(&mut probe)?.insert("apiVersion".into(), s(to));
    let loc = old.get("apiVersion")?.loc;
    let (start, len) = (loc.offset as usize, loc.len as usize);
    let span = text.get(start..start + len)?;
    let quoted = |q: char| span.len() >= 2 && span.starts_with(q) && span.ends_with(q);
    let replacement = if span == from {
        to.to_string()
    } else if (quoted('"') || quoted('\'')) && &span[1..span.len() - 1] == from {
        format!("{}{to}{}", &span[..1], &span[span.len() - 1..])
    } else {
        return None;
    };
    let mut edits = vec![(start, len, replacement)];
    if probe == *new {
        return Some(edits);
    }
    // A workload given the selector its old API defaulted.
    let old_spec = old.get("spec")?;
    let selector = new.get("spec")?.get("selector")?;
    if old_spec.get("selector").is_some()
        || text.get(old_spec.loc.offset as usize..)?.starts_with('{')
    {
        return None;
    }
    insert_before(
        child_map(&mut probe, "spec")?,
        &["template"],
        "selector",
        selector.clone(),
    );
    if probe != *new {
        return None;
    }
    let at = old_spec.get("template")?.key_loc.offset as usize;
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..at];
    if !indent.bytes().all(|b| b == b' ') {
        return None;
    }
    let body = yaml::emit(&map([("selector", selector.clone())])).ok()?;
    let mut block = String::new();
    for l in body.lines() {
        block.push_str(indent);
        block.push_str(l);
        block.push('\n');
    }
    edits.push((line_start, 0, block));
    Some(edits)
}

/// Convert every object in a file's text for Kubernetes `to`. Documents that need no change
/// are kept byte for byte (comments too); a converted document is emitted again after its
/// leading `---` and comment lines (comments inside it are lost). `json`: the file is JSON and
/// a converted document is written as JSON.
#[must_use]
pub fn convert_text(text: &str, to: KubeVersion, json: bool) -> FileResult {
    let mut out = FileResult::default();
    let mut pieces = Vec::new();
    for (start, line_base, end) in split(text) {
        let chunk = &text[start..end];
        if is_blank(chunk) {
            pieces.push(chunk.to_string());
            continue;
        }
        let parsed = match yaml::parse(chunk, 0, Dialect::Kube) {
            Ok(n) => n,
            Err(e) => {
                out.unparsable = true;
                out.failed += 1;
                out.reports.push(Report {
                    line: line_base + e.line.max(1),
                    level: Level::Error,
                    message: format!("not valid YAML: {}; document left unchanged", e.message),
                });
                pieces.push(chunk.to_string());
                continue;
            }
        };
        let mut changes: Vec<Changed> = Vec::new();
        let mut new = parsed.clone();
        if is_list(&parsed) {
            if let Some(items) = map_mut(&mut new)
                .and_then(|m| m.get_mut("items"))
                .and_then(seq_mut)
            {
                for item in items.iter_mut() {
                    if let Some(c) = object(item, chunk, line_base + item.loc.line, to, &mut out) {
                        *item = c.node.clone();
                        changes.push(c);
                    }
                }
            }
        } else if let Some(c) = object(
            &parsed,
            chunk,
            line_base + parsed.loc.line.max(1),
            to,
            &mut out,
        ) {
            new = c.node.clone();
            changes.push(c);
        }
        if changes.is_empty() {
            pieces.push(chunk.to_string());
            continue;
        }
        // Edit the text where every change can be made in place: that keeps every comment.
        if changes.iter().all(|c| c.edits.is_some()) {
            let mut splices: Vec<(usize, usize, String)> = changes
                .iter()
                .flat_map(|c| c.edits.clone().unwrap_or_default())
                .collect();
            splices.sort_by_key(|s| std::cmp::Reverse(s.0));
            let mut edited = chunk.to_string();
            for (start, len, replacement) in splices {
                edited.replace_range(start..start + len, &replacement);
            }
            pieces.push(edited);
            out.changed = true;
            continue;
        }
        match rewrite(chunk, &new, json) {
            Ok(t) => {
                pieces.push(t);
                out.changed = true;
                out.rewritten += 1;
            }
            Err(e) => {
                // Cannot happen for a tree read from YAML; keep the document if it does.
                out.failed += 1;
                out.reports.push(Report {
                    line: line_base + 1,
                    level: Level::Error,
                    message: format!("cannot write the converted document: {e}; left unchanged"),
                });
                pieces.push(chunk.to_string());
            }
        }
    }
    out.text = pieces.concat();
    out
}

fn is_list(n: &Node) -> bool {
    n.get_str("kind").is_some_and(|k| k.ends_with("List"))
        && n.get("items")
            .is_some_and(|i| matches!(i.value, Value::Seq(_)))
}

/// A converted document's new text: its `---` line and leading comment lines, the emitted
/// object, then its trailing comment lines.
fn rewrite(chunk: &str, new: &Node, json: bool) -> Result<String, String> {
    let body = if json {
        serde_json::to_string_pretty(new).map_err(|e| e.to_string())? + "\n"
    } else {
        let mut b = yaml::emit(new)?;
        if !b.ends_with('\n') {
            b.push('\n');
        }
        b
    };
    let lines: Vec<&str> = chunk.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let content = |l: &str| {
        let b = bare(l);
        !(b.trim().is_empty() || b.starts_with('#'))
    };
    let mut head = String::new();
    let mut first = 0;
    if let Some(l) = lines.first()
        && is_marker(&bare(l))
    {
        let b = bare(l);
        let rest = b[3..].trim();
        head.push_str(if rest.is_empty() || rest.starts_with('#') {
            l
        } else {
            "---\n"
        });
        if !l.ends_with('\n') {
            head.push('\n');
        }
        first = 1;
    }
    let last_content = lines.iter().rposition(|l| content(l)).unwrap_or(0);
    for l in &lines[first..] {
        if content(l) {
            break;
        }
        head.push_str(l);
    }
    let mut tail = String::new();
    let trailing = &lines[(last_content + 1).min(lines.len())..];
    if let Some(c) = trailing.iter().position(|l| bare(l).starts_with('#')) {
        for l in &trailing[c..] {
            tail.push_str(l);
        }
        if !tail.ends_with('\n') {
            tail.push('\n');
        }
    }
    Ok(format!("{head}{body}{tail}"))
}

/// True when a file's text starts a new document (its first line that is not blank or a
/// comment is `---`), so it can follow another file's text in one stream.
#[must_use]
pub fn starts_with_marker(text: &str) -> bool {
    text.lines()
        .map(str::trim_end)
        .find(|l| !(l.trim().is_empty() || l.starts_with('#')))
        .is_some_and(is_marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        KubeVersion::parse(s).unwrap()
    }

    #[test]
    fn text_keeps_untouched_documents_and_comments() {
        let text = "\
# header comment
apiVersion: v1
kind: ConfigMap # trailing
metadata: {name: c}
---
# RBAC for the app
apiVersion: rbac.authorization.k8s.io/v1beta1 # old
kind: Role
metadata: {name: r}
rules: [] # none yet
---
apiVersion: 'extensions/v1beta1'
kind: Deployment
metadata: {name: web}
spec:
  # two of them
  replicas: 2
  template:
    metadata:
      labels: {app: web}
---
# an Ingress
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: i}
spec:
  backend: {serviceName: web, servicePort: 80} # the default
# after the ingress
";
        let r = convert_text(text, v("1.29"), false);
        assert!(r.changed && !r.unparsable);
        assert_eq!((r.converted, r.failed), (3, 0));
        let want = "\
# header comment
apiVersion: v1
kind: ConfigMap # trailing
metadata: {name: c}
---
# RBAC for the app
apiVersion: rbac.authorization.k8s.io/v1 # old
kind: Role
metadata: {name: r}
rules: [] # none yet
---
apiVersion: 'apps/v1'
kind: Deployment
metadata: {name: web}
spec:
  # two of them
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels: {app: web}
---
# an Ingress
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: i
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
# after the ingress
";
        assert_eq!(r.text, want);
        let lines: Vec<(u32, Level)> = r.reports.iter().map(|x| (x.line, x.level)).collect();
        assert_eq!(
            lines,
            [
                (7, Level::Converted),
                (12, Level::Converted),
                (23, Level::Converted)
            ]
        );
        // The output parses and converting it again changes nothing.
        let again = convert_text(&r.text, v("1.29"), false);
        assert!(!again.changed && again.reports.is_empty());
    }

    #[test]
    fn text_reports_bad_documents_and_converts_lists_and_json() {
        let text = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: a}\n---\nkind: [\n---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\n";
        let r = convert_text(text, v("1.29"), false);
        assert!(r.changed && r.unparsable);
        assert_eq!((r.converted, r.failed), (1, 2));
        assert!(r.text.starts_with("apiVersion: batch/v1\n"));
        assert!(r.text.ends_with("---\nkind: [\n---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\n"));
        let errors: Vec<u32> = r
            .reports
            .iter()
            .filter(|x| x.level == Level::Error)
            .map(|x| x.line)
            .collect();
        assert_eq!(errors, [5, 7]);

        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1beta1\n  kind: CronJob\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n";
        let r = convert_text(list, v("1.29"), false);
        assert_eq!(r.text, list.replace("batch/v1beta1", "batch/v1"));
        assert_eq!(r.reports[0].line, 4);

        let json = "{\n  \"apiVersion\": \"extensions/v1beta1\",\n  \"kind\": \"Deployment\",\n  \"metadata\": {\"name\": \"web\"},\n  \"spec\": {\"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}}}}\n}\n";
        let r = convert_text(json, v("1.29"), true);
        let back: serde_json::Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(back["apiVersion"], "apps/v1");
        assert_eq!(back["spec"]["selector"]["matchLabels"]["app"], "web");
    }
}
