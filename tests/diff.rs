//! `kiln diff`, `kiln golden update` and the golden check in `kiln check`.

use std::path::Path;
use std::process::Command;

use crate::support::{Kiln, kiln_in, write};

/// A small project: one template set, two environments, a Secret.
fn project() -> tempfile::TempDir {
    crate::support::project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n",
        ),
        (
            "values/defaults.yaml",
            "template: web\nreplicas: 1\nimage: \"nginx:1.27.1\"\npassword: hunter2\n",
        ),
        ("values/services/api.yaml", "{}\n"),
        ("values/services/worker.yaml", "replicas: 2\n"),
        (
            "templates/_env/namespace.yaml.j2",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ env.namespace }}\n",
        ),
        (
            "templates/web/app.yaml.j2",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ env.namespace }}\nspec:\n  replicas: {{ values.replicas }}\n  selector:\n    matchLabels: {app: {{ service.name }}}\n  template:\n    metadata:\n      labels: {app: {{ service.name }}}\n    spec:\n      containers:\n      - name: sidecar\n        image: \"busybox:1.36\"\n      - name: app\n        image: {{ values.image }}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ service.name ~ \"-creds\" }}\n  namespace: {{ env.namespace }}\nstringData:\n  password: {{ values.password }}\n",
        ),
    ])
}

/// `kiln golden update`, which must succeed.
fn golden_update(dir: &Path) {
    let (code, _, err) = kiln_in(dir, &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn golden_update_then_no_differences() {
    let p = project();
    let (code, out, err) = kiln_in(p.path(), &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("updated golden (6 files)"), "{out}");
    assert!(p.path().join("golden/dev/api.yaml").is_file());
    let (code, out, _) = kiln_in(p.path(), &["diff"]);
    assert_eq!(
        (code, out.trim_end().lines().last()),
        (0, Some("no differences"))
    );
    let (code, out, _) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_values_change_shows_fields_by_name_and_fails_check() {
    let p = project();
    golden_update(p.path());
    write(
        p.path(),
        "values/services/api.prod.yaml",
        "replicas: 4\nimage: \"nginx:1.27.2\"\n",
    );
    // Not a terminal, so no colour, without `--color never` or `NO_COLOR`.
    let (code, out, _) = Kiln::new(&["diff"]).project(p.path()).default_color().run();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("== prod: 1 changed, 0 added, 0 removed"),
        "{out}"
    );
    assert!(
        out.contains("~ apps/v1 Deployment prod/api (templates/web/app.yaml.j2)"),
        "{out}"
    );
    assert!(out.contains("    spec.replicas: 1 -> 4"), "{out}");
    assert!(
        out.contains("    spec.template.spec.containers[app].image: nginx:1.27.1 -> nginx:1.27.2"),
        "{out}"
    );
    assert!(
        out.contains("-  replicas: 1\n") && out.contains("+  replicas: 4\n"),
        "a unified diff follows:\n{out}"
    );
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
    assert!(!out.contains("dev: 1 changed"));
    let (code, out, _) = kiln_in(p.path(), &["diff", "--summary"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "dev: 0 changed, 0 added, 0 removed\nprod: 1 changed, 0 added, 0 removed\n"
    );
    let (code, out, _) = kiln_in(p.path(), &["diff", "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["differences"], true);
    assert_eq!(
        v["environments"][1]["changed"][0]["fields"][0]["path"],
        "spec.replicas"
    );
    // kiln check fails with the drift, and never rewrites golden/.
    let before = std::fs::read_to_string(p.path().join("golden/prod/api.yaml")).unwrap();
    let (code, out, _) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[golden-drift]") && out.contains("spec.replicas: 1 -> 4"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("golden/prod/api.yaml")).unwrap(),
        before
    );
    // Added and removed objects: a new service, a deleted one.
    std::fs::remove_file(p.path().join("values/services/worker.yaml")).unwrap();
    write(p.path(), "values/services/cron.yaml", "{}\n");
    let (code, out, _) = kiln_in(p.path(), &["diff", "--env", "dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("+ apps/v1 Deployment dev/cron")
            && out.contains("- apps/v1 Deployment dev/worker"),
        "{out}"
    );
}

/// With ApplySets on, an object is not changed when another object of its file is: the render's
/// tree (the member label added) and golden/'s (read from its file) are compared as values,
/// not with where each value was written. Every object of a changed file was listed as changed,
/// with no field and no line to show for it.
#[test]
fn objects_beside_a_changed_one_are_not_changed() {
    let p = project();
    // With ApplySets, golden/ holds every object with the member label kubectl adds.
    let config = std::fs::read_to_string(p.path().join("kiln.yaml")).unwrap();
    write(
        p.path(),
        "kiln.yaml",
        format!("{config}applyset:\n  scope: environment\n"),
    );
    let template = std::fs::read_to_string(p.path().join("templates/web/app.yaml.j2")).unwrap();
    write(
        p.path(),
        "templates/web/app.yaml.j2",
        format!(
            "{template}---\n# 日志配置\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {{{{ service.name ~ \"-log\" }}}}, namespace: {{{{ env.namespace }}}}}}\n\ndata: {{level: info}}\n"
        ),
    );
    golden_update(p.path());
    write(p.path(), "values/services/api.prod.yaml", "replicas: 4\n");
    let (code, out, _) = kiln_in(p.path(), &["diff", "--summary"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "dev: 0 changed, 0 added, 0 removed\nprod: 1 changed, 0 added, 0 removed\n"
    );
    let (code, out, _) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("drifts from golden/prod: 1 changed"), "{out}");
}

#[test]
fn secrets_are_masked_unless_asked() {
    let p = project();
    golden_update(p.path());
    let (code, out, _) = kiln_in(p.path(), &["diff", "--set", "password=correct-horse"]);
    assert_eq!(code, 1);
    assert!(
        !out.contains("hunter2") && !out.contains("correct-horse"),
        "secret leaked:\n{out}"
    );
    assert!(
        out.contains("stringData.password: (hidden) -> (hidden; changed)"),
        "{out}"
    );
    // golden/ keeps only digests of Secret values, so even `--show-secrets` shows digests there;
    // against a render (here out/) it shows the values.
    let (code, out, _) = kiln_in(
        p.path(),
        &["diff", "--set", "password=correct-horse", "--show-secrets"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stringData.password: sha256:") && !out.contains("hunter2"),
        "{out}"
    );
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = kiln_in(
        p.path(),
        &[
            "diff",
            "--against",
            "out",
            "--set",
            "password=correct-horse",
            "--show-secrets",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stringData.password: hunter2 -> correct-horse"),
        "{out}"
    );
}

#[test]
fn values_mask_secret_looking_keys_unless_asked() {
    let p = project();
    let (code, out, _) = kiln_in(p.path(), &["values", "api", "--env", "dev", "--origin"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("password: (hidden) # values/defaults.yaml:4:11"),
        "{out}"
    );
    assert!(!out.contains("hunter2"));
    let (code, out, err) = kiln_in(
        p.path(),
        &["values", "api", "--env", "dev", "--show-secrets"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("password: hunter2"), "{out}");
}

#[test]
fn golden_update_is_refused_in_ci_and_atomic() {
    let p = project();
    let (code, _, err) = Kiln::new(&["golden", "update"])
        .project(p.path())
        .env("CI", "true")
        .run();
    assert_eq!(code, 2);
    assert!(
        err.contains("refusing to rewrite golden files in CI"),
        "{err}"
    );
    assert!(!p.path().join("golden").exists());
    golden_update(p.path());
    let before = std::fs::read_to_string(p.path().join("golden/dev/api.yaml")).unwrap();
    write(
        p.path(),
        "values/services/api.yaml",
        "replicas: {{ broken\n",
    );
    let (code, _, _) = kiln_in(p.path(), &["golden", "update"]);
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::read_to_string(p.path().join("golden/dev/api.yaml")).unwrap(),
        before,
        "a failed render leaves golden/ as it was"
    );
}

#[test]
fn against_a_folder_and_a_git_revision() {
    let Some(git) = crate::support::tool("git") else {
        return;
    };
    let p = project();
    let d = p.path();
    let (code, _, err) = kiln_in(d, &["render"]);
    assert_eq!(code, 0, "{err}");
    write(d, "values/envs/dev.yaml", "replicas: 3\n");
    let (code, out, _) = kiln_in(d, &["diff", "--against", "out", "--summary"]);
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "dev: 1 changed, 0 added, 0 removed\nprod: 0 changed, 0 added, 0 removed\n"
        )
    );

    let git = |args: &[&str]| {
        let o = Command::new(&git)
            .arg("-C")
            .arg(d)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "add",
        "kiln.yaml",
        "values",
        "templates",
    ]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "-m",
        "one",
    ]);
    write(d, "values/envs/dev.yaml", "replicas: 5\n");
    git(&["add", "values/envs/dev.yaml"]);
    let status = git(&["status", "--porcelain"]);
    let (code, out, err) = kiln_in(d, &["diff", "--against", "git:HEAD", "--env", "dev"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("spec.replicas: 3 -> 5"), "{out}");
    assert_eq!(
        git(&["status", "--porcelain"]),
        status,
        "the work tree and index are untouched"
    );
    // Only one service's values changed: only its files are rendered on both sides, and the
    // result is the same as a full comparison.
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "-am",
        "two",
    ]);
    write(d, "values/services/api.prod.yaml", "replicas: 7\n");
    std::fs::remove_file(d.join("values/services/worker.yaml")).unwrap();
    let (code, out, err) = kiln_in(d, &["diff", "--against", "git:HEAD", "--summary"]);
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "dev: 0 changed, 0 added, 2 removed\nprod: 1 changed, 0 added, 2 removed\n"
        ),
        "{err}"
    );
    let (code, out, _) = kiln_in(d, &["diff", "--against", "git:HEAD", "--env", "prod"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("spec.replicas: 1 -> 7") && out.contains("- apps/v1 Deployment prod/worker"),
        "{out}"
    );
    let (code, _, err) = kiln_in(d, &["diff", "--against", "git:no-such-ref"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a git revision"), "{err}");
}
