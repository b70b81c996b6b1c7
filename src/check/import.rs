//! `kiln schemas import`: Kubernetes OpenAPI documents and CustomResourceDefinitions turned into
//! schema-cache files.
//!
//! Three inputs are recognised by their content, whatever the file is called:
//!
//! - an OpenAPI v2 document (`kubectl get --raw /openapi/v2`): `swagger`/`definitions`;
//! - OpenAPI v3 documents (`/openapi/v3/apis/<group>/<version>`, one per group-version):
//!   `openapi`/`components.schemas`;
//! - CustomResourceDefinitions (`apiextensions.k8s.io`, v1 or v1beta1; YAML or JSON streams,
//!   `List`s).
//!
//! The output is what xtask writes for the embedded schemas (xtask/README.md): per Kubernetes
//! version an `index.json` (`apiVersion/Kind` -> file) and one self-contained, strict, gzipped
//! JSON Schema (draft 2020-12) per kind, with the referenced definitions under `$defs`. The
//! strictness rules are xtask/src/strict.rs's, applied to the API server's own OpenAPI instead of
//! k8s-openapi's schemars output, so an imported version and an embedded one give the same
//! verdicts (the differences that remain come from the two upstreams; see tests/schemas.rs).
//! This module never prints.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::check::schema;
use crate::kube::KubeVersion;
use crate::yaml::{self, Dialect};

/// The JSON Schema dialect of every written file.
pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
const DEFS_PREFIX: &str = "#/$defs/";

const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// apiextensions `JSON` (a CRD's `default`, `enum` items, `example`): any JSON value.
const JSON_ANY: [&str; 2] = [
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSON",
];
/// Objects whose content is free by design; they stay `{"type": "object"}`.
const FREE_FORM: [&str; 2] = [
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
];
/// Keywords that only annotate; dropped everywhere (`default` too: it validates nothing).
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "examples",
    "example",
    "$comment",
    "default",
    "externalDocs",
];
/// Request and watch types that carry a group-version-kind but are never written as manifests
/// (xtask does not generate them either).
const NOT_MANIFESTS: [&str; 2] = ["DeleteOptions", "WatchEvent"];

/// What one input file holds, recognised by its content.
#[derive(Debug)]
pub enum Content {
    /// An OpenAPI v2 (Swagger 2.0) document: `definitions`.
    OpenApiV2(Value),
    /// An OpenAPI v3 document: `components.schemas`.
    OpenApiV3(Value),
    /// CustomResourceDefinitions; `others` counts the documents beside them that are not CRDs.
    Crds {
        /// The CRDs, as JSON.
        crds: Vec<Value>,
        /// Documents in the same file that are not CRDs (skipped).
        others: usize,
    },
}

impl Content {
    /// How the content is named in messages.
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match self {
            Content::OpenApiV2(_) => "an OpenAPI v2 document",
            Content::OpenApiV3(_) => "an OpenAPI v3 document",
            Content::Crds { .. } => "CustomResourceDefinitions",
        }
    }
}

/// One recognised input file.
#[derive(Debug)]
pub struct Input {
    /// The file, as given or as found in a given folder.
    pub path: PathBuf,
    /// What it holds.
    pub content: Content,
}

/// Everything found under the given paths.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Recognised files, in a stable order (paths as given, folders sorted by name).
    pub inputs: Vec<Input>,
    /// Files found in folders that hold nothing importable, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Read and classify `paths`: files are read whatever their name; folders are searched for
/// `.json`, `.yaml` and `.yml` files. A file given by name that holds nothing importable is an
/// error; such a file found in a folder is skipped (and reported in [`Scanned::skipped`]).
pub fn scan(paths: &[PathBuf]) -> Result<Scanned, String> {
    // (path, given by name)
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
            {
                let entry = entry.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                let p = entry.path();
                let ext = p.extension().and_then(|x| x.to_str()).unwrap_or_default();
                if entry.file_type().is_file() && matches!(ext, "json" | "yaml" | "yml") {
                    files.push((p.to_path_buf(), false));
                }
            }
        } else if path.exists() {
            files.push((path.clone(), true));
        } else {
            return Err(format!("`{}` does not exist", path.display()));
        }
    }
    let classified: Vec<(PathBuf, bool, Result<Option<Content>, String>)> = files
        .into_par_iter()
        .map(|(p, given)| {
            let r = std::fs::read(&p)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|bytes| classify(&bytes));
            (p, given, r)
        })
        .collect();
    let mut out = Scanned::default();
    for (path, given, result) in classified {
        match result {
            Ok(Some(content)) => out.inputs.push(Input { path, content }),
            Ok(None) if given => {
                return Err(format!(
                    "`{}` is neither an OpenAPI v2 document, an OpenAPI v3 document nor CustomResourceDefinitions",
                    path.display()
                ));
            }
            Ok(None) => out.skipped.push((
                path,
                "no OpenAPI document and no CustomResourceDefinition".into(),
            )),
            Err(e) if given => return Err(format!("`{}`: {e}", path.display())),
            Err(e) => out.skipped.push((path, e)),
        }
    }
    Ok(out)
}

/// What a file holds: `Ok(None)` when it parses but holds nothing importable.
pub fn classify(bytes: &[u8]) -> Result<Option<Content>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let read_yaml = || -> Result<Vec<Value>, String> {
        yaml::parse_stream_unlocated(text, Dialect::Kube)
            .map_err(|e| format!("not valid YAML (line {}): {}", e.line, e.message))?
            .iter()
            .map(|n| serde_json::to_value(n).map_err(|e| e.to_string()))
            .collect()
    };
    // JSON first: OpenAPI documents are megabytes, much faster to read as JSON than as YAML. A
    // YAML flow mapping (`{kind: ...}`) also starts with `{`.
    let docs: Vec<Value> = if text.trim_start().starts_with('{') {
        match serde_json::from_str(text) {
            Ok(doc) => vec![doc],
            Err(e) => read_yaml().map_err(|_| format!("not valid JSON: {e}"))?,
        }
    } else {
        read_yaml()?
    };
    if let [doc] = docs.as_slice() {
        if doc.get("swagger").is_some()
            || (doc.get("definitions").is_some_and(Value::is_object) && doc.get("kind").is_none())
        {
            return Ok(Some(Content::OpenApiV2(
                docs.into_iter().next().unwrap_or_default(),
            )));
        }
        if doc.get("openapi").is_some()
            && doc
                .pointer("/components/schemas")
                .is_some_and(Value::is_object)
        {
            return Ok(Some(Content::OpenApiV3(
                docs.into_iter().next().unwrap_or_default(),
            )));
        }
    }
    let mut crds = Vec::new();
    let mut others = 0;
    for doc in docs {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if is_crd(&doc) {
            crds.push(doc);
        } else if kind == "List" || kind == "CustomResourceDefinitionList" {
            let items = doc.get("items").and_then(Value::as_array).cloned();
            for item in items.unwrap_or_default() {
                if is_crd(&item) {
                    crds.push(item);
                } else {
                    others += 1;
                }
            }
        } else {
            others += 1;
        }
    }
    Ok((!crds.is_empty()).then_some(Content::Crds { crds, others }))
}

fn is_crd(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
        && doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"))
}

/// The Kubernetes version an OpenAPI document belongs to: its `info.version` (`v1.21.2`), else
/// the nearest folder of `path` named like a version (`v3/1.35/apis/apps/v1.json`: 1.35).
/// kube-apiserver's v3 documents say `unversioned`.
#[must_use]
pub fn document_version(doc: &Value, path: &Path) -> Option<KubeVersion> {
    let looks_right = |v: &KubeVersion| v.major == 1;
    if let Some(v) = doc
        .pointer("/info/version")
        .and_then(Value::as_str)
        .and_then(KubeVersion::parse)
        .filter(looks_right)
    {
        return Some(v);
    }
    let parent = path.parent()?;
    parent
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .find_map(|s| KubeVersion::parse(s).filter(looks_right))
}

/// One kind's schema, ready to write.
#[derive(Debug, Clone)]
pub struct KindSchema {
    /// `apps/v1`, `v1`, `example.com/v1beta2`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// The strict, self-contained JSON Schema.
    pub schema: Value,
}

impl KindSchema {
    /// The index key: `apps/v1/Deployment`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.api_version, self.kind)
    }
}

/// The schema of every kind an OpenAPI document (v2 or v3) names with
/// `x-kubernetes-group-version-kind`, except lists (`*List` with `items`), `DeleteOptions` and
/// `WatchEvent`, as for the embedded schemas.
pub fn from_openapi(doc: &Value) -> Result<Vec<KindSchema>, String> {
    let (defs, prefix) = if let Some(d) = doc.get("definitions").and_then(Value::as_object) {
        (d, "#/definitions/")
    } else if let Some(d) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        (d, "#/components/schemas/")
    } else {
        return Err("no `definitions` (v2) or `components.schemas` (v3)".into());
    };
    let mut roots: Vec<(String, String, String)> = Vec::new();
    let mut seen = HashSet::new();
    for (name, body) in defs {
        let Some(gvks) = body
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let is_list = body.pointer("/properties/items").is_some();
        for gvk in gvks {
            let field = |f: &str| gvk.get(f).and_then(Value::as_str).unwrap_or_default();
            let (group, version, kind) = (field("group"), field("version"), field("kind"));
            if version.is_empty()
                || kind.is_empty()
                || NOT_MANIFESTS.contains(&kind)
                || (is_list && kind.ends_with("List"))
            {
                continue;
            }
            let api_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            if seen.insert((api_version.clone(), kind.to_string())) {
                roots.push((api_version, kind.to_string(), name.clone()));
            }
        }
    }
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let prepared = Prepared::new(defs, prefix);
    roots
        .par_iter()
        .map(|(api_version, kind, name)| {
            Ok(KindSchema {
                api_version: api_version.clone(),
                kind: kind.clone(),
                schema: prepared.kind_schema(name)?,
            })
        })
        .collect()
}

/// A document's definitions with every strictness rule applied, from which each kind's schema is
/// cut.
struct Prepared {
    defs: Map<String, Value>,
    /// Each definition's `type` before `null` was added (a kind's root is never nullable).
    types: BTreeMap<String, Value>,
}

impl Prepared {
    fn new(source: &Map<String, Value>, prefix: &str) -> Prepared {
        let mut defs = source.clone();
        replace_special_defs(&mut defs);
        for body in defs.values_mut() {
            walk(body, &mut |s| normalize(s, prefix));
        }
        close_fieldless_structs(&mut defs);
        inline_leaf_defs(&mut defs);
        let types: BTreeMap<String, Value> = defs
            .iter()
            .filter_map(|(n, b)| Some((n.clone(), b.get("type")?.clone())))
            .collect();
        let ref_types: BTreeMap<String, Value> = types
            .iter()
            .map(|(n, t)| (format!("{DEFS_PREFIX}{n}"), t.clone()))
            .collect();
        make_optional_nullable(defs.values_mut(), &ref_types);
        for body in defs.values_mut() {
            if let Value::Object(o) = body {
                accept_null(o);
            }
        }
        Prepared { defs, types }
    }

    fn kind_schema(&self, name: &str) -> Result<Value, String> {
        let mut root = self
            .defs
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no definition `{name}`"))?;
        if let (Value::Object(o), Some(t)) = (&mut root, self.types.get(name)) {
            o.insert("type".into(), t.clone());
        }
        let mut reached = BTreeSet::new();
        let mut todo = Vec::new();
        collect_refs(&root, &mut todo);
        while let Some(target) = todo.pop() {
            let Some(def) = target.strip_prefix(DEFS_PREFIX) else {
                return Err(format!("{name}: unsupported $ref `{target}`"));
            };
            if reached.insert(def.to_string()) {
                let body = self
                    .defs
                    .get(def)
                    .ok_or_else(|| format!("{name}: dangling $ref `{target}`"))?;
                collect_refs(body, &mut todo);
            }
        }
        let obj = root
            .as_object_mut()
            .ok_or_else(|| format!("{name}: not an object schema"))?;
        obj.insert("$schema".into(), DRAFT.into());
        if !reached.is_empty() {
            let defs: Map<String, Value> = reached
                .into_iter()
                .filter_map(|d| Some((d.clone(), self.defs.get(&d)?.clone())))
                .collect();
            obj.insert("$defs".into(), Value::Object(defs));
        }
        Ok(sorted(root))
    }
}

/// IntOrString = integer or string; Quantity = string or number; apiextensions JSON = anything;
/// RawExtension and FieldsV1 = any object; the `JSONSchemaPropsOr*` unions (which OpenAPI leaves
/// untyped) = what k8s-openapi says they are.
fn replace_special_defs(defs: &mut Map<String, Value>) {
    for (name, body) in &mut *defs {
        let props_ref = |suffix: &str| {
            let target = name.strip_suffix(suffix).unwrap_or(name);
            json!({ "$ref": format!("{DEFS_PREFIX}{target}") })
        };
        match name.as_str() {
            INT_OR_STRING => *body = json!({"type": ["integer", "string"]}),
            QUANTITY => *body = json!({"type": ["string", "number"]}),
            n if JSON_ANY.contains(&n) => *body = json!({}),
            n if FREE_FORM.contains(&n) => *body = json!({"type": "object"}),
            n if n.ends_with(".JSONSchemaPropsOrBool") => {
                *body = json!({"oneOf": [props_ref("OrBool"), {"type": "boolean"}]});
            }
            n if n.ends_with(".JSONSchemaPropsOrArray") => {
                let r = props_ref("OrArray");
                *body = json!({"oneOf": [r.clone(), {"type": "array", "items": r}]});
            }
            n if n.ends_with(".JSONSchemaPropsOrStringArray") => {
                *body = json!({"oneOf": [props_ref("OrStringArray"),
                    {"type": "array", "items": {"type": "string"}}]});
            }
            _ => {}
        }
    }
}

/// Go structs without fields (`{"type": "object"}`) are closed, except the free-form ones.
fn close_fieldless_structs(defs: &mut Map<String, Value>) {
    for (name, body) in &mut *defs {
        if FREE_FORM.contains(&name.as_str()) {
            continue;
        }
        if let Value::Object(o) = body
            && o.get("type") == Some(&json!("object"))
            && !o.contains_key("properties")
            && !o.contains_key("additionalProperties")
        {
            o.insert("additionalProperties".into(), false.into());
        }
    }
}

/// One schema object, made strict (everything but nullability):
///
/// - OpenAPI v3's `allOf: [{$ref}]` wrapper becomes the `$ref`, and refs point into `$defs`;
/// - `x-kubernetes-int-or-string` is `{"type": ["integer", "string"]}`;
/// - `x-kubernetes-embedded-resource` objects may hold `apiVersion`, `kind` and `metadata`;
/// - `nullable: true` adds `null` to the type, OpenAPI 3.0's boolean `exclusiveMinimum`/
///   `exclusiveMaximum` become 2020-12's numbers;
/// - annotations and other `x-kubernetes-*` extensions are dropped;
/// - an object with `properties` and no `additionalProperties` is closed, unless it has
///   `x-kubernetes-preserve-unknown-fields: true`.
fn normalize(s: &mut Map<String, Value>, prefix: &str) {
    if !s.contains_key("$ref")
        && let Some(Value::Array(all)) = s.get("allOf")
        && let [Value::Object(only)] = all.as_slice()
        && only.len() == 1
        && let Some(target) = only.get("$ref").cloned()
    {
        s.remove("allOf");
        s.insert("$ref".into(), target);
    }
    if let Some(Value::String(r)) = s.get_mut("$ref")
        && let Some(name) = r.strip_prefix(prefix)
    {
        *r = format!("{DEFS_PREFIX}{name}");
    }
    let flag = |s: &Map<String, Value>, k: &str| s.get(k) == Some(&Value::Bool(true));
    let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
    if flag(s, "x-kubernetes-int-or-string") {
        s.entry("type").or_insert(json!(["integer", "string"]));
        // CRDs spell it out as `anyOf: [{type: integer}, {type: string}]` too: redundant now.
        for key in ["anyOf", "oneOf"] {
            let only_types = s.get(key).and_then(Value::as_array).is_some_and(|bs| {
                bs.iter().all(|b| {
                    b.as_object()
                        .is_some_and(|o| o.keys().all(|k| k == "type" || k == "format"))
                })
            });
            if only_types {
                s.remove(key);
            }
        }
    }
    if flag(s, "x-kubernetes-embedded-resource")
        && let Some(Value::Object(props)) = s.get_mut("properties")
    {
        for (field, schema) in [
            ("apiVersion", json!({"type": "string"})),
            ("kind", json!({"type": "string"})),
            ("metadata", json!({"type": "object"})),
        ] {
            props.entry(field).or_insert(schema);
        }
    }
    if s.remove("nullable") == Some(Value::Bool(true)) {
        accept_null(s);
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(on)) = s.get(exclusive).cloned() {
            s.remove(exclusive);
            if on && let Some(b) = s.remove(bound) {
                s.insert(exclusive.into(), b);
            }
        }
    }
    for key in ANNOTATIONS {
        s.remove(key);
    }
    // Canonical: the order of `required` means nothing (k8s-openapi's is sorted).
    if let Some(Value::Array(required)) = s.get_mut("required") {
        required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    s.retain(|k, _| !k.starts_with("x-kubernetes-"));
    if s.contains_key("properties") && !s.contains_key("additionalProperties") && !preserve {
        s.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// Definitions that hold no `$ref` and declare no `properties` (Time, IntOrString, Quantity,
/// JSON, RawExtension, FieldsV1, closed field-less structs, ...) are written where they are used.
fn inline_leaf_defs(defs: &mut Map<String, Value>) {
    let leaves: BTreeMap<String, Map<String, Value>> = defs
        .iter()
        .filter(|(_, body)| !has_keyword(body, "$ref") && !has_keyword(body, "properties"))
        .filter_map(|(name, body)| {
            Some((format!("{DEFS_PREFIX}{name}"), body.as_object()?.clone()))
        })
        .collect();
    for body in defs.values_mut() {
        walk(body, &mut |s: &mut Map<String, Value>| {
            let Some(leaf) = s
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|t| leaves.get(t))
            else {
                return;
            };
            let mut merged = leaf.clone();
            for (k, v) in std::mem::take(s) {
                if k != "$ref" {
                    merged.entry(k).or_insert(v);
                }
            }
            *s = merged;
        });
    }
}

/// Kubernetes treats `null` for an optional field as "not set": every property that is not
/// `required` accepts `null` (xtask's rule 6). Inline schemas get `"null"` added to their `type`;
/// a `$ref` property is left as is (its definition accepts `null`), and every other `$ref` (a
/// required property, a list item, a map value) gets a sibling `type`, its definition's own,
/// which narrows it back. `ref_types` maps `#/$defs/<name>` to that type.
fn make_optional_nullable<'a>(
    schemas: impl Iterator<Item = &'a mut Value>,
    ref_types: &BTreeMap<String, Value>,
) {
    const MARK: &str = "\u{0}optional-ref";
    let mut mark = |schema: &mut Map<String, Value>| {
        let required: BTreeSet<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some(Value::Object(props)) = schema.get_mut("properties") else {
            return;
        };
        for (name, prop) in &mut *props {
            if required.contains(name) {
                continue;
            }
            let Value::Object(p) = prop else { continue };
            if p.contains_key("$ref") {
                p.insert(MARK.into(), Value::Bool(true));
            } else {
                accept_null(p);
            }
        }
    };
    let mut narrow = |schema: &mut Map<String, Value>| {
        if schema.remove(MARK).is_some() {
            return;
        }
        let Some(t) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|target| ref_types.get(target))
        else {
            return;
        };
        if !schema.contains_key("type") {
            schema.insert("type".into(), t.clone());
        }
    };
    for schema in schemas {
        walk(schema, &mut mark);
        walk(schema, &mut narrow);
    }
}

/// Let a schema accept `null`: added to its `type` (and to its `enum`, which would reject it).
/// Schemas without a `type` are left alone (they either accept `null` already or are unions).
fn accept_null(s: &mut Map<String, Value>) {
    let Some(t) = s.get_mut("type") else { return };
    match t {
        Value::String(one) if one != "null" => *t = json!([one.clone(), "null"]),
        Value::Array(a) if !a.iter().any(|v| v == "null") => a.push("null".into()),
        _ => return,
    }
    if let Some(Value::Array(e)) = s.get_mut("enum")
        && !e.contains(&Value::Null)
    {
        e.push(Value::Null);
    }
}

/// The definitions of `ObjectMeta` (and what it references), strict, from the embedded schemas
/// at `version` (or the newest embedded version): a custom resource's `metadata` is checked
/// against them, as the API server checks it.
#[must_use]
pub fn object_meta_defs(version: Option<KubeVersion>) -> Map<String, Value> {
    let embedded = schema::embedded();
    let versions = embedded.versions();
    let chosen = version
        .filter(|v| versions.contains(v))
        .or_else(|| versions.last().copied());
    let found = chosen
        .and_then(|v| embedded.lookup(v, "v1", "ConfigMap"))
        .and_then(Result::ok)
        .and_then(|s| s.get("$defs").and_then(Value::as_object).cloned())
        .filter(|d| d.contains_key(OBJECT_META));
    found.unwrap_or_else(|| {
        let mut m = Map::new();
        m.insert(OBJECT_META.into(), json!({"type": ["object", "null"]}));
        m
    })
}

/// The schema of every served version of a CustomResourceDefinition (apiextensions v1: each
/// version's `schema.openAPIV3Schema`; v1beta1: `spec.validation.openAPIV3Schema` for every
/// version unless a version has its own). The CRD's schema is made strict by the rules above;
/// its root gets `apiVersion` and `kind` (strings) and `metadata` (the strict `ObjectMeta`,
/// replacing whatever the CRD says, as the API server does). An object without `properties` (a
/// CRD author's "any object") stays open, as does a version without any schema. Every schema is
/// compiled, so a broken CRD is reported here rather than at every `lint`.
pub fn from_crd(crd: &Value, object_meta: &Map<String, Value>) -> Result<Vec<KindSchema>, String> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    let text = |ptr: &str| {
        crd.pointer(ptr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("CustomResourceDefinition `{name}` has no `{}`", dotted(ptr)))
    };
    let group = text("/spec/group")?;
    let kind = text("/spec/names/kind")?;
    let common = crd.pointer("/spec/validation/openAPIV3Schema");
    let mut versions: Vec<(String, Option<&Value>)> = Vec::new();
    for v in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let Some(version) = v.get("name").and_then(Value::as_str) else {
            return Err(format!(
                "CustomResourceDefinition `{name}`: a version has no `name`"
            ));
        };
        if v.get("served") == Some(&Value::Bool(false)) {
            continue;
        }
        let own = v.pointer("/schema/openAPIV3Schema");
        versions.push((version.to_string(), own.or(common)));
    }
    if versions.is_empty()
        && crd.pointer("/spec/versions").is_none()
        && let Ok(v) = text("/spec/version")
    {
        versions.push((v.to_string(), common));
    }
    if versions.is_empty() {
        return Err(format!(
            "CustomResourceDefinition `{name}` serves no version (`spec.versions[].served`)"
        ));
    }
    let meta_type: BTreeMap<String, Value> =
        std::iter::once((format!("{DEFS_PREFIX}{OBJECT_META}"), json!("object"))).collect();
    let mut out = Vec::new();
    for (version, source) in versions {
        let api_version = format!("{group}/{version}");
        let mut root = source.cloned().unwrap_or_else(
            || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
        let Value::Object(_) = root else {
            return Err(format!(
                "CustomResourceDefinition `{name}`: the schema of {api_version} is not an object"
            ));
        };
        check_types(&root, "openAPIV3Schema").map_err(|e| {
            format!("CustomResourceDefinition `{name}`: the schema of {api_version} {kind}: {e}")
        })?;
        walk(&mut root, &mut |s| normalize(s, "#/definitions/"));
        let obj = root.as_object_mut().unwrap_or_else(|| unreachable!());
        obj.entry("type").or_insert(json!("object"));
        let props = obj
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(props) = props {
            props.insert("apiVersion".into(), json!({"type": "string"}));
            props.insert("kind".into(), json!({"type": "string"}));
            props.insert(
                "metadata".into(),
                json!({"$ref": format!("{DEFS_PREFIX}{OBJECT_META}")}),
            );
        }
        make_optional_nullable(std::iter::once(&mut root), &meta_type);
        let obj = root.as_object_mut().unwrap_or_else(|| unreachable!());
        // The root is the document itself: never null.
        if let Some(Value::Array(t)) = obj.get_mut("type") {
            t.retain(|v| v != "null");
        }
        obj.insert("$schema".into(), DRAFT.into());
        obj.insert("$defs".into(), Value::Object(object_meta.clone()));
        let root = sorted(root);
        jsonschema::options()
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| {
                format!(
                    "CustomResourceDefinition `{name}`: the schema of {api_version} {kind} is not valid at `{}`: {e}",
                    e.instance_path()
                )
            })?;
        out.push(KindSchema {
            api_version,
            kind: kind.to_string(),
            schema: root,
        });
    }
    Ok(out)
}

/// A CRD schema's `type`s must be OpenAPI's (the API server rejects the CRD otherwise); `at` is
/// the API server's spelling of the path: `openAPIV3Schema.properties[spec].type`.
fn check_types(schema: &Value, at: &str) -> Result<(), String> {
    const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
    let Value::Object(s) = schema else {
        return Err(format!("`{at}` is not a schema (an object)"));
    };
    match s.get("type") {
        None => {}
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => {}
        Some(t) => {
            return Err(format!(
                "`{at}.type` is {t}; supported values: {}",
                TYPES.join(", ")
            ));
        }
    }
    for (key, child) in s {
        match (key.as_str(), child) {
            ("properties" | "patternProperties" | "definitions", Value::Object(m)) => {
                for (name, sub) in m {
                    check_types(sub, &format!("{at}.{key}[{name}]"))?;
                }
            }
            ("items" | "additionalProperties" | "not", Value::Object(_)) => {
                check_types(child, &format!("{at}.{key}"))?;
            }
            ("items" | "allOf" | "anyOf" | "oneOf", Value::Array(list)) => {
                for (i, sub) in list.iter().enumerate() {
                    check_types(sub, &format!("{at}.{key}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// `<group>_<version>_<kind>.json.gz` (`core` for the core group, kind lowercased), as xtask
/// names the embedded files.
#[must_use]
pub fn file_name(api_version: &str, kind: &str) -> String {
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) if !g.is_empty() => (g, v),
        Some((_, v)) => ("core", v),
        None => ("core", api_version),
    };
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "{}_{}_{}.json.gz",
        safe(group),
        safe(version),
        safe(&kind.to_ascii_lowercase())
    )
}

/// Write `kinds` into `<cache>/<version>/`: one gzipped schema per kind, and `index.json`
/// merged with the index already there (a kind imported again replaces its file). Every file is
/// written to a temporary name and renamed, the index last, so a reader never sees a half-written
/// file and an interrupted import leaves the previous index in force. Returns how many kinds
/// were written.
pub fn write(cache: &Path, version: KubeVersion, kinds: &[KindSchema]) -> Result<usize, String> {
    let dir = cache.join(version.to_string());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let index_path = dir.join("index.json");
    let mut index: BTreeMap<String, String> = match std::fs::read(&index_path) {
        Ok(bytes) => read_index(&bytes, version).map_err(|e| {
            format!(
                "cannot read `{}`: {e}; remove it or choose another --schema-cache",
                index_path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(format!("cannot read `{}`: {e}", index_path.display())),
    };
    let mut files: Vec<(String, &Value)> = Vec::new();
    for k in kinds {
        let key = k.key();
        let file = match index.get(&key) {
            Some(f) => f.clone(),
            None => {
                let taken: HashSet<&String> = index.values().collect();
                let base = file_name(&k.api_version, &k.kind);
                let stem = base.trim_end_matches(".json.gz").to_string();
                let mut file = base;
                let mut n = 2;
                while taken.contains(&file) {
                    file = format!("{stem}_{n}.json.gz");
                    n += 1;
                }
                file
            }
        };
        index.insert(key, file.clone());
        files.push((file, &k.schema));
    }
    files
        .par_iter()
        .map(|(file, schema)| {
            let json = serde_json::to_vec(schema).map_err(|e| e.to_string())?;
            write_atomic(&dir.join(file), &gzip(&json))
        })
        .collect::<Result<Vec<()>, String>>()?;
    let index = json!({"kubeVersion": version.to_string(), "kinds": index});
    let mut text = serde_json::to_string_pretty(&sorted(index)).map_err(|e| e.to_string())?;
    text.push('\n');
    write_atomic(&index_path, text.as_bytes())?;
    Ok(files.len())
}

fn read_index(bytes: &[u8], version: KubeVersion) -> Result<BTreeMap<String, String>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let said = v.get("kubeVersion").and_then(Value::as_str);
    if said.and_then(KubeVersion::parse) != Some(version) {
        return Err(format!(
            "its kubeVersion is {}, not {version}",
            said.unwrap_or("missing")
        ));
    }
    v.get("kinds")
        .and_then(Value::as_object)
        .ok_or("no `kinds` object")?
        .iter()
        .map(|(k, f)| {
            f.as_str()
                .map(|f| (k.clone(), f.to_string()))
                .ok_or_else(|| format!("the file of `{k}` is not a string"))
        })
        .collect()
}

/// Gzip with fixed header fields (mtime 0, no file name, OS 255), as xtask writes them.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write `{}`: {e}", path.display())
    })
}

/// Keys of every object in sorted order, so the output is reproducible.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let ordered: BTreeMap<String, Value> =
                o.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                match (k.as_str(), child) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    ("$defs", _) => {}
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

/// Whether `key` is a keyword anywhere in this schema (not a property name).
fn has_keyword(schema: &Value, key: &str) -> bool {
    let Value::Object(obj) = schema else {
        return false;
    };
    if obj.contains_key(key) {
        return true;
    }
    obj.iter().any(|(k, child)| match k.as_str() {
        k if MAP_OF_SCHEMAS.contains(&k) => child
            .as_object()
            .is_some_and(|m| m.values().any(|s| has_keyword(s, key))),
        k if SCHEMA_OR_LIST.contains(&k) => match child {
            Value::Array(list) => list.iter().any(|s| has_keyword(s, key)),
            other => has_keyword(other, key),
        },
        k if ONE_SCHEMA.contains(&k) => has_keyword(child, key),
        _ => false,
    })
}

/// Keywords whose value maps names to subschemas.
const MAP_OF_SCHEMAS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is one subschema.
const ONE_SCHEMA: &[&str] = &[
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
];
/// Keywords whose value is a subschema or a list of them.
const SCHEMA_OR_LIST: &[&str] = &["items", "allOf", "anyOf", "oneOf", "prefixItems"];

/// Calls `f` on every schema object (pre-order), following only subschema keywords, so property
/// *names* such as `description` are never taken for keywords, and `default`/`enum`/`example`
/// values are never entered (xtask/src/strict.rs's walk).
fn walk(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Value::Object(obj) = schema else { return };
    f(obj);
    for (key, child) in &mut *obj {
        match key.as_str() {
            k if MAP_OF_SCHEMAS.contains(&k) => {
                if let Value::Object(map) = child {
                    for sub in map.values_mut() {
                        walk(sub, f);
                    }
                }
            }
            k if ONE_SCHEMA.contains(&k) => walk(child, f),
            k if SCHEMA_OR_LIST.contains(&k) => match child {
                Value::Array(list) => list.iter_mut().for_each(|sub| walk(sub, f)),
                other => walk(other, f),
            },
            _ => {}
        }
    }
}
