//! kiln's reports and hooks, read by the real tools that consume them: the JUnit XML by
//! `junitparser` (PyPI), the SARIF by the official SARIF 2.1.0 JSON Schema (shipped in the npm
//! package `@microsoft/jest-sarif`), and `.pre-commit-hooks.yaml` by the `pre-commit` framework
//! (PyPI). The tools are installed once into `target/consumers/` from the package registries;
//! without python3 (with venv), npm or the network, the tests that need them skip (see
//! `support`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{Kiln, on_path, require, shared, tool, write};

fn work() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/consumers");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run a command that must succeed; its stdout.
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

/// Run an installation step: its stdout, or `failed` and the line of its stderr that says why
/// (the first error line; pip and npm print retry warnings first).
fn install_step(cmd: &mut Command, failed: &str) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("{failed}: {e}"))?;
    if o.status.success() {
        return Ok(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let why = lines
        .clone()
        .find(|l| l.to_lowercase().contains("error") && !l.starts_with("WARNING"))
        .or_else(|| lines.next())
        .unwrap_or("");
    Err(format!("{failed}: {why}"))
}

/// A Python virtual environment with junitparser, jsonschema and pre-commit, or why there is
/// none (no python3, no venv module, no PyPI).
fn venv() -> Result<&'static Path, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let venv = VENV.get_or_init(|| {
        let v = work().join("venv");
        if !v.join("bin/pre-commit").exists() {
            let python = on_path("python3")?;
            install_step(
                Command::new(python).args(["-m", "venv"]).arg(&v),
                "`python3 -m venv` failed (on Debian: apt-get install python3-venv)",
            )?;
            install_step(
                Command::new(v.join("bin/pip")).args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    // Offline, fail in seconds rather than minutes.
                    "--retries",
                    "1",
                    "--timeout",
                    "15",
                    "junitparser==4.0.2",
                    "jsonschema==4.26.0",
                    "pre-commit==4.3.0",
                ]),
                "`pip install` of junitparser, jsonschema and pre-commit from PyPI failed (offline?)",
            )?;
        }
        Ok(v)
    });
    venv.as_deref().map_err(Clone::clone)
}

/// The SARIF 2.1.0 schema from the npm registry, or why there is none (no npm, no registry).
fn sarif_schema() -> Result<&'static Path, String> {
    static SCHEMA: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let dir = work().join("jest-sarif");
        let schema = dir.join("package/lib/schemas/sarif-2.1.0-rtm.5.json");
        if !schema.exists() {
            let npm = on_path("npm")?;
            let tar = on_path("tar")?;
            std::fs::create_dir_all(&dir).unwrap();
            let tgz = install_step(
                Command::new(npm)
                    .args(["pack", "--loglevel", "error"])
                    // Offline, fail in seconds rather than a minute.
                    .args(["--fetch-retries", "1", "--fetch-retry-maxtimeout", "10000"])
                    .arg("@microsoft/jest-sarif@1.0.0-beta.0")
                    .current_dir(&dir),
                "`npm pack @microsoft/jest-sarif` from the npm registry failed (offline?)",
            )?;
            run(Command::new(tar)
                .arg("-xzf")
                .arg(tgz.trim())
                .current_dir(&dir));
        }
        Ok(schema)
    });
    schema.as_deref().map_err(Clone::clone)
}

/// `kiln lint` of three corpus files (in `corpus`, ../shared/corpus/real) in `format`.
fn kiln_report(corpus: &Path, format: &str) -> String {
    let files = [
        corpus.join("yannh__kubeconform__fixtures__multi_invalid.yaml"),
        corpus.join("yannh__kubeconform__fixtures__valid.yaml"),
        corpus.join("../field/tcp-services-configmap.yaml"),
    ];
    let mut args = vec!["lint", "--kube-version", "1.35", "--format", format];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (code, out, err) = Kiln::new(&args).run();
    assert_eq!(code, 1, "{err}");
    out
}

#[test]
fn junit_report_reads_in_junitparser() {
    let Some(corpus) = shared("corpus/real") else {
        return;
    };
    let Some(venv) = require(venv()) else {
        return;
    };
    let file = work().join("kiln.xml");
    std::fs::write(&file, kiln_report(&corpus, "junit")).unwrap();
    let script = r"
import sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
cases = [c for suite in xml for c in suite]
failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
print(len(cases), len(failed), xml.failures)
";
    let out = run(Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(&file));
    assert_eq!(out.trim(), "8 2 2", "testcases, failed testcases, failures");
}

#[test]
fn sarif_report_matches_the_sarif_schema() {
    let Some(corpus) = shared("corpus/real") else {
        return;
    };
    let Some(venv) = require(venv()) else {
        return;
    };
    let Some(schema) = require(sarif_schema()) else {
        return;
    };
    let file = work().join("kiln.sarif");
    std::fs::write(&file, kiln_report(&corpus, "sarif")).unwrap();
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.validators.validator_for(schema)(schema).validate(doc)
print(len(doc["runs"][0]["results"]))
"#;
    let out = run(Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(schema)
        .arg(&file));
    assert!(out.trim().parse::<usize>().unwrap() >= 2, "{out}");
}

#[test]
fn pre_commit_hook_passes_clean_and_fails_on_drift_with_the_diff() {
    // pre-commit needs git, and `try-repo` needs this repository to be a git work tree.
    let Some(git) = tool("git") else {
        return;
    };
    let hooks_repo = env!("CARGO_MANIFEST_DIR");
    let work_tree = Path::new(hooks_repo).join(".git").exists();
    let Some(()) = require(work_tree.then_some(()).ok_or_else(|| {
        "the repository is not a git work tree, which `pre-commit try-repo` needs".to_string()
    })) else {
        return;
    };
    let Some(venv) = require(venv()) else {
        return;
    };
    let repo = crate::support::project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
        ),
        (
            "values/defaults.yaml",
            "template: spring-boot\nimage: {repository: registry.example.com/api, tag: \"1.0.0\"}\n",
        ),
        ("values/services/api.yaml", "replicas: 2\n"),
    ]);
    let d = repo.path();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kiln"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}:{}",
        bin_dir.display(),
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cmd = |program: &Path| {
        let mut c = Command::new(program);
        c.current_dir(d)
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", work().join("pre-commit-home"))
            .env_remove("CI")
            .env("NO_COLOR", "1");
        c
    };
    let (code, _, err) = Kiln::new(&["golden", "update"]).project(d).run();
    assert_eq!(code, 0, "{err}");
    run(cmd(&git).args(["init", "-q", "-b", "main"]));
    run(cmd(&git).args(["add", "."]));
    run(cmd(&git).args([
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "-m",
        "project",
    ]));
    let pre_commit = venv.join("bin/pre-commit");
    let out = cmd(&pre_commit)
        .args(["try-repo", hooks_repo, "kiln-check", "--all-files"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clean project must pass:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    write(d, "values/services/api.yaml", "replicas: 5\n");
    let out = cmd(&pre_commit)
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
