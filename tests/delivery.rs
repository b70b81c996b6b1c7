//! Delivery: `secrets:` as Secret objects, golden files that keep digests of Secret values,
//! ApplySets (labels and parents in golden/, kubectl's id), and the prune list of `kiln diff`.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use kiln::yaml::{Dialect, Node, Value, parse_stream};

use crate::support::{Kiln, kiln_in, project, repo_copy, write};

const CANARY: &str = "canary-pw-7Hq2xZ";
const CANARY2: &str = "canary-pw-Kd81Lm";

/// A project of the built-in `spring-boot` set: `api` with two secrets, `worker` with none.
fn fleet(applyset: bool) -> tempfile::TempDir {
    let mut kiln_yaml = String::from(
        "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n",
    );
    if applyset {
        kiln_yaml.push_str("applyset:\n  scope: environment\n");
    }
    project(&[
        ("kiln.yaml", &kiln_yaml),
        ("values/defaults.yaml", "template: spring-boot\n"),
        (
            "values/services/api.yaml",
            &format!(
                "image: {{repository: reg/api, tag: \"1.0\"}}\nenv: {{PLAIN: x}}\nsecrets:\n  DB_PASSWORD: {CANARY}\n  API_TOKEN: tok-{CANARY}\n"
            ),
        ),
        (
            "values/services/worker.yaml",
            "image: {repository: reg/worker, tag: \"2.0\"}\n",
        ),
    ])
}

fn docs(path: &Path) -> Vec<Node> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_stream(&text, 0, Dialect::Kube).unwrap()
}

fn find<'a>(docs: &'a [Node], kind: &str) -> &'a Node {
    docs.iter()
        .find(|d| d.get_str("kind") == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every file under `dir`, concatenated.
fn all_text(dir: &Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

fn assert_no_secret(text: &str, values: &[&str]) {
    for v in values {
        assert!(!text.contains(v), "`{v}` leaked:\n{text}");
        assert!(!text.contains(&b64(v)), "base64 of `{v}` leaked:\n{text}");
    }
}

#[test]
fn secrets_reach_the_app_and_out_but_golden_keeps_digests() {
    let p = fleet(false);
    let d = p.path();
    let (code, _, err) = kiln_in(d, &["render"]);
    assert_eq!(code, 0, "{err}");
    let out = docs(&d.join("out/dev/api.yaml"));
    let secret = find(&out, "Secret");
    assert_eq!(
        secret.get("metadata").unwrap().get_str("name"),
        Some("api-secrets")
    );
    assert_eq!(
        secret.get("metadata").unwrap().get_str("namespace"),
        Some("dev")
    );
    assert_eq!(secret.get_str("type"), Some("Opaque"));
    assert_eq!(
        secret
            .get("metadata")
            .unwrap()
            .get("labels")
            .unwrap()
            .get_str("app.kubernetes.io/instance"),
        Some("api")
    );
    // `data`, base64, exactly what kubectl applies.
    let data = secret.get("data").unwrap();
    assert_eq!(data.get_str("DB_PASSWORD"), Some(b64(CANARY).as_str()));
    assert_eq!(
        data.get_str("API_TOKEN"),
        Some(b64(&format!("tok-{CANARY}")).as_str())
    );
    // Each key is the app's variable of the same name, through secretKeyRef; `env` stays a value.
    let deploy = find(&out, "Deployment");
    let app = &match &deploy
        .get("spec")
        .unwrap()
        .get("template")
        .unwrap()
        .get("spec")
        .unwrap()
        .get("containers")
        .unwrap()
        .value
    {
        Value::Seq(c) => c.clone(),
        _ => panic!("containers"),
    }[0];
    let env = match &app.get("env").unwrap().value {
        Value::Seq(e) => e.clone(),
        _ => panic!("env"),
    };
    for key in ["DB_PASSWORD", "API_TOKEN"] {
        let var = env.iter().find(|e| e.get_str("name") == Some(key)).unwrap();
        let r = var.get("valueFrom").unwrap().get("secretKeyRef").unwrap();
        assert_eq!(
            (r.get_str("name"), r.get_str("key")),
            (Some("api-secrets"), Some(key))
        );
        assert!(var.get("value").is_none());
    }
    assert!(
        env.iter()
            .any(|e| e.get_str("name") == Some("PLAIN") && e.get_str("value") == Some("x"))
    );
    // No `secrets:`, no Secret.
    assert!(
        !docs(&d.join("out/dev/worker.yaml"))
            .iter()
            .any(|x| x.get_str("kind") == Some("Secret"))
    );

    let (code, out, err) = kiln_in(d, &["golden", "update"]);
    assert_eq!(code, 0, "{out}{err}");
    let golden = all_text(&d.join("golden"));
    assert_no_secret(&golden, &[CANARY]);
    let g = docs(&d.join("golden/dev/api.yaml"));
    let gdata = find(&g, "Secret").get("data").unwrap();
    for key in ["DB_PASSWORD", "API_TOKEN"] {
        let v = gdata.get_str(key).unwrap();
        assert!(v.starts_with("sha256:") && v.len() == 71, "{key}: {v}");
    }
    // The same value in another environment gives another digest.
    let prod = docs(&d.join("golden/prod/api.yaml"));
    assert_ne!(
        find(&prod, "Secret")
            .get("data")
            .unwrap()
            .get_str("DB_PASSWORD"),
        gdata.get_str("DB_PASSWORD")
    );
    let (code, out, _) = kiln_in(d, &["check"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = kiln_in(d, &["diff"]);
    assert_eq!(
        (code, out.trim_end().lines().last()),
        (0, Some("no differences")),
        "{out}"
    );
    // golden/ is written by `kiln golden update` only.
    let (code, _, err) = kiln_in(d, &["render", "--out", "golden"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("refusing to render into `golden`") && err.contains("kiln golden update"),
        "{err}"
    );
    assert_no_secret(&all_text(&d.join("golden")), &[CANARY]);
}

#[test]
fn a_changed_secret_fails_check_naming_secret_and_key_only() {
    let p = fleet(false);
    let d = p.path();
    let (code, _, err) = kiln_in(d, &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    write(
        d,
        "values/services/api.prod.yaml",
        format!("secrets: {{DB_PASSWORD: {CANARY2}}}\n"),
    );
    let secrets = [CANARY, CANARY2];
    for format in ["text", "json", "junit", "sarif"] {
        let (code, out, err) = kiln_in(d, &["check", "--format", format]);
        assert_eq!(code, 1, "{format}: {out}{err}");
        assert_no_secret(&format!("{out}{err}"), &secrets);
        assert!(out.contains("golden-drift"), "{format}: {out}");
        assert!(
            out.contains("Secret values changed: `Secret prod/api-secrets` `data.DB_PASSWORD`"),
            "{format}: {out}"
        );
    }
    let (code, out, _) = kiln_in(d, &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("~ v1 Secret prod/api-secrets"), "{out}");
    assert!(
        out.contains("data.DB_PASSWORD: (hidden) -> (hidden; changed)"),
        "{out}"
    );
    assert!(
        !out.contains("data.API_TOKEN"),
        "an unchanged key is not named:\n{out}"
    );
    assert!(!out.contains("sha256:"), "{out}");
    // kiln diff says which key changed, in text and JSON.
    let (code, out, _) = kiln_in(d, &["diff"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("data.DB_PASSWORD: (hidden) -> (hidden; changed)"),
        "{out}"
    );
    assert_no_secret(&out, &secrets);
    let (code, out, _) = kiln_in(d, &["diff", "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let prod = &v["environments"][1];
    assert_eq!(prod["changed"][0]["resource"], "v1 Secret prod/api-secrets");
    assert_eq!(prod["changed"][0]["fields"][0]["path"], "data.DB_PASSWORD");
    assert_no_secret(&out, &secrets);
    // dev did not change.
    let (code, _, _) = kiln_in(d, &["check", "--env", "dev"]);
    assert_eq!(code, 0);
}

#[test]
fn golden_files_with_plaintext_secrets_are_refused() {
    let p = fleet(false);
    let d = p.path();
    let (code, _, err) = kiln_in(d, &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    // A golden file recorded the old way: the render itself, values and all.
    let (code, _, err) = kiln_in(d, &["render"]);
    assert_eq!(code, 0, "{err}");
    std::fs::copy(d.join("out/dev/api.yaml"), d.join("golden/dev/api.yaml")).unwrap();
    for args in [&["check"][..], &["diff"], &["check", "--format", "json"]] {
        let (code, out, err) = kiln_in(d, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains("golden/dev/api.yaml:") && err.contains("the Secret `v1 Secret dev/api-secrets` is recorded with its values in plaintext"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("`data.DB_PASSWORD`") && err.contains("kiln golden update"),
            "{err}"
        );
        assert_no_secret(&format!("{out}{err}"), &[CANARY]);
    }
    // Re-recording fixes it.
    let (code, _, err) = kiln_in(d, &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = kiln_in(d, &["check"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn any_secret_a_template_renders_is_digested() {
    let p = project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
        ),
        ("values/defaults.yaml", "template: web\n"),
        ("values/services/api.yaml", &format!("pw: {CANARY}\n")),
        (
            "templates/web/s.yaml.j2",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ service.name }}\n  namespace: {{ env.namespace }}\nstringData:\n  pw: {{ values.pw }}\n  count: \"5\"\ndata: {raw: {{ values.pw | b64encode }}}\n",
        ),
    ]);
    let (code, _, err) = kiln_in(p.path(), &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    let text = all_text(&p.path().join("golden"));
    assert_no_secret(&text, &[CANARY]);
    assert_eq!(text.matches("sha256:").count(), 3, "{text}");
    let (code, out, _) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_password_in_a_plain_variable_is_digested_in_golden_too() {
    // The leak of issue 14: `MYSQL_ROOT_PASSWORD: changeme` in `env`, not in a Secret.
    let p = fleet(false);
    let d = p.path();
    write(
        d,
        "values/services/worker.yaml",
        format!(
            "image: {{repository: reg/worker, tag: \"2.0\"}}\nenv:\n  MYSQL_ROOT_PASSWORD: {CANARY2}\n  DB_URL: \"jdbc:mysql://app:{CANARY2}x@db:3306/w\"\n"
        ),
    );
    let (code, _, err) = kiln_in(d, &["golden", "update"]);
    assert_eq!(code, 0, "{err}");
    let golden = all_text(&d.join("golden"));
    assert_no_secret(&golden, &[CANARY, CANARY2]);
    assert!(golden.contains("jdbc:mysql://app:sha256:"), "{golden}");
    let (code, out, _) = kiln_in(d, &["check"]);
    assert_eq!(code, 0, "{out}");
    // out/ has the value; a golden file that does too is refused.
    let (code, _, err) = kiln_in(d, &["render"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(d.join("out/dev/worker.yaml"))
            .unwrap()
            .contains(CANARY2)
    );
    std::fs::copy(
        d.join("out/dev/worker.yaml"),
        d.join("golden/dev/worker.yaml"),
    )
    .unwrap();
    let (code, out, err) = kiln_in(d, &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("`golden/dev/worker.yaml`: `apps/v1 Deployment dev/worker` is recorded with a secret in plaintext")
            && err.contains("kiln golden update"),
        "{err}"
    );
    assert_no_secret(&format!("{out}{err}"), &[CANARY2]);
}

#[test]
fn a_project_defaults_file_without_secrets_still_renders() {
    // A project that replaced the set's defaults.yaml before `secrets:` existed (or an old
    // revision in `kiln diff --against git:REF`) gets the new built-in templates.
    let p = fleet(false);
    for set in ["spring-boot", "eureka-server"] {
        let (code, defaults, err) = kiln_in(
            p.path(),
            &["templates", "show", &format!("{set}/defaults.yaml")],
        );
        assert_eq!(code, 0, "{err}");
        let mut old = String::new();
        for l in defaults
            .lines()
            .filter(|l| !l.starts_with("secrets:") && !l.contains("*.sops.yaml"))
        {
            old.push_str(l);
            old.push('\n');
        }
        assert!(!old.contains("secrets"), "{old}");
        write(p.path(), &format!("templates/{set}/defaults.yaml"), old);
    }
    write(
        p.path(),
        "values/services/eureka.yaml",
        "template: eureka-server\nimage: {repository: reg/eureka, tag: \"1\"}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(p.path().join("out/dev/worker.yaml")).unwrap();
    assert!(!text.contains("kind: Secret"), "{text}");
}

#[test]
fn a_key_in_both_secrets_and_env_is_an_error() {
    let p = fleet(false);
    write(
        p.path(),
        "values/services/api.dev.yaml",
        "env: {DB_PASSWORD: {secretKeyRef: {name: other, key: pw}}}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("`DB_PASSWORD` is set both in `secrets` and in `env`"),
        "{err}"
    );
    assert!(
        err.contains("values/services/api.yaml"),
        "points at the values: {err}"
    );
    assert_no_secret(&err, &[CANARY]);
    // A secret must be a string.
    write(
        p.path(),
        "values/services/api.dev.yaml",
        "secrets: {N: 5}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("api.dev.yaml:1"), "{err}");
}

/// The id kubectl gives the parent Secret `name` in `namespace`, computed here independently.
fn kubectl_id(name: &str, namespace: &str) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(format!("{name}.{namespace}.Secret.").as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h)
    )
}

#[test]
fn the_example_fleet_golden_files_carry_applyset_labels_and_parents() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let kiln_yaml = std::fs::read_to_string(root.join("kiln.yaml")).unwrap();
    assert!(
        kiln_yaml.contains("applyset:"),
        "the example fleet enables ApplySets"
    );
    // One parent per render target: prod is on two clusters, with the same parent on each.
    for (folder, env) in [
        ("dev", "dev"),
        ("test", "test"),
        ("stage", "stage"),
        ("prod@aliyun-hz-prod", "prod"),
        ("prod@tencent-sh-prod", "prod"),
    ] {
        let dir = root.join("golden").join(folder);
        let id = kubectl_id(&format!("kiln-{env}"), env);
        let parent = docs(&dir.join("_applyset.yaml"));
        assert_eq!(parent.len(), 1);
        let meta = parent[0].get("metadata").unwrap();
        assert_eq!(parent[0].get_str("kind"), Some("Secret"));
        assert_eq!(meta.get_str("name"), Some(format!("kiln-{env}").as_str()));
        assert_eq!(meta.get_str("namespace"), Some(env));
        assert_eq!(
            meta.get("labels")
                .unwrap()
                .get_str("applyset.kubernetes.io/id"),
            Some(id.as_str())
        );
        let ann = meta.get("annotations").unwrap();
        assert!(
            ann.get_str("applyset.kubernetes.io/tooling")
                .unwrap()
                .starts_with("kubectl/")
        );
        // dev's ingress-nginx controller lives in its own namespace.
        let extra = if env == "dev" { "ingress-nginx" } else { "" };
        assert_eq!(
            ann.get_str("applyset.kubernetes.io/additional-namespaces"),
            Some(extra)
        );
        // Every other object is a member; the parent lists exactly their group-kinds, sorted.
        let mut kinds = std::collections::BTreeSet::new();
        let mut members = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_stem().is_some_and(|s| s == "_applyset") {
                continue;
            }
            for doc in docs(&path) {
                let labels = doc.get("metadata").unwrap().get("labels").unwrap();
                assert_eq!(
                    labels.get_str("applyset.kubernetes.io/part-of"),
                    Some(id.as_str()),
                    "{}",
                    path.display()
                );
                let api = doc.get_str("apiVersion").unwrap();
                let kind = doc.get_str("kind").unwrap();
                kinds.insert(match api.rsplit_once('/') {
                    Some((group, _)) => format!("{kind}.{group}"),
                    None => kind.to_string(),
                });
                members += 1;
            }
        }
        assert!(members > 10 && kinds.contains("Namespace") && kinds.contains("Deployment.apps"));
        assert_eq!(
            ann.get_str("applyset.kubernetes.io/contains-group-kinds")
                .unwrap(),
            kinds.into_iter().collect::<Vec<_>>().join(",")
        );
    }
    // What kubectl applies is unlabelled: kubectl adds the label and refuses input that has it.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = Kiln::new(&["render", "--out", out.to_str().unwrap()])
        .project(root)
        .run();
    assert_eq!(code, 0, "{err}");
    let text = all_text(&out);
    assert!(
        !text.contains("applyset.kubernetes.io"),
        "out/ is kubectl's input"
    );
    assert!(!out.join("dev/_applyset.yaml").exists());
    // kiln check passes on the fleet, labels and parents included.
    let copy = repo_copy(&["kiln.yaml", "values", "templates", "golden"]);
    let (code, out, err) = kiln_in(copy.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    // A removed parent is drift.
    std::fs::remove_file(
        copy.path()
            .join("golden/prod@tencent-sh-prod/_applyset.yaml"),
    )
    .unwrap();
    let (code, out, _) = kiln_in(copy.path(), &["check", "--env", "prod"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("+ v1 Secret prod/kiln-prod"), "{out}");
}

#[test]
fn applyset_settings_are_checked() {
    let p = project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\", cluster: hz}\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\napplyset:\n  scope: cluster\n  tooling: helm/v3\n",
        ),
        ("values/defaults.yaml", "template: spring-boot\n"),
    ]);
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("`applyset.tooling` `helm/v3` is not `kubectl/<version>`"),
        "{err}"
    );
    assert!(err.contains("kiln.yaml:6:12"), "{err}");
    assert!(
        err.contains("environment `prod` has no `cluster`") && err.contains("kiln.yaml:5:10"),
        "{err}"
    );
    write(
        p.path(),
        "kiln.yaml",
        "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\napplyset: {scope: namespace}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("kiln.yaml") && err.contains("namespace"),
        "{err}"
    );
}

#[test]
fn a_template_setting_the_member_label_is_refused() {
    let p = project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\napplyset: {scope: environment}\n",
        ),
        ("values/defaults.yaml", "template: web\n"),
        ("values/services/api.yaml", "{}\n"),
        (
            "templates/web/cm.yaml.j2",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\n  labels: {\"applyset.kubernetes.io/part-of\": mine}\n",
        ),
    ]);
    let (code, _, err) = kiln_in(p.path(), &["golden", "update"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("`v1 ConfigMap api` (from `templates/web/cm.yaml.j2`) sets the label `applyset.kubernetes.io/part-of` itself"),
        "{err}"
    );
    assert!(!p.path().join("golden").exists());
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@e"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn diff_against_a_revision_lists_what_a_prune_deletes() {
    if crate::support::tool("git").is_none() {
        return;
    }
    let p = fleet(true);
    let d = p.path();
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "kiln.yaml", "values"]);
    git(d, &["commit", "-q", "-m", "one"]);
    std::fs::remove_file(d.join("values/services/worker.yaml")).unwrap();
    let (code, out, err) = kiln_in(d, &["diff", "--against", "git:HEAD", "--env", "dev"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("prune: `kubectl apply --prune --applyset=kiln-dev --namespace=dev` deletes 2 object(s) from the cluster:"),
        "{out}"
    );
    for o in ["v1 Service dev/worker", "apps/v1 Deployment dev/worker"] {
        assert!(out.contains(&format!("  x {o}\n")), "{o}: {out}");
    }
    assert!(
        out.contains("dev: 0 changed, 0 added, 2 removed (2 pruned)"),
        "{out}"
    );
    let (code, out, _) = kiln_in(d, &["diff", "--against", "git:HEAD", "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["environments"][0]["prune"]["flags"],
        "--applyset=kiln-dev --namespace=dev"
    );
    assert_eq!(
        v["environments"][1]["prune"]["objects"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A secret changed at the same time is named, never shown.
    write(
        d,
        "values/services/api.yaml",
        "image: {repository: reg/api, tag: \"1.0\"}\nsecrets: {DB_PASSWORD: x-canary-new}\n",
    );
    let (code, out, _) = kiln_in(d, &["diff", "--against", "git:HEAD", "--env", "prod"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("data.DB_PASSWORD: (hidden) -> (hidden; changed)"),
        "{out}"
    );
    assert!(
        !out.contains("x-canary-new") && !out.contains(CANARY),
        "{out}"
    );
    // Without ApplySets at the revision nothing was labelled, so a prune deletes nothing.
    let q = fleet(false);
    let d = q.path();
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "kiln.yaml", "values"]);
    git(d, &["commit", "-q", "-m", "one"]);
    std::fs::remove_file(d.join("values/services/worker.yaml")).unwrap();
    write(
        d,
        "kiln.yaml",
        std::fs::read_to_string(p.path().join("kiln.yaml")).unwrap(),
    );
    let (code, out, _) = kiln_in(d, &["diff", "--against", "git:HEAD", "--env", "dev"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("- apps/v1 Deployment dev/worker") && !out.contains("prune:"),
        "{out}"
    );
}

/// Kinds the example fleet renders: (group/version path, resource, kind, namespaced).
const API: &[(&str, &str, &str, bool)] = &[
    ("/api/v1", "namespaces", "Namespace", false),
    ("/api/v1", "configmaps", "ConfigMap", true),
    ("/api/v1", "secrets", "Secret", true),
    ("/api/v1", "services", "Service", true),
    ("/api/v1", "serviceaccounts", "ServiceAccount", true),
    ("/apis/apps/v1", "deployments", "Deployment", true),
    ("/apis/apps/v1", "statefulsets", "StatefulSet", true),
    (
        "/apis/rbac.authorization.k8s.io/v1",
        "rolebindings",
        "RoleBinding",
        true,
    ),
    ("/apis/rbac.authorization.k8s.io/v1", "roles", "Role", true),
    (
        "/apis/rbac.authorization.k8s.io/v1",
        "clusterroles",
        "ClusterRole",
        false,
    ),
    (
        "/apis/rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
    (
        "/apis/discovery.k8s.io/v1",
        "endpointslices",
        "EndpointSlice",
        true,
    ),
    (
        "/apis/policy/v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    ("/apis/networking.k8s.io/v1", "ingresses", "Ingress", true),
    (
        "/apis/autoscaling/v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
];

/// The answer of an empty cluster to `path`: API discovery, and 404 for every object.
fn empty_cluster(path: &str) -> (u16, serde_json::Value) {
    use serde_json::json;
    let path = path.split('?').next().unwrap_or_default();
    let mut paths: Vec<&str> = API.iter().map(|a| a.0).collect();
    paths.dedup();
    match path {
        "/api" => (
            200,
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        "/apis" => {
            let groups: Vec<_> = paths
                .iter()
                .filter_map(|p| p.strip_prefix("/apis/"))
                .map(|gv| {
                    let (g, v) = gv.split_once('/').unwrap();
                    let version = json!({"groupVersion": gv, "version": v});
                    json!({"name": g, "versions": [version], "preferredVersion": version})
                })
                .collect();
            (
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        p if paths.contains(&p) => {
            let gv = p.strip_prefix("/apis/").unwrap_or("v1");
            let resources: Vec<_> = API
                .iter()
                .filter(|a| a.0 == p)
                .map(|(_, name, kind, namespaced)| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list", "create", "update", "patch", "delete"]}))
                .collect();
            (
                200,
                json!({"kind": "APIResourceList", "groupVersion": gv, "resources": resources}),
            )
        }
        _ => (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
        ),
    }
}

/// Serve [`empty_cluster`] over HTTP/1.1 on a free local port, for as long as the test runs.
fn serve_empty_cluster() -> u16 {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = header.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let path = request.split(' ').nth(1).unwrap_or("/");
                    let (code, doc) = empty_cluster(path);
                    let text = doc.to_string();
                    let head = format!(
                        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        text.len()
                    );
                    if out
                        .write_all(head.as_bytes())
                        .and_then(|()| out.write_all(text.as_bytes()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The oracle: the real kubectl, `apply --prune --applyset --dry-run=client` against an empty
/// cluster (a local server that answers API discovery and 404 for every object; client dry-run
/// needs nothing more). It accepts out/, labels every object with the id golden/ shows, and
/// refuses golden/ itself, whose objects already carry the label.
#[test]
fn kubectl_applies_out_with_the_labels_golden_shows_and_refuses_labelled_input() {
    let Some(kubectl) = crate::support::tool("kubectl") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = Kiln::new(&["render", "--out", out.to_str().unwrap()])
        .project(root)
        .run();
    assert_eq!(code, 0, "{err}");
    let port = serve_empty_cluster();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"http://127.0.0.1:{port}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: c}}}}]\ncurrent-context: c\nusers: []\n"),
    )
    .unwrap();
    // kubectl takes a namespaced parent's namespace only from `--namespace`, and then refuses
    // objects of other namespaces: dev, whose ingress-nginx controller has its own namespace,
    // is not one kubectl ApplySet (README, "Pruning with ApplySets").
    let apply = |env: &str, dir: &Path| {
        let o = Command::new(&kubectl)
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECTL_APPLYSET", "true")
            .arg("--cache-dir")
            .arg(tmp.path().join("cache"))
            .args(["apply", "--dry-run=client", "--validate=false", "--prune"])
            .arg(format!("--applyset=kiln-{env}"))
            .arg(format!("--namespace={env}"))
            .args(["-o", "json", "-f"])
            .arg(dir)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for env in ["test", "stage"] {
        let golden_dir = root.join("golden").join(env);
        let parent = docs(&golden_dir.join("_applyset.yaml"));
        let id = parent[0]
            .get("metadata")
            .unwrap()
            .get("labels")
            .unwrap()
            .get_str("applyset.kubernetes.io/id")
            .unwrap()
            .to_string();
        let (code, stdout, stderr) = apply(env, &out.join(env));
        assert_eq!(code, Some(0), "{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let items = v["items"].as_array().unwrap();
        // The labels kubectl sends are exactly the labels golden/ records, object by object.
        let mut golden_objects = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir(&golden_dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_stem().is_some_and(|s| s == "_applyset") {
                continue;
            }
            for doc in docs(&path) {
                let meta = doc.get("metadata").unwrap();
                let labels: serde_json::Value =
                    serde_json::to_value(meta.get("labels").unwrap()).unwrap();
                golden_objects.insert(
                    (
                        doc.get_str("kind").unwrap().to_string(),
                        meta.get_str("name").unwrap().to_string(),
                    ),
                    labels,
                );
            }
        }
        assert_eq!(items.len(), golden_objects.len());
        for item in items {
            let key = (
                item["kind"].as_str().unwrap().to_string(),
                item["metadata"]["name"].as_str().unwrap().to_string(),
            );
            assert_eq!(
                item["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
                id.as_str()
            );
            assert_eq!(
                Some(&item["metadata"]["labels"]),
                golden_objects.get(&key),
                "{key:?}"
            );
        }
        let (code, _, stderr) = apply(env, &golden_dir);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(
                "ApplySet label \"applyset.kubernetes.io/part-of\" already set in input data"
            ),
            "{stderr}"
        );
    }
}
