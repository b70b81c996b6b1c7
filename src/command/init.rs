//! `kiln init`: a working project in one command, never overwriting anything.

use std::path::Path;

use crate::cli::InitArgs;
use crate::command::Output;
use crate::diagnostic::Diagnostic;
use crate::error::Error;

const ENVS: &[(&str, &str)] = &[("dev", "1"), ("test", "1"), ("stage", "2"), ("prod", "3")];

fn files() -> Vec<(String, String)> {
    let mut f = vec![
        (
            "kiln.yaml".to_string(),
            "# kiln project: environments are namespaces; add clusters as you need them.\nenvironments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n  test: {namespace: test, kubeVersion: \"1.35\"}\n  stage: {namespace: stage, kubeVersion: \"1.35\"}\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n".to_string(),
        ),
        (
            "values/defaults.yaml".to_string(),
            "# Every service in every environment. `kiln schema spring-boot` lists the keys.\ntemplate: spring-boot\neureka:\n  client:\n    enabled: false\nlogging:\n  filebeat:\n    enabled: false\n".to_string(),
        ),
        (
            "values/services/hello-service.yaml".to_string(),
            "# One service: this file declares it. `values/services/hello-service.prod.yaml` would\n# override it in prod only.\nimage:\n  repository: registry.example.com/hello-service\n  tag: \"1.0.0\"\nport: 8080\ningress:\n  enabled: true\n  host: hello.dev.example.com\n".to_string(),
        ),
        ("golden/.kiln-output".to_string(), "written by kiln; `kiln golden update` replaces this folder\n".to_string()),
        (".gitignore".to_string(), "/out\n".to_string()),
        (
            "README.md".to_string(),
            "# Manifests, rendered by kiln\n\n```sh\nkiln render          # out/<env>/<service>.yaml\nkiln check           # schemas, removed APIs, lint, golden files\nkiln diff            # what a change alters, against golden/\nkiln golden update   # record the reviewed output in golden/\n```\n\nTo run kiln before every commit with [pre-commit](https://pre-commit.com), add to\n`.pre-commit-config.yaml` (`kiln` must be on your PATH):\n\n```yaml\nrepos:\n  - repo: https://github.com/kiln-dev/kiln\n    rev: v0.1.0\n    hooks:\n      - id: kiln-check\n```\n".to_string(),
        ),
    ];
    for (env, replicas) in ENVS {
        f.push((
            format!("values/envs/{env}.yaml"),
            format!("# Every service in {env}.\nreplicas: {replicas}\n"),
        ));
    }
    f
}

/// Run `kiln init`.
pub fn run(dir: &Path, args: &InitArgs) -> Result<Output, Error> {
    let root = args
        .dir
        .as_ref()
        .map_or_else(|| dir.to_path_buf(), Clone::clone);
    let files = files();
    let existing: Vec<&str> = files
        .iter()
        .filter(|(rel, _)| root.join(rel).exists())
        .map(|(rel, _)| rel.as_str())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "`{}` already has {}; kiln init never overwrites files",
                root.display(),
                existing.join(", ")
            ))
            .help("run it in an empty folder: `kiln init my-fleet`"),
        ));
    }
    for (rel, text) in &files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, &e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, &e))?;
    }
    let shown = args
        .dir
        .as_ref()
        .map_or_else(|| ".".to_string(), |d| d.display().to_string());
    Ok(Output {
        stdout: format!(
            "created a kiln project in {shown}: {} files\nnext: kiln render && kiln check, then kiln golden update to record the output\n",
            files.len()
        ),
        code: 0,
        stderr: String::new(),
    })
}
