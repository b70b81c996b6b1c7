//! What kiln promises about hostile and ordinary-but-foreign input: no panic (CJK text, BOMs,
//! control characters, engine bugs), no path outside the output folder, exact integers, one
//! values layer per name, runaway templates stopped, and no secret in any output stream.

use std::path::Path;
use std::time::Instant;

use crate::support::{CM, Kiln, kiln, kiln_in, project, write};

const KILN_YAML: &str = "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n";

fn basic() -> tempfile::TempDir {
    project(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/cm.yaml.j2", CM),
        ("values/defaults.yaml", "template: web\ngreeting: hello\n"),
        ("values/services/api.yaml", "greeting: hi\n"),
    ])
}

/// No panic, no backtrace, and the exit code asked for.
fn no_panic(out: &(i32, String, String), code: i32) {
    let (c, stdout, stderr) = out;
    assert!(
        !stderr.contains("panicked")
            && !stderr.contains("backtrace")
            && !stderr.contains("hit a bug"),
        "panic: {stderr}"
    );
    assert_eq!(*c, code, "stdout: {stdout}\nstderr: {stderr}");
}

// ---------------------------------------------------------------------------------------------
// No panic on the team's own text
// ---------------------------------------------------------------------------------------------

#[test]
fn cjk_and_bom_manifests_are_checked_not_panicked_on() {
    let out = Kiln::new(&["lint", "-"]).stdin("日").run();
    no_panic(&out, 1);
    assert!(out.1.contains("<stdin>:1:1"), "{}", out.1);

    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "bom.yaml",
        "\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name # 中文注释\ndata: {a: 1}\n",
    );
    write(
        tmp.path(),
        "good.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n",
    );
    let out = kiln(&["lint", tmp.path().to_str().unwrap()]);
    no_panic(&out, 1);
    assert!(
        out.1.contains("bom.yaml:4:3") && out.1.contains("metadata-name"),
        "{}",
        out.1
    );
    assert!(
        out.1.contains("checked 2 resource(s)"),
        "one bad file must not stop the rest: {}",
        out.1
    );
}

#[test]
fn cjk_text_before_a_yaml_error_is_located() {
    let p = basic();
    write(
        p.path(),
        "values/services/api.yaml",
        "# 订单服务的配置\ngreeting: \"你好\"\nbad: [\n",
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(out.2.contains("values/services/api.yaml:3:"), "{}", out.2);

    let p = basic();
    write(
        p.path(),
        "kiln.yaml",
        "# 环境\nenvironments:\n  dev: {namespace: dev, kubeVersion: \"1.35\", 集群: x}\n",
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(out.2.contains("kiln.yaml:3:"), "{}", out.2);
}

#[test]
fn odd_template_punctuation_is_a_located_error() {
    for (line, what) in [
        ("  a: {{ values.greeting\u{201d} }}\n", "smart quote"),
        ("  a: {{\u{3000}values.greeting }}\n", "full-width space"),
        ("  a: {{ values.greeting \u{ff5d}}\n", "full-width brace"),
        ("{% import \"x\" as k %e %}\n", "minijinja unreachable!"),
    ] {
        let p = basic();
        write(p.path(), "templates/web/cm.yaml.j2", format!("{CM}{line}"));
        let out = kiln_in(p.path(), &["render"]);
        no_panic(&out, 1);
        assert!(
            out.2.contains("templates/web/cm.yaml.j2:8:"),
            "{what}: no location in {}",
            out.2
        );
        assert!(
            !p.path().join("out").exists(),
            "{what}: something was written"
        );
    }
}

#[test]
fn control_and_non_characters_in_values_round_trip() {
    let p = basic();
    // U+0080..U+009F, U+FFFE and U+FFFF cannot appear literally in YAML.
    let nasty = "a\u{80}b\u{85}c\u{9f}d\u{fffe}e\u{ffff}f\u{7f}g\t日";
    write(
        p.path(),
        "values/services/api.yaml",
        "greeting: \"a\\u0080b\\u0085c\\u009Fd\\uFFFEe\\uFFFFf\\u007Fg\\t日\"\n",
    );
    let out = kiln_in(p.path(), &["render", "--stdout"]);
    no_panic(&out, 0);
    let docs = kiln::yaml::parse_stream(&out.1, 0, kiln::yaml::Dialect::Kube).unwrap();
    let cm = docs
        .iter()
        .find(|d| d.get_str("kind") == Some("ConfigMap"))
        .unwrap();
    assert_eq!(cm.get("data").unwrap().get_str("greeting"), Some(nasty));
}

// ---------------------------------------------------------------------------------------------
// Names that become paths
// ---------------------------------------------------------------------------------------------

#[test]
fn environment_names_cannot_escape_the_output_folder() {
    for name in [
        "../values",
        "..",
        "/abs",
        "../x",
        "\"\"",
        "Prod",
        "a/b",
        "日本",
    ] {
        let p = basic();
        write(
            p.path(),
            "kiln.yaml",
            format!(
                "environments:\n  dev: {{namespace: dev, kubeVersion: \"1.35\"}}\n  {name}: {{namespace: x, kubeVersion: \"1.35\"}}\n"
            ),
        );
        let out = kiln_in(p.path(), &["render"]);
        no_panic(&out, 1);
        assert!(out.2.contains("kiln.yaml:3:3"), "{name}: {}", out.2);
        assert!(out.2.contains("environment name"), "{name}: {}", out.2);
        assert!(
            p.path().join("values/services/api.yaml").is_file(),
            "{name}: values/ touched"
        );
        assert!(!p.path().join("out").exists(), "{name}: out/ written");
        assert!(!p.path().join("x").exists() && !Path::new("/abs").exists());
    }
    // A name on the command line must name a declared environment.
    let p = basic();
    let out = kiln_in(p.path(), &["render", "--env", "../values"]);
    no_panic(&out, 2);
    assert!(p.path().join("values/services/api.yaml").is_file());
    // Namespaces and clusters are names too.
    let p = basic();
    write(
        p.path(),
        "kiln.yaml",
        "environments:\n  dev: {namespace: ../dev, kubeVersion: \"1.35\", cluster: \"a b\"}\n",
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(
        out.2.contains("namespace `../dev`") && out.2.contains("cluster name `a b`"),
        "{}",
        out.2
    );
}

#[test]
fn template_set_folders_are_names() {
    let p = basic();
    write(p.path(), "templates/Web_Set/cm.yaml.j2", CM);
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(out.2.contains("templates/Web_Set"), "{}", out.2);
}

#[test]
fn template_file_names_cannot_break_the_source_comment() {
    // Found by tests/fuzz.rs: `# Source: web/x` + newline + `kind: Secret ...` was written, and
    // the rest of the name became YAML content.
    for name in [
        "x\nkind: Secret\ny.yaml.j2",
        "x\r.yaml.j2",
        "x\u{2028}.yaml.j2",
    ] {
        let p = basic();
        write(p.path(), &format!("templates/web/{name}"), CM);
        let out = kiln_in(p.path(), &["render", "--stdout"]);
        no_panic(&out, 1);
        assert!(
            out.2.contains("the file name holds a line break") && out.1.is_empty(),
            "{name:?}: {}",
            out.2
        );
    }
}

// ---------------------------------------------------------------------------------------------
// One values layer per name; symlinks
// ---------------------------------------------------------------------------------------------

#[test]
fn yaml_and_yml_for_one_layer_is_an_error_naming_both() {
    for (a, b) in [
        ("values/services/api.yaml", "values/services/api.yml"),
        ("values/defaults.yaml", "values/defaults.yml"),
    ] {
        let p = basic();
        write(p.path(), b, "greeting: shadow\n");
        let out = kiln_in(p.path(), &["render"]);
        no_panic(&out, 1);
        assert!(out.2.contains(a) && out.2.contains(b), "{}", out.2);
    }
    // `.yml` alone works like `.yaml`.
    let p = basic();
    std::fs::rename(
        p.path().join("values/defaults.yaml"),
        p.path().join("values/defaults.yml"),
    )
    .unwrap();
    write(p.path(), "values/envs/dev.yml", "greeting: from-env\n");
    std::fs::remove_file(p.path().join("values/services/api.yaml")).unwrap();
    write(p.path(), "values/services/api.yml", "{}\n");
    let out = kiln_in(p.path(), &["render", "--stdout"]);
    no_panic(&out, 0);
    assert!(out.1.contains("greeting: from-env"), "{}", out.1);
}

#[test]
fn values_symlinks_outside_the_project_are_refused_unless_allowed() {
    let p = basic();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "db.yaml", "greeting: from-outside\n");
    std::os::unix::fs::symlink(
        outside.path().join("db.yaml"),
        p.path().join("values/services/db.yaml"),
    )
    .unwrap();
    let out = kiln_in(p.path(), &["render", "--stdout"]);
    no_panic(&out, 1);
    assert!(
        out.2.contains("values/services/db.yaml") && out.2.contains("outside the project"),
        "{}",
        out.2
    );
    write(
        p.path(),
        "kiln.yaml",
        format!("{KILN_YAML}paths: {{allowOutsideSymlinks: true}}\n"),
    );
    let out = kiln_in(p.path(), &["render", "--stdout"]);
    no_panic(&out, 0);
    assert!(out.1.contains("from-outside"));
    // A symlink inside the project is fine.
    write(p.path(), "kiln.yaml", KILN_YAML);
    std::fs::remove_file(p.path().join("values/services/db.yaml")).unwrap();
    write(p.path(), "shared/db.yaml", "greeting: inside\n");
    std::os::unix::fs::symlink(
        p.path().join("shared/db.yaml"),
        p.path().join("values/services/db.yaml"),
    )
    .unwrap();
    no_panic(&kiln_in(p.path(), &["render", "--stdout"]), 0);
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

#[test]
fn integers_are_exact_or_an_error_at_their_line() {
    let p = basic();
    write(
        p.path(),
        "values/services/api.yaml",
        "greeting: hi\nreplicas: 99999999999999999999\n",
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(
        out.2.contains("values/services/api.yaml:2:11") && out.2.contains("too large"),
        "{}",
        out.2
    );

    // YAML 1.2 core: `1_000` and `0b101` are strings; big-but-exact integers stay exact.
    write(
        p.path(),
        "values/services/api.yaml",
        "greeting: hi\nu: 1_000\nb: 0b101\nbig: 9223372036854775807\n",
    );
    let out = kiln_in(p.path(), &["values", "api", "--env", "dev"]);
    no_panic(&out, 0);
    assert!(
        out.1.contains("u: \"1_000\"") && out.1.contains("b: \"0b101\""),
        "{}",
        out.1
    );
    assert!(out.1.contains("big: 9223372036854775807"), "{}", out.1);

    // int32 fields are bounded; an over-long literal is not a float that passes.
    let deploy = |replicas: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: a}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{a: b}}}}\n  template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: a, image: \"x:1\"}}]}}}}\n"
        )
    };
    for r in ["3000000000", "99999999999999999999", "18446744073709551615"] {
        let out = Kiln::new(&["lint", "-"]).stdin(deploy(r)).run();
        no_panic(&out, 1);
        assert!(out.1.contains("<stdin>:5:"), "{r}: {}", out.1);
    }
    no_panic(
        &Kiln::new(&["lint", "-", "--fail-on", "error"])
            .stdin(deploy("2147483647"))
            .run(),
        0,
    );
}

// ---------------------------------------------------------------------------------------------
// Runaway templates
// ---------------------------------------------------------------------------------------------

#[test]
fn doubling_structures_are_stopped_within_seconds() {
    for (body, needle) in [
        (
            "{% for i in range(40) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}\n  h: {{ ns.x | sha256 }}\n",
            "sha256",
        ),
        (
            "{% for i in range(40) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}\n  h: {{ ns.x }}\n",
            "printed value",
        ),
        (
            "{% for i in range(40) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}\n  h: {{ ns.x | toyaml }}\n",
            "toyaml",
        ),
        (
            "{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\n  h: {{ ns.s }}\n",
            "fuel",
        ),
    ] {
        let p = basic();
        write(
            p.path(),
            "templates/web/cm.yaml.j2",
            format!("{{% set ns = namespace(x=[\"abcdefgh\"], s=\"abcdefgh\") %}}\n{CM}{body}"),
        );
        let start = Instant::now();
        let out = kiln_in(p.path(), &["render"]);
        no_panic(&out, 1);
        assert!(
            start.elapsed().as_secs() < 15,
            "{needle}: took {:?}",
            start.elapsed()
        );
        assert!(
            out.2.contains("templates/web/cm.yaml.j2:"),
            "{needle}: {}",
            out.2
        );
        assert!(!p.path().join("out").exists());
    }
}

#[test]
fn what_fuel_cannot_see_the_watchdog_stops() {
    // minijinja materialises a list concatenated more than 32 levels deep without charging
    // fuel; the watchdog ends it and nothing is written.
    let p = basic();
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        format!(
            "{{% set ns = namespace(x=[1]) %}}{{% for i in range(40) %}}{{% set ns.x = ns.x + ns.x %}}{{% endfor %}}\n{CM}"
        ),
    );
    let start = Instant::now();
    let out = Kiln::new(&["render"])
        .project(p.path())
        .env("KILN_RENDER_DEADLINE", "2")
        .run();
    no_panic(&out, 1);
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
    assert!(
        out.2.contains("web/cm.yaml.j2") && out.2.contains("`api`") && out.2.contains("stopped"),
        "{}",
        out.2
    );
    assert!(!p.path().join("out").exists());
}

// ---------------------------------------------------------------------------------------------
// Secrets: canaries planted everywhere, then every output stream searched for them
// ---------------------------------------------------------------------------------------------

const CANARIES: &[&str] = &[
    "CANARY-secret-data",
    "CANARY-db-password",
    "CANARY-mysql-pwd",
    "CANARY-redis-pass",
    "CANARY-keystore",
    "CANARY-passphrase",
    "CANARY-encryption",
    "CANARY-basic-auth",
    "CANARY-jdbc",
    "CANARY-env-list",
    "CANARY-api-token",
];

fn canary_project() -> tempfile::TempDir {
    let secret = "\
apiVersion: v1
kind: Secret
metadata:
  name: {{ service.name ~ '-creds' }}
  namespace: {{ env.namespace }}
stringData:
  password: {{ values.env.DB_PASSWORD }}
  data: {{ values.extra }}
";
    let cm = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
data:
  url: {{ values.url }}
  MYSQL_PWD: {{ values.env.MYSQL_PWD }}
  REDIS_PASS: {{ values.env.REDIS_PASS }}
  KEYSTORE_PASS: {{ values.env.KEYSTORE_PASS }}
  SSH_PASSPHRASE: {{ values.env.SSH_PASSPHRASE }}
  ENCRYPTION_KEY: {{ values.env.ENCRYPTION_KEY }}
  BASIC_AUTH: {{ values.env.BASIC_AUTH }}
  apiToken: {{ values.apiToken }}
  ok: {{ values.plain }}
";
    let pod = "\
apiVersion: v1
kind: Pod
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
spec:
  containers:
    - name: app
      image: app
      env: {{ values.envList }}
";
    let values = "\
template: web
plain: shown-value
extra: CANARY-secret-data
url: jdbc:mysql://app:CANARY-jdbc@mysql:3306/shop
env:
  DB_PASSWORD: CANARY-db-password
  MYSQL_PWD: CANARY-mysql-pwd
  REDIS_PASS: CANARY-redis-pass
  KEYSTORE_PASS: CANARY-keystore
  SSH_PASSPHRASE: CANARY-passphrase
  ENCRYPTION_KEY: CANARY-encryption
  BASIC_AUTH: CANARY-basic-auth
apiToken: CANARY-api-token
envList:
  - {name: DB_PASSWORD, value: CANARY-env-list}
  - {name: LANG, value: zh_CN.UTF-8}
";
    project(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/secret.yaml.j2", secret),
        ("templates/web/cm.yaml.j2", cm),
        ("templates/web/pod.yaml.j2", pod),
        ("values/defaults.yaml", values),
        ("values/services/api.yaml", "{}\n"),
    ])
}

fn assert_no_canary(what: &str, out: &(i32, String, String)) {
    for c in CANARIES {
        assert!(!out.1.contains(c), "{what}: `{c}` on stdout:\n{}", out.1);
        assert!(!out.2.contains(c), "{what}: `{c}` on stderr:\n{}", out.2);
    }
}

#[test]
fn planted_secrets_never_reach_values_reports_or_diffs() {
    let p = canary_project();
    let dir = p.path();
    // The render itself must carry them (kubectl needs them): proof the canaries are live.
    let out = kiln_in(dir, &["render", "--stdout"]);
    no_panic(&out, 0);
    for c in CANARIES {
        assert!(
            out.1.contains(c),
            "{c} not rendered: the test would prove nothing"
        );
    }
    for args in [
        &["values", "api", "--env", "dev"][..],
        &["values", "api", "--env", "dev", "--origin"],
    ] {
        let out = kiln_in(dir, args);
        no_panic(&out, 0);
        assert!(
            out.1.contains("shown-value") && out.1.contains("zh_CN.UTF-8"),
            "{}",
            out.1
        );
        assert_no_canary(&args.join(" "), &out);
    }
    // Record golden/, then change every secret: the diff and the drift say "changed" only.
    no_panic(&kiln_in(dir, &["golden", "update"]), 0);
    let values = std::fs::read_to_string(dir.join("values/defaults.yaml")).unwrap();
    write(
        dir,
        "values/defaults.yaml",
        values.replace("CANARY-", "CANARY-new-"),
    );
    write(dir, "values/services/api.yaml", "plain: changed-value\n");
    for args in [
        &["diff"][..],
        &["diff", "--format", "json"],
        &["diff", "--summary"],
        &["check"],
        &["check", "--format", "json"],
        &["check", "--format", "junit"],
        &["check", "--format", "sarif"],
    ] {
        let out = kiln_in(dir, args);
        assert!(!out.2.contains("panicked"), "{}", out.2);
        assert_eq!(out.0, 1, "{args:?}: {}\n{}", out.1, out.2);
        assert_no_canary(&args.join(" "), &out);
        for c in CANARIES {
            let new = c.replace("CANARY-", "CANARY-new-");
            assert!(
                !out.1.contains(&new) && !out.2.contains(&new),
                "{args:?}: {new}"
            );
        }
    }
    let out = kiln_in(dir, &["diff"]);
    assert!(out.1.contains("(hidden; changed)"), "{}", out.1);
}

#[test]
fn planted_secrets_never_reach_errors_or_findings() {
    // A values-schema error on a secret key.
    let p = canary_project();
    write(
        p.path(),
        "templates/web/values.schema.json",
        r#"{"type": "object", "properties": {"env": {"type": "object", "properties": {"DB_PASSWORD": {"type": "integer"}}}}}"#,
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(
        out.2
            .contains("invalid value for `env.DB_PASSWORD`: \"(hidden)\""),
        "{}",
        out.2
    );
    assert!(out.2.contains("values/defaults.yaml:6:"), "{}", out.2);
    assert_no_canary("values schema", &out);

    // A Secret whose value holds what YAML cannot carry, made invalid by a `|safe` template.
    let p = canary_project();
    write(
        p.path(),
        "templates/web/secret.yaml.j2",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {{ values.env.DB_PASSWORD | safe }}\n  other: {{ values.extra | safe }}\n  broken: [unclosed\n",
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(
        out.2.contains("rendered invalid YAML") && out.2.contains("broken: (hidden)"),
        "{}",
        out.2
    );
    assert_no_canary("invalid Secret", &out);

    // Findings on manifests holding secrets, in every format, and their excerpts.
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "m.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: Bad_Name\nstringData:\n  password: CANARY-secret-data\n  list: [CANARY-keystore]\ndata:\n  x: CANARY-db-password\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: app\n      image: app\n      env:\n        - name: MYSQL_PWD\n          value: {nested: CANARY-mysql-pwd}\n          bogus: CANARY-redis-pass\n        - name: URL\n          value: [jdbc:mysql://u:CANARY-jdbc@h/db]\n",
    );
    let file = tmp.path().join("m.yaml");
    for format in ["text", "json", "junit", "sarif"] {
        let out = kiln(&["lint", file.to_str().unwrap(), "--format", format]);
        no_panic(&out, 1);
        assert!(
            out.1.contains("Bad_Name") && out.1.contains("bogus"),
            "{format}: {}",
            out.1
        );
        if format == "text" {
            assert_eq!(out.1.matches("is not of type").count(), 2, "{}", out.1);
            assert!(out.1.contains("(value hidden)"), "{}", out.1);
        }
        assert_no_canary(&format!("lint --format {format}"), &out);
    }
}

// ---------------------------------------------------------------------------------------------
// Smaller items
// ---------------------------------------------------------------------------------------------

#[test]
fn unreadable_inputs_pipes_directives_and_raised_errors() {
    // A path named on the command line that does not exist: kiln could not run.
    no_panic(&kiln(&["lint", "/nonexistent/kiln-test"]), 2);

    // `-f` reads pipes.
    let p = basic();
    let out = Kiln::new(&["render", "--stdout", "-f", "/dev/stdin"])
        .project(p.path())
        .stdin("greeting: from-a-pipe\n")
        .run();
    no_panic(&out, 0);
    assert!(out.1.contains("greeting: from-a-pipe"), "{}", out.1);
    let out = kiln_in(p.path(), &["render", "-f", "/nonexistent/x.yaml"]);
    no_panic(&out, 2);
    assert!(out.2.contains("/nonexistent/x.yaml"), "{}", out.2);

    // `%YAML 1.2` directives and a bare document after `...` are YAML.
    let stream = "%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n...\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
    let out = Kiln::new(&["lint", "-"]).stdin(stream).run();
    no_panic(&out, 0);
    assert!(
        out.1.contains("checked 3 resource(s): 0 error(s)"),
        "{}",
        out.1
    );

    // Two documents in a values file: said in the file's terms, not the parser's API.
    write(
        p.path(),
        "values/services/api.yaml",
        "greeting: a\n---\ngreeting: b\n",
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(
        out.2.contains("values/services/api.yaml:3:") && !out.2.contains("from_str"),
        "{}",
        out.2
    );

    // `required`/`fail` messages are the template author's words.
    let p = basic();
    write(
        p.path(),
        "templates/web/cm.yaml.j2",
        CM.replace(
            "{{ values.greeting }}",
            "{{ values.nope | default(none) | required(\"set nope for \" ~ service.name) }}",
        ),
    );
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(out.2.starts_with("error: set nope for api"), "{}", out.2);
    assert!(out.2.contains("templates/web/cm.yaml.j2:7:"), "{}", out.2);
}

#[test]
fn template_checks_blame_the_values_line_once() {
    let p = project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n",
        ),
        ("templates/web/cm.yaml.j2", CM),
        (
            "values/defaults.yaml",
            "template: web\ngreeting: hello\nteams:\n  - name: mall\n    group: mall-devs\n    access: owner\n    envs: [dev, prod]\n",
        ),
        ("values/services/api.yaml", "{}\n"),
        ("values/services/db.yaml", "{}\n"),
    ]);
    let out = kiln_in(p.path(), &["render"]);
    no_panic(&out, 1);
    assert!(
        out.2
            .starts_with("error: team `mall`: access must be view, edit or admin, not `owner`"),
        "{}",
        out.2
    );
    assert!(out.2.contains("values/defaults.yaml:6:13"), "{}", out.2);
    assert_eq!(
        out.2.matches("error:").count(),
        1,
        "once, not once per environment: {}",
        out.2
    );
    assert!(!out.2.contains("invalid operation"), "{}", out.2);
}
