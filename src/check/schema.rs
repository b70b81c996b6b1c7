//! Schemas: where the JSON Schema of a Kubernetes kind at a version comes from, and validating
//! a document against it.
//!
//! Sources are tried in order: `--schema-location` folders (kubeconform's layout), the schema
//! cache filled by `kiln schemas import`, then the schemas embedded in the binary (generated from
//! the `k8s-openapi` crate by `xtask`, see xtask/README.md). Schemas are decompressed and
//! compiled lazily, once per kind and version. This module never prints.

use std::collections::{BTreeSet, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jsonschema::Validator;

use crate::yaml::Node;
use crate::yaml::json::Tree;
use jsonschema::error::ValidationErrorKind;

use super::once::Once;
use crate::kube::KubeVersion;

include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// A place schemas come from.
pub trait SchemaSource: Send + Sync {
    /// How the source is named in messages.
    fn name(&self) -> String;
    /// The schema of `api_version` `kind` at `version`: `None` when the source does not have
    /// it, `Some(Err)` when it has it but it cannot be read.
    fn lookup(
        &self,
        version: KubeVersion,
        api_version: &str,
        kind: &str,
    ) -> Option<Result<serde_json::Value, String>>;
    /// Every `(apiVersion, kind)` the source knows at `version` (for suggestions and listing).
    fn kinds(&self, version: KubeVersion) -> Vec<(String, String)>;
    /// The versions the source holds.
    fn versions(&self) -> Vec<KubeVersion>;
}

/// Reads one schema file of a version.
type Reader = Box<dyn Fn(KubeVersion, &str) -> Option<Vec<u8>> + Send + Sync>;

/// A source laid out as `index.json` + `<file>.json.gz` per version: the embedded schemas and
/// the import cache share it.
struct Indexed {
    name: String,
    /// version -> (apiVersion/kind -> file)
    index: HashMap<KubeVersion, HashMap<String, String>>,
    read: Reader,
}

impl SchemaSource for Indexed {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn lookup(
        &self,
        version: KubeVersion,
        api_version: &str,
        kind: &str,
    ) -> Option<Result<serde_json::Value, String>> {
        let file = self
            .index
            .get(&version)?
            .get(&format!("{api_version}/{kind}"))?;
        let bytes = (self.read)(version, file)?;
        Some(
            decode(&bytes)
                .map_err(|e| format!("cannot read schema `{file}` of {}: {e}", self.name)),
        )
    }
    fn kinds(&self, version: KubeVersion) -> Vec<(String, String)> {
        self.index
            .get(&version)
            .map(|m| {
                m.keys()
                    .filter_map(|k| {
                        k.rsplit_once('/')
                            .map(|(a, k)| (a.to_string(), k.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn versions(&self) -> Vec<KubeVersion> {
        let mut v: Vec<KubeVersion> = self.index.keys().copied().collect();
        v.sort();
        v
    }
}

fn decode(bytes: &[u8]) -> Result<serde_json::Value, String> {
    let mut text = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| e.to_string())?;
    } else {
        text.extend_from_slice(bytes);
    }
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}

fn parse_index(bytes: &[u8]) -> Option<(KubeVersion, HashMap<String, String>)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let version = KubeVersion::parse(v.get("kubeVersion")?.as_str()?)?;
    let kinds = v
        .get("kinds")?
        .as_object()?
        .iter()
        .filter_map(|(k, f)| Some((k.clone(), f.as_str()?.to_string())))
        .collect();
    Some((version, kinds))
}

/// The schemas compiled into the binary.
#[must_use]
pub fn embedded() -> Box<dyn SchemaSource> {
    let mut index = HashMap::new();
    for (name, bytes) in EMBEDDED_SCHEMAS {
        if name.ends_with("/index.json")
            && let Some((v, kinds)) = parse_index(bytes)
        {
            index.insert(v, kinds);
        }
    }
    Box::new(Indexed {
        name: "the embedded schemas".to_string(),
        index,
        read: Box::new(|version, file| {
            let key = format!("{version}/{file}");
            EMBEDDED_SCHEMAS
                .iter()
                .find(|(n, _)| *n == key)
                .map(|(_, b)| b.to_vec())
        }),
    })
}

/// A schema cache folder (`<dir>/<version>/index.json` + files), as `kiln schemas import`
/// writes it.
#[must_use]
pub fn cache(dir: &Path) -> Box<dyn SchemaSource> {
    let mut index = HashMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path().join("index.json"))
                && let Some((v, kinds)) = parse_index(&bytes)
            {
                index.insert(v, kinds);
            }
        }
    }
    let root = dir.to_path_buf();
    Box::new(Indexed {
        name: format!("the schema cache `{}`", dir.display()),
        index,
        read: Box::new(move |version, file| {
            std::fs::read(root.join(version.to_string()).join(file)).ok()
        }),
    })
}

/// A kubeconform-layout folder given by `--schema-location`: a path template with
/// `{{ .NormalizedKubernetesVersion }}`, `{{ .StrictSuffix }}`, `{{ .ResourceKind }}`,
/// `{{ .ResourceAPIVersion }}`, `{{ .Group }}` and `{{ .KindSuffix }}`, or a plain folder (then
/// `{{ .ResourceKind }}{{ .KindSuffix }}.json` inside it).
pub struct KubeconformLocation {
    template: String,
}

impl KubeconformLocation {
    /// A location as given on the command line.
    #[must_use]
    pub fn new(location: &str) -> KubeconformLocation {
        let template = if location.contains("{{") {
            location.to_string()
        } else {
            format!(
                "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
                location.trim_end_matches('/')
            )
        };
        KubeconformLocation { template }
    }

    /// The path for one kind, as kubeconform computes it.
    #[must_use]
    pub fn path(&self, version: KubeVersion, api_version: &str, kind: &str) -> PathBuf {
        let group_parts: Vec<&str> = api_version.split('/').collect();
        let first = group_parts[0]
            .split('.')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let mut kind_suffix = format!("-{first}");
        if group_parts.len() > 1 {
            kind_suffix.push('-');
            kind_suffix.push_str(&group_parts[1].to_lowercase());
        }
        let mut out = self.template.clone();
        for (var, value) in [
            ("NormalizedKubernetesVersion", format!("v{version}.0")),
            ("StrictSuffix", "-strict".to_string()),
            ("ResourceKind", kind.to_lowercase()),
            (
                "ResourceAPIVersion",
                group_parts.last().copied().unwrap_or_default().to_string(),
            ),
            ("Group", group_parts[0].to_string()),
            ("KindSuffix", kind_suffix),
        ] {
            for spaced in [format!("{{{{ .{var} }}}}"), format!("{{{{.{var}}}}}")] {
                out = out.replace(&spaced, &value);
            }
        }
        PathBuf::from(out)
    }
}

impl SchemaSource for KubeconformLocation {
    fn name(&self) -> String {
        format!("--schema-location `{}`", self.template)
    }
    fn lookup(
        &self,
        version: KubeVersion,
        api_version: &str,
        kind: &str,
    ) -> Option<Result<serde_json::Value, String>> {
        let path = self.path(version, api_version, kind);
        let bytes = std::fs::read(&path).ok()?;
        Some(decode(&bytes).map_err(|e| format!("cannot read `{}`: {e}", path.display())))
    }
    fn kinds(&self, _version: KubeVersion) -> Vec<(String, String)> {
        Vec::new()
    }
    fn versions(&self) -> Vec<KubeVersion> {
        Vec::new()
    }
}

/// What validating one document found.
#[derive(Debug)]
pub enum Outcome {
    /// Valid.
    Valid,
    /// No source has a schema for the kind; a close known kind when there is one.
    NoSchema {
        /// `apps/v1 Deployment` when the kind looks like a typo of it.
        suggestion: Option<String>,
    },
    /// The schema exists but could not be read.
    Broken(String),
    /// Violations: (JSON pointer, message, unknown field name for additional properties).
    Invalid(Vec<Violation>),
}

/// One schema violation.
#[derive(Debug)]
pub struct Violation {
    /// JSON pointer of the offending value.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// For unknown fields: the field name.
    pub unknown_field: Option<String>,
}

type Compiled = Option<Result<Arc<(Validator<Tree>, serde_json::Value)>, String>>;

/// One kind's compiled schema, compiled by the first thread that needs it.
type Slot = Arc<Once<Compiled>>;

/// All schema sources, with compiled validators cached per version and kind.
pub struct Catalog {
    sources: Vec<Box<dyn SchemaSource>>,
    /// Per version, apiVersion and kind (nested, so a lookup needs no owned key); every document
    /// looks its kind up here, so with foldhash, not SipHash.
    compiled:
        Mutex<HashMap<KubeVersion, foldhash::HashMap<String, foldhash::HashMap<String, Slot>>>>,
    /// [`Catalog::versions`], gathered once: every document asks.
    versions: std::sync::OnceLock<Vec<KubeVersion>>,
}

impl Catalog {
    /// A catalogue over `sources`, tried in order.
    #[must_use]
    pub fn new(sources: Vec<Box<dyn SchemaSource>>) -> Catalog {
        Catalog {
            sources,
            compiled: Mutex::new(HashMap::new()),
            versions: std::sync::OnceLock::new(),
        }
    }

    /// The versions with schemas, newest last.
    #[must_use]
    pub fn versions(&self) -> &[KubeVersion] {
        self.versions.get_or_init(|| {
            let set: BTreeSet<KubeVersion> =
                self.sources.iter().flat_map(|s| s.versions()).collect();
            set.into_iter().collect()
        })
    }

    /// The newest version with schemas.
    #[must_use]
    pub fn newest(&self) -> Option<KubeVersion> {
        self.versions().last().copied()
    }

    /// The version to check a target version against: itself when schemas exist for it,
    /// otherwise the nearest available, with a note saying so.
    #[must_use]
    pub fn resolve(&self, wanted: KubeVersion) -> (KubeVersion, Option<String>) {
        let versions = self.versions();
        if versions.is_empty() || versions.contains(&wanted) {
            return (wanted, None);
        }
        let nearest = *versions
            .iter()
            .min_by_key(|v| (i64::from(v.minor) - i64::from(wanted.minor)).abs())
            .unwrap_or(&wanted);
        (
            nearest,
            Some(format!(
                "no schemas for Kubernetes {wanted}; checked against {nearest}, the nearest available (import {wanted}'s with `kiln schemas import`)"
            )),
        )
    }

    /// Every source's description, for `kiln schemas list`.
    #[must_use]
    pub fn describe(&self) -> Vec<(String, Vec<KubeVersion>, usize)> {
        self.sources
            .iter()
            .map(|s| {
                let versions = s.versions();
                let kinds = versions.last().map_or(0, |v| s.kinds(*v).len());
                (s.name(), versions, kinds)
            })
            .collect()
    }

    /// The compiled schema, compiled once: a thread that asks while another compiles it does
    /// other work meanwhile ([`Once::get_or_make`](super::once::Once::get_or_make)).
    fn compiled(&self, version: KubeVersion, api_version: &str, kind: &str) -> Compiled {
        let slot = match self.compiled.lock() {
            Ok(mut m) => {
                let by_api = m.entry(version).or_default();
                let found = by_api
                    .get(api_version)
                    .and_then(|by_kind| by_kind.get(kind))
                    .map(Arc::clone);
                found.unwrap_or_else(|| {
                    Arc::clone(
                        by_api
                            .entry(api_version.to_string())
                            .or_default()
                            .entry(kind.to_string())
                            .or_default(),
                    )
                })
            }
            Err(_) => Arc::default(),
        };
        warm_meta_schema();
        slot.get_or_make(|| self.compile(version, api_version, kind))
            .clone()
    }

    fn compile(&self, version: KubeVersion, api_version: &str, kind: &str) -> Compiled {
        let found = self
            .sources
            .iter()
            .find_map(|s| s.lookup(version, api_version, kind));
        found.map(|r| {
            r.and_then(|mut schema| {
                bound_integers(&mut schema);
                jsonschema::options_for::<Tree>()
                    .should_validate_formats(false)
                    .build(&schema)
                    .map(|v| Arc::new((v, schema)))
                    .map_err(|e| format!("invalid schema for {api_version} {kind}: {e}"))
            })
        })
    }

    /// Validate a document against the schema of its kind (read in place, see [`Tree`]).
    pub fn validate(
        &self,
        version: KubeVersion,
        api_version: &str,
        kind: &str,
        doc: &Node,
    ) -> Outcome {
        let compiled = match self.compiled(version, api_version, kind) {
            None => {
                return Outcome::NoSchema {
                    suggestion: self.suggest(version, api_version, kind),
                };
            }
            Some(Err(e)) => return Outcome::Broken(e),
            Some(Ok(c)) => c,
        };
        let (validator, _) = &*compiled;
        let mut out: Vec<Violation> = Vec::new();
        // `is_valid` short-circuits and allocates no errors: the common case is fast.
        if validator.is_valid(doc) {
            return Outcome::Valid;
        }
        for err in validator.iter_errors(doc) {
            let pointer = err.instance_path().as_str().to_string();
            if let ValidationErrorKind::AdditionalProperties { unexpected } = err.kind() {
                for field in unexpected {
                    out.push(Violation {
                        pointer: format!("{pointer}/{}", crate::kube::pointer::escape(field)),
                        message: format!("unknown field `{field}`"),
                        unknown_field: Some(field.clone()),
                    });
                }
                continue;
            }
            out.push(Violation {
                pointer,
                message: err.to_string(),
                unknown_field: None,
            });
        }
        if out.is_empty() {
            Outcome::Valid
        } else {
            Outcome::Invalid(out)
        }
    }

    /// The fields a schema allows at a pointer (for "did you mean" on unknown fields).
    #[must_use]
    pub fn fields_at(
        &self,
        version: KubeVersion,
        api_version: &str,
        kind: &str,
        pointer: &str,
    ) -> Vec<String> {
        let Some(Ok(compiled)) = self.compiled(version, api_version, kind) else {
            return Vec::new();
        };
        let root = &compiled.1;
        let mut schema = root;
        for part in crate::kube::pointer::segments(pointer) {
            schema = follow_ref(root, schema);
            let next = if part.parse::<usize>().is_ok() {
                schema.get("items")
            } else {
                schema.get("properties").and_then(|p| p.get(part.as_ref()))
            };
            match next {
                Some(n) => schema = n,
                None => return Vec::new(),
            }
        }
        schema = follow_ref(root, schema);
        schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn suggest(&self, version: KubeVersion, api_version: &str, kind: &str) -> Option<String> {
        let known: Vec<(String, String)> =
            self.sources.iter().flat_map(|s| s.kinds(version)).collect();
        // Same kind under another apiVersion, or a near spelling of the kind.
        if let Some((a, k)) = known.iter().find(|(_, k)| k == kind) {
            return Some(format!("{a} {k}"));
        }
        let names: Vec<String> = known
            .iter()
            .filter(|(a, _)| a == api_version)
            .map(|(_, k)| k.clone())
            .collect();
        crate::diagnostic::did_you_mean(kind, names.iter().map(String::as_str))
            .map(|k| format!("{api_version} {k}"))
    }
}

/// jsonschema checks every schema against its draft's meta-schema, whose own validator it
/// builds on first use (4 ms), holding every other compile until it is done. kiln's own schemas
/// (embedded and imported) are draft 2020-12, the draft jsonschema also takes for a schema that
/// names none: that validator is built first, before any compile, so that a worker asking
/// meanwhile does other work instead of blocking inside jsonschema. (Checking only against
/// `--schema-location` schemas of an older draft builds it once for nothing.)
fn warm_meta_schema() {
    static DRAFT_2020_12: Once<()> = Once::new();
    DRAFT_2020_12.get_or_make(|| {
        let _ = jsonschema::meta::validate(
            &serde_json::json!({ "$schema": crate::kube::strict::DRAFT }),
        );
    });
}

/// Resolve a local `$ref` (`#/$defs/...` or `#/definitions/...`) once.
fn follow_ref<'a>(
    root: &'a serde_json::Value,
    schema: &'a serde_json::Value,
) -> &'a serde_json::Value {
    let mut s = schema;
    for _ in 0..8 {
        let Some(r) = s.get("$ref").and_then(|r| r.as_str()) else {
            break;
        };
        let Some(path) = r.strip_prefix("#/") else {
            break;
        };
        let mut target = root;
        for part in path.split('/') {
            match target.get(part) {
                Some(t) => target = t,
                None => return s,
            }
        }
        s = target;
    }
    s
}

/// JSON Schema's `format` does not constrain numbers, so an `int32` field would accept
/// `replicas: 3000000000`, which the API server refuses. Give every `int32`/`int64` field the
/// bounds its format means.
fn bound_integers(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            let bounds = match map.get("format").and_then(serde_json::Value::as_str) {
                Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                Some("int64") => Some((i64::MIN, i64::MAX)),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                map.entry("minimum").or_insert(min.into());
                map.entry("maximum").or_insert(max.into());
            }
            for v in map.values_mut() {
                bound_integers(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconform_paths() {
        let v = KubeVersion {
            major: 1,
            minor: 29,
        };
        let loc = KubeconformLocation::new(
            "/schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
        );
        assert_eq!(
            loc.path(v, "apps/v1", "Deployment"),
            PathBuf::from("/schemas/v1.29.0-standalone-strict/deployment-apps-v1.json")
        );
        assert_eq!(
            loc.path(v, "v1", "ConfigMap"),
            PathBuf::from("/schemas/v1.29.0-standalone-strict/configmap-v1.json")
        );
        assert_eq!(
            loc.path(v, "networking.k8s.io/v1", "Ingress"),
            PathBuf::from("/schemas/v1.29.0-standalone-strict/ingress-networking-v1.json")
        );
        let plain = KubeconformLocation::new("/crds/");
        assert_eq!(
            plain.path(v, "example.com/v1", "Widget"),
            PathBuf::from("/crds/widget-example-v1.json")
        );
    }

    /// Workers that meet the same kind at once share one compile: the second waits for the
    /// first instead of compiling the schema again.
    #[test]
    fn a_schema_is_compiled_once_for_all_threads() {
        let catalog = Catalog::new(vec![embedded()]);
        let version = catalog.newest().expect("embedded schemas");
        let compiled: Vec<Compiled> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| catalog.compiled(version, "apps/v1", "Deployment")))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let first = compiled[0].clone().unwrap().unwrap();
        for c in &compiled {
            assert!(Arc::ptr_eq(&first, c.as_ref().unwrap().as_ref().unwrap()));
        }
        assert!(catalog.compiled(version, "v1", "NoSuchKind").is_none());
    }
}
