//! kiln's developer tasks. See `xtask/README.md`.
//!
//! ```text
//! cargo run --release --manifest-path xtask/Cargo.toml --features v1_35 -- schemas
//! cargo run --release --manifest-path xtask/Cargo.toml --features v1_35 -- check
//! ```

mod check;
mod strict;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

include!(concat!(env!("OUT_DIR"), "/resources.rs"));

/// One top-level resource type of the selected Kubernetes version.
struct Kind {
    api_version: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    schema: fn() -> Value,
}

impl Kind {
    /// `<group>_<version>_<kind>.json.gz`, with `core` for the core group, kind lowercased.
    fn file_name(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!(
            "{group}_{}_{}.json.gz",
            self.version,
            self.kind.to_ascii_lowercase()
        )
    }
}

fn schema_of<T: schemars::JsonSchema>() -> Value {
    schemars::SchemaGenerator::new(schemars::generate::SchemaSettings::draft2020_12())
        .into_root_schema_for::<T>()
        .to_value()
}

macro_rules! kinds {
    ($($t:ty),* $(,)?) => {
        vec![$(Kind {
            api_version: <$t as k8s_openapi::Resource>::API_VERSION,
            group: <$t as k8s_openapi::Resource>::GROUP,
            version: <$t as k8s_openapi::Resource>::VERSION,
            kind: <$t as k8s_openapi::Resource>::KIND,
            schema: schema_of::<$t>,
        }),*]
    };
}

fn all_kinds() -> Vec<Kind> {
    for_each_resource!(kinds)
}

/// The repository root (the folder holding `xtask/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn kube_version() -> String {
    format!("1.{KUBE_MINOR}")
}

const USAGE: &str = "\
usage: xtask <command> [options]

commands:
  schemas [--out DIR] [--debug-raw DIR]
      generate DIR/<kubeVersion>/ (default DIR: <repo>/schemas/k8s) for the Kubernetes
      version this xtask was built for (its v1_XX feature); --debug-raw also writes the raw
      schemars output and the strict result, pretty-printed and uncompressed, to a folder
  check [--schemas DIR] [--corpus DIR]
      compile every schema of every version under DIR (default <repo>/schemas/k8s), check
      that each is strict and canonical, and validate the real-world manifests in the corpus
      (default <repo>/../shared/corpus/real)
  list
      print the resource types of this build's Kubernetes version
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => {
            eprint!("{USAGE}");
            std::process::exit(2);
        }
    };
    let opt = |name: &str| -> Option<PathBuf> {
        let i = rest.iter().position(|a| a == name)?;
        Some(PathBuf::from(rest.get(i + 1).unwrap_or_else(|| {
            eprintln!("xtask: {name} needs a value");
            std::process::exit(2)
        })))
    };
    let result = match command {
        "schemas" => generate(
            &opt("--out").unwrap_or_else(|| repo_root().join("schemas/k8s")),
            opt("--debug-raw").as_deref(),
        ),
        "check" => check::run(
            &opt("--schemas").unwrap_or_else(|| repo_root().join("schemas/k8s")),
            &opt("--corpus").unwrap_or_else(|| repo_root().join("../shared/corpus/real")),
        ),
        "list" => {
            for k in all_kinds() {
                println!("{}/{}\t{}", k.api_version, k.kind, k.file_name());
            }
            Ok(())
        }
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("xtask: unknown command {other:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

/// Gzip with fixed header fields (mtime 0, no file name, OS 255), best compression.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn generate(out_root: &Path, debug_raw: Option<&Path>) -> Result<(), String> {
    let started = Instant::now();
    let version = kube_version();
    let dir = out_root.join(&version);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    // Start from a clean folder, so kinds that a version no longer has do not linger.
    for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().unwrap().to_string_lossy();
        if name.ends_with(".json.gz") || name == "index.json" {
            std::fs::remove_file(&path).map_err(|e| format!("remove {}: {e}", path.display()))?;
        }
    }
    if let Some(raw) = debug_raw {
        std::fs::create_dir_all(raw).map_err(|e| e.to_string())?;
    }

    let mut index = serde_json::Map::new();
    let mut notes = strict::Notes::default();
    let (mut raw_total, mut json_total, mut gz_total) = (0usize, 0usize, 0usize);
    let kinds = all_kinds();
    for k in &kinds {
        let key = format!("{}/{}", k.api_version, k.kind);
        let file = k.file_name();
        if index
            .insert(key.clone(), Value::String(file.clone()))
            .is_some()
        {
            return Err(format!("two types for {key}"));
        }
        let raw = (k.schema)();
        raw_total += serde_json::to_vec(&raw).unwrap().len();
        let strict = strict::make_strict(raw.clone(), &mut notes);
        for field in ["apiVersion", "kind"] {
            if strict["properties"].get(field).is_none() {
                return Err(format!("{key}: schema has no {field} property"));
            }
        }
        let json = serde_json::to_vec(&strict).unwrap();
        let gz = gzip(&json);
        json_total += json.len();
        gz_total += gz.len();
        std::fs::write(dir.join(&file), &gz).map_err(|e| format!("write {file}: {e}"))?;
        if let Some(raw_dir) = debug_raw {
            let stem = file.trim_end_matches(".json.gz");
            let pretty =
                |v: &Value| serde_json::to_string_pretty(&strict::sorted(v.clone())).unwrap();
            std::fs::write(raw_dir.join(format!("{stem}.raw.json")), pretty(&raw)).unwrap();
            std::fs::write(raw_dir.join(format!("{stem}.json")), pretty(&strict)).unwrap();
        }
    }
    if index
        .values()
        .filter_map(Value::as_str)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        != index.len()
    {
        return Err("two kinds map to the same file name".into());
    }

    let index = strict::sorted(serde_json::json!({"kubeVersion": version, "kinds": index}));
    let mut text = serde_json::to_string_pretty(&index).unwrap();
    text.push('\n');
    std::fs::write(dir.join("index.json"), text).map_err(|e| format!("write index.json: {e}"))?;

    println!(
        "kubernetes {version}: {} kinds -> {} ({} KiB raw schemars, {} KiB strict JSON, {} KiB gzipped) in {:.2?}",
        kinds.len(),
        dir.display(),
        raw_total / 1024,
        json_total / 1024,
        gz_total / 1024,
        started.elapsed()
    );
    println!(
        "  free-form definitions kept permissive: {:?}",
        notes.free_form
    );
    println!("  field-less structs closed: {:?}", notes.empty_structs);
    Ok(())
}
