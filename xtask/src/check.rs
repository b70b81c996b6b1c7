//! `xtask check`: the generated schemas compile, are strict and canonical, accept real
//! manifests and reject unknown fields.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::strict;

/// Corpus files every document of which must validate (where a schema exists) in every version.
const MUST_PASS: &[&str] = &[
    "GoogleCloudPlatform__microservices-demo__kubernetes-manifests__frontend.yaml",
    "GoogleCloudPlatform__microservices-demo__kubernetes-manifests__adservice.yaml",
    "GoogleCloudPlatform__microservices-demo__kubernetes-manifests__cartservice.yaml",
    "GoogleCloudPlatform__microservices-demo__kubernetes-manifests__loadgenerator.yaml",
    "kubernetes__ingress-nginx__deploy__static__provider__cloud__deploy.yaml",
    "kubernetes__dashboard__aio__deploy__recommended.yaml",
    "kubernetes__kube-state-metrics__examples__standard__deployment.yaml",
    "kubernetes__kube-state-metrics__examples__standard__cluster-role.yaml",
    "kubernetes__examples__AI__vllm-deployment__hpa__horizontal-pod-autoscaler.yaml",
    "kubernetes__examples__databases__cassandra__cassandra-statefulset.yaml",
    "myfinalhell__eureka-k8s__eureka-statefulset.yaml",
    "yannh__kubeconform__fixtures__int_or_string.yaml",
    "yannh__kubeconform__fixtures__quantity.yaml",
    "yannh__kubeconform__fixtures__null_string.yaml",
    "yannh__kubeconform__fixtures__null_array.yaml",
    "yannh__kubeconform__fixtures__valid.yaml",
    "yannh__kubeconform__fixtures__multi_valid.yaml",
];

/// Documents that must be rejected in every version: (file, apiVersion to validate it as, a
/// text that one of the errors must contain).
const MUST_FAIL: &[(&str, Option<&str>, &str)] = &[
    // apps/v1 DaemonSet with spec.replicas, a field DaemonSetSpec does not have.
    (
        "yannh__kubeconform__fixtures__extra_property.yaml",
        None,
        "replicas",
    ),
    // The same mistake in an extensions/v1beta1 DaemonSet (removed in 1.16, so no schema of
    // 1.33+ has that apiVersion): validated as the apps/v1 DaemonSet it became.
    (
        "instrumenta__kubeval__fixtures__extra_property.yaml",
        Some("apps/v1"),
        "replicas",
    ),
    // spec.replicas is a string, and spec.templates is unknown.
    (
        "yannh__kubeconform__fixtures__invalid.yaml",
        None,
        "templates",
    ),
];

struct Doc {
    file: String,
    n: usize,
    value: Value,
}

/// (file, document number) -> (apiVersion/kind, version -> errors, or `None` without a schema).
type Results = BTreeMap<(String, usize), (String, BTreeMap<String, Option<Vec<String>>>)>;

struct Version {
    name: String,
    validators: BTreeMap<String, jsonschema::Validator>,
}

pub fn run(schemas: &Path, corpus: &Path) -> Result<(), String> {
    let mut failures = Vec::new();
    let mut versions = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(schemas)
        .map_err(|e| format!("read {}: {e}", schemas.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("index.json").is_file())
        .collect();
    dirs.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.split('.')
            .map(|s| s.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    if dirs.is_empty() {
        return Err(format!(
            "no <version>/index.json under {}",
            schemas.display()
        ));
    }

    for dir in &dirs {
        let started = Instant::now();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap())
            .map_err(|e| format!("{name}/index.json: {e}"))?;
        if index["kubeVersion"] != name.as_str() {
            failures.push(format!(
                "{name}/index.json: kubeVersion is {}",
                index["kubeVersion"]
            ));
        }
        let kinds = index["kinds"]
            .as_object()
            .ok_or(format!("{name}/index.json: no kinds"))?;
        let listed: BTreeSet<&str> = kinds.values().filter_map(Value::as_str).collect();
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().into_owned();
            if file.ends_with(".json.gz") && !listed.contains(file.as_str()) {
                failures.push(format!("{name}/{file}: not in index.json"));
            }
        }
        let (mut gz_bytes, mut json_bytes) = (0usize, 0usize);
        let mut compile_time = Duration::ZERO;
        let mut validators = BTreeMap::new();
        for (key, file) in kinds {
            let file = file.as_str().unwrap();
            let gz = std::fs::read(dir.join(file)).map_err(|e| format!("{name}/{file}: {e}"))?;
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut json)
                .map_err(|e| format!("{name}/{file}: gunzip: {e}"))?;
            gz_bytes += gz.len();
            json_bytes += json.len();
            let schema: Value =
                serde_json::from_slice(&json).map_err(|e| format!("{name}/{file}: {e}"))?;
            // Canonical: re-serialising the parsed schema gives the very same bytes.
            if crate::gzip(&serde_json::to_vec(&strict::sorted(schema.clone())).unwrap()) != gz {
                failures.push(format!(
                    "{name}/{file}: not in canonical form (sorted keys, gzip -9, mtime 0)"
                ));
            }
            for problem in strict::lint(&schema) {
                failures.push(format!("{name}/{file}: {problem}"));
            }
            let t = Instant::now();
            match jsonschema::draft202012::new(&schema) {
                Ok(v) => {
                    validators.insert(key.clone(), v);
                }
                Err(e) => failures.push(format!("{name}/{file}: does not compile: {e}")),
            }
            compile_time += t.elapsed();
        }
        println!(
            "kubernetes {name}: {} kinds, {:.1} KiB gzipped ({:.1} KiB JSON); compiled all in {:.2?}; loaded and checked in {:.2?}",
            kinds.len(),
            gz_bytes as f64 / 1024.0,
            json_bytes as f64 / 1024.0,
            compile_time,
            started.elapsed()
        );
        versions.push(Version { name, validators });
    }

    // The corpus: every document of every YAML/JSON file; `List`s are opened.
    if !corpus.is_dir() {
        return Err(format!("corpus folder {} is missing", corpus.display()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let mut docs = Vec::new();
    let mut parse_errors = BTreeMap::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        match serde_saphyr::from_multiple::<Option<Value>>(&text) {
            Ok(values) => {
                let mut n = 0;
                for value in values.into_iter().flatten() {
                    let items = match (&value["kind"], value["items"].as_array()) {
                        (Value::String(k), Some(items)) if k.ends_with("List") => items.clone(),
                        _ => vec![value],
                    };
                    for value in items {
                        n += 1;
                        docs.push(Doc {
                            file: file.clone(),
                            n,
                            value,
                        });
                    }
                }
            }
            Err(e) => {
                let first = e.to_string().lines().next().unwrap_or_default().to_owned();
                parse_errors.insert(file, first);
            }
        }
    }
    let categories = read_sources(corpus);

    // doc -> version -> errors (None: no schema for its apiVersion/kind)
    let mut results = Results::new();
    for v in &versions {
        let t = Instant::now();
        let (mut ok, mut bad, mut none) = (0, 0, 0);
        for d in &docs {
            let key = doc_key(&d.value);
            let outcome = v.validators.get(&key).map(|val| errors(val, &d.value));
            match &outcome {
                None => none += 1,
                Some(e) if e.is_empty() => ok += 1,
                Some(_) => bad += 1,
            }
            results
                .entry((d.file.clone(), d.n))
                .or_insert_with(|| (key.clone(), BTreeMap::new()))
                .1
                .insert(v.name.clone(), outcome);
        }
        println!(
            "kubernetes {}: corpus {} documents: {ok} valid, {bad} invalid, {none} without a schema (removed or custom APIs), validated in {:.2?}",
            v.name,
            docs.len(),
            t.elapsed()
        );
    }
    let mut no_schema: BTreeMap<String, usize> = BTreeMap::new();
    for (key, by_version) in results.values() {
        if by_version.values().all(Option::is_none) {
            *no_schema.entry(key.clone()).or_default() += 1;
        }
    }
    println!(
        "apiVersion/kind in the corpus without a schema in any version: {}",
        no_schema
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "corpus files that are not YAML the parser accepts: {}",
        parse_errors.len()
    );
    for (file, e) in &parse_errors {
        println!("  {file}: {e}");
    }

    // Expectations.
    for file in MUST_PASS {
        let mut seen = false;
        for ((f, n), (key, by_version)) in &results {
            if f != file {
                continue;
            }
            seen = true;
            for (version, outcome) in by_version {
                if let Some(errs) = outcome
                    && !errs.is_empty()
                {
                    failures.push(format!(
                        "{version}: {file} #{n} {key} must be valid: {}",
                        errs.join("; ")
                    ));
                }
            }
        }
        if !seen {
            failures.push(format!("{file}: not in the corpus"));
        }
    }
    for (file, as_api, needle) in MUST_FAIL {
        let mut seen = false;
        for d in docs.iter().filter(|d| d.file == *file) {
            seen = true;
            let mut value = d.value.clone();
            if let Some(api) = as_api {
                value["apiVersion"] = Value::String((*api).to_owned());
            }
            let key = doc_key(&value);
            for v in &versions {
                match v.validators.get(&key) {
                    None => failures.push(format!("{}: {file}: no schema for {key}", v.name)),
                    Some(val) => {
                        let errs = errors(val, &value);
                        if !errs.iter().any(|e| e.contains(needle)) {
                            failures.push(format!(
                                "{}: {file} as {key} must be rejected for {needle:?}, got {errs:?}",
                                v.name
                            ));
                        } else if v.name == versions[0].name {
                            println!("rejected as expected ({key}): {file}: {}", errs.join("; "));
                        }
                    }
                }
            }
        }
        if !seen {
            failures.push(format!("{file}: not in the corpus"));
        }
    }

    // Report every invalid document, grouped by the versions it fails in.
    println!("\ninvalid documents (category from SOURCES.tsv; * = said to be valid upstream):");
    for ((file, n), (key, by_version)) in &results {
        let failing: Vec<&str> = by_version
            .iter()
            .filter(|(_, o)| o.as_ref().is_some_and(|e| !e.is_empty()))
            .map(|(v, _)| v.as_str())
            .collect();
        if failing.is_empty() {
            continue;
        }
        let category = categories.get(file).map_or("?", String::as_str);
        let upstream_valid = category
            .split(';')
            .any(|c| c == "fixture-valid" || c == "modern-valid");
        let errs = by_version
            .values()
            .flatten()
            .find(|e| !e.is_empty())
            .unwrap();
        println!(
            "{} {file} #{n} {key} [{category}] in {}: {}",
            if upstream_valid { "*" } else { " " },
            if failing.len() == versions.len() {
                "all".to_owned()
            } else {
                failing.join(",")
            },
            errs.join("; ")
        );
    }

    if failures.is_empty() {
        println!("\ncheck passed: {} versions", versions.len());
        Ok(())
    } else {
        for f in &failures {
            eprintln!("FAIL {f}");
        }
        Err(format!("{} check failures", failures.len()))
    }
}

fn doc_key(v: &Value) -> String {
    format!(
        "{}/{}",
        v["apiVersion"].as_str().unwrap_or("?"),
        v["kind"].as_str().unwrap_or("?")
    )
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    let mut out: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// file -> category, from the corpus' SOURCES.tsv when there is one.
fn read_sources(corpus: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(corpus.join("SOURCES.tsv")) else {
        return BTreeMap::new();
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = header.iter().position(|h| *h == "category").unwrap_or(5);
    lines
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            Some((cells.first()?.to_string(), cells.get(col)?.to_string()))
        })
        .collect()
}
