//! The bundled example fleet renders exactly to `golden/`. Regenerate on purpose with
//! `cargo run -- render --out golden` (or `just golden`) and review the diff.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::kiln_in;

fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    out
}

#[test]
fn example_fleet_matches_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = kiln_in(root, &["render", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let got = tree(&out);
    let want = tree(&root.join("golden"));
    let names = |t: &BTreeMap<String, String>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&got),
        names(&want),
        "rendered files differ from golden/"
    );
    for (name, text) in &want {
        assert!(
            got[name] == *text,
            "{name} drifted from golden/; run `just golden` and review the diff"
        );
    }
}
