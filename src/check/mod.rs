//! Checks: everything kiln finds wrong in a Kubernetes object, as [`Finding`]s.
//!
//! One entry point, [`check_document`], runs for `kiln check` (rendered output, each document
//! against its environment's Kubernetes version) and `kiln lint` (any manifests): identity,
//! the strict JSON Schema of the kind at the version, and the rules in [`rules`]. Returns
//! findings and never prints.

pub mod finding;
pub mod import;
pub mod input;
pub mod lint;
pub mod once;
pub mod rule;
pub mod rules;
pub mod schema;

pub use finding::Finding;
pub use input::Document;
pub use schema::Catalog;

use crate::diagnostic::{Severity, did_you_mean};
use crate::kube::KubeVersion;
use crate::kube::pointer::dotted;
use crate::kube::pointer::segments;
use crate::manifest::ResourceId;
use crate::source::Loc;
use crate::yaml::{Node, Spot, Value};

/// Settings that change what is reported.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A kind with no schema is skipped instead of reported.
    pub skip_missing_schemas: bool,
    /// Also report what breaks between the target version and this one.
    pub upgrade_to: Option<KubeVersion>,
    /// Rule severities and allow-lists from `kiln.yaml`.
    pub lint: lint::LintConfig,
    /// Objects kiln itself renders on the node network on purpose (each environment's
    /// ingress-nginx controller): the `host-network` rule allows exactly these identities.
    pub host_network: Vec<ResourceId>,
}

/// The result of checking one document: its identity (when it has one) and its findings.
#[derive(Debug, Clone)]
pub struct Checked {
    /// `apps/v1 Deployment prod/order-service`, or the file and line for documents without one.
    pub resource: String,
    /// The file.
    pub file: String,
    /// Findings, in document order.
    pub findings: Vec<Finding>,
    /// True when no schema was found and `--skip-missing-schemas` skipped it.
    pub skipped: bool,
    /// Line of the document's start in the file (0 when not a document).
    pub line: u32,
    /// True when the document has a full identity (apiVersion, kind, name).
    pub identified: bool,
}

impl Checked {
    /// A result for a whole file (or folder), with one finding of `rule` that has no line.
    #[must_use]
    pub fn file_level(rule: &'static rule::Rule, file: &str, message: String) -> Checked {
        Checked {
            resource: file.to_string(),
            file: file.to_string(),
            findings: vec![Finding::new(rule, file, message)],
            skipped: false,
            line: 0,
            identified: false,
        }
    }
}

/// Check one document against Kubernetes `version`: the passes, in order (YAML, identity, API
/// lifecycle, schema, API-server and reviewer rules, then the configured severities and
/// suppressions), then each finding placed at its line and column. A document read without
/// locations is checked as is; only the places of its findings are looked up in its text.
#[must_use]
pub fn check_document(
    doc: &Document<'_>,
    version: KubeVersion,
    catalog: &Catalog,
    options: &Options,
) -> Checked {
    let mut out = passes(doc, version, catalog, options);
    if let Ok(node) = &doc.parsed {
        place(doc, node, &mut out.findings);
    }
    // A fleet's findings are kept until the report: without this, each object's list keeps
    // room for four (a `Vec`'s first allocation), over a megabyte at 1,000 services, and each
    // new page of it is a page fault (README, Performance).
    out.findings.shrink_to_fit();
    out
}

/// The passes of [`check_document`], with findings not yet placed.
fn passes(
    doc: &Document<'_>,
    version: KubeVersion,
    catalog: &Catalog,
    options: &Options,
) -> Checked {
    let mut out = Checked {
        resource: String::new(),
        file: doc.file.to_string(),
        findings: Vec::new(),
        skipped: false,
        line: doc.line_base + 1,
        identified: false,
    };
    let node = match &doc.parsed {
        Ok(n) => n,
        Err(e) => {
            let line = doc.line_base + e.line.max(1);
            out.resource = format!("{}:{line}", doc.file);
            out.findings.push(yaml_error(doc, e, line, version));
            return out;
        }
    };
    let at = Place {
        doc,
        node,
        version,
        resource: None,
        keyed_secrets: std::cell::OnceCell::new(),
        secrets: std::cell::OnceCell::new(),
    };
    let Some((api_version, kind)) = identity(&at, &mut out) else {
        return out;
    };
    let at = Place {
        resource: Some(out.resource.clone()),
        ..at
    };
    API_TABLE.get_or_make(|| {
        let _ = crate::kube::apis::known(api_version, kind);
    });
    let removed = api_lifecycle(&at, api_version, kind, options, &mut out.findings);
    let (schema_version, version_note) = catalog.resolve(version);
    // A removed API gets its one clear finding above, never a second `no schema` one.
    if !removed {
        // Checking an older version against the nearest newer schemas: an API that version
        // still serves (per the removal table) has no schema there, which is not the object's
        // fault.
        let served_then_gone =
            version_note.is_some() && crate::kube::apis::known(api_version, kind);
        out.skipped = schema_pass(
            &at,
            catalog,
            schema_version,
            (api_version, kind),
            options.skip_missing_schemas || served_then_gone,
            &mut out.findings,
        );
    }
    // API-server rules, then the reviewer and deprecated-field rules. An object kiln renders
    // on the node network on purpose is allowed exactly by identity.
    let host_network_expected = !options.host_network.is_empty()
        && ResourceId::of(node).is_ok_and(|id| options.host_network.contains(&id));
    for (rule, pointer, message) in rules::check(node, kind).into_iter().chain(lint::review(
        node,
        Some(doc.chunk()),
        kind,
        &options.lint,
        host_network_expected,
    )) {
        out.findings.push(at.finding(rule, &pointer, message));
    }
    configure(doc, node, &options.lint, &mut out.findings);
    if let Some(note) = version_note {
        for f in &mut out.findings {
            if f.rule == rule::SCHEMA.id || f.rule == rule::NO_SCHEMA.id {
                f.message.push_str(&format!(" ({note})"));
            }
        }
    }
    out
}

/// A finding for a document that is not valid YAML.
fn yaml_error(
    doc: &Document<'_>,
    e: &crate::yaml::ParseError,
    line: u32,
    version: KubeVersion,
) -> Finding {
    let rule = if e.duplicate_key {
        &rule::DUPLICATE_KEY
    } else {
        &rule::YAML_SYNTAX
    };
    Finding {
        line: Some(line),
        column: Some(e.col.max(1)),
        template: doc.template.as_deref().map(str::to_string),
        kube_version: Some(version.to_string()),
        ..Finding::new(rule, &doc.file, format!("not valid YAML: {}", e.message))
    }
}

/// The API table is read on first use (3 ms): the first worker to check an object reads it,
/// the others do other work meanwhile ([`once::Once`]).
static API_TABLE: once::Once<()> = once::Once::new();

/// Where findings of one parsed document point: the document, its tree, the version checked
/// against and the object's identity once known.
struct Place<'a> {
    doc: &'a Document<'a>,
    node: &'a Node,
    version: KubeVersion,
    resource: Option<String>,
    /// The document's secret values a message without `://` can quote, gathered once, when
    /// the first such finding needs them.
    keyed_secrets: std::cell::OnceCell<Vec<String>>,
    /// All of them, with the strings that hold a URL password: for a message with `://`.
    secrets: std::cell::OnceCell<Vec<String>>,
}

impl Place<'_> {
    /// A finding of `rule` at the JSON `pointer` in the document (placed by [`place`]).
    fn finding(&self, rule: &'static rule::Rule, pointer: &str, message: String) -> Finding {
        // A message that quotes a secret value (a schema error on `env[0].value` of a
        // DB_PASSWORD) says `(hidden)` instead.
        let secrets = if crate::secret::may_quote_url(&message) {
            self.secrets
                .get_or_init(|| crate::secret::secrets_in(self.node))
        } else {
            self.keyed_secrets
                .get_or_init(|| crate::secret::keyed_secrets_in(self.node))
        };
        let message = crate::secret::hide_secrets(message, secrets);
        Finding {
            resource: self.resource.clone(),
            path: (!pointer.is_empty()).then(|| dotted(pointer)),
            pointer: Some(pointer.to_string()),
            template: self.doc.template.as_deref().map(str::to_string),
            kube_version: Some(self.version.to_string()),
            ..Finding::new(rule, &self.doc.file, message)
        }
    }
}

/// The line and column of each finding made at a pointer: the key of the offending field, or
/// the parent object when the field is missing (or the document, for the empty pointer). For
/// rendered output they come from where the emitter wrote the nodes ([`crate::yaml::placed`]);
/// a document read with locations has them in its tree; any other is looked up in its text
/// ([`crate::yaml::locate`]), and only one that walk cannot read is parsed again with locations.
fn place(doc: &Document<'_>, node: &Node, findings: &mut [Finding]) {
    let todo: Vec<usize> = (0..findings.len())
        .filter(|&i| findings[i].line.is_none() && findings[i].pointer.is_some())
        .collect();
    if todo.is_empty() {
        return;
    }
    let pointers: Vec<&str> = todo
        .iter()
        .map(|&i| findings[i].pointer.as_deref().unwrap_or_default())
        .collect();
    let pointed = |spots: Vec<Spot>| -> Vec<Loc> {
        spots
            .into_iter()
            .zip(&pointers)
            .map(|(s, p)| s.pointed(p.is_empty()))
            .collect()
    };
    let in_tree = |tree: &Node| -> Vec<Loc> {
        pointed(pointers.iter().map(|p| spot_in_tree(tree, p)).collect())
    };
    let from_emit = doc.emitted.as_ref().and_then(|(body, placed)| {
        let chunk = doc.chunk();
        let yaml = chunk.get(*body..)?;
        let paths: Vec<Vec<std::borrow::Cow<'_, str>>> =
            pointers.iter().map(|p| segments(p).collect()).collect();
        let header_lines = u32::try_from(crate::source::line_feeds(&chunk[..*body])).ok()?;
        let spots = placed.spots(node, yaml, &paths)?;
        Some(
            spots
                .into_iter()
                .map(|l| Loc {
                    line: l.line + header_lines,
                    offset: l.offset + u32::try_from(*body).unwrap_or(0),
                    ..l
                })
                .collect::<Vec<Loc>>(),
        )
    });
    let spots = if let Some(spots) = from_emit {
        spots
    } else if doc.has_locations {
        in_tree(node)
    } else {
        // An object of a `kind: List` is at `/items/<i>` of its document's text.
        let within: Vec<String> = doc
            .list_index
            .map(|i| vec!["items".to_string(), i.to_string()])
            .unwrap_or_default();
        let paths: Vec<Vec<String>> = pointers
            .iter()
            .map(|p| {
                within
                    .iter()
                    .cloned()
                    .chain(segments(p).map(std::borrow::Cow::into_owned))
                    .collect()
            })
            .collect();
        crate::yaml::locate(doc.chunk(), &paths).map_or_else(
            || match doc.located_tree() {
                Ok(tree) => in_tree(&tree),
                Err(_) => in_tree(node),
            },
            pointed,
        )
    };
    for (i, loc) in todo.into_iter().zip(spots) {
        let (line, column, _) = doc.position(loc);
        findings[i].line = Some(line);
        findings[i].column = Some(column);
    }
}

/// The object's apiVersion and kind, with its identity recorded in `out`; `None` (and a
/// finding) when it is not an object or has no type.
fn identity<'a>(at: &Place<'a>, out: &mut Checked) -> Option<(&'a str, &'a str)> {
    let node = at.node;
    let here = || {
        format!(
            "{}:{}",
            at.doc.file,
            at.doc.line_base + node.loc.line.max(1)
        )
    };
    if !matches!(node.value, Value::Map(_)) {
        out.resource = here();
        out.findings.push(at.finding(
            &rule::NOT_AN_OBJECT,
            "",
            format!(
                "a Kubernetes object must be a mapping, found a {}",
                node.type_name()
            ),
        ));
        return None;
    }
    let (Some(api_version), Some(kind)) = (node.get_str("apiVersion"), node.get_str("kind")) else {
        out.resource = here();
        let missing = if node.get_str("apiVersion").is_none() {
            "`apiVersion`"
        } else {
            "`kind`"
        };
        out.findings.push(at.finding(
            &rule::MISSING_TYPE,
            "",
            format!("missing {missing}: every object needs `apiVersion` and `kind` (strings)"),
        ));
        return None;
    };
    let shown = ResourceId::shown(node);
    out.identified = shown.is_some();
    out.resource = shown.unwrap_or_else(|| format!("{api_version} {kind}"));
    if let Err(why) = crate::kube::names::api_version(api_version) {
        let mut f = at.finding(
            &rule::API_VERSION,
            "/apiVersion",
            format!("apiVersion `{api_version}` {why}"),
        );
        f.resource = Some(out.resource.clone());
        out.findings.push(f);
    }
    Some((api_version, kind))
}

/// Removed and deprecated APIs, as the object is and as it was last applied, and what breaks
/// on the way to `--upgrade-to`. True when the target version no longer serves the object.
fn api_lifecycle(
    at: &Place<'_>,
    api_version: &str,
    kind: &str,
    options: &Options,
    findings: &mut Vec<Finding>,
) -> bool {
    use crate::kube::apis::{self, Status};
    let version = at.version;
    let api = || Some(format!("{api_version} {kind}"));
    let mut removed = false;
    match apis::status(api_version, kind, version) {
        Status::Removed(row) => {
            removed = true;
            findings.push(Finding {
                breaks_at: row.removed.clone(),
                api: api(),
                ..at.finding(
                    &rule::REMOVED_API,
                    "/apiVersion",
                    format!(
                        "{api_version} {kind} is not served by Kubernetes {version}: removed in {} (deprecated in {}); {}",
                        row.removed.as_deref().unwrap_or("?"),
                        row.deprecated,
                        row.advice()
                    ),
                )
            });
        }
        Status::Deprecated(row) => {
            let when = row.removed.as_deref().map_or_else(
                || "no removal is scheduled".to_string(),
                |r| format!("removed in {r}"),
            );
            findings.push(Finding {
                api: api(),
                ..at.finding(
                    &rule::DEPRECATED_API,
                    "/apiVersion",
                    format!(
                        "{api_version} {kind} is deprecated since {} and {when}; {}",
                        row.deprecated,
                        row.advice()
                    ),
                )
            });
        }
        Status::Fine => {}
    }
    // What the cluster was last sent (kube-no-trouble reads the same annotation): a pipeline
    // that still applies an old apiVersion breaks on upgrade even if the stored object is new.
    if let Some((a, k, row)) = last_applied(at.node, api_version, version) {
        findings.push(at.finding(
            &rule::DEPRECATED_API,
            "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
            format!(
                "last applied as {a} {k} (deprecated in {}, removed in {}): whatever applies this object still writes the old apiVersion; {}",
                row.deprecated,
                row.removed.as_deref().unwrap_or("?"),
                row.advice()
            ),
        ));
    }
    if let Some(to) = options.upgrade_to.filter(|to| *to > version)
        && let Some(row) = apis::breaks_between(api_version, kind, version, to)
    {
        let at_version = row.removed.clone().unwrap_or_default();
        findings.push(Finding {
            breaks_at: Some(at_version.clone()),
            api: api(),
            upgrade: Some((version, to)),
            ..at.finding(
                &rule::REMOVED_API,
                "/apiVersion",
                format!(
                    "{api_version} {kind} breaks at {at_version} on the way from {version} to {to}; {}",
                    row.advice()
                ),
            )
        });
    }
    removed
}

/// The strict JSON Schema of the kind. True when the object was skipped for want of a schema
/// (only when `skip_missing`).
fn schema_pass(
    at: &Place<'_>,
    catalog: &Catalog,
    schema_version: KubeVersion,
    (api_version, kind): (&str, &str),
    skip_missing: bool,
    findings: &mut Vec<Finding>,
) -> bool {
    match catalog.validate(schema_version, api_version, kind, at.node) {
        schema::Outcome::Valid => false,
        schema::Outcome::NoSchema { .. } if skip_missing => true,
        schema::Outcome::NoSchema { suggestion } => {
            let mut msg = format!("no schema for {api_version} {kind} at {}", at.version);
            match suggestion {
                Some(s) => msg.push_str(&format!(": did you mean {s}?")),
                None => msg.push_str(": import its CRD with `kiln schemas import`, or skip such kinds with `--skip-missing-schemas`"),
            }
            findings.push(at.finding(&rule::NO_SCHEMA, "/kind", msg));
            false
        }
        schema::Outcome::Broken(e) => {
            findings.push(at.finding(&rule::NO_SCHEMA, "/kind", e));
            false
        }
        schema::Outcome::Invalid(violations) => {
            for v in violations {
                let mut message = v.message;
                if let Some(field) = &v.unknown_field {
                    let parent = v.pointer.rsplit_once('/').map_or("", |(p, _)| p);
                    let fields = catalog.fields_at(schema_version, api_version, kind, parent);
                    if let Some(s) = did_you_mean(field, fields.iter().map(String::as_str)) {
                        message.push_str(&format!(": did you mean `{s}`?"));
                    } else {
                        message.push_str(&format!(" in {api_version} {kind}"));
                    }
                } else if !v.pointer.is_empty() {
                    message = format!("{message} (at `{}`)", dotted(&v.pointer));
                }
                // A Secret's values never appear in a report.
                if kind == "Secret"
                    && (v.pointer.starts_with("/data/") || v.pointer.starts_with("/stringData/"))
                {
                    message = format!("invalid value at `{}` (value hidden)", dotted(&v.pointer));
                }
                findings.push(at.finding(&rule::SCHEMA, &v.pointer, message));
            }
            false
        }
    }
}

/// Configured severities, then suppressions (the annotation, or comments in the document or
/// its template).
fn configure(
    doc: &Document<'_>,
    node: &Node,
    config: &lint::LintConfig,
    findings: &mut Vec<Finding>,
) {
    // Most objects have nothing to configure, and their texts need no search.
    if findings.is_empty() {
        return;
    }
    let chunk = &doc.text[doc.offset..doc.end.min(doc.text.len())];
    let texts: Vec<&str> = std::iter::once(chunk)
        .chain(doc.template_source.as_deref())
        .collect();
    let suppressed = lint::suppressed(node, &texts);
    findings.retain_mut(|f| {
        if suppressed.iter().any(|s| s == f.rule) {
            return false;
        }
        match config.rules.get(f.rule) {
            Some(lint::Level::Off) => false,
            Some(lint::Level::Error) => {
                f.severity = Severity::Error;
                true
            }
            Some(lint::Level::Warning) => {
                f.severity = Severity::Warning;
                true
            }
            None => true,
        }
    });
}

/// The apiVersion and kind in `kubectl.kubernetes.io/last-applied-configuration` when they differ
/// from the object's and are deprecated or removed at `version`.
fn last_applied(
    node: &Node,
    api_version: &str,
    version: KubeVersion,
) -> Option<(String, String, &'static crate::kube::apis::Removal)> {
    let json = node
        .get("metadata")?
        .get("annotations")?
        .get_str("kubectl.kubernetes.io/last-applied-configuration")?;
    let applied: serde_json::Value = serde_json::from_str(json).ok()?;
    let a = applied.get("apiVersion")?.as_str()?;
    let k = applied.get("kind")?.as_str()?;
    if a == api_version {
        return None;
    }
    match crate::kube::apis::status(a, k, version) {
        crate::kube::apis::Status::Removed(row) | crate::kube::apis::Status::Deprecated(row) => {
            Some((a.to_string(), k.to_string(), row))
        }
        crate::kube::apis::Status::Fine => None,
    }
}

/// Where a located tree has the node at a JSON pointer, or its deepest existing parent.
fn spot_in_tree(root: &Node, pointer: &str) -> Spot {
    let mut node = root;
    for part in segments(pointer) {
        let next = match &node.value {
            Value::Map(m) => m.get(part.as_ref()),
            Value::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => {
                return Spot {
                    loc: node.loc,
                    key_loc: node.key_loc,
                    found: false,
                };
            }
        }
    }
    Spot {
        loc: node.loc,
        key_loc: node.key_loc,
        found: true,
    }
}

/// Flag objects defined twice in one set of inputs (same apiVersion, kind, namespace, name).
pub fn flag_duplicates(results: &mut [Checked]) {
    let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for r in results.iter_mut() {
        // Skipped kinds are not checked at all, duplicates included (as kubeconform does).
        if !r.identified || r.skipped {
            continue;
        }
        let here = format!("{}:{}", r.file, r.line);
        if let Some(prev) = first.get(&r.resource) {
            r.findings.push(Finding {
                resource: Some(r.resource.clone()),
                line: Some(r.line),
                column: Some(1),
                ..Finding::new(
                    &rule::DUPLICATE_RESOURCE,
                    &r.file,
                    format!("defined twice: first at {prev}; applying both keeps only the last"),
                )
            });
        } else {
            first.insert(r.resource.clone(), here);
        }
    }
}
