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

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::check::schema;
use crate::kube::KubeVersion;
use crate::kube::pointer::dotted;
use crate::kube::strict::{
    DEFS_PREFIX, DRAFT, Strict, make_optional_nullable, normalize, sorted, walk,
};
use crate::yaml::{self, Dialect};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
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
            for entry in crate::manifest::files_in(path) {
                let p = entry.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                files.push((p, false));
            }
        } else if path.exists() {
            files.push((path.clone(), true));
        } else {
            return Err(format!("`{}` does not exist", path.display()));
        }
    }
    let classified: Vec<Result<Option<Content>, String>> = crate::par::map(&files, |(p, _)| {
        std::fs::read(p)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|bytes| classify(&bytes))
    });
    let mut out = Scanned::default();
    for ((path, given), result) in files.into_iter().zip(classified) {
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
    let prepared = Strict::new(defs, prefix);
    crate::par::map(&roots, |(api_version, kind, name)| {
        Ok(KindSchema {
            api_version: api_version.clone(),
            kind: kind.clone(),
            schema: prepared.kind_schema(name)?,
        })
    })
    .into_iter()
    .collect()
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
        // Built for the YAML tree, as `check` validates: one instance of jsonschema in kiln.
        jsonschema::options_for::<yaml::json::Tree>()
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
    crate::par::try_each(&files, |(file, schema)| {
        let json = serde_json::to_vec(schema).map_err(|e| e.to_string())?;
        write_atomic(&dir.join(file), &gzip(&json))
    })?;
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
    crate::output::replace_file(path, bytes)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}
