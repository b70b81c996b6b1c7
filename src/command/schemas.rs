//! `kiln schemas import` and `kiln schemas list`.
//!
//! `import` reads OpenAPI v2 documents, OpenAPI v3 folders and CRD manifests (recognised by
//! content, see [`crate::check::import`]) and writes strict per-kind schemas into the schema
//! cache, in the layout of the embedded schemas, so `check`/`lint` find them before the embedded
//! ones. Which Kubernetes version the schemas belong to:
//!
//! - `--kube-version X.Y`, when given, for everything imported;
//! - otherwise an OpenAPI document's `info.version` (`v1.21.2` in `/openapi/v2`), or for
//!   kube-apiserver's v3 documents (which say `unversioned`) the nearest folder named like a
//!   version (`openapi/1.35/apis/apps/v1.json`); else the import stops and asks for the flag;
//! - CRDs are not tied to a Kubernetes version: without the flag they go into every version
//!   there are schemas for (in the cache, embedded in kiln, or imported by the same command), so
//!   `check` and `lint` find them whatever version they target. Import them again after
//!   importing a new version.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::check::import::{self, Content, KindSchema};
use crate::check::schema::{self, SchemaSource};
use crate::cli::{SchemasCommand, SchemasImportArgs, SchemasListArgs};
use crate::command::Output;
use crate::config::Project;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::kube::KubeVersion;
use crate::source::Sources;

/// Run `kiln schemas ...`.
pub fn run(dir: &Path, cmd: &SchemasCommand) -> Result<Output, Error> {
    match cmd {
        SchemasCommand::Import(args) => import(dir, args),
        SchemasCommand::List(args) => list(dir, args),
    }
}

/// A path as the user should read it: without a leading `./`.
fn shown(p: &Path) -> String {
    p.strip_prefix("./").unwrap_or(p).display().to_string()
}

/// The schema cache (path, as shown): `--schema-cache` (relative to `-C DIR`), else the
/// project's `.kiln/schemas`; `None` outside a project without the flag.
fn cache_dir(dir: &Path, flag: Option<&PathBuf>) -> Result<Option<(PathBuf, String)>, Error> {
    if let Some(p) = flag {
        return Ok(Some((p.clone(), shown(p))));
    }
    match Project::discover(dir, &mut Sources::default()) {
        Ok(project) => {
            let path = project.root.join(".kiln").join("schemas");
            let name = project.relative(&path);
            Ok(Some((path, name)))
        }
        // No kiln.yaml here or above; a kiln.yaml that does not load is reported.
        Err(Error::Run(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn import(dir: &Path, args: &SchemasImportArgs) -> Result<Output, Error> {
    let explicit = args
        .kube_version
        .as_deref()
        .map(|v| {
            KubeVersion::parse(v).ok_or_else(|| {
                Error::run(format!("`--kube-version {v}` is not a version like 1.35"))
            })
        })
        .transpose()?;
    let (cache, cache_shown) = cache_dir(dir, args.schema_cache.as_ref())?.ok_or_else(|| {
        Error::Run(
            Diagnostic::error("no schema cache to import into: not inside a kiln project")
                .help("name one with `--schema-cache DIR` (then pass the same flag to `kiln lint`), or run inside a kiln project, whose cache is `.kiln/schemas`"),
        )
    })?;
    let paths: Vec<PathBuf> = args.paths.clone();
    let scanned = import::scan(&paths).map_err(Error::run)?;
    if scanned.inputs.is_empty() {
        let mut d = Diagnostic::error(format!(
            "nothing to import in {}: no OpenAPI document and no CustomResourceDefinition",
            args.paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for (p, why) in scanned.skipped.iter().take(10) {
            d = d.note(format!("`{}`: {why}", shown(p)));
        }
        return Err(Error::Run(d.help(
            "import `kubectl get --raw /openapi/v2`, the files of `/openapi/v3/...`, or CRD manifests",
        )));
    }

    // OpenAPI documents: each to its version.
    let mut problems: Vec<String> = Vec::new();
    let mut openapi = Vec::new();
    let mut crds = Vec::new();
    let mut not_crds = 0;
    for input in &scanned.inputs {
        match &input.content {
            Content::OpenApiV2(doc) | Content::OpenApiV3(doc) => {
                match explicit.or_else(|| import::document_version(doc, &input.path)) {
                    Some(v) => openapi.push((input, doc, v)),
                    None => problems.push(format!(
                        "`{}`: {} that does not say its Kubernetes version (`info.version` is `{}`); give `--kube-version X.Y`",
                        shown(&input.path),
                        input.content.describe(),
                        doc.pointer("/info/version").and_then(serde_json::Value::as_str).unwrap_or("missing"),
                    )),
                }
            }
            Content::Crds {
                crds: found,
                others,
            } => {
                crds.extend(found.iter().map(|c| (input, c)));
                not_crds += others;
            }
        }
    }
    let converted: Vec<(KubeVersion, Result<Vec<KindSchema>, String>)> =
        crate::par::map(&openapi, |(input, doc, v)| {
            let kinds =
                import::from_openapi(doc).map_err(|e| format!("`{}`: {e}", shown(&input.path)));
            (*v, kinds)
        });
    let mut plan: BTreeMap<KubeVersion, BTreeMap<String, KindSchema>> = BTreeMap::new();
    for (v, kinds) in converted {
        match kinds {
            Ok(kinds) => {
                let at = plan.entry(v).or_default();
                for k in kinds {
                    // The same meta kind (`v1/Status`) is in every v3 document: keep the first.
                    at.entry(k.key()).or_insert(k);
                }
            }
            Err(e) => problems.push(e),
        }
    }

    // CRDs: into the given version, or every version there are schemas for.
    if !crds.is_empty() {
        let targets: BTreeSet<KubeVersion> = match explicit {
            Some(v) => std::iter::once(v).collect(),
            None => schema::cache(&cache)
                .versions()
                .into_iter()
                .chain(schema::embedded().versions())
                .chain(plan.keys().copied())
                .collect(),
        };
        let meta = import::object_meta_defs(explicit);
        let converted: Vec<Result<Vec<KindSchema>, String>> =
            crate::par::map(&crds, |(input, crd)| {
                import::from_crd(crd, &meta).map_err(|e| format!("`{}`: {e}", shown(&input.path)))
            });
        for kinds in converted {
            match kinds {
                Ok(kinds) => {
                    for v in &targets {
                        let at = plan.entry(*v).or_default();
                        for k in &kinds {
                            at.insert(k.key(), k.clone());
                        }
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }

    if let Some((first, rest)) = problems.split_first() {
        let mut d = Diagnostic::error(first.clone());
        for p in rest {
            d = d.note(p.clone());
        }
        return Err(Error::Run(
            d.help("nothing was imported; fix or leave out these inputs"),
        ));
    }
    plan.retain(|_, kinds| !kinds.is_empty());
    if plan.is_empty() {
        return Err(Error::run(
            "the documents name no kinds (no definition has `x-kubernetes-group-version-kind`); nothing was imported",
        ));
    }

    let mut out = String::new();
    for (v, kinds) in plan {
        let kinds: Vec<KindSchema> = kinds.into_values().collect();
        let n = import::write(&cache, v, &kinds).map_err(Error::run)?;
        let noun = if n == 1 { "kind" } else { "kinds" };
        out.push_str(&format!(
            "imported {n} {noun} for Kubernetes {v} into {cache_shown}\n"
        ));
    }
    for (p, why) in &scanned.skipped {
        out.push_str(&format!("skipped `{}`: {why}\n", shown(p)));
    }
    if not_crds > 0 {
        let noun = if not_crds == 1 {
            "document"
        } else {
            "documents"
        };
        out.push_str(&format!(
            "skipped {not_crds} {noun} beside the CRDs that are not CustomResourceDefinitions\n"
        ));
    }
    Ok(Output {
        stdout: out,
        code: 0,
        stderr: String::new(),
    })
}

fn list(dir: &Path, args: &SchemasListArgs) -> Result<Output, Error> {
    let mut sources: Vec<(String, Box<dyn SchemaSource>)> = Vec::new();
    if let Some((path, name)) = cache_dir(dir, args.schema_cache.as_ref())? {
        sources.push((format!("cache {name}"), schema::cache(&path)));
    }
    sources.push(("embedded".to_string(), schema::embedded()));
    // In lookup order: the cache wins over the embedded schemas.
    let mut rows = vec![(
        "SOURCE".to_string(),
        "VERSION".to_string(),
        "KINDS".to_string(),
    )];
    for (name, source) in &sources {
        let versions = source.versions();
        if versions.is_empty() {
            rows.push((name.clone(), "-".into(), "0".into()));
        }
        for v in versions {
            rows.push((
                name.clone(),
                v.to_string(),
                source.kinds(v).len().to_string(),
            ));
        }
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (a, b, c) in rows {
        out.push_str(&format!("{a:<w0$}  {b:<w1$}  {c:>w2$}\n"));
    }
    Ok(Output {
        stdout: out,
        code: 0,
        stderr: String::new(),
    })
}
