//! Turns schemars' output for a k8s-openapi resource type into a strict, small, self-contained
//! JSON Schema (draft 2020-12). The rules live in kiln's `src/kube/strict.rs`, included here, so
//! the embedded schemas and `kiln schemas import` follow exactly the same rules; they are listed
//! in `xtask/README.md`.

use serde_json::{Map, Value};

#[path = "../../src/kube/strict.rs"]
#[allow(dead_code, reason = "kiln's import uses more of the shared rules than the generator")]
mod rules;

pub use rules::{Notes, problems as lint, sorted};

/// The name the root schema is given among its definitions while the rules run.
const ROOT: &str = "\u{0}root";

/// Applies every rule to one root schema from `schemars`, adding what it noticed to `notes`.
pub fn make_strict(mut root: Value, notes: &mut Notes) -> Value {
    let obj = root.as_object_mut().expect("root schema is an object");
    let mut defs = match obj.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        None => Map::new(),
        Some(other) => panic!("$defs is not an object: {other}"),
    };
    defs.insert(ROOT.into(), root);
    let strict = rules::Strict::new(&defs, rules::DEFS_PREFIX);
    notes.free_form.extend(strict.notes.free_form.iter().cloned());
    notes.empty_structs.extend(strict.notes.empty_structs.iter().cloned());
    strict
        .kind_schema(ROOT)
        .unwrap_or_else(|e| panic!("schemars output not understood: {e}"))
}
