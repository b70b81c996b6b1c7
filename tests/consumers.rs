//! kiln's reports and hooks, read by the real tools that consume them: the JUnit XML by
//! `junitparser` (PyPI), the SARIF by the official SARIF 2.1.0 JSON Schema (shipped in the npm
//! package `@microsoft/jest-sarif`), and `.pre-commit-hooks.yaml` by the `pre-commit` framework
//! (PyPI). The tools are installed once into `target/consumers/` from the package registries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn work() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/consumers");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A Python virtual environment with junitparser, jsonschema and pre-commit.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let v = work().join("venv");
        if !v.join("bin/pre-commit").exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(&v));
            run(Command::new(v.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "junitparser==4.0.2",
                "jsonschema==4.26.0",
                "pre-commit==4.3.0",
            ]));
        }
        v
    })
}

/// The SARIF 2.1.0 schema, from the npm registry.
fn sarif_schema() -> &'static Path {
    static SCHEMA: OnceLock<PathBuf> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let dir = work().join("jest-sarif");
        let schema = dir.join("package/lib/schemas/sarif-2.1.0-rtm.5.json");
        if !schema.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            let tgz = run(Command::new("npm")
                .args(["pack", "--silent", "@microsoft/jest-sarif@1.0.0-beta.0"])
                .current_dir(&dir));
            run(Command::new("tar")
                .arg("-xzf")
                .arg(tgz.trim())
                .current_dir(&dir));
        }
        schema
    })
}

fn kiln_report(format: &str) -> String {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/real");
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["lint", "--kube-version", "1.35", "--format", format])
        .arg(corpus.join("yannh__kubeconform__fixtures__multi_invalid.yaml"))
        .arg(corpus.join("yannh__kubeconform__fixtures__valid.yaml"))
        .arg(corpus.join("../field/tcp-services-configmap.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn junit_report_reads_in_junitparser() {
    let file = work().join("kiln.xml");
    std::fs::write(&file, kiln_report("junit")).unwrap();
    let script = r"
import sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
cases = [c for suite in xml for c in suite]
failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
print(len(cases), len(failed), xml.failures)
";
    let out = run(Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(&file));
    assert_eq!(out.trim(), "8 2 2", "testcases, failed testcases, failures");
}

#[test]
fn sarif_report_matches_the_sarif_schema() {
    let file = work().join("kiln.sarif");
    std::fs::write(&file, kiln_report("sarif")).unwrap();
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.validators.validator_for(schema)(schema).validate(doc)
print(len(doc["runs"][0]["results"]))
"#;
    let out = run(Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(sarif_schema())
        .arg(&file));
    assert!(out.trim().parse::<usize>().unwrap() >= 2, "{out}");
}

#[test]
fn pre_commit_hook_passes_clean_and_fails_on_drift_with_the_diff() {
    let repo = tempfile::tempdir().unwrap();
    let d = repo.path();
    let write = |rel: &str, text: &str| {
        let p = d.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "kiln.yaml",
        "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
    );
    write(
        "values/defaults.yaml",
        "template: spring-boot\nimage: {repository: registry.example.com/api, tag: \"1.0.0\"}\n",
    );
    write("values/services/api.yaml", "replicas: 2\n");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kiln"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}:{}",
        bin_dir.display(),
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cmd = |program: &str| {
        let mut c = Command::new(program);
        c.current_dir(d)
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", work().join("pre-commit-home"))
            .env_remove("CI")
            .env("NO_COLOR", "1");
        c
    };
    run(cmd("kiln").args(["golden", "update"]));
    run(cmd("git").args(["init", "-q", "-b", "main"]));
    run(cmd("git").args(["add", "."]));
    run(cmd("git").args([
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "-m",
        "project",
    ]));
    let hooks_repo = env!("CARGO_MANIFEST_DIR");
    let out = cmd("pre-commit")
        .args(["try-repo", hooks_repo, "kiln-check", "--all-files"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clean project must pass:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    write("values/services/api.yaml", "replicas: 5\n");
    let out = cmd("pre-commit")
        .args(["try-repo", hooks_repo, "kiln-check", "--all-files"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "drift must fail:\n{text}");
    assert!(
        text.contains("spec.replicas: 2 -> 5") && text.contains("golden-drift"),
        "{text}"
    );
}
