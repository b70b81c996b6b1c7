//! The first five minutes: the exact newcomer path with nothing but the built binary, and every
//! command shown in the README run against the bundled example fleet.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kiln"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Run a shell line with only the built kiln (and the system) on PATH.
fn sh(dir: &Path, line: &str) -> (i32, String, String) {
    let path = format!("{}:/usr/bin:/bin", bin_dir().display());
    let o = Command::new("bash")
        .arg("-c")
        .arg(line)
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
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let step = |line: &str, want: i32| {
        let (code, out, err) = sh(d, line);
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
    let (code, _, err) = sh(d, "kiln init");
    assert_eq!(code, 2, "init never overwrites");
    assert!(err.contains("never overwrites"), "{err}");
}

#[test]
fn did_you_mean_for_environments_services_commands_and_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (line, hint) in [
        ("kiln render --env prdo --stdout", "did you mean `prod`?"),
        (
            "kiln render --service gatway --stdout",
            "did you mean `gateway`?",
        ),
        ("kiln rendr", "similar"),
        ("kiln explain image-tags", "did you mean `image-tag`?"),
        (
            "kiln render --env prod --stdout --set replica=2",
            "did you mean `replicas`?",
        ),
    ] {
        let (code, _, err) = sh(root, line);
        assert_ne!(code, 0, "{line}");
        assert!(err.contains(hint), "`{line}` should suggest {hint}:\n{err}");
    }
}

#[test]
fn help_lists_exit_codes_and_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (_, out, _) = sh(root, "kiln --help");
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
        let (code, out, _) = sh(root, &format!("kiln {cmd} --help"));
        assert_eq!(code, 0);
        assert!(
            out.contains("Examples:"),
            "`kiln {cmd} --help` has no examples"
        );
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, out, _) = sh(root, &format!("kiln completions {shell}"));
        assert!(code == 0 && out.contains("kiln"), "{shell}");
    }
}

/// Copy the example fleet (project files only) into a temporary folder.
fn fleet() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for part in ["kiln.yaml", "values", "templates", "golden"] {
        for entry in walkdir::WalkDir::new(root.join(part)) {
            let entry = entry.unwrap();
            let dest = tmp.path().join(entry.path().strip_prefix(root).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&dest).unwrap();
            } else {
                std::fs::copy(entry.path(), &dest).unwrap();
            }
        }
    }
    // README commands that reach for the shared corpus find it beside the copy too.
    std::os::unix::fs::symlink(root.join("../shared"), tmp.path().join("../shared")).ok();
    tmp
}

#[test]
fn every_readme_command_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let outer = tempfile::tempdir().unwrap();
    // The fleet copy sits in its own folder with ../shared beside it, as the repository does.
    let project = outer.path().join("main");
    let copy = fleet();
    std::fs::rename(copy.path(), &project).unwrap_or_else(|_| panic!("move fleet copy"));
    std::os::unix::fs::symlink(root.join("../shared"), outer.path().join("shared")).unwrap();
    let mut in_sh = false;
    let mut ran = 0;
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (command, expected) = if let Some(cmd) = line.strip_prefix("$ ") {
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
        let command = command.trim();
        if !command.starts_with("kiln") {
            continue; // `cargo` lines: the quick start, run by CI itself.
        }
        let (code, out, err) = sh(&project, command);
        assert!(
            code == 0 || code == 1,
            "README command `{command}` exited {code}:\n{out}\n{err}"
        );
        if let Some(want) = expected {
            assert_eq!(
                out.trim_end(),
                want.trim_end(),
                "README output of `{command}` is stale"
            );
        }
        ran += 1;
    }
    assert!(ran >= 15, "only {ran} README commands found");
}
