//! Embeds the built-in template library (`templates/`) into the binary.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=templates");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out =
        String::from("/// Built-in templates: (name relative to `templates/`, source).\n");
    out.push_str("pub(crate) static EMBEDDED: &[(&str, &str)] = &[\n");
    for (name, path) in files {
        println!("cargo:rerun-if-changed={path}");
        let _ = writeln!(out, "    ({name:?}, include_str!({path:?})),");
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    std::fs::write(dest, out).expect("write embedded.rs");
    embed_schemas();
}

/// Embeds the generated Kubernetes schemas (`schemas/k8s/<version>/`, see xtask/README.md):
/// each version's index and its compressed per-kind files, decompressed lazily at run time.
fn embed_schemas() {
    println!("cargo:rerun-if-changed=schemas");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join("k8s");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("/// Embedded Kubernetes schemas: (`<version>/<file>`, bytes).\n");
    out.push_str("pub(crate) static EMBEDDED_SCHEMAS: &[(&str, &[u8])] = &[\n");
    for (name, path) in files {
        if name.ends_with(".json.gz") || name.ends_with("index.json") {
            let _ = writeln!(out, "    ({name:?}, include_bytes!({path:?})),");
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas.rs");
    std::fs::write(dest, out).expect("write schemas.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let name = rel.to_string_lossy().replace('\\', "/");
            files.push((name, path.to_string_lossy().into_owned()));
        }
    }
}
