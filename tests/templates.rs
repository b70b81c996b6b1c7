//! `kiln templates list | show | eject`: seeing the built-in library under a project's own
//! templates, printing a file, and taking a built-in set over without ever overwriting a file.
//! Also the README's two recipes: a file added to a built-in set, and an extended values schema.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Kiln, kiln_in, project, write};

/// A one-service project on the built-in `spring-boot` set.
fn spring_project() -> tempfile::TempDir {
    project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
        ),
        (
            "values/defaults.yaml",
            "template: spring-boot\nlogging: {filebeat: {enabled: false}}\n",
        ),
        (
            "values/services/api.yaml",
            "image: {repository: registry.example.com/api, tag: \"1.0.0\"}\n",
        ),
    ])
}

/// The repository's `templates/` is the built-in library kiln embeds.
fn builtin(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .join(name),
    )
    .unwrap()
}

/// Every file under `dir` with its contents.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = kiln_in(dir, args);
    assert_eq!(code, 0, "kiln {args:?}: {err}");
    out
}

/// The line of `list` output for `file` within `set`.
fn row<'a>(list: &'a str, set: &str, file: &str) -> &'a str {
    let mut in_set = false;
    for line in list.lines() {
        if !line.starts_with(' ') {
            in_set = line.starts_with(&format!("{set}  ("));
        } else if in_set && line.trim_start().starts_with(&format!("{file} ")) {
            return line;
        }
    }
    panic!("no {set}/{file} in:\n{list}")
}

#[test]
fn list_shows_every_set_and_file_and_where_each_comes_from() {
    let p = spring_project();
    let list = ok(p.path(), &["templates", "list"]);
    for set in [
        "spring-boot  (built-in)",
        "eureka-server  (built-in)",
        "_env  (built-in)",
        "_lib  (built-in)",
    ] {
        assert!(list.contains(set), "{set}:\n{list}");
    }
    for file in [
        "deployment.yaml.j2",
        "hpa.yaml.j2",
        "pdb.yaml.j2",
        "defaults.yaml",
        "values.schema.json",
    ] {
        assert!(
            row(&list, "spring-boot", file).contains("built-in"),
            "{list}"
        );
    }
    // A replaced file, an added file, a copy left as it was, and a project-only set.
    write(
        p.path(),
        "templates/spring-boot/service.yaml.j2",
        "{# mine #}\n",
    );
    write(
        p.path(),
        "templates/spring-boot/configmap.yaml.j2",
        "{# new #}\n",
    );
    write(
        p.path(),
        "templates/spring-boot/pdb.yaml.j2",
        builtin("spring-boot/pdb.yaml.j2"),
    );
    write(
        p.path(),
        "templates/redis/statefulset.yaml.j2",
        "{# redis #}\n",
    );
    let list = ok(p.path(), &["templates", "list"]);
    assert!(row(&list, "spring-boot", "service.yaml.j2").contains("project, replaces built-in"));
    assert!(row(&list, "spring-boot", "configmap.yaml.j2").contains("project "));
    assert!(row(&list, "spring-boot", "pdb.yaml.j2").contains("project, same as built-in"));
    assert!(row(&list, "spring-boot", "deployment.yaml.j2").contains("built-in"));
    assert!(
        list.contains("spring-boot  (built-in, 3 of 11 files from the project)"),
        "{list}"
    );
    assert!(list.contains("redis  (project)"), "{list}");
    assert!(row(&list, "redis", "statefulset.yaml.j2").contains("rendered per instance"));
}

#[test]
fn show_prints_a_file_as_it_is_or_a_whole_set() {
    let p = spring_project();
    let out = ok(
        p.path(),
        &["templates", "show", "spring-boot/deployment.yaml.j2"],
    );
    assert_eq!(out, builtin("spring-boot/deployment.yaml.j2"));
    let out = ok(p.path(), &["templates", "show", "_lib/k8s.j2"]);
    assert_eq!(out, builtin("_lib/k8s.j2"));
    let set = ok(p.path(), &["templates", "show", "spring-boot"]);
    assert!(
        set.contains("# ==> spring-boot/hpa.yaml.j2 (built-in) <==\n"),
        "{set}"
    );
    assert!(set.contains(&builtin("spring-boot/values.schema.json")));
    // The project's file is the one shown.
    write(
        p.path(),
        "templates/spring-boot/service.yaml.j2",
        "{# mine #}\n",
    );
    let out = ok(
        p.path(),
        &["templates", "show", "spring-boot/service.yaml.j2"],
    );
    assert_eq!(out, "{# mine #}\n");
    // Outside any project: the built-in library.
    let (code, out, _) = Kiln::new(&["templates", "show", "eureka-server/defaults.yaml"]).run();
    assert_eq!(code, 0);
    assert_eq!(out, builtin("eureka-server/defaults.yaml"));
    for (name, hint) in [
        ("sprng-boot", "did you mean `spring-boot`?"),
        (
            "spring-boot/deployment.yml.j2",
            "did you mean `spring-boot/deployment.yaml.j2`?",
        ),
        (
            "spring-boot/../../etc/passwd",
            "climbs out of the templates folder",
        ),
    ] {
        let (code, out, err) = kiln_in(p.path(), &["templates", "show", name]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(hint), "{name}: {err}");
    }
}

#[test]
fn eject_copies_a_built_in_set_that_then_renders_the_same() {
    let p = spring_project();
    let before = ok(p.path(), &["render", "--stdout"]);
    let out = ok(p.path(), &["templates", "eject", "spring-boot"]);
    assert!(
        out.contains("created templates/spring-boot/deployment.yaml.j2"),
        "{out}"
    );
    let files = tree(&p.path().join("templates"));
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "spring-boot/defaults.yaml",
            "spring-boot/deployment.yaml.j2",
            "spring-boot/filebeat-configmap.yaml.j2",
            "spring-boot/hpa.yaml.j2",
            "spring-boot/ingress.yaml.j2",
            "spring-boot/pdb.yaml.j2",
            "spring-boot/secret.yaml.j2",
            "spring-boot/service.yaml.j2",
            "spring-boot/serviceaccount.yaml.j2",
            "spring-boot/values.schema.json",
        ]
    );
    for (name, bytes) in &files {
        assert_eq!(String::from_utf8_lossy(bytes), builtin(name), "{name}");
    }
    // The copies replace the built-ins: same objects, now from the project's files.
    let after = ok(p.path(), &["render", "--stdout"]);
    assert_eq!(before, after);
    assert!(
        ok(p.path(), &["templates", "list"])
            .contains("spring-boot  (built-in, 10 of 10 files from the project)")
    );
    ok(p.path(), &["check"]);
}

#[test]
fn eject_never_overwrites_and_writes_nothing_when_it_refuses() {
    let p = spring_project();
    write(
        p.path(),
        "templates/spring-boot/service.yaml.j2",
        "{# mine #}\n",
    );
    let before = tree(p.path());
    let (code, out, err) = kiln_in(p.path(), &["templates", "eject", "spring-boot"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("`templates/spring-boot/service.yaml.j2` already exists"),
        "{err}"
    );
    assert!(err.contains("never overwrites"), "{err}");
    assert_eq!(tree(p.path()), before, "a refused eject wrote something");
    // One file of the set can still be taken.
    ok(
        p.path(),
        &["templates", "eject", "spring-boot/values.schema.json"],
    );
    let (code, _, err) = kiln_in(
        p.path(),
        &["templates", "eject", "spring-boot/values.schema.json"],
    );
    assert_eq!(code, 2, "{err}");
    // Nothing built-in to eject, an unknown set, and no project at all.
    write(
        p.path(),
        "templates/redis/statefulset.yaml.j2",
        "{# redis #}\n",
    );
    for (name, hint) in [
        ("redis", "the project's own set"),
        ("spring-bot", "did you mean `spring-boot`?"),
        (
            "spring-boot/hpa.yml.j2",
            "did you mean `spring-boot/hpa.yaml.j2`?",
        ),
    ] {
        let (code, _, err) = kiln_in(p.path(), &["templates", "eject", name]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(hint), "{name}: {err}");
    }
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = Kiln::new(&["templates", "eject", "spring-boot"])
        .cwd(empty.path())
        .run();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no kiln.yaml"), "{err}");
    assert!(tree(empty.path()).is_empty());
}

#[test]
fn a_file_added_to_a_built_in_set_renders_with_it_and_its_keys_need_the_schema() {
    let p = spring_project();
    // The README recipe: a ConfigMap beside the built-in files, reading a new values key.
    write(
        p.path(),
        "templates/spring-boot/app-config.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name ~ \"-config\" }}\n  namespace: {{ env.namespace }}\ndata: {{ values.appConfig }}\n",
    );
    write(
        p.path(),
        "values/services/api.dev.yaml",
        "appConfig: {LOG_LEVEL: debug}\n",
    );
    // The built-in values schema does not know `appConfig`...
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown values key `appConfig`"), "{err}");
    // ...so the project takes the schema over and declares it.
    ok(
        p.path(),
        &["templates", "eject", "spring-boot/values.schema.json"],
    );
    let path = p.path().join("templates/spring-boot/values.schema.json");
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema["properties"]["appConfig"] =
        serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}});
    std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
    let out = ok(p.path(), &["render", "--stdout"]);
    assert!(
        out.contains("# Source: spring-boot/app-config.yaml.j2"),
        "{out}"
    );
    assert!(out.contains("name: api-config"), "{out}");
    assert!(
        out.contains("kind: Deployment"),
        "the built-in files still render"
    );
    ok(p.path(), &["check"]);
    // A typo is still caught by the project's schema.
    write(
        p.path(),
        "values/services/api.dev.yaml",
        "appConfg: {LOG_LEVEL: debug}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did you mean `appConfig`?"), "{err}");
}
