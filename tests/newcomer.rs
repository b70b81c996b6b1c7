//! The first five minutes: the exact newcomer path with nothing but the built binary, and every
//! command shown in the README run against the bundled example fleet.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{repo_copy, shared, tool};

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kiln"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Run a shell line (with `pipefail`) with only the built kiln (and the system) on PATH:
/// (exit code, stdout, stderr).
fn sh(bash: &Path, dir: &Path, line: &str) -> (i32, String, String) {
    let path = format!("{}:/usr/bin:/bin", bin_dir().display());
    let o = Command::new(bash)
        .args(["-o", "pipefail", "-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_newcomer_path_works() {
    let Some(bash) = tool("bash") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let step = |line: &str, want: i32| {
        let (code, out, err) = sh(&bash, d, line);
        assert_eq!(code, want, "`{line}`\n{out}\n{err}");
        out
    };
    step("kiln init", 0);
    step("kiln render", 0);
    assert!(d.join("out/prod/hello-service.yaml").is_file());
    step("kiln check", 0);
    step(
        "sed -i 's/tag: \"1.0.0\"/tag: \"1.0.1\"/' values/services/hello-service.yaml",
        0,
    );
    let out = step("kiln diff", 1);
    assert!(
        out.contains("+ apps/v1 Deployment dev/hello-service"),
        "nothing recorded yet, so everything is new:\n{out}"
    );
    step("kiln golden update", 0);
    step("kiln check", 0);
    step(
        "sed -i 's/replicas: 3/replicas: 4/' values/envs/prod.yaml",
        0,
    );
    let out = step("kiln diff", 1);
    assert!(out.contains("spec.replicas: 3 -> 4"), "{out}");
    let out = step("kiln check", 1);
    assert!(out.contains("golden-drift"), "{out}");
    step("kiln golden update && kiln check", 0);
    let (code, _, err) = sh(&bash, d, "kiln init");
    assert_eq!(code, 2, "init never overwrites");
    assert!(err.contains("never overwrites"), "{err}");
}

#[test]
fn did_you_mean_for_environments_services_commands_and_rules() {
    let Some(bash) = tool("bash") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // An unknown name in a flag cannot run (2); a misspelled values key is a bad project (1).
    for (line, want, hint) in [
        ("kiln render --env prdo --stdout", 2, "did you mean `prod`?"),
        (
            "kiln render --service gatway --stdout",
            2,
            "did you mean `gateway`?",
        ),
        ("kiln rendr", 2, "similar"),
        ("kiln explain image-tags", 2, "did you mean `image-tag`?"),
        (
            "kiln render --env prod --stdout --set replica=2",
            1,
            "did you mean `replicas`?",
        ),
    ] {
        let (code, _, err) = sh(&bash, root, line);
        assert_eq!(code, want, "{line}\n{err}");
        assert!(err.contains(hint), "`{line}` should suggest {hint}:\n{err}");
    }
}

#[test]
fn help_lists_exit_codes_and_examples() {
    let Some(bash) = tool("bash") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, _) = sh(&bash, root, "kiln --help");
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit codes:") && out.contains("2  could not run"),
        "{out}"
    );
    for cmd in [
        "render",
        "values",
        "check",
        "lint",
        "diff",
        "convert",
        "init",
        "explain",
        "completions",
        "schema",
    ] {
        let (code, out, _) = sh(&bash, root, &format!("kiln {cmd} --help"));
        assert_eq!(code, 0);
        assert!(
            out.contains("Examples:"),
            "`kiln {cmd} --help` has no examples"
        );
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, out, _) = sh(&bash, root, &format!("kiln completions {shell}"));
        assert!(code == 0 && out.contains("kiln"), "{shell}");
    }
}

/// What each `kiln` command in the README's `sh` blocks exits with, run in README order in one
/// copy of the example fleet (comments dropped). Every README command must be listed here, and
/// everything listed must still be in the README.
const README_EXIT_CODES: &[(&str, i32)] = &[
    ("kiln init my-fleet", 0),
    ("kiln -C my-fleet render", 0),
    ("kiln -C my-fleet check", 0),
    ("kiln render", 0),
    ("kiln render --env prod --service gateway --stdout", 0),
    (
        "kiln values order-service --env prod --cluster tencent-sh-prod --origin",
        0,
    ),
    ("kiln kubeconfig --team trade --env dev", 0),
    ("kiln check", 0),
    ("kiln diff", 0),
    ("kiln golden update", 0),
    ("kiln check --upgrade-to 1.37", 0),
    // The field manifests are the copy-paste damage the lint exists for.
    ("kiln lint ../shared/corpus/field/ --kube-version 1.16", 1),
    ("kiln explain removed-api", 0),
    ("kiln check --format junit > kiln-check.xml", 0),
    ("kiln check --format sarif > kiln-check.sarif", 0),
    ("kiln check --format json", 0),
    // Writes the tag the file already holds: the fleet copy stays as it was.
    ("kiln set order-service image.tag=1.4.2", 0),
    (
        "kiln values order-service --env prod --cluster aliyun-hz-prod --origin | head -4",
        0,
    ),
    (
        "kiln values order-service --env prod --cluster tencent-sh-prod --origin | grep -A4 'kafka:'",
        0,
    ),
    ("kiln templates list", 0),
    ("kiln templates show spring-boot/pdb.yaml.j2", 0),
    // Into the project `kiln init my-fleet` made: the fleet's own templates/ already holds the set.
    ("kiln -C my-fleet templates eject spring-boot", 0),
    ("kiln schemas list", 0),
    (
        "kiln schemas import ../shared/k8s-openapi/v3/1.29 --schema-cache .kiln/schemas",
        0,
    ),
];

/// One `kiln` command of the README: the line without its comment, and the output shown after
/// a `$ ` line.
struct ReadmeCommand {
    line: String,
    output: Option<String>,
}

/// The `kiln` commands of the README's `sh` blocks, in order (`cargo` lines are the quick start,
/// which CI runs itself).
fn readme_commands() -> Vec<ReadmeCommand> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (command, output) = if let Some(cmd) = line.strip_prefix("$ ") {
            let mut want = Vec::new();
            while let Some(next) = lines.peek() {
                if next.starts_with("```") || next.starts_with("$ ") {
                    break;
                }
                want.push(lines.next().unwrap());
            }
            (cmd, Some(want.join("\n")))
        } else {
            (line, None)
        };
        let command = command.split(" #").next().unwrap().trim();
        if command.starts_with("kiln") {
            commands.push(ReadmeCommand {
                line: command.to_string(),
                output,
            });
        }
    }
    let listed: Vec<&str> = README_EXIT_CODES.iter().map(|(c, _)| *c).collect();
    let found: Vec<&str> = commands.iter().map(|c| c.line.as_str()).collect();
    assert_eq!(
        found, listed,
        "README commands and README_EXIT_CODES differ: list each README command with its exit code"
    );
    commands
}

/// Run the README commands that `pick` selects in `project`, each with its listed exit code and
/// output; returns how many ran.
fn run_readme_commands(bash: &Path, project: &Path, pick: impl Fn(&str) -> bool) -> usize {
    let mut ran = 0;
    for (command, (_, want_code)) in readme_commands().iter().zip(README_EXIT_CODES) {
        if !pick(&command.line) {
            continue;
        }
        let (code, out, err) = sh(bash, project, &command.line);
        assert_eq!(
            code, *want_code,
            "README command `{}` exited {code}:\n{out}\n{err}",
            command.line
        );
        if let Some(want) = &command.output {
            assert_eq!(
                out.trim_end(),
                want.trim_end(),
                "README output of `{}` is stale",
                command.line
            );
        }
        ran += 1;
    }
    ran
}

/// README commands that reach for `../shared`: the rest run without it.
fn uses_shared(command: &str) -> bool {
    command.contains("../shared")
}

#[test]
fn every_readme_command_runs() {
    let Some(bash) = tool("bash") else {
        return;
    };
    let fleet = repo_copy(&["kiln.yaml", "values", "templates", "golden"]);
    let ran = run_readme_commands(&bash, fleet.path(), |c| !uses_shared(c));
    assert!(ran >= 15, "only {ran} README commands found");
}

#[test]
fn readme_commands_on_the_shared_corpus_run() {
    let Some(shared) = shared("") else {
        return;
    };
    let Some(bash) = tool("bash") else {
        return;
    };
    // The fleet copy sits in its own folder with ../shared beside it, as the repository does.
    let outer = tempfile::tempdir().unwrap();
    let project = outer.path().join("main");
    let fleet = repo_copy(&["kiln.yaml", "values", "templates", "golden"]);
    std::fs::rename(fleet.path(), &project).unwrap_or_else(|e| panic!("move fleet copy: {e}"));
    std::os::unix::fs::symlink(&shared, outer.path().join("shared")).unwrap();
    let ran = run_readme_commands(&bash, &project, uses_shared);
    assert_eq!(ran, 2, "README commands on ../shared");
}
