//! The bundled example fleet re-records exactly to `golden/`. Regenerate on purpose with
//! `cargo run -- golden update` (or `just golden`) and review the diff.

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
    // `kiln golden update` on a copy of the project: golden/ holds the golden form (Secret
    // digests, ApplySet labels and parents), byte for byte.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = crate::support::repo_copy(&["kiln.yaml", "values", "templates"]);
    let (code, out, err) = kiln_in(copy.path(), &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("updated golden ("), "{out}");
    let got = tree(&copy.path().join("golden"));
    let want = tree(&root.join("golden"));
    let names = |t: &BTreeMap<String, String>| {
        t.keys()
            .filter(|k| !k.starts_with('.'))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&got),
        names(&want),
        "re-recorded files differ from golden/"
    );
    for (name, text) in want.iter().filter(|(k, _)| !k.starts_with('.')) {
        assert!(
            got[name] == *text,
            "{name} drifted from golden/; run `just golden` and review the diff"
        );
    }
}
