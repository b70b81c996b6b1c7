//! `kiln render` / `kiln values` end to end, through the real binary.
//!
//! Every test builds a tiny project in a temporary folder with its own template set (`web`, one
//! `ConfigMap` per service) so it does not depend on the built-in `spring-boot` set. The built-in
//! `_env` templates still render a Namespace per environment; that is expected.
//!
//! Bad-input tests follow one pattern: render a good project first, snapshot `out/`, break one
//! input, run again, and check the exit code, that stderr names the file (and line:col) and says
//! something specific, and that `out/` is byte-identical (nothing written, no temp folders left).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln::yaml::{self, Dialect, Node, Value};
use tempfile::TempDir;

use crate::support::{CM, Kiln, kiln_in, project, write};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const KILN_YAML: &str = "\
environments:
  dev: {namespace: dev, kubeVersion: \"1.35\"}
  prod: {namespace: prod, kubeVersion: \"1.35\"}
";

/// Two environments (dev, prod), two services (api, db), one template set (`web`).
const BASIC: &[(&str, &str)] = &[
    ("kiln.yaml", KILN_YAML),
    ("templates/web/cm.yaml.j2", CM),
    ("values/defaults.yaml", "template: web\ngreeting: hello\n"),
    ("values/services/api.yaml", "greeting: hi\n"),
    ("values/services/db.yaml", "{}\n"),
];

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Run kiln and require success; returns stdout.
fn kiln_ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = kiln_in(dir, args);
    assert_eq!(code, 0, "kiln {args:?} failed:\n{err}");
    assert_eq!(err, "", "kiln {args:?} printed to stderr");
    out
}

type Snapshot = BTreeMap<String, Vec<u8>>;

/// Every file and folder under `root/rel`, with contents, keyed by path relative to `root`.
fn tree(root: &Path, rel: &str, into: &mut Snapshot) {
    let path = root.join(rel);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return;
    };
    let mut entries: Vec<_> = entries.map(|e| e.unwrap()).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = format!("{rel}/{}", e.file_name().to_string_lossy());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            into.insert(format!("{name}/"), Vec::new());
            tree(root, &name, into);
        } else {
            into.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
}

/// The state of the output: everything under `out/`, plus any kiln temp folder (`.out.kiln-*`)
/// left in the project root.
fn snapshot(dir: &Path) -> Snapshot {
    crate::support::wait_for_helpers(dir);
    let mut s = Snapshot::new();
    tree(dir, "out", &mut s);
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.contains("kiln-") {
            s.insert(format!("STRAY {name}"), Vec::new());
        }
    }
    s
}

/// Files of the output folder `dir` with paths relative to it.
fn out_files(dir: &Path) -> Snapshot {
    let mut s = Snapshot::new();
    tree(dir, ".", &mut s);
    s
}

/// A good project, rendered once to `out/`, with the snapshot of that output.
fn rendered(files: &[(&str, &str)]) -> (TempDir, Snapshot) {
    let dir = project(files);
    kiln_ok(dir.path(), &["render"]);
    let snap = snapshot(dir.path());
    assert!(
        snap.contains_key("out/dev/api.yaml"),
        "first render wrote {:?}",
        snap.keys().collect::<Vec<_>>()
    );
    (dir, snap)
}

/// Run a command that must fail with `code`, print nothing on stdout and leave `out/` exactly
/// as `before`. Returns stderr.
fn refused(dir: &Path, before: &Snapshot, args: &[&str], code: i32) -> String {
    let (got, out, err) = kiln_in(dir, args);
    assert_eq!(got, code, "kiln {args:?}: wrong exit code; stderr:\n{err}");
    assert_eq!(out, "", "kiln {args:?} printed to stdout on failure");
    assert!(
        err.starts_with("error"),
        "kiln {args:?}: stderr does not start with an error:\n{err}"
    );
    let after = snapshot(dir);
    assert!(
        after == *before,
        "kiln {args:?} changed out/ although it failed:\nbefore: {:?}\nafter:  {:?}",
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    err
}

#[track_caller]
fn assert_has(stderr: &str, phrases: &[&str]) {
    for p in phrases {
        assert!(stderr.contains(p), "stderr lacks {p:?}:\n{stderr}");
    }
}

#[track_caller]
fn assert_lacks(text: &str, phrases: &[&str]) {
    for p in phrases {
        assert!(
            !text.contains(p),
            "output unexpectedly contains {p:?}:\n{text}"
        );
    }
}

/// Parse a rendered stream the way the API server reads it (YAML 1.1 booleans and octals).
fn parse_kube(text: &str) -> Vec<Node> {
    yaml::parse_stream(text, 0, Dialect::Kube)
        .unwrap_or_else(|e| panic!("output is not valid YAML: {e}\n{text}"))
}

fn str_at<'a>(node: &'a Node, path: &[&str]) -> &'a Value {
    let mut n = node;
    for k in path {
        n = n.get(k).unwrap_or_else(|| panic!("no `{k}` in {path:?}"));
    }
    &n.value
}

// ---------------------------------------------------------------------------------------------
// Bad values files
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_yaml_in_values_file_is_refused_with_location() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "values/services/api.yaml",
        "greeting: hi\nport: 80\n  extra: 1\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "`values/services/api.yaml` is not valid YAML",
            "values/services/api.yaml:3:",
            "3 |   extra: 1",
        ],
    );
}

#[test]
fn duplicate_keys_in_values_file_are_refused() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "values/services/api.yaml",
        "greeting: hi\ngreeting: ho\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "values/services/api.yaml:2:1",
            "duplicate mapping key: greeting",
        ],
    );

    // Nested duplicates too, in any layer.
    write(p.path(), "values/services/api.yaml", "greeting: hi\n");
    write(
        p.path(),
        "values/defaults.yaml",
        "template: web\nimage:\n  tag: a\n  tag: b\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &["values/defaults.yaml:4:3", "duplicate mapping key: tag"],
    );
}

#[test]
fn values_file_with_a_list_at_the_top_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "values/services/api.yaml", "- greeting\n- hi\n");
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "values/services/api.yaml:1:1",
            "must be a mapping at the top level, found a list",
        ],
    );
}

#[test]
fn empty_values_file_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "values/services/api.yaml", "");
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "values file `values/services/api.yaml` is empty",
            "write `{}`",
        ],
    );

    // Only comments is just as empty.
    write(p.path(), "values/services/api.yaml", "# nothing yet\n");
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(&err, &["values file `values/services/api.yaml` is empty"]);
}

#[test]
fn non_utf8_values_file_is_refused() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "values/services/api.yaml",
        b"greeting: hi\nname: caf\xe9\n".as_slice(),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &["`values/services/api.yaml` is not valid UTF-8", "line 2"],
    );
}

#[test]
fn missing_values_file_from_f_cannot_run() {
    let (p, before) = rendered(BASIC);
    let missing = p.path().join("nope.yaml");
    let err = refused(
        p.path(),
        &before,
        &["render", "-f", missing.to_str().unwrap()],
        2,
    );
    assert_has(&err, &["nope.yaml", "does not exist"]);
}

// ---------------------------------------------------------------------------------------------
// Bad flags
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_env_suggests_near_miss() {
    let (p, before) = rendered(BASIC);
    let err = refused(p.path(), &before, &["render", "--env", "prd"], 2);
    assert_has(&err, &["unknown environment `prd`", "did you mean `prod`?"]);
    let err = refused(p.path(), &before, &["values", "api", "--env", "de"], 2);
    assert_has(&err, &["unknown environment `de`", "did you mean `dev`?"]);
    // Swapped neighbours count as one edit.
    let err = refused(p.path(), &before, &["render", "--env", "prdo"], 2);
    assert_has(
        &err,
        &["unknown environment `prdo`", "did you mean `prod`?"],
    );
    // A far miss lists what exists instead.
    let err = refused(p.path(), &before, &["render", "--env", "staging"], 2);
    assert_has(&err, &["unknown environment `staging`", "dev, prod"]);
}

#[test]
fn unknown_service_is_refused() {
    let (p, before) = rendered(BASIC);
    let err = refused(p.path(), &before, &["render", "--service", "apii"], 2);
    assert_has(&err, &["unknown service `apii`", "did you mean `api`?"]);
    let err = refused(p.path(), &before, &["render", "--service", "payments"], 2);
    assert_has(
        &err,
        &["unknown service `payments`", "values/services/", "api, db"],
    );
    let err = refused(
        p.path(),
        &before,
        &["values", "payments", "--env", "dev"],
        2,
    );
    assert_has(&err, &["unknown service `payments`"]);
}

#[test]
fn malformed_set_is_refused() {
    let (p, before) = rendered(BASIC);
    let err = refused(p.path(), &before, &["render", "--set", "greeting"], 2);
    assert_has(
        &err,
        &[
            "malformed `--set greeting`",
            "no `=` after the path",
            "--set #1",
        ],
    );

    let err = refused(
        p.path(),
        &before,
        &["render", "--set", "x=1", "--set", "a[x]=1"],
        2,
    );
    assert_has(
        &err,
        &[
            "malformed `--set a[x]=1`",
            "a list index must be a number",
            "--set #2:1:3",
        ],
    );

    let err = refused(
        p.path(),
        &before,
        &["render", "--set-json", "ports=[80,"],
        2,
    );
    assert_has(
        &err,
        &["malformed `--set-json ports=[80,`", "not valid JSON"],
    );

    let err = refused(p.path(), &before, &["render", "--set", "a..b=1"], 2);
    assert_has(&err, &["empty key in the path"]);
}

#[test]
fn set_into_a_scalar_is_refused() {
    let (p, before) = rendered(BASIC);
    let err = refused(
        p.path(),
        &before,
        &["render", "--set", "greeting.text=1"],
        1,
    );
    assert_has(
        &err,
        &[
            "cannot apply `greeting.text`",
            "`greeting` is a string, not a mapping",
        ],
    );
}

/// Regression: a `--set` that runs into a scalar names where that scalar was set.
#[test]
fn set_into_a_scalar_names_where_it_was_set() {
    let (p, before) = rendered(BASIC);
    let err = refused(
        p.path(),
        &before,
        &["render", "--set", "greeting.text=1"],
        1,
    );
    assert!(
        err.contains("values/services/api.yaml:1") || err.contains("values/defaults.yaml:2"),
        "stderr does not say where `greeting` was set:\n{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad templates
// ---------------------------------------------------------------------------------------------

#[test]
fn template_syntax_error_is_refused_with_location() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        CM.replace("{{ values.greeting }}", "{{ values.greeting | }}"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "syntax error",
            "templates/web/cm.yaml.j2:7:",
            "7 |   greeting: {{ values.greeting | }}",
        ],
    );

    // An unclosed block is reported too.
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{CM}{{% if values.x %}}\nextra: 1\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "syntax error",
            "unexpected end of input",
            "templates/web/cm.yaml.j2:",
        ],
    );
}

#[test]
fn undefined_variable_names_template_line_and_expression() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{CM}  replicas: {{{{ values.replica }}}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "undefined value in `values.replica`",
            "templates/web/cm.yaml.j2:8:16",
            "8 |   replicas: {{ values.replica }}",
            "while rendering `api` in environment `dev`",
            "default(",
        ],
    );
    // Reported once for all instances, not four times.
    assert_eq!(err.matches("undefined value").count(), 1, "{err}");
}

#[test]
fn undefined_variable_in_a_library_macro_names_the_library_file() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/_lib/helpers.j2",
        "{% macro port(v) %}\n{{ v.port }}\n{% endmacro %}\n",
    );
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{{% import \"_lib/helpers.j2\" as h %}}\n{CM}  port: {{{{ h.port(values) }}}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "undefined value",
            "templates/_lib/helpers.j2:2:",
            "2 | {{ v.port }}",
        ],
    );
}

/// Regression: an undefined nested attribute shows the whole expression, not just `.cpu`.
#[test]
fn undefined_nested_attribute_shows_whole_expression() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{CM}  cpu: {{{{ values.resources.cpu }}}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "undefined value in `values.resources.cpu`",
            "templates/web/cm.yaml.j2:8:11",
        ],
    );
}

#[test]
fn quoted_expression_is_rejected_at_load_with_the_fix() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        CM.replace("name: {{ service.name }}", "name: \"{{ service.name }}\""),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "expression `{{ service.name }}` is wrapped in quotes",
            "templates/web/cm.yaml.j2:4:9",
            "remove the quotes",
            "{{ \"prefix-\" ~ service.name }}",
        ],
    );
}

#[test]
fn quoted_or_glued_expression_is_rejected_even_when_never_rendered() {
    // `unused` is used by no service and the branch is never taken: the check is at load time.
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/unused/x.yaml.j2",
        "{% if false %}\nname: '{{ values.a }}'\n{% endif %}\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "templates/unused/x.yaml.j2:2:7",
            "is wrapped in quotes",
            "remove the quotes",
        ],
    );

    write(
        p.path(),
        "templates/unused/x.yaml.j2",
        "name: {{ service.name }}-config\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "templates/unused/x.yaml.j2:1:7",
            "is glued to the text after it",
            "{{ service.name ~ \"-...\" }}",
        ],
    );
}

const SECRET: &str = "stolen: TOP-SECRET-VALUE\n";

#[test]
fn include_climbing_out_of_templates_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "secret.j2", SECRET);
    for name in ["../secret.j2", "web/../../secret.j2"] {
        write(
            p.path(),
            "templates/web/cm.yaml.j2",
            format!("{CM}{{% include \"{name}\" %}}\n"),
        );
        let err = refused(p.path(), &before, &["render"], 1);
        assert_has(&err, &["templates/web/cm.yaml.j2:8:4", name]);
        assert_lacks(&err, &["TOP-SECRET"]);
        let (code, out, _) = kiln_in(p.path(), &["render", "--stdout"]);
        assert_eq!(code, 1);
        assert_lacks(&out, &["TOP-SECRET"]);
    }
}

#[test]
fn include_of_an_absolute_path_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "secret.j2", SECRET);
    let abs = p.path().join("secret.j2");
    let abs = abs.to_str().unwrap();
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{CM}{{% include \"{abs}\" %}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(&err, &["templates/web/cm.yaml.j2:8:4", abs]);
    assert_lacks(&err, &["TOP-SECRET"]);
}

/// Regression: an include that escapes the templates folder says why it was refused.
#[test]
fn escaping_include_says_why_it_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "secret.j2", SECRET);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{CM}{{% include \"../secret.j2\" %}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(&err, &["climbs out of the templates folder"]);

    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{{% import \"../secret.j2\" as s %}}\n{CM}"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(&err, &["climbs out of the templates folder"]);

    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{CM}{{% include \"/etc/hostname\" %}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(&err, &["is an absolute path"]);
}

#[cfg(unix)]
#[test]
fn symlink_out_of_templates_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "secret.j2", SECRET);
    std::os::unix::fs::symlink(
        p.path().join("secret.j2"),
        p.path().join("templates/web/leak.j2"),
    )
    .unwrap();
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "template `templates/web/leak.j2` is a symlink to",
            "secret.j2",
            "outside the templates folder",
            "copy the file in",
        ],
    );
    assert_lacks(&err, &["TOP-SECRET"]);
    std::fs::remove_file(p.path().join("templates/web/leak.j2")).unwrap();

    // A symlinked folder that leads outside, with a relative target.
    write(p.path(), "elsewhere/evil.yaml.j2", SECRET);
    std::os::unix::fs::symlink("../../elsewhere", p.path().join("templates/web/ext")).unwrap();
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "template `templates/web/ext` is a symlink to",
            "outside the templates folder",
        ],
    );
    std::fs::remove_file(p.path().join("templates/web/ext")).unwrap();

    // A symlink that stays inside the templates folder is fine.
    write(
        p.path(),
        "templates/_lib/real.j2",
        "{% macro hi() %}hi{% endmacro %}\n",
    );
    std::os::unix::fs::symlink("real.j2", p.path().join("templates/_lib/alias.j2")).unwrap();
    kiln_ok(p.path(), &["render"]);
}

#[test]
fn runaway_loop_stops_with_a_fuel_error() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!(
            "{{% for i in range(100000) %}}{{% for j in range(100000) %}}{{% endfor %}}{{% endfor %}}\n{CM}"
        ),
    );
    // One instance only: each instance burns its own whole fuel budget, so the time grows with
    // the number of instances (about 1 s each in a debug build with FUEL = 5M).
    let start = Instant::now();
    let err = refused(
        p.path(),
        &before,
        &["render", "--env", "dev", "--service", "api"],
        1,
    );
    let took = start.elapsed();
    assert_has(
        &err,
        &[
            "template did too much work and was stopped",
            "templates/web/cm.yaml.j2:1:",
            "loop bounds",
        ],
    );
    // A hang guard, generous for an unoptimised build on a busy machine.
    assert!(took < Duration::from_secs(20), "runaway loop took {took:?}");
}

/// Regression: endless macro recursion ends with a diagnostic, not a stack overflow.
#[test]
fn endless_recursion_is_a_diagnostic_not_a_crash() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!("{{% macro f(n) %}}{{{{ f(n + 1) }}}}{{% endmacro %}}\n{{{{ f(0) }}}}\n{CM}"),
    );
    let start = Instant::now();
    let err = refused(p.path(), &before, &["render"], 1);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_has(&err, &["templates/web/cm.yaml.j2:"]);
    assert!(
        err.contains("recursion") || err.contains("too much work"),
        "{err}"
    );
}

#[test]
fn rendered_document_that_is_not_yaml_shows_rendered_lines() {
    let (p, before) = rendered(BASIC);
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name ~ \"-bad\" }}\ndata:\n  a: 1\n    b: {{ values.greeting }}\n";
    write(p.path(), "templates/web/bad.yaml.j2", bad);
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "template `templates/web/bad.yaml.j2` rendered invalid YAML",
            "output of templates/web/bad.yaml.j2:7:",
            // The rendered text (with the value filled in), with its line number.
            "7 |     b: \"hi\"",
            "while rendering `api` in environment `dev`",
            "the lines above are the rendered output",
        ],
    );
}

#[test]
fn rendered_document_without_kind_is_refused() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "templates/web/bad.yaml.j2",
        "apiVersion: v1\nmetadata:\n  name: {{ service.name ~ \"-x\" }}\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "template `templates/web/bad.yaml.j2` rendered a document that is not a Kubernetes object",
            "output of templates/web/bad.yaml.j2 for dev/api",
        ],
    );
}

#[test]
fn unknown_template_set_is_refused() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "values/services/db.yaml", "template: wbe\n");
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "service `db` uses template set `wbe`, which does not exist",
            "did you mean `web`?",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Project file and output folder
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_key_in_kiln_yaml_is_refused_with_line() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "kiln.yaml",
        format!("{KILN_YAML}environmnets: {{}}\n"),
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "invalid `kiln.yaml`",
            "unknown field `environmnets`: did you mean `environments`?",
            "kiln.yaml:4:1",
            "4 | environmnets: {}",
        ],
    );

    write(
        p.path(),
        "kiln.yaml",
        "environments:\n  dev:\n    namespace: dev\n    kubeVersion: \"1.35\"\n    clutser: x\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &[
            "unknown field `clutser`: did you mean `cluster`?",
            "kiln.yaml:5:5",
        ],
    );
}

#[test]
fn unquoted_kube_version_is_explained() {
    let (p, before) = rendered(BASIC);
    write(
        p.path(),
        "kiln.yaml",
        "environments:\n  dev: {namespace: dev, kubeVersion: 1.30}\n",
    );
    let err = refused(p.path(), &before, &["render"], 1);
    assert_has(
        &err,
        &["`kubeVersion` is not a version", "kiln.yaml:2:", "quote it"],
    );
}

#[test]
fn no_kiln_yaml_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = kiln_in(dir.path(), &["render"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert_has(&err, &["no `kiln.yaml` in", "-C DIR"]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "kiln wrote into a folder without a project"
    );
}

#[test]
fn output_under_a_regular_file_cannot_run() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "afile", "keep me\n");
    let under = p.path().join("afile/sub");
    let err = refused(
        p.path(),
        &before,
        &["render", "--out", under.to_str().unwrap()],
        2,
    );
    assert_has(&err, &["cannot create folder", "afile"]);

    let file = p.path().join("afile");
    let err = refused(
        p.path(),
        &before,
        &["render", "--out", file.to_str().unwrap()],
        2,
    );
    assert_has(&err, &["exists and is not a folder", "afile"]);

    // Also with --env (a different write path).
    let err = refused(
        p.path(),
        &before,
        &["render", "--env", "dev", "--out", under.to_str().unwrap()],
        2,
    );
    assert_has(&err, &["afile"]);
    assert_eq!(read(p.path(), "afile"), "keep me\n");
}

#[test]
fn foreign_output_folder_is_not_replaced() {
    let (p, before) = rendered(BASIC);
    write(p.path(), "mine/notes.txt", "precious\n");
    let mine = p.path().join("mine");
    let err = refused(
        p.path(),
        &before,
        &["render", "--out", mine.to_str().unwrap()],
        2,
    );
    assert_has(&err, &["was not written by kiln", "mine"]);
    assert_eq!(out_files(&mine).keys().collect::<Vec<_>>(), ["./notes.txt"]);
}

// ---------------------------------------------------------------------------------------------
// Values: precedence, null, lists, --set typing, --origin
// ---------------------------------------------------------------------------------------------

fn layered() -> TempDir {
    project(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/cm.yaml.j2", CM),
        (
            "values/defaults.yaml",
            "template: web\ngreeting: hello\na: defaults\nb: defaults\nc: defaults\nd: defaults\ne: defaults\nf: defaults\ng: defaults\n\
             gone: here\nlist: [1, 2, 3]\nnested: {x: 1, y: 2}\n",
        ),
        (
            "values/envs/dev.yaml",
            "b: env\nc: env\nd: env\ne: env\nf: env\ng: env\n",
        ),
        (
            "values/services/api.yaml",
            "c: svc\nd: svc\ne: svc\nf: svc\ng: svc\ngone: null\nlist: [9]\nnested: {y: null, z: 3}\n",
        ),
        (
            "values/services/api.dev.yaml",
            "d: svc-env\ne: svc-env\nf: svc-env\ng: svc-env\n",
        ),
        ("values/services/db.yaml", "{}\n"),
        ("f1.yaml", "e: f1\nf: f1\ng: f1\n"),
        ("f2.yaml", "f: f2\ng: f2\n"),
    ])
}

#[test]
fn precedence_of_layers_flags_and_sets() {
    let p = layered();
    let f1 = p.path().join("f1.yaml");
    let f2 = p.path().join("f2.yaml");
    let out = kiln_ok(
        p.path(),
        &[
            "values",
            "api",
            "--env",
            "dev",
            "-f",
            f1.to_str().unwrap(),
            "-f",
            f2.to_str().unwrap(),
            "--set",
            "g=set1",
            "--set",
            "g=set2",
        ],
    );
    assert_eq!(
        out,
        "template: web\ngreeting: hello\na: defaults\nb: env\nc: svc\nd: svc-env\ne: f1\nf: f2\ng: set2\n\
         list:\n- 9\nnested:\n  x: 1\n  z: 3\n"
    );

    // Later flags win in command-line order, across --set kinds.
    let out = kiln_ok(
        p.path(),
        &[
            "values",
            "api",
            "--env",
            "dev",
            "--set",
            "g=a",
            "--set-string",
            "g=b",
            "--set-json",
            "g=\"c\"",
        ],
    );
    assert!(out.contains("\ng: c\n"), "{out}");
    let out = kiln_ok(
        p.path(),
        &[
            "values",
            "api",
            "--env",
            "dev",
            "-f",
            f2.to_str().unwrap(),
            "-f",
            f1.to_str().unwrap(),
        ],
    );
    assert!(out.contains("\nf: f1\ng: f1\n"), "{out}");

    // Other environments and services do not see dev's or api's layers.
    let out = kiln_ok(p.path(), &["values", "api", "--env", "prod"]);
    assert!(out.contains("\nb: defaults\nc: svc\nd: svc\n"), "{out}");
    let out = kiln_ok(p.path(), &["values", "db", "--env", "dev"]);
    assert!(
        out.contains("\nc: env\nd: env\n")
            && out.contains("gone: here")
            && out.contains("list:\n- 1\n- 2\n- 3\n"),
        "{out}"
    );
}

#[test]
fn explicit_null_deletes_and_lists_replace() {
    let p = layered();
    let out = kiln_ok(p.path(), &["values", "api", "--env", "dev"]);
    assert_lacks(&out, &["gone", "y:"]);
    assert!(
        out.contains("list:\n- 9\nnested:\n  x: 1\n  z: 3\n"),
        "{out}"
    );

    // --set null deletes too, at any depth; --set-json replaces a list whole.
    let out = kiln_ok(
        p.path(),
        &[
            "values",
            "api",
            "--env",
            "dev",
            "--set",
            "nested.x=null",
            "--set",
            "a=null",
            "--set-json",
            "list=[7,8]",
        ],
    );
    assert_lacks(&out, &["\na:", "x: 1"]);
    assert!(out.contains("list:\n- 7\n- 8\nnested:\n  z: 3\n"), "{out}");

    // A list index sets one element of the merged list.
    let out = kiln_ok(
        p.path(),
        &["values", "db", "--env", "dev", "--set", "list[1]=5"],
    );
    assert!(out.contains("list:\n- 1\n- 5\n- 3\n"), "{out}");
}

#[test]
fn set_typing() {
    let p = project(BASIC);
    let out = kiln_ok(
        p.path(),
        &[
            "values",
            "db",
            "--env",
            "dev",
            "--set",
            "v=1.10",
            "--set",
            "o=0755",
            "--set",
            "y=yes",
            "--set",
            "n=3",
            "--set",
            "neg=-7",
            "--set",
            "t=true",
            "--set",
            "hosts=a,b",
            "--set",
            "e=",
            "--set-string",
            "s=3",
            "--set-string",
            "sb=true",
            "--set-json",
            "j=[1,{\"k\":true}]",
            "--set-json",
            "js=\"x\"",
            "--set",
            r"ann.kubernetes\.io/x=1",
        ],
    );
    assert_eq!(
        out,
        "template: web\ngreeting: hello\nv: \"1.10\"\no: \"0755\"\n\"y\": \"yes\"\n\"n\": 3\nneg: -7\nt: true\nhosts: a,b\ne: \"\"\n\
         s: \"3\"\nsb: \"true\"\nj:\n- 1\n- k: true\njs: x\nann:\n  kubernetes.io/x: 1\n"
    );
    // Read back as a YAML 1.1 reader would: the types are what --set promised.
    let doc = yaml::parse(&out, 0, Dialect::Kube).unwrap();
    assert_eq!(str_at(&doc, &["v"]), &Value::Str("1.10".into()));
    assert_eq!(str_at(&doc, &["o"]), &Value::Str("0755".into()));
    assert_eq!(str_at(&doc, &["y"]), &Value::Str("yes".into()));
    assert_eq!(str_at(&doc, &["n"]), &Value::Int(3));
    assert_eq!(str_at(&doc, &["s"]), &Value::Str("3".into()));
    assert_eq!(str_at(&doc, &["t"]), &Value::Bool(true));
}

#[test]
fn values_origin_shows_file_line_col_and_set_flag() {
    let p = layered();
    let f1 = p.path().join("f1.yaml");
    let f1s = f1.to_str().unwrap();
    let out = kiln_ok(
        p.path(),
        &[
            "values",
            "api",
            "--env",
            "dev",
            "--origin",
            "-f",
            f1s,
            "--set",
            "g=x",
            "--set-string",
            "s=3",
        ],
    );
    let expected = format!(
        "template: web # values/defaults.yaml:1:11\n\
         greeting: hello # values/defaults.yaml:2:11\n\
         a: defaults # values/defaults.yaml:3:4\n\
         b: env # values/envs/dev.yaml:1:4\n\
         c: svc # values/services/api.yaml:1:4\n\
         d: svc-env # values/services/api.dev.yaml:1:4\n\
         e: f1 # {f1s}:1:4\n\
         f: f1 # {f1s}:2:4\n\
         g: x # --set #1:1:1\n\
         list:\n\
         - 9 # values/services/api.yaml:7:8\n\
         nested:\n  x: 1 # values/defaults.yaml:12:13\n  z: 3 # values/services/api.yaml:8:22\n\
         s: \"3\" # --set-string #2:1:1\n"
    );
    assert_eq!(out, expected);
}

// ---------------------------------------------------------------------------------------------
// YAML-safe interpolation
// ---------------------------------------------------------------------------------------------

/// Strings that YAML (1.1 or 1.2) would retype, split or break if written unquoted.
const TRICKY: &[&str] = &[
    "on",
    "yes",
    "NO",
    "y",
    "Y",
    "n",
    "off",
    "True",
    "~",
    "null",
    "0755",
    "0o17",
    "0x1F",
    "1.10",
    "1e3",
    "1_000",
    "12:30",
    "2001-12-14",
    "+1",
    ".5",
    "-.inf",
    ".NaN",
    "=",
    "<<",
    "a: b",
    "a:",
    "say \"hi\"\nline two\n",
    "---",
    "...",
    "#x",
    "a #b",
    "  leading",
    "trailing ",
    "",
    " ",
    "\n",
    "a\n\n",
    "\na",
    "a \nb",
    "tab\there",
    "back\\slash",
    "a\r\nb",
    "*alias",
    "&anchor",
    "!tag",
    "%x",
    "@x",
    "`x",
    "- x",
    "? x",
    "|",
    ">",
    "{a}",
    "[a]",
    "a, b",
    "héllo ✓ 日本 🚀",
    "\u{feff}bom",
    "a\u{2028}b",
    "99999999999999999999",
];

#[test]
fn interpolated_strings_round_trip_exactly() {
    let mut values = String::from("data:\n");
    let mut keys = Vec::new();
    for (i, s) in TRICKY.iter().enumerate() {
        let key = format!("k{i:02}");
        let _ = writeln!(values, "  {key}: {}", serde_json::to_string(s).unwrap());
        keys.push(key);
    }
    // Tricky keys too.
    for k in ["on", "yes", "y", "NO", "1.10", "a: b"] {
        let _ = writeln!(values, "  {}: key", serde_json::to_string(k).unwrap());
    }
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\ndata:\n{% for k, v in values.data | items %}\n  {{ k }}: {{ v }}\n{% endfor %}\n";
    let p = project(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/cm.yaml.j2", template),
        ("values/defaults.yaml", "template: web\n"),
        ("values/services/api.yaml", &values),
    ]);
    kiln_ok(p.path(), &["render", "--env", "dev"]);
    let text = read(p.path(), "out/dev/api.yaml");
    let docs = parse_kube(&text);
    assert_eq!(docs.len(), 1);
    let Value::Map(data) = str_at(&docs[0], &["data"]) else {
        panic!("data is not a mapping:\n{text}")
    };
    for (key, want) in keys.iter().zip(TRICKY) {
        let got = &data
            .get(key)
            .unwrap_or_else(|| panic!("no {key}:\n{text}"))
            .value;
        assert_eq!(
            got,
            &Value::Str((*want).to_string()),
            "value {want:?} did not round-trip; output:\n{text}"
        );
    }
    for k in ["on", "yes", "y", "NO", "1.10", "a: b"] {
        let node = data
            .get(k)
            .unwrap_or_else(|| panic!("key {k:?} did not round-trip:\n{text}"));
        assert!(
            node.key_was_string,
            "key {k:?} is not a string for a YAML 1.1 reader:\n{text}"
        );
        assert_eq!(node.value, Value::Str("key".into()));
    }
    assert_eq!(data.len(), TRICKY.len() + 6, "{text}");

    // The same through --set-string (and a few through --set, which keeps them strings).
    let out = kiln_ok(
        p.path(),
        &[
            "render",
            "--env",
            "dev",
            "--stdout",
            "--set-string",
            "data.k00=yes",
            "--set",
            "data.k01=on",
            "--set",
            "data.k02=0755",
        ],
    );
    let docs = parse_kube(&out);
    let api = docs
        .iter()
        .find(|d| {
            d.get("kind")
                .is_some_and(|k| k.value == Value::Str("ConfigMap".into()))
        })
        .unwrap();
    assert_eq!(str_at(api, &["data", "k00"]), &Value::Str("yes".into()));
    assert_eq!(str_at(api, &["data", "k01"]), &Value::Str("on".into()));
    assert_eq!(str_at(api, &["data", "k02"]), &Value::Str("0755".into()));
}

#[test]
fn non_string_values_keep_their_type() {
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  labels: {{ values.labels }}\nspec:\n  num: {{ values.n }}\n  f: {{ values.f }}\n  b: {{ values.b }}\n  z: {{ none }}\n  l: {{ values.l }}\n";
    let p = project(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/cm.yaml.j2", template),
        (
            "values/defaults.yaml",
            "template: web\nn: 3\nf: 1.5\nb: false\nl: [1, \"on\", {a: b}]\nlabels: {app: x, \"on\": \"yes\"}\n",
        ),
        ("values/services/api.yaml", "{}\n"),
    ]);
    let out = kiln_ok(
        p.path(),
        &["render", "--env", "dev", "--stdout", "--service", "api"],
    );
    let docs = parse_kube(&out);
    let spec = docs[0].get("spec").unwrap();
    assert_eq!(spec.get("num").unwrap().value, Value::Int(3));
    assert_eq!(spec.get("f").unwrap().value, Value::Float(1.5));
    assert_eq!(spec.get("b").unwrap().value, Value::Bool(false));
    assert_eq!(spec.get("z").unwrap().value, Value::Null);
    assert_eq!(
        str_at(&docs[0], &["metadata", "labels", "on"]),
        &Value::Str("yes".into())
    );
    let Value::Seq(l) = &spec.get("l").unwrap().value else {
        panic!("{out}")
    };
    assert_eq!(l[1].value, Value::Str("on".into()));
    assert_eq!(str_at(&l[2], &["a"]), &Value::Str("b".into()));
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

#[test]
fn render_writes_one_file_per_instance() {
    let p = project(BASIC);
    kiln_ok(p.path(), &["render"]);
    let files: Vec<String> = snapshot(p.path()).into_keys().collect();
    assert_eq!(
        files,
        [
            "out/.kiln-output",
            "out/dev/",
            "out/dev/_env.yaml",
            "out/dev/api.yaml",
            "out/dev/db.yaml",
            "out/prod/",
            "out/prod/_env.yaml",
            "out/prod/api.yaml",
            "out/prod/db.yaml"
        ]
    );
    assert_eq!(
        read(p.path(), "out/dev/api.yaml"),
        "# Source: web/cm.yaml.j2\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\n  namespace: dev\ndata:\n  greeting: hi\n"
    );
    assert!(
        read(p.path(), "out/prod/db.yaml").contains("namespace: prod\ndata:\n  greeting: hello\n")
    );
    assert!(read(p.path(), "out/dev/_env.yaml").contains("kind: Namespace"));
}

#[test]
fn stdout_is_one_stream_with_source_lines() {
    let p = project(BASIC);
    let out = kiln_ok(p.path(), &["render", "--stdout"]);
    assert!(out.starts_with("---\n# Source: "), "{out}");
    let sources: Vec<&str> = out.lines().filter(|l| l.starts_with("# Source:")).collect();
    assert_eq!(
        sources,
        [
            "# Source: _env/namespace.yaml.j2 (dev/_env)",
            "# Source: web/cm.yaml.j2 (dev/api)",
            "# Source: web/cm.yaml.j2 (dev/db)",
            "# Source: _env/namespace.yaml.j2 (prod/_env)",
            "# Source: web/cm.yaml.j2 (prod/api)",
            "# Source: web/cm.yaml.j2 (prod/db)",
        ]
    );
    // Every document is introduced by `---` then its source line.
    assert_eq!(out.matches("---\n# Source: ").count(), 6);
    assert_eq!(parse_kube(&out).len(), 6);
    assert!(!p.path().join("out").exists(), "--stdout wrote files");

    let only = kiln_ok(
        p.path(),
        &["render", "--stdout", "--env", "prod", "--service", "db"],
    );
    assert_eq!(
        only,
        "---\n# Source: web/cm.yaml.j2 (prod/db)\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  namespace: prod\ndata:\n  greeting: hello\n"
    );
}

/// A project whose stream is far larger than a pipe buffer.
fn big() -> TempDir {
    let p = project(BASIC);
    write(
        p.path(),
        "templates/web/big.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name ~ \"-big\" }}\ndata:\n{% for i in range(3000) %}\n  {{ \"k\" ~ i }}: {{ \"x\" * 100 }}\n{% endfor %}\n",
    );
    p
}

#[test]
fn stdout_closed_early_is_not_an_error() {
    let p = big();
    let mut child = Kiln::new(&["render", "--stdout"])
        .project(p.path())
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here, like `| head -c 16`.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(&first, b"---\n# Source: _e");
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(stderr, "");
}

#[cfg(unix)]
#[test]
fn stdout_into_head_exits_zero_in_a_pipeline() {
    let Some(bash) = crate::support::tool("bash") else {
        return;
    };
    let p = big();
    let script = "set -o pipefail; \"$0\" --color never -C \"$1\" render --stdout | head -1";
    let out = Command::new(bash)
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_kiln"))
        .arg(p.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "---\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Several services, sets with several templates and several kinds, so the parallel render has
/// something to reorder.
fn fleet() -> TempDir {
    let mut files: Vec<(String, String)> = vec![
        ("kiln.yaml".into(), "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n  test: {namespace: test, kubeVersion: \"1.34\"}\n  prod: {namespace: prod, kubeVersion: \"1.34\"}\n".into()),
        ("templates/web/cm.yaml.j2".into(), CM.into()),
        (
            "templates/web/svc.yaml.j2".into(),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ service.name }}\nspec:\n  ports: [{port: {{ values.port | default(80) }}}]\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ service.name ~ \"-s\" }}\nstringData: {{ values.secret | default({}) }}\n".into(),
        ),
        ("values/defaults.yaml".into(), "template: web\ngreeting: hello\nteams: [{name: a, group: g, access: view, envs: [dev, prod]}]\n".into()),
    ];
    for i in 0..8 {
        files.push((
            format!("values/services/svc{i}.yaml"),
            format!("port: {}\nsecret: {{k{i}: v, z: \"on\"}}\n", 8000 + i),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    project(&refs)
}

#[test]
fn output_is_deterministic() {
    let p = fleet();
    let mut outs = Vec::new();
    for (n, threads) in [("a", None), ("b", Some("1")), ("c", Some("4")), ("d", None)] {
        let dir = p.path().join(format!("out-{n}"));
        let mut k = Kiln::new(&["render", "--out", dir.to_str().unwrap()]).project(p.path());
        if let Some(t) = threads {
            k = k.env("RAYON_NUM_THREADS", t);
        }
        let (code, _, err) = k.run();
        assert_eq!(code, 0, "{err}");
        outs.push(out_files(&dir));
    }
    assert!(
        outs[0].len() > 20,
        "{:?}",
        outs[0].keys().collect::<Vec<_>>()
    );
    for o in &outs[1..] {
        assert!(*o == outs[0], "renders differ");
    }
    let streams: Vec<String> = [None, Some("1"), Some("4")]
        .into_iter()
        .map(|t| {
            let mut k = Kiln::new(&["render", "--stdout"]).project(p.path());
            if let Some(t) = t {
                k = k.env("RAYON_NUM_THREADS", t);
            }
            let (code, out, err) = k.run();
            assert_eq!(code, 0, "{err}");
            out
        })
        .collect();
    assert_eq!(streams[0], streams[1]);
    assert_eq!(streams[0], streams[2]);
    // Kinds come in the fixed order inside a file.
    let f = String::from_utf8(outs[0]["./dev/svc3.yaml"].clone()).unwrap();
    let kinds: Vec<&str> = f.lines().filter(|l| l.starts_with("kind: ")).collect();
    assert_eq!(kinds, ["kind: ConfigMap", "kind: Secret", "kind: Service"]);
}

#[test]
fn render_removes_files_of_deleted_services() {
    let p = project(BASIC);
    kiln_ok(p.path(), &["render"]);
    assert!(p.path().join("out/dev/db.yaml").exists());
    std::fs::remove_file(p.path().join("values/services/db.yaml")).unwrap();
    kiln_ok(p.path(), &["render"]);
    let files: Vec<String> = snapshot(p.path()).into_keys().collect();
    assert_eq!(
        files,
        [
            "out/.kiln-output",
            "out/dev/",
            "out/dev/_env.yaml",
            "out/dev/api.yaml",
            "out/prod/",
            "out/prod/_env.yaml",
            "out/prod/api.yaml"
        ]
    );
}

#[test]
fn render_env_replaces_only_that_environment() {
    let p = project(BASIC);
    kiln_ok(p.path(), &["render"]);
    let before = snapshot(p.path());
    write(
        p.path(),
        "values/defaults.yaml",
        "template: web\ngreeting: changed\n",
    );
    std::fs::remove_file(p.path().join("values/services/api.yaml")).unwrap();
    kiln_ok(p.path(), &["render", "--env", "dev"]);
    let after = snapshot(p.path());
    // dev is exactly the new render: api is gone, db has the new value.
    assert!(!after.contains_key("out/dev/api.yaml"));
    assert!(read(p.path(), "out/dev/db.yaml").contains("greeting: changed"));
    // prod is untouched, byte for byte.
    let prod = |s: &Snapshot| {
        s.iter()
            .filter(|(k, _)| k.starts_with("out/prod/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Snapshot>()
    };
    assert!(prod(&after) == prod(&before));
    assert_eq!(
        after.get("out/.kiln-output"),
        before.get("out/.kiln-output")
    );
    assert_eq!(
        after
            .keys()
            .filter(|k| k.starts_with("out/")
                && !k.starts_with("out/dev")
                && !k.starts_with("out/prod"))
            .count(),
        1
    );
}

#[test]
fn render_service_replaces_only_its_files() {
    let p = project(BASIC);
    kiln_ok(p.path(), &["render"]);
    let before = snapshot(p.path());
    write(
        p.path(),
        "values/defaults.yaml",
        "template: web\ngreeting: changed\n",
    );
    kiln_ok(p.path(), &["render", "--service", "db"]);
    let after = snapshot(p.path());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (k, v) in &after {
        if k.ends_with("/db.yaml") {
            assert!(
                String::from_utf8_lossy(v).contains("greeting: changed"),
                "{k}"
            );
        } else {
            assert_eq!(Some(v), before.get(k), "{k} changed");
        }
    }
}

#[test]
fn render_into_a_fresh_env_folder_makes_the_output_folder() {
    let p = project(BASIC);
    kiln_ok(p.path(), &["render", "--env", "prod"]);
    let files: Vec<String> = snapshot(p.path()).into_keys().collect();
    assert_eq!(
        files,
        [
            "out/.kiln-output",
            "out/prod/",
            "out/prod/_env.yaml",
            "out/prod/api.yaml",
            "out/prod/db.yaml"
        ]
    );
    // ...which a full render may then replace.
    kiln_ok(p.path(), &["render"]);
    assert!(p.path().join("out/dev/api.yaml").exists());
}

// ---------------------------------------------------------------------------------------------
// -C DIR
// ---------------------------------------------------------------------------------------------

/// Regression: `-C DIR` applies to relative `-f` and `--out` paths, as `git -C` does.
#[test]
fn dash_c_applies_to_relative_paths() {
    let p = project(BASIC);
    write(p.path(), "extra.yaml", "greeting: extra\n");
    let elsewhere = tempfile::tempdir().unwrap();

    let (code, out, err) = Kiln::new(&["values", "api", "--env", "dev", "-f", "extra.yaml"])
        .project(p.path())
        .cwd(elsewhere.path())
        .run();
    assert_eq!(code, 0, "relative -f not found from -C DIR:\n{err}");
    assert!(out.contains("greeting: extra"), "{out}");

    let (code, _, err) = Kiln::new(&["render", "--out", "rel-out"])
        .project(p.path())
        .cwd(elsewhere.path())
        .run();
    assert_eq!(code, 0, "{err}");
    assert!(
        p.path().join("rel-out/dev/api.yaml").exists(),
        "relative --out was not resolved against -C DIR (wrote into the caller's folder instead)"
    );
}
