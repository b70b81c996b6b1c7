//! Factoring: the instances whose objects have the same shape become one template set, the
//! anti-unification of their objects. A leaf equal in every instance stays in the template; a
//! leaf that is the instance's name, namespace or environment (or text around them) becomes an
//! expression; every other difference is a hole, a value named from its key path. A set with one
//! instance is that instance's objects kept verbatim.

use std::fmt::Write as _;

use indexmap::IndexMap;

use crate::source::Loc;
use crate::yaml::{Node, Value};

/// What a template leaf can refer to besides values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    /// The service (instance) name.
    pub service: String,
    /// The environment name.
    pub env: String,
    /// The environment's namespace.
    pub namespace: String,
}

/// A piece of an abstracted string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Part {
    Lit(String),
    Service,
    Namespace,
    Env,
}

/// A template tree.
#[derive(Debug, Clone)]
pub enum Tmpl {
    /// A scalar written as is.
    Lit(Node),
    /// A Jinja expression (without braces).
    Expr(String),
    /// A value: the index of a [`Hole`].
    Hole(usize),
    /// A mapping entry or list item only some instances have: the [`Hole`] holding it, written
    /// inside `{% if values.x is defined %}`.
    Optional(usize),
    /// A mapping.
    Map(Vec<(String, Tmpl)>),
    /// A sequence.
    Seq(Vec<Tmpl>),
}

/// A leaf or subtree that differs between the instances of a set.
#[derive(Debug, Clone)]
pub struct Hole {
    /// Key path words (map keys; list items by their `name` or index).
    pub path: Vec<String>,
    /// The value in each member, in member order; `None` where the member takes the default.
    pub values: Vec<Option<Node>>,
    /// The expression most members have here, when few differ: the template falls back to it
    /// and only the others get a value.
    pub default: Option<String>,
    /// The values name, once named.
    pub name: String,
    /// It holds a secret (it goes to a `*.sops.yaml` twin, never into a template).
    pub secret: bool,
}

/// Text that Jinja would read as a tag opener: never left in a template as literal text.
fn has_jinja(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Split `s` around whole-word occurrences of the context's names.
fn abstract_str(s: &str, ctx: &Ctx) -> Vec<Part> {
    let mut parts = vec![Part::Lit(s.to_string())];
    let names = [
        (ctx.service.as_str(), Part::Service),
        (ctx.namespace.as_str(), Part::Namespace),
        (ctx.env.as_str(), Part::Env),
    ];
    for (name, part) in names {
        if name.len() < 2 {
            continue;
        }
        let mut next = Vec::new();
        for p in parts {
            let Part::Lit(text) = p else {
                next.push(p);
                continue;
            };
            let mut rest = text.as_str();
            let mut done = String::new();
            while let Some(i) = rest.find(name) {
                let before = rest[..i].chars().last().or_else(|| done.chars().last());
                let after = rest[i + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
                if word(before) || word(after) {
                    done.push_str(&rest[..i + name.len()]);
                } else {
                    done.push_str(&rest[..i]);
                    if !done.is_empty() {
                        next.push(Part::Lit(std::mem::take(&mut done)));
                    }
                    next.push(part.clone());
                }
                rest = &rest[i + name.len()..];
            }
            done.push_str(rest);
            if !done.is_empty() {
                next.push(Part::Lit(done));
            }
        }
        parts = next;
    }
    parts
}

/// `t` as a Jinja string literal: quotes, backslashes and control characters escaped, and the
/// braces too, so no `{{`, `{%` or `}}` appears in the template text.
fn jinja_string(t: &str) -> String {
    let mut out = String::from("\"");
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '{' || c == '}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The expression for abstracted parts.
fn expr_of(parts: &[Part]) -> String {
    let pieces: Vec<String> = parts
        .iter()
        .map(|p| match p {
            Part::Service => "service.name".to_string(),
            Part::Namespace => "env.namespace".to_string(),
            Part::Env => "env.name".to_string(),
            Part::Lit(t) => jinja_string(t),
        })
        .collect();
    pieces.join(" ~ ")
}

/// Whether the leaf at `path` (the object's kind first) holds a secret that a template must
/// never spell: Secret `data`/`stringData`, a secret-looking key, a `{name: DB_PASSWORD, value}`
/// variable, a URL with a password.
fn secret_leaf(path: &[String], node: &Node) -> bool {
    let Value::Str(text) = &node.value else {
        return false;
    };
    let n = path.len();
    (path.first().is_some_and(|k| k == "secret")
        && path
            .get(1)
            .is_some_and(|k| k == "data" || k == "stringData"))
        || path.last().is_some_and(|k| crate::secret::is_secret_key(k))
        || (n >= 2 && path[n - 1] == "value" && crate::secret::is_secret_key(&path[n - 2]))
        || crate::secret::mask_url_password(text).is_some()
}

/// Whether a hole at `path` holding `nodes` is a secret: anything under a Secret's `data` or
/// `stringData` (whatever its type, a whole map included), or a value `secret_leaf` or the
/// secret module finds secret. Every hole is decided here, so no secret reaches a plain file.
fn secret_hole<'a>(path: &[String], mut nodes: impl Iterator<Item = &'a Node>) -> bool {
    let under_secret_data = path.first().is_some_and(|k| k == "secret")
        && path
            .get(1)
            .is_some_and(|k| k == "data" || k == "stringData");
    under_secret_data
        || nodes.any(|n| {
            secret_leaf(path, n)
                || crate::secret::has_other_secrets(n)
                || !crate::secret::secrets_in(n).is_empty()
        })
}

/// Anti-unify the nodes of every member at one place.
pub fn unify(nodes: &[&Node], ctxs: &[Ctx], path: &mut Vec<String>, holes: &mut Vec<Hole>) -> Tmpl {
    let first = nodes[0];
    if nodes.iter().any(|n| secret_leaf(path, n)) {
        holes.push(Hole {
            path: path.clone(),
            values: nodes.iter().map(|n| Some(plain(n))).collect(),
            default: None,
            name: String::new(),
            secret: true,
        });
        return Tmpl::Hole(holes.len() - 1);
    }
    match &first.value {
        Value::Map(m0) => {
            let same_keys = nodes.iter().all(|n| match &n.value {
                Value::Map(m) => m.len() == m0.len() && m0.keys().all(|k| m.contains_key(k)),
                _ => false,
            });
            if same_keys {
                let mut out = Vec::new();
                for k in m0.keys() {
                    let children: Vec<&Node> = nodes.iter().filter_map(|n| n.get(k)).collect();
                    path.push(k.clone());
                    out.push((k.clone(), unify(&children, ctxs, path, holes)));
                    path.pop();
                }
                return Tmpl::Map(out);
            }
            let keyed: Option<Vec<Vec<(String, &Node)>>> = nodes
                .iter()
                .map(|n| match &n.value {
                    Value::Map(m) => Some(m.iter().map(|(k, v)| (k.clone(), v)).collect()),
                    _ => None,
                })
                .collect();
            if let Some(t) = keyed.and_then(|k| unify_keyed(&k, false, ctxs, path, holes)) {
                return t;
            }
        }
        Value::Seq(s0) => {
            let same_len = nodes
                .iter()
                .all(|n| matches!(&n.value, Value::Seq(s) if s.len() == s0.len()));
            if same_len {
                let mut out = Vec::new();
                for i in 0..s0.len() {
                    let children: Vec<&Node> = nodes
                        .iter()
                        .filter_map(|n| match &n.value {
                            Value::Seq(s) => s.get(i),
                            _ => None,
                        })
                        .collect();
                    let named = children[0]
                        .get_str("name")
                        .filter(|n| children.iter().all(|c| c.get_str("name") == Some(n)));
                    path.push(named.map_or_else(|| i.to_string(), str::to_string));
                    out.push(unify(&children, ctxs, path, holes));
                    path.pop();
                }
                return Tmpl::Seq(out);
            }
            if let Some(t) =
                named_items(nodes).and_then(|k| unify_keyed(&k, true, ctxs, path, holes))
            {
                return t;
            }
        }
        Value::Str(_) => {
            let abstracted: Vec<Vec<Part>> = nodes
                .iter()
                .zip(ctxs)
                .map(|(n, c)| match &n.value {
                    Value::Str(s) => abstract_str(s, c),
                    _ => Vec::new(),
                })
                .collect();
            if abstracted
                .iter()
                .all(|a| !a.is_empty() && *a == abstracted[0])
            {
                return match abstracted[0].as_slice() {
                    [Part::Lit(s)] if !has_jinja(s) => Tmpl::Lit(plain(first)),
                    parts => Tmpl::Expr(expr_of(parts)),
                };
            }
        }
        _ => {
            if nodes.iter().all(|n| n.value == first.value) {
                return Tmpl::Lit(plain(first));
            }
        }
    }
    let (default, values) = match majority(nodes, ctxs) {
        Some((expr, usual)) => (
            Some(expr),
            nodes
                .iter()
                .zip(usual)
                .map(|(n, u)| (!u).then(|| plain(n)))
                .collect(),
        ),
        None => (None, nodes.iter().map(|n| Some(plain(n))).collect()),
    };
    holes.push(Hole {
        secret: secret_hole(path, nodes.iter().copied()),
        path: path.clone(),
        values,
        default,
        name: String::new(),
    });
    Tmpl::Hole(holes.len() - 1)
}

/// Each member's list items by their `name`, when every item is a mapping with a unique
/// string `name`.
fn named_items<'a>(nodes: &[&'a Node]) -> Option<Vec<Vec<(String, &'a Node)>>> {
    nodes
        .iter()
        .map(|n| {
            let Value::Seq(items) = &n.value else {
                return None;
            };
            let mut out: Vec<(String, &Node)> = Vec::new();
            for i in items {
                let name = i.get_str("name")?;
                if out.iter().any(|(k, _)| k == name) {
                    return None;
                }
                out.push((name.to_string(), i));
            }
            Some(out)
        })
        .collect()
}

/// The keys of every member in one order each member's own order follows (`ordered`: lists),
/// or `None` when two members disagree on an order.
fn union_order(keyed: &[Vec<(String, &Node)>], ordered: bool) -> Option<Vec<String>> {
    let mut union: Vec<String> = Vec::new();
    for list in keyed {
        let mut last: Option<usize> = None;
        for (k, _) in list {
            match union.iter().position(|u| u == k) {
                Some(i) => {
                    if ordered && last.is_some_and(|l| i <= l) {
                        return None;
                    }
                    last = Some(i);
                }
                None => {
                    let at = if ordered {
                        last.map_or(0, |l| l + 1)
                    } else {
                        union.len()
                    };
                    union.insert(at, k.clone());
                    last = Some(at);
                }
            }
        }
    }
    Some(union)
}

/// Unify mappings with different keys, or lists of named items of different lengths: what
/// every member has is unified; what only some have is an optional value. `None` when that
/// cannot reproduce every member (no element they all have, an order they disagree on, a
/// `null` that a values layer would read as "delete").
fn unify_keyed(
    keyed: &[Vec<(String, &Node)>],
    is_seq: bool,
    ctxs: &[Ctx],
    path: &mut Vec<String>,
    holes: &mut Vec<Hole>,
) -> Option<Tmpl> {
    let union = union_order(keyed, is_seq)?;
    let at = |list: &[(String, &'_ Node)], k: &str| -> Option<Node> {
        list.iter()
            .find(|(key, _)| key == k)
            .map(|(_, n)| (*n).clone())
    };
    let column = |k: &str| -> Vec<Option<Node>> { keyed.iter().map(|l| at(l, k)).collect() };
    let mut common = 0;
    for k in &union {
        let col = column(k);
        if col.iter().all(Option::is_some) {
            common += 1;
        } else if col.iter().flatten().any(|n| n.value == Value::Null) {
            return None;
        }
    }
    if common == 0 {
        return None;
    }
    let mut items: Vec<(String, Tmpl)> = Vec::new();
    for k in &union {
        let col = column(k);
        path.push(k.clone());
        let t = if col.iter().all(Option::is_some) {
            let children: Vec<Node> = col.into_iter().flatten().collect();
            let refs: Vec<&Node> = children.iter().collect();
            unify(&refs, ctxs, path, holes)
        } else {
            holes.push(Hole {
                path: path.clone(),
                values: col.iter().map(|n| n.as_ref().map(plain)).collect(),
                default: None,
                name: String::new(),
                secret: secret_hole(path, col.iter().flatten()),
            });
            Tmpl::Optional(holes.len() - 1)
        };
        path.pop();
        items.push((k.clone(), t));
    }
    Some(if is_seq {
        Tmpl::Seq(items.into_iter().map(|(_, t)| t).collect())
    } else {
        Tmpl::Map(items)
    })
}

/// When at least three quarters of the members agree on a value a template can spell (text
/// around the names, a number, a boolean, an empty collection), that expression and which
/// members have it.
fn majority(nodes: &[&Node], ctxs: &[Ctx]) -> Option<(String, Vec<bool>)> {
    let keys: Vec<(String, Option<String>)> = nodes
        .iter()
        .zip(ctxs)
        .map(|(n, c)| match &n.value {
            Value::Str(s) => {
                let parts = abstract_str(s, c);
                (format!("{parts:?}"), Some(expr_of(&parts)))
            }
            Value::Int(i) => (format!("i{i}"), Some(i.to_string())),
            Value::Bool(b) => (format!("b{b}"), Some(b.to_string())),
            Value::Map(m) if m.is_empty() => ("{}".into(), Some("{}".into())),
            Value::Seq(q) if q.is_empty() => ("[]".into(), Some("[]".into())),
            _ => (serde_json::to_string(n).unwrap_or_default(), None),
        })
        .collect();
    let mut count: IndexMap<&str, usize> = IndexMap::new();
    for (k, _) in &keys {
        *count.entry(k.as_str()).or_default() += 1;
    }
    let (best, size) = count.into_iter().max_by_key(|(_, c)| *c)?;
    let outliers = nodes.len() - size;
    if size < 2 || outliers == 0 || outliers * 4 > nodes.len() {
        return None;
    }
    let usual: Vec<bool> = keys.iter().map(|(k, _)| k == best).collect();
    // An outlier `null` would delete the key in its layer and so take the default.
    if nodes
        .iter()
        .zip(&usual)
        .any(|(n, u)| !u && n.value == Value::Null)
    {
        return None;
    }
    let expr = keys.iter().find(|(k, _)| k == best)?.1.clone()?;
    Some((expr, usual))
}

/// A copy of `node` with no locations (so equal values compare equal).
#[must_use]
pub fn plain(node: &Node) -> Node {
    let value = match &node.value {
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        Value::Seq(s) => Value::Seq(s.iter().map(plain).collect()),
        v => v.clone(),
    };
    Node::new(value, Loc::default())
}

/// One value for holes that hold the same thing in every member (the version label on five
/// objects of a set): the templates then read one values key. The shortest key path names it.
pub fn merge_equal(holes: &mut Vec<Hole>, templates: &mut [&mut Tmpl]) {
    let mut first_of: IndexMap<String, usize> = IndexMap::new();
    let mut target: Vec<usize> = Vec::with_capacity(holes.len());
    for (i, h) in holes.iter().enumerate() {
        let key = format!(
            "{}|{:?}|{}",
            serde_json::to_string(&h.values).unwrap_or_default(),
            h.default,
            h.secret
        );
        let t = *first_of.entry(key).or_insert(i);
        target.push(t);
    }
    // Keep one hole per group, renumbered in order; the shortest path names it.
    let kept: Vec<usize> = first_of.values().copied().collect();
    let mut new_index = vec![0; holes.len()];
    for (n, k) in kept.iter().enumerate() {
        new_index[*k] = n;
    }
    let mut merged: Vec<Hole> = kept.iter().map(|k| holes[*k].clone()).collect();
    for (i, h) in holes.iter().enumerate() {
        let m = &mut merged[new_index[target[i]]];
        if h.path.len() < m.path.len() {
            m.path.clone_from(&h.path);
        }
    }
    let map: Vec<usize> = target.iter().map(|t| new_index[*t]).collect();
    for t in templates.iter_mut() {
        renumber(t, &map);
    }
    *holes = merged;
}

fn renumber(t: &mut Tmpl, map: &[usize]) {
    match t {
        Tmpl::Hole(i) | Tmpl::Optional(i) => *i = map[*i],
        Tmpl::Map(m) => m.iter_mut().for_each(|(_, v)| renumber(v, map)),
        Tmpl::Seq(s) => s.iter_mut().for_each(|v| renumber(v, map)),
        Tmpl::Lit(_) | Tmpl::Expr(_) => {}
    }
}

/// Values names the built-in `_env` templates or kiln itself read: a hole never takes one.
const RESERVED: [&str; 11] = [
    "template",
    "enabled",
    "patches",
    "variants",
    "eureka",
    "expose",
    "ingressNginx",
    "logging",
    "teams",
    "namespace",
    "service",
];

/// `["spec", "template", "app", "image"]`'s last `n` words as a camelCase identifier.
fn camel(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        for piece in w.split(|c: char| !c.is_ascii_alphanumeric()) {
            // `SPRING_DATASOURCE_URL` reads as `springDatasourceUrl`.
            let lower;
            let piece = if piece.chars().any(|c| c.is_ascii_lowercase()) {
                piece
            } else {
                lower = piece.to_ascii_lowercase();
                &lower
            };
            let mut cs = piece.chars();
            if let Some(c) = cs.next() {
                if out.is_empty() {
                    out.push(c.to_ascii_lowercase());
                } else {
                    out.push(c.to_ascii_uppercase());
                }
                out.extend(cs);
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'v');
    }
    out
}

/// Name every hole from its key path: the shortest path suffix no other hole of the set shares.
pub fn name_holes(holes: &mut [Hole], taken: &[String]) {
    let mut len: Vec<usize> = vec![1; holes.len()];
    loop {
        let names: Vec<String> = holes
            .iter()
            .zip(&len)
            .map(|(h, l)| {
                let from = h.path.len().saturating_sub(*l);
                camel(&h.path[from..])
            })
            .collect();
        let mut changed = false;
        for i in 0..holes.len() {
            let clash = RESERVED.contains(&names[i].as_str())
                || taken.contains(&names[i])
                || names
                    .iter()
                    .enumerate()
                    .any(|(j, n)| j != i && *n == names[i]);
            if clash && len[i] <= holes[i].path.len() {
                len[i] += 1;
                changed = true;
            }
        }
        if !changed {
            let mut used: Vec<String> = taken.to_vec();
            for (h, n) in holes.iter_mut().zip(names) {
                let mut name = n.clone();
                let mut k = 2;
                while RESERVED.contains(&name.as_str()) || used.contains(&name) {
                    name = format!("{n}{k}");
                    k += 1;
                }
                used.push(name.clone());
                h.name = name;
            }
            return;
        }
    }
}

/// The YAML text of a template tree, with `{{ ... }}` where expressions and holes are.
pub fn template_text(t: &Tmpl, holes: &[Hole]) -> Result<String, String> {
    let mut exprs = Vec::new();
    let node = placeholders(t, holes, &mut exprs);
    let mut text = crate::yaml::emit(&node)?;
    for (i, e) in exprs.iter().enumerate().rev() {
        text = text.replace(&marker(i), &format!("{{{{ {e} }}}}"));
    }
    if !text.contains(IF_MARKER) {
        return Ok(text);
    }
    // An optional entry or item: its one line, between tag lines that trim_blocks and
    // lstrip_blocks take out of the output.
    let mut out = String::new();
    for line in text.lines() {
        let Some(at) = line.find(IF_MARKER) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let digits: String = line[at + IF_MARKER.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let i: usize = digits
            .parse()
            .map_err(|_| format!("bad marker in `{line}`"))?;
        let name = &holes[i].name;
        let indent = &line[..line.len() - line.trim_start().len()];
        let marker = format!("{IF_MARKER}{digits}-x");
        out.push_str(&format!("{indent}{{% if values.{name} is defined %}}\n"));
        out.push_str(&line.replace(&marker, &format!("{{{{ values.{name} }}}}")));
        out.push('\n');
        out.push_str(&format!("{indent}{{% endif %}}\n"));
    }
    Ok(out)
}

/// The placeholder of an optional value in the emitted YAML (followed by its hole's index).
const IF_MARKER: &str = "kiln-adopt-if-";

fn marker(i: usize) -> String {
    format!("kiln-adopt-{i:07}-x")
}

fn placeholders(t: &Tmpl, holes: &[Hole], exprs: &mut Vec<String>) -> Node {
    let value = match t {
        Tmpl::Lit(n) => return n.clone(),
        Tmpl::Expr(e) => {
            exprs.push(e.clone());
            Value::Str(marker(exprs.len() - 1))
        }
        Tmpl::Hole(i) => {
            let h = &holes[*i];
            let nullable = h.values.iter().flatten().any(|v| v.value == Value::Null);
            exprs.push(if let Some(d) = &h.default {
                format!("values.{} | default({d})", h.name)
            } else if nullable {
                format!("values.{} | default(none)", h.name)
            } else {
                format!("values.{}", h.name)
            });
            Value::Str(marker(exprs.len() - 1))
        }
        Tmpl::Optional(i) => Value::Str(format!("{IF_MARKER}{i:07}-x")),
        Tmpl::Map(m) => {
            let mut out = crate::yaml::Map::default();
            for (k, v) in m {
                out.insert(k.clone(), placeholders(v, holes, exprs));
            }
            Value::Map(out)
        }
        Tmpl::Seq(s) => Value::Seq(s.iter().map(|v| placeholders(v, holes, exprs)).collect()),
    };
    Node::new(value, Loc::default())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse_unlocated};

    /// `text` read as a manifest, without locations (for the adopt tests).
    pub(in crate::adopt) fn yaml(text: &str) -> Node {
        plain(&parse_unlocated(text, Dialect::Kube).unwrap())
    }

    fn ctx(s: &str, e: &str) -> Ctx {
        Ctx {
            service: s.into(),
            env: e.into(),
            namespace: e.into(),
        }
    }

    #[test]
    fn names_and_namespaces_become_expressions_at_word_bounds() {
        let parts = abstract_str("logs-dev for svc-1, not devx {\"", &ctx("svc-1", "dev"));
        assert_eq!(
            expr_of(&parts),
            r#""logs-" ~ env.namespace ~ " for " ~ service.name ~ ", not devx \u007b\"""#
        );
        assert_eq!(
            abstract_str("latest", &ctx("a", "test")),
            vec![Part::Lit("latest".into())]
        );
    }

    #[test]
    fn differing_leaves_become_named_holes() {
        let a = parse_unlocated("spec: {replicas: 1, name: aa, image: x}", Dialect::Kube).unwrap();
        let b = parse_unlocated("spec: {replicas: 3, name: bb, image: x}", Dialect::Kube).unwrap();
        let mut holes = Vec::new();
        let t = unify(
            &[&a, &b],
            &[ctx("aa", "dev"), ctx("bb", "dev")],
            &mut Vec::new(),
            &mut holes,
        );
        name_holes(&mut holes, &[]);
        assert_eq!(holes.len(), 1);
        let text = template_text(&t, &holes).unwrap();
        assert_eq!(
            text,
            "spec:\n  replicas: {{ values.replicas }}\n  name: {{ service.name }}\n  image: x\n"
        );
    }

    #[test]
    fn a_few_outliers_get_values_and_the_rest_the_default() {
        let docs: Vec<Node> = ["aa", "bb", "cc", "dd"]
            .iter()
            .map(|s| {
                let label = if *s == "dd" { "shared" } else { s };
                parse_unlocated(&format!("labels: {{name: {label}}}"), Dialect::Kube).unwrap()
            })
            .collect();
        let nodes: Vec<&Node> = docs.iter().collect();
        let ctxs: Vec<Ctx> = ["aa", "bb", "cc", "dd"]
            .iter()
            .map(|s| ctx(s, "dev"))
            .collect();
        let mut holes = Vec::new();
        let t = unify(&nodes, &ctxs, &mut Vec::new(), &mut holes);
        name_holes(&mut holes, &[]);
        assert_eq!(holes[0].values.iter().filter(|v| v.is_some()).count(), 1);
        let text = template_text(&t, &holes).unwrap();
        assert_eq!(
            text,
            "labels:\n  name: {{ values.name | default(service.name) }}\n"
        );
    }

    #[test]
    fn entries_only_some_have_are_optional() {
        let a = parse_unlocated(
            "env: [{name: A, value: x}, {name: B, value: y}]\nextra: 1",
            Dialect::Kube,
        )
        .unwrap();
        let b = parse_unlocated("env: [{name: A, value: x}]", Dialect::Kube).unwrap();
        let mut holes = Vec::new();
        let t = unify(
            &[&a, &b],
            &[ctx("aa", "dev"), ctx("bb", "dev")],
            &mut Vec::new(),
            &mut holes,
        );
        name_holes(&mut holes, &[]);
        let text = template_text(&t, &holes).unwrap();
        assert_eq!(
            text,
            "env:\n- name: A\n  value: x\n{% if values.b is defined %}\n- {{ values.b }}\n{% endif %}\n{% if values.extra is defined %}\nextra: {{ values.extra }}\n{% endif %}\n"
        );
        assert!(holes.iter().all(|h| h.values[1].is_none()));
    }
}
