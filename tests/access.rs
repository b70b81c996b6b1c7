//! Team access: `teams[].serviceAccount` objects (against `kubectl create --dry-run=client` and
//! the embedded schemas) and `kiln kubeconfig` (read back by the real kubectl).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{CM, Kiln, kiln_in, project, tool, write};

/// Base64 of a demo CA certificate (no cluster has it).
const CA_DATA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJsakNDQVR1Z0F3SUJBZ0lVYytmWUhMaktXdXZhN05ZNC9rVWdHYys5ekVrd0NnWUlLb1pJemowRUF3SXcKSURFZU1Cd0dBMVVFQXd3VllXeHBlWFZ1TFdoNkxXUmxkaTFrWlcxdkxXTmhNQjRYRFRJMk1URXpNREUzTWpFdwpOVm9YRFRNMk1URXlOekUzTWpFd05Wb3dJREVlTUJ3R0ExVUVBd3dWWVd4cGVYVnVMV2g2TFdSbGRpMWtaVzF2CkxXTmhNRmt3RXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUV4OVBMS2cybVFMZzNlSnFRamcwREtOZFMKTW5OMWo0L2RFUnl6TUdpQTJDbDZNUGNHTTJFQ0hIckxVYzVKRmg3TXhzV3pFNFEzeVZrVW1hVHl6alc5TGFOVApNRkV3SFFZRFZSME9CQllFRkhTbnVMeGllOHN2L1JlVExNNmw2eUt5Nm4vOU1COEdBMVVkSXdRWU1CYUFGSFNuCnVMeGllOHN2L1JlVExNNmw2eUt5Nm4vOU1BOEdBMVVkRXdFQi93UUZNQU1CQWY4d0NnWUlLb1pJemowRUF3SUQKU1FBd1JnSWhBTExzRndkWURESXJVenFxc3c2TnRzQ1NXcFdyVGhDS2ZqZzNrbmlHYmIvZkFpRUFpbXZwUzFHVQpScENaZjIrQ1NGUXlsQlc1WG5MSWpMMWM5QnNlMk9nZy9qMD0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

/// A token-shaped string that must never appear in any output stream.
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.kiln-test-token-3f9c2a.c2lnbmF0dXJl";

/// dev on `hz` (caData), prod on `hz` and `sh` (caFile); team `trade` with ServiceAccounts in
/// dev and prod, team `ops` without.
fn fleet() -> tempfile::TempDir {
    use base64::Engine as _;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(CA_DATA)
        .unwrap();
    let p = project(&[
        (
            "kiln.yaml",
            &format!(
                "clusters:\n  hz: {{server: \"https://10.20.0.1:6443\", kubeVersion: \"1.35\", caData: {CA_DATA}}}\n  sh: {{server: \"https://sh.example.com:6443\", kubeVersion: \"1.33\", caFile: ca/sh.crt}}\nenvironments:\n  dev: {{namespace: mall-dev, cluster: hz}}\n  prod: {{namespace: mall-prod, clusters: [hz, sh]}}\n"
            ),
        ),
        ("templates/web/cm.yaml.j2", CM),
        (
            "values/defaults.yaml",
            "template: web\ngreeting: hi\nteams:\n  - {name: trade, group: \"mall:trade\", access: edit, envs: [dev, prod], serviceAccount: true}\n  - {name: ops, group: \"mall:ops\", access: view, envs: [dev, prod]}\n",
        ),
        ("values/services/api.yaml", "{}\n"),
    ]);
    write(p.path(), "ca/sh.crt", pem);
    p
}

fn docs(text: &str) -> Vec<Value> {
    kiln::yaml::parse_stream(text, 0, kiln::yaml::Dialect::Kube)
        .unwrap()
        .iter()
        .map(|n| serde_json::to_value(n).unwrap())
        .collect()
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// `kubectl` with `args`, then each of `then` reading the previous output from `-f -`; the
/// last output parsed, without the `creationTimestamp: null` kubectl adds.
fn kubectl(kubectl: &Path, args: &[&str], then: &[&[&str]]) -> Value {
    let run = |args: &[&str], input: Option<&[u8]>| -> Vec<u8> {
        let mut child = Command::new(kubectl)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(i) = input {
            stdin.write_all(i).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let mut out = run(args, None);
    for step in then {
        out = run(step, Some(&out));
    }
    let mut v = docs(&String::from_utf8(out).unwrap()).remove(0);
    v["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("creationTimestamp");
    v
}

#[test]
fn team_service_account_objects_are_what_kubectl_creates() {
    let Some(k) = tool("kubectl") else { return };
    let p = fleet();
    let (code, out, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    let d = docs(&out);
    let labels = "app.kubernetes.io/managed-by=kiln";
    let team = "kiln.dev/team=trade";
    let sa = kubectl(
        &k,
        &[
            "create",
            "serviceaccount",
            "team-trade",
            "-n",
            "mall-dev",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[&["label", "--local", "-f", "-", labels, team, "-o", "yaml"]],
    );
    assert_eq!(named(&d, "ServiceAccount", "team-trade"), &sa);
    let secret = kubectl(
        &k,
        &[
            "create",
            "secret",
            "generic",
            "team-trade-token",
            "--type=kubernetes.io/service-account-token",
            "-n",
            "mall-dev",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[
            &["label", "--local", "-f", "-", labels, team, "-o", "yaml"],
            &[
                "annotate",
                "--local",
                "-f",
                "-",
                "kubernetes.io/service-account.name=team-trade",
                "-o",
                "yaml",
            ],
        ],
    );
    let ours = named(&d, "Secret", "team-trade-token");
    assert_eq!(ours, &secret);
    assert!(ours.get("data").is_none(), "the API server fills the token");
    let binding = kubectl(
        &k,
        &[
            "create",
            "rolebinding",
            "team-trade-edit",
            "--clusterrole=edit",
            "--group=mall:trade",
            "--serviceaccount=mall-dev:team-trade",
            "-n",
            "mall-dev",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        &[&["label", "--local", "-f", "-", labels, "-o", "yaml"]],
    );
    assert_eq!(named(&d, "RoleBinding", "team-trade-edit"), &binding);
    // A team without `serviceAccount` keeps its group-only binding and gets no account.
    let ops = named(&d, "RoleBinding", "team-ops-view");
    assert_eq!(ops["subjects"].as_array().unwrap().len(), 1, "{ops}");
    assert_eq!(
        d.iter().filter(|o| o["kind"] == "ServiceAccount").count(),
        1
    );
}

#[test]
fn team_service_account_objects_pass_the_schemas_of_1_33_and_1_37() {
    let p = fleet();
    let (code, out, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    let kinds: Vec<String> = docs(&out)
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in ["ServiceAccount", "Secret", "RoleBinding"] {
        assert!(kinds.iter().any(|k| k == kind), "{kinds:?}");
    }
    write(p.path(), "rendered.yaml", &out);
    for version in ["1.33", "1.37"] {
        let (code, report, err) = kiln_in(
            p.path(),
            &["lint", "rendered.yaml", "--kube-version", version],
        );
        assert_eq!(code, 0, "{version}: {report}{err}");
        assert!(report.contains("0 error(s), 0 warning(s)"), "{report}");
    }
    // And `kiln check` on the project, each environment at its clusters' versions.
    let (code, report, err) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 0, "{report}{err}");
}

/// `kubectl config view` of a kubeconfig, as JSON (with the token: `--raw`).
fn view(k: &Path, file: &Path) -> Value {
    let out = Command::new(k)
        .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn contexts(k: &Path, file: &Path) -> String {
    let out = Command::new(k)
        .args(["config", "get-contexts", "--kubeconfig"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kubeconfig_with_a_token_file_is_read_by_kubectl() {
    let Some(k) = tool("kubectl") else { return };
    let p = fleet();
    write(p.path(), "token", format!("{TOKEN}\n"));
    let (code, out, err) = kiln_in(
        p.path(),
        &[
            "kubeconfig",
            "--team",
            "trade",
            "--env",
            "dev",
            "--token-file",
            "token",
            "-o",
            "trade.kubeconfig",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains(TOKEN) && !err.contains(TOKEN),
        "the token was printed"
    );
    assert!(
        out.contains("context `team-trade.dev@hz` (ServiceAccount mall-dev/team-trade on hz"),
        "{out}"
    );
    let file = p.path().join("trade.kubeconfig");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by its owner only");
    }
    let config = view(&k, &file);
    assert_eq!(config["current-context"], "team-trade.dev@hz");
    assert_eq!(
        config["clusters"],
        json!([{"name": "hz", "cluster": {"server": "https://10.20.0.1:6443", "certificate-authority-data": CA_DATA}}])
    );
    assert_eq!(
        config["users"],
        json!([{"name": "team-trade.dev@hz", "user": {"token": TOKEN}}])
    );
    assert_eq!(
        config["contexts"],
        json!([{"name": "team-trade.dev@hz", "context": {"cluster": "hz", "user": "team-trade.dev@hz", "namespace": "mall-dev"}}])
    );
    let table = contexts(&k, &file);
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with('*'))
        .unwrap_or_else(|| panic!("no current context: {table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            "*",
            "team-trade.dev@hz",
            "hz",
            "team-trade.dev@hz",
            "mall-dev"
        ]
    );

    // An existing file is not replaced without --force; with it, it is (still 0600).
    let again = [
        "kubeconfig",
        "--team",
        "trade",
        "--env",
        "prod",
        "--cluster",
        "sh",
        "--token-file",
        "token",
        "-o",
        "trade.kubeconfig",
    ];
    let (code, out, err) = kiln_in(p.path(), &again);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(view(&k, &file)["current-context"], "team-trade.dev@hz");
    let (code, out, err) = kiln_in(p.path(), &[&again[..], &["--force"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN));
    let config = view(&k, &file);
    assert_eq!(config["current-context"], "team-trade.prod@sh");
    // caFile is read and embedded, so the kubeconfig works anywhere.
    assert_eq!(
        config["clusters"][0]["cluster"],
        json!({"server": "https://sh.example.com:6443", "certificate-authority-data": CA_DATA})
    );
    assert_eq!(config["contexts"][0]["context"]["namespace"], "mall-prod");
}

#[test]
fn kubeconfig_without_a_token_has_the_placeholder_and_prints_only_without_one() {
    let Some(k) = tool("kubectl") else { return };
    let p = fleet();
    // No token: standard output is the default.
    let (code, out, err) = kiln_in(p.path(), &["kubeconfig", "--team", "trade", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    write(p.path(), "printed.kubeconfig", &out);
    let config = view(&k, &p.path().join("printed.kubeconfig"));
    assert_eq!(
        config["users"][0]["user"]["token"],
        "REPLACE-WITH-THE-SERVICEACCOUNT-TOKEN"
    );
    // To a file: kiln says how to fill it in.
    let (code, out, err) = kiln_in(
        p.path(),
        &["kubeconfig", "--team", "trade", "--env", "dev", "-o", "kc"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("config set-credentials team-trade.dev@hz")
            && out.contains("create token team-trade"),
        "{out}"
    );

    // A real token goes to standard output only when asked for with `-o -`.
    write(p.path(), "token", TOKEN);
    let (code, out, err) = kiln_in(
        p.path(),
        &[
            "kubeconfig",
            "--team",
            "trade",
            "--env",
            "dev",
            "--token-file",
            "token",
        ],
    );
    assert_eq!(code, 2);
    assert!(out.is_empty() && !err.contains(TOKEN), "{err}");
    assert!(
        err.contains("refusing to print a ServiceAccount token") && err.contains("-o -"),
        "{err}"
    );
    let (code, out, err) = kiln_in(
        p.path(),
        &[
            "kubeconfig",
            "--team",
            "trade",
            "--env",
            "dev",
            "--token-file",
            "token",
            "-o",
            "-",
        ],
    );
    assert_eq!(code, 0, "{err}");
    write(p.path(), "asked.kubeconfig", &out);
    assert_eq!(
        view(&k, &p.path().join("asked.kubeconfig"))["users"][0]["user"]["token"],
        TOKEN
    );
}

#[test]
fn kubeconfig_errors_name_what_is_wrong_and_suggest() {
    let p = fleet();
    let cases: &[(&[&str], &str)] = &[
        (&["--team", "trad", "--env", "dev"], "unknown team `trad`"),
        (&["--team", "trad", "--env", "dev"], "did you mean `trade`?"),
        (&["--team", "trade", "--env", "dve"], "did you mean `dev`?"),
        (
            &["--team", "trade", "--env", "prod"],
            "environment `prod` is on 2 clusters: hz, sh",
        ),
        (
            &["--team", "trade", "--env", "prod", "--cluster", "shh"],
            "did you mean `sh`?",
        ),
        (
            &["--team", "ops", "--env", "dev"],
            "team `ops` has no ServiceAccount in environment `dev`",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = kiln_in(p.path(), &[&["kubeconfig"], *args].concat());
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: want `{want}` in:\n{err}");
    }
    // A bad token file: named, never quoted.
    write(p.path(), "two", format!("{TOKEN}\n{TOKEN}\n"));
    let (code, _, err) = Kiln::new(&[
        "kubeconfig",
        "--team",
        "trade",
        "--env",
        "dev",
        "--token-file",
        "two",
        "-o",
        "x",
    ])
    .project(p.path())
    .run();
    assert_eq!(code, 2);
    assert!(
        err.contains("does not hold one token") && !err.contains(TOKEN),
        "{err}"
    );
    assert!(!p.path().join("x").exists());
    // A cluster kiln.yaml does not describe has no server to write.
    let q = project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\", cluster: free-label}\n",
        ),
        ("templates/web/cm.yaml.j2", CM),
        (
            "values/defaults.yaml",
            "template: web\ngreeting: hi\nteams: [{name: trade, group: g, access: edit, envs: [dev], serviceAccount: true}]\n",
        ),
        ("values/services/api.yaml", "{}\n"),
    ]);
    let (code, _, err) = kiln_in(q.path(), &["kubeconfig", "--team", "trade", "--env", "dev"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cluster `free-label` of environment `dev` has no entry in `clusters:`"),
        "{err}"
    );
}
