//! Replacing `out/` and `golden/` atomically, through the real binary: the exchange,
//! syncfs and fsync, leftovers of killed runs, mount points, and kills at every step.
//!
//! Tests that watch or fault system calls need `strace`: without it they print one line on stderr
//! and pass, unless `KILN_REQUIRE_SHARED=1` is set. Tests that need a mount (`mount -t tmpfs`,
//! root only) print one line and pass where mounting is not permitted.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::CM;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const KILN_YAML: &str = "\
environments:
  dev: {namespace: dev, kubeVersion: \"1.35\"}
  prod: {namespace: prod, kubeVersion: \"1.35\"}
";

/// A PID no process has (Linux PIDs stop at 2^22), for leftovers of a "killed" run.
const DEAD: u32 = 999_999_990;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project with `services` services in dev and prod, all saying `greeting`.
fn project(services: usize, greeting: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "kiln.yaml", KILN_YAML);
    write(d, "templates/web/cm.yaml.j2", CM);
    greet(d, greeting);
    for i in 0..services {
        write(d, &format!("values/services/svc{i:04}.yaml"), "{}\n");
    }
    dir
}

/// Change what every service says: the next render differs in every file.
fn greet(dir: &Path, greeting: &str) {
    write(
        dir,
        "values/defaults.yaml",
        &format!("template: web\ngreeting: {greeting}\n"),
    );
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.args(["--color", "never", "-C"]).arg(dir).args(args);
    c.current_dir(dir).env_remove("CI");
    c
}

fn run(mut c: Command) -> Run {
    let out = c.output().expect("run");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn kiln(dir: &Path, args: &[&str]) -> Run {
    run(command(dir, args))
}

#[track_caller]
fn kiln_ok(dir: &Path, args: &[&str]) -> String {
    let r = kiln(dir, args);
    assert_eq!(r.code, 0, "kiln {args:?} failed:\n{}{}", r.stdout, r.stderr);
    r.stdout
}

/// Every file and folder under `root` (folders end in `/`), with contents.
type Tree = BTreeMap<String, Vec<u8>>;

fn tree(root: &Path) -> Tree {
    let mut t = Tree::new();
    if !root.exists() {
        return t;
    }
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if e.file_type().is_dir() {
            t.insert(format!("{rel}/"), Vec::new());
        } else {
            t.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    t
}

/// Names in `dir` (not below) that look like kiln's temporary folders, once the helpers still
/// removing a previous tree are done: a leftover of a process that is gone is reported at once.
fn strays(dir: &Path) -> Vec<String> {
    crate::support::wait_for_helpers(dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut s: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".kiln-new-") || n.contains(".kiln-old-"))
        .collect();
    s.sort();
    s
}

/// What differs between two trees, for a readable failure.
fn differences(a: &Tree, b: &Tree) -> Vec<String> {
    let mut d: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| format!("-{k}"))
        .collect();
    d.extend(
        b.iter()
            .filter(|(k, v)| a.get(*k) != Some(v))
            .map(|(k, _)| format!("+{k}")),
    );
    d.truncate(8);
    d
}

/// Say on stderr (one line, past the test harness's capture) why a test did not run.
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "{why}");
}

/// `strace`, when it is installed and allowed to trace here. Otherwise one line on stderr and
/// `None`, or a failure when `KILN_REQUIRE_SHARED=1` says the tools must be present.
fn strace(test: &str) -> Option<Command> {
    let works = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        let mut c = Command::new("strace");
        c.args(["-f", "-qq"]);
        return Some(c);
    }
    assert!(
        std::env::var_os("KILN_REQUIRE_SHARED").is_none_or(|v| v != "1"),
        "{test}: strace is required (KILN_REQUIRE_SHARED=1) but missing or not permitted: apt-get install -y strace"
    );
    skip(&format!(
        "{test}: skipped, strace is missing or cannot trace here (apt-get install -y strace)"
    ));
    None
}

/// kiln `args` in `dir` under `strace` with `options`; returns the run and the trace.
fn traced(strace: Command, options: &[&str], dir: &Path, args: &[&str]) -> (Run, String) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let k = command(dir, args);
    let mut c = strace;
    c.arg("-o").arg(log.path()).args(options).arg("--");
    c.arg(k.get_program())
        .args(k.get_args())
        .current_dir(dir)
        .env_remove("CI");
    let r = run(c);
    (r, std::fs::read_to_string(log.path()).unwrap())
}

/// The quoted strings of a strace line (its path arguments).
fn quoted(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

/// A tmpfs mounted on `at`, unmounted on drop; `None` (one line on stderr) where mounting is not
/// permitted.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, test: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "kiln-test"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Mount::made(ok, at, test)
    }

    /// `at` bind-mounted onto itself read-only.
    fn read_only(at: &Path, test: &str) -> Option<Mount> {
        let bind = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .arg(at)
                .arg(at)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let ok = bind(&["--bind"]);
        let m = Mount::made(ok, at, test)?;
        let ro = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ro {
            Some(m)
        } else {
            skip(&format!("{test}: skipped, cannot remount read-only here"));
            None
        }
    }

    fn made(ok: bool, at: &Path, test: &str) -> Option<Mount> {
        if ok {
            Some(Mount(at.to_path_buf()))
        } else {
            skip(&format!(
                "{test}: skipped, mounting is not permitted here (needs root)"
            ));
            None
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `/proc/self/mountinfo` lists `dir` as a mount point.
fn is_mounted(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.as_ref()))
}

// ---------------------------------------------------------------------------------------------
// 1. The exchange, the fallback to two renames, recovery
// ---------------------------------------------------------------------------------------------

/// The output folder is never renamed away: one `renameat2(RENAME_EXCHANGE)` swaps the new tree
/// in, so there is no moment without a complete `out/`.
#[test]
fn the_output_folder_is_exchanged_never_renamed_away() {
    let Some(strace) = strace("the_output_folder_is_exchanged_never_renamed_away") else {
        return;
    };
    let p = project(3, "one");
    kiln_ok(p.path(), &["render"]);
    greet(p.path(), "two");
    let out = p.path().join("out");
    let (r, trace) = traced(
        strace,
        &["-e", "trace=rename,renameat,renameat2"],
        p.path(),
        &["render"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let renames: Vec<&str> = trace.lines().filter(|l| l.contains("rename")).collect();
    let out = out.to_string_lossy();
    assert!(
        !renames
            .iter()
            .any(|l| quoted(l).first() == Some(&out.as_ref())),
        "out/ was renamed away:\n{trace}"
    );
    let exchanged = renames.iter().any(|l| {
        l.contains("RENAME_EXCHANGE")
            && l.ends_with("= 0")
            && quoted(l).get(1) == Some(&out.as_ref())
    });
    assert!(exchanged, "no RENAME_EXCHANGE onto out/:\n{trace}");
    assert!(
        String::from_utf8_lossy(&tree(p.path().join("out").as_path())["dev/svc0000.yaml"])
            .contains("greeting: two")
    );
    assert_eq!(strays(p.path()), Vec::<String>::new());
}

/// Where the filesystem refuses the exchange (faked with strace: EINVAL), kiln renames twice; a
/// kill between the two renames leaves no `out/`, and the next run brings the old one back
/// before anything else (here a render of one environment, so the other is the recovered one).
#[test]
fn without_exchange_two_renames_and_the_next_run_recovers() {
    let test = "without_exchange_two_renames_and_the_next_run_recovers";
    let Some(_) = strace(test) else {
        return;
    };
    let p = project(3, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    let first = tree(&d.join("out"));
    greet(d, "two");
    let refuse = ["-e", "inject=renameat2:error=EINVAL"];
    let (r, _) = traced(strace(test).unwrap(), &refuse, d, &["render"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = tree(&d.join("out"));
    assert!(String::from_utf8_lossy(&second["prod/svc0002.yaml"]).contains("greeting: two"));
    assert_eq!(strays(d), Vec::<String>::new());

    // Killed on entering the second rename: `out` is aside, the new tree beside it.
    greet(d, "three");
    let kill = [
        "-e",
        "inject=renameat2:error=EINVAL",
        "-e",
        "inject=rename:signal=KILL:when=2",
    ];
    let (r, _) = traced(strace(test).unwrap(), &kill, d, &["render"]);
    assert_ne!(r.code, 0);
    assert!(
        !d.join("out").exists(),
        "the kill did not land between the renames"
    );
    assert_eq!(strays(d).len(), 2, "{:?}", strays(d));
    kiln_ok(d, &["render", "--env", "dev"]);
    let now = tree(&d.join("out"));
    let prod = |t: &Tree| -> Tree {
        t.iter()
            .filter(|(k, _)| k.starts_with("prod"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(prod(&now), prod(&second), "prod/ is the recovered output");
    assert!(String::from_utf8_lossy(&now["dev/svc0002.yaml"]).contains("greeting: three"));
    assert_eq!(strays(d), Vec::<String>::new());
    assert_ne!(first, second);
}

/// The same recovery without strace: the state a kill between the two renames leaves, made by
/// hand. The next run brings `out/` back before anything else, even a render that then fails;
/// `kiln render --env dev` then leaves the recovered `out/prod` as it was.
#[test]
fn a_missing_output_folder_comes_back_from_its_moved_aside_copy() {
    let p = project(2, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    let before = tree(&d.join("out"));
    let aside = |d: &Path| {
        std::fs::rename(d.join("out"), d.join(format!(".out.kiln-old-{DEAD}"))).unwrap();
        // The killed run's complete new tree is beside it.
        std::fs::create_dir_all(d.join(format!(".out.kiln-new-{DEAD}/dev"))).unwrap();
    };
    aside(d);
    write(d, "values/services/svc0000.yaml", "greeting: [unclosed\n");
    let r = kiln(d, &["render"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        tree(&d.join("out")),
        before,
        "a failing render did not recover out/"
    );
    write(d, "values/services/svc0000.yaml", "{}\n");
    aside(d);
    greet(d, "two");
    kiln_ok(d, &["render", "--env", "dev"]);
    let after = tree(&d.join("out"));
    for (k, v) in &before {
        if !k.starts_with("dev") {
            assert_eq!(after.get(k), Some(v), "{k} was not recovered");
        }
    }
    assert!(String::from_utf8_lossy(&after["dev/svc0001.yaml"]).contains("greeting: two"));
    assert_eq!(strays(d), Vec::<String>::new());
}

/// `render --service` replaces single files through temporary files named as kiln's other
/// leftovers are (`.<file>.kiln-new-<pid>`, beside the file): one a killed run left in an
/// environment folder is removed by the next `--service` render there, one of a render still
/// running is left to it, and the render itself leaves none.
#[test]
fn a_killed_service_render_leaves_no_temporary_file_behind() {
    let p = project(2, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    let dead = d.join(format!("out/dev/.svc0001.yaml.kiln-new-{DEAD}"));
    let running = d.join(format!(
        "out/dev/.svc0001.yaml.kiln-new-{}",
        std::process::id()
    ));
    std::fs::write(&dead, "half a file").unwrap();
    std::fs::write(&running, "being written").unwrap();
    greet(d, "two");
    kiln_ok(d, &["render", "--service", "svc0000"]);
    assert!(
        !dead.exists(),
        "the killed run's temporary file is still there"
    );
    assert!(
        running.exists(),
        "a running render's temporary file was removed"
    );
    std::fs::remove_file(&running).unwrap();
    let after = tree(&d.join("out"));
    assert!(String::from_utf8_lossy(&after["dev/svc0000.yaml"]).contains("greeting: two"));
    assert!(String::from_utf8_lossy(&after["dev/svc0001.yaml"]).contains("greeting: one"));
    let temporary: Vec<&String> = after
        .keys()
        .filter(|k| k.contains(".kiln-new-") || k.contains(".kiln-old-") || k.contains("kiln-tmp"))
        .collect();
    assert!(temporary.is_empty(), "left behind: {temporary:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. Durability: syncfs before the swap, fsync of the parent after
// ---------------------------------------------------------------------------------------------

/// The whole new tree is durable before the exchange, and the parent folder after it: every
/// file of it is written, then one `syncfs` on the new tree flushes the filesystem (data and
/// metadata), then the exchange, then an fsync of the parent. No file of the new tree is created
/// or written after the `syncfs`, so a power cut cannot leave a swapped-in tree of empty files.
#[test]
fn the_new_tree_is_synced_before_the_swap_and_the_parent_after() {
    let Some(strace) = strace("the_new_tree_is_synced_before_the_swap_and_the_parent_after") else {
        return;
    };
    let p = project(5, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    greet(d, "two");
    let (r, trace) = traced(
        strace,
        &[
            "-y",
            "-e",
            "trace=openat,write,linkat,fsync,fdatasync,syncfs,renameat2",
        ],
        d,
        &["render"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = trace.lines().collect();
    let root = d.to_string_lossy().into_owned();
    let stage = format!("{root}/.out.kiln-new-");
    // `syncfs(3</tmp/x/.out.kiln-new-12>)`: the path the descriptor is open on.
    let path_of = |l: &str| Some(l.split_once('<')?.1.split_once('>')?.0.to_string());
    // The syncfs on the new tree (an earlier one, on out/, flushes ahead while kiln renders).
    // The run succeeded, so it did; strace may print it split around other threads' calls.
    let sync = lines
        .iter()
        .position(|l| l.contains("syncfs(") && path_of(l).is_some_and(|p| p.starts_with(&stage)))
        .unwrap_or_else(|| panic!("no syncfs on the new tree:\n{trace}"));
    let swap = lines
        .iter()
        .position(|l| l.contains("RENAME_EXCHANGE") && l.ends_with("= 0"))
        .unwrap_or_else(|| panic!("no exchange:\n{trace}"));
    assert!(sync < swap, "the exchange came before the syncfs:\n{trace}");
    // The new tree's files, by path relative to it, as written (`write(4</..../dev/a.yaml>, ..`).
    let relative = |range: &[&str], call: &str| -> Vec<String> {
        range
            .iter()
            .filter(|l| l.contains(call))
            .filter_map(|l| path_of(l))
            .filter_map(|p| Some(p.strip_prefix(&stage)?.split_once('/')?.1.to_string()))
            .collect()
    };
    let mut written = relative(&lines[..sync], "write(");
    // Or linked from the previous tree, unchanged (the marker and `_env.yaml`, here): `linkat(
    // AT_FDCWD<..>, "/tmp/x/out/dev/_env.yaml", AT_FDCWD<..>, "/tmp/x/.out.kiln-new-12/dev/_env.yaml",
    // 0) = 0`. (A link that failed is followed by the file's write.)
    written.extend(
        lines[..sync]
            .iter()
            .filter(|l| l.contains("linkat("))
            .filter_map(|l| {
                Some(
                    quoted(l)
                        .get(1)?
                        .strip_prefix(&stage)?
                        .split_once('/')?
                        .1
                        .to_string(),
                )
            }),
    );
    let files: Vec<String> = tree(&d.join("out"))
        .into_keys()
        .filter(|k| !k.ends_with('/'))
        .collect();
    assert!(files.len() > 10, "{files:?}");
    for f in &files {
        assert!(
            written.contains(f),
            "`out/{f}` was not written before the syncfs:\n{trace}"
        );
    }
    // Files are created (`openat(.., "/tmp/x/.out.kiln-new-12/dev/a.yaml", O_WRONLY|O_CREAT..`)
    // and written only before it. (After the exchange that name holds the previous tree, which
    // gets a `.gitignore` before a helper removes it.)
    let late: Vec<&&str> = lines[sync..swap]
        .iter()
        .filter(|l| {
            l.contains(&stage)
                && (l.contains("write(") || l.contains("O_CREAT") || l.contains("linkat("))
        })
        .collect();
    assert!(late.is_empty(), "written after the syncfs: {late:#?}");
    let parent_synced = lines[swap..]
        .iter()
        .any(|l| l.contains("fsync(") && path_of(l).as_deref() == Some(root.as_str()));
    assert!(
        parent_synced,
        "the parent was not fsynced after the swap:\n{trace}"
    );
}

/// Where the kernel has no `syncfs` (faked with strace: ENOSYS), every file and folder of the
/// new tree is fsynced before the exchange instead, and the parent folder after it.
#[test]
fn without_syncfs_every_file_and_folder_is_fsynced_before_the_swap() {
    let Some(strace) = strace("without_syncfs_every_file_and_folder_is_fsynced_before_the_swap")
    else {
        return;
    };
    let p = project(5, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    greet(d, "two");
    let (r, trace) = traced(
        strace,
        &[
            "-y",
            "-e",
            "trace=fsync,fdatasync,syncfs,renameat2",
            "-e",
            "inject=syncfs:error=ENOSYS",
        ],
        d,
        &["render"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = trace.lines().collect();
    let swap = lines
        .iter()
        .position(|l| l.contains("RENAME_EXCHANGE") && l.ends_with("= 0"))
        .unwrap_or_else(|| panic!("no exchange:\n{trace}"));
    // `fsync(3</tmp/x/.out.kiln-new-12/dev/a.yaml>)`: the path the descriptor is open on.
    let synced = |range: &[&str]| -> Vec<String> {
        range
            .iter()
            .filter(|l| l.contains("fsync(") || l.contains("fdatasync("))
            .filter_map(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_string()))
            .collect()
    };
    let before = synced(&lines[..swap]);
    let after = synced(&lines[swap..]);
    let root = d.to_string_lossy().into_owned();
    let prefix = format!("{root}/.out.kiln-new-");
    let relative: Vec<String> = before
        .iter()
        .filter_map(|p| p.strip_prefix(&prefix))
        .map(|p| {
            p.split_once('/')
                .map_or_else(String::new, |(_, rest)| rest.to_string())
        })
        .collect();
    let mut want: Vec<String> = tree(&d.join("out"))
        .into_keys()
        .map(|k| k.trim_end_matches('/').to_string())
        .collect();
    want.push(String::new());
    for w in &want {
        assert!(
            relative.contains(w),
            "`out/{w}` was not fsynced before the swap:\n{trace}"
        );
    }
    assert!(
        after.contains(&root),
        "the parent was not fsynced after the swap:\n{trace}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Leftovers
// ---------------------------------------------------------------------------------------------

/// Temporary folders of killed runs, of any PID, beside `out/` and inside it, are removed by the
/// next run; anything not named by kiln's pattern, not a folder, or of a running process stays.
#[test]
fn leftovers_of_killed_runs_are_removed_and_nothing_else() {
    let p = project(2, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    let me = std::process::id();
    let gone = [
        format!(".out.kiln-new-{DEAD}"),
        format!(".out.kiln-old-{}", DEAD + 1),
        format!("out/.dev.kiln-new-{}", DEAD + 2),
        format!("out/.prod.kiln-old-{}", DEAD + 3),
        format!("out/.kiln-new-{}", DEAD + 4),
    ];
    let kept = [
        format!(".out.kiln-new-{me}"),
        format!(".other.kiln-new-{DEAD}"),
        ".out.kiln-new-12x".to_string(),
        ".out.kiln-new-".to_string(),
        "out.kiln-new-5".to_string(),
    ];
    for f in gone.iter().chain(&kept) {
        write(d, &format!("{f}/dev/svc0000.yaml"), "half\n");
    }
    write(
        d,
        &format!(".out.kiln-old-{}", DEAD + 5),
        "a file, not a folder\n",
    );
    greet(d, "two");
    kiln_ok(d, &["render"]);
    for f in &gone {
        assert!(!d.join(f).exists(), "{f} was left");
    }
    for f in &kept {
        assert!(
            d.join(f).join("dev/svc0000.yaml").is_file(),
            "{f} was removed"
        );
    }
    assert!(d.join(format!(".out.kiln-old-{}", DEAD + 5)).is_file());
    let out: Vec<String> = tree(&d.join("out")).into_keys().collect();
    assert_eq!(
        out,
        [
            ".kiln-output",
            "dev/",
            "dev/_env.yaml",
            "dev/svc0000.yaml",
            "dev/svc0001.yaml",
            "prod/",
            "prod/_env.yaml",
            "prod/svc0000.yaml",
            "prod/svc0001.yaml"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 4. A mount point
// ---------------------------------------------------------------------------------------------

/// `--out` on a mount point (which cannot be renamed: EBUSY) swaps its children one by one; the
/// mount stays, removed environments and services go, nothing is left behind.
#[test]
fn a_mount_point_gets_its_children_swapped() {
    let p = project(3, "one");
    let d = p.path();
    let mnt = d.join("mnt");
    let Some(_mount) = Mount::tmpfs(&mnt, "a_mount_point_gets_its_children_swapped") else {
        return;
    };
    let out = mnt.to_string_lossy().into_owned();
    kiln_ok(d, &["render", "--out", &out]);
    let first = tree(&mnt);
    assert!(first.contains_key(".kiln-output") && first.contains_key("prod/svc0002.yaml"));
    // A second run (the folder is now kiln's), with a service and an environment removed.
    greet(d, "two");
    std::fs::remove_file(d.join("values/services/svc0002.yaml")).unwrap();
    write(
        d,
        "kiln.yaml",
        "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
    );
    kiln_ok(d, &["render", "--out", &out]);
    let second: Vec<String> = tree(&mnt).into_keys().collect();
    assert_eq!(
        second,
        [
            ".kiln-output",
            "dev/",
            "dev/_env.yaml",
            "dev/svc0000.yaml",
            "dev/svc0001.yaml"
        ]
    );
    assert!(String::from_utf8_lossy(&tree(&mnt)["dev/svc0000.yaml"]).contains("greeting: two"));
    assert!(is_mounted(&mnt), "the mount point itself was replaced");
    assert_eq!(strays(d), Vec::<String>::new());
    assert_eq!(strays(&mnt), Vec::<String>::new());
    // One environment at a time works inside the mount as anywhere else.
    greet(d, "three");
    kiln_ok(d, &["render", "--out", &out, "--env", "dev"]);
    assert!(String::from_utf8_lossy(&tree(&mnt)["dev/svc0000.yaml"]).contains("greeting: three"));
    assert_eq!(strays(&mnt), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// 5, 6. The folder asked for
// ---------------------------------------------------------------------------------------------

/// A file the previous output holds unchanged is hard-linked into the new tree: it keeps its
/// inode and modification time. A changed file, a file edited by hand (same size, other
/// bytes), a symlink in its place (even to identical bytes) and a file whose permissions were
/// changed are all written anew, and the output is exactly a fresh render's.
#[test]
fn an_unchanged_file_keeps_its_inode_and_anything_else_is_written_anew() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let p = project(6, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    let out = d.join("out/dev");
    let meta = |n: usize| std::fs::symlink_metadata(out.join(format!("svc{n:04}.yaml"))).unwrap();
    let before: Vec<_> = (0..6).map(meta).collect();
    std::thread::sleep(Duration::from_millis(20));
    // svc0001 changes; svc0002 is edited by hand to other bytes of the same length; svc0003
    // becomes a symlink to a file outside with the very bytes the render writes; svc0004 loses
    // its group and other permissions.
    write(d, "values/services/svc0001.yaml", "greeting: changed\n");
    let edited = std::fs::read_to_string(out.join("svc0002.yaml"))
        .unwrap()
        .replace("one", "two");
    std::fs::write(out.join("svc0002.yaml"), &edited).unwrap();
    // (Renamed, not copied: its inode stays taken, so a new file cannot get its number.)
    let outside = d.join("outside.yaml");
    std::fs::rename(out.join("svc0003.yaml"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("svc0003.yaml")).unwrap();
    // Others' read bit flipped: differs from a new file's mode whatever the umask.
    std::fs::set_permissions(
        out.join("svc0004.yaml"),
        std::fs::Permissions::from_mode((before[4].mode() & 0o777) ^ 0o004),
    )
    .unwrap();
    kiln_ok(d, &["render"]);
    crate::support::wait_for_helpers(d);
    let after: Vec<_> = (0..6).map(meta).collect();
    for n in [0, 5] {
        assert_eq!(after[n].ino(), before[n].ino(), "svc{n:04} was not linked");
        assert_eq!(after[n].mtime_nsec(), before[n].mtime_nsec());
        // The previous tree is gone: the file is in the output only.
        assert_eq!(after[n].nlink(), 1, "svc{n:04}");
    }
    for n in 1..=4 {
        assert!(after[n].is_file(), "svc{n:04} is not a plain file");
        assert_ne!(after[n].ino(), before[n].ino(), "svc{n:04} was linked");
        assert_eq!(after[n].nlink(), 1, "svc{n:04}");
        assert_eq!(after[n].mode(), before[0].mode(), "svc{n:04}");
    }
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        std::fs::read_to_string(out.join("svc0003.yaml")).unwrap(),
        "the file outside was changed"
    );
    kiln_ok(d, &["render", "--out", "fresh"]);
    let (now, fresh) = (tree(&d.join("out")), tree(&d.join("fresh")));
    assert!(now == fresh, "{:?}", differences(&now, &fresh));
    assert!(
        String::from_utf8_lossy(&now["dev/svc0001.yaml"]).contains("greeting: changed"),
        "{now:?}"
    );
}

/// A file given an ACL entry of its own (`setfacl -m u:nobody:r`, which leaves its mode as it
/// was) is written anew: a new file would not have it. Where ACLs are unsupported, one line.
#[test]
fn a_file_with_an_acl_of_its_own_is_written_anew() {
    use std::os::unix::fs::MetadataExt as _;
    let Some(setfacl) = crate::support::tool("setfacl") else {
        return;
    };
    let p = project(2, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    let file = |n: usize| d.join(format!("out/dev/svc{n:04}.yaml"));
    let before: Vec<_> = (0..2)
        .map(|n| std::fs::metadata(file(n)).unwrap())
        .collect();
    let set = Command::new(setfacl)
        .args(["-m", "u:nobody:r"])
        .arg(file(1))
        .output()
        .unwrap();
    if !set.status.success() {
        skip(&format!(
            "a_file_with_an_acl_of_its_own_is_written_anew: skipped, no ACLs here: {}",
            String::from_utf8_lossy(&set.stderr).trim()
        ));
        return;
    }
    assert_eq!(std::fs::metadata(file(1)).unwrap().mode(), before[1].mode());
    kiln_ok(d, &["render"]);
    let ino = |n: usize| std::fs::metadata(file(n)).unwrap().ino();
    assert_eq!(ino(0), before[0].ino(), "svc0000 was not linked");
    assert_ne!(ino(1), before[1].ino(), "the file with an ACL was linked");
}

/// `--out` on an existing empty folder (or one holding only `.gitkeep`) works, and keeps
/// working: the marker is written into the new tree whenever it is the top output folder.
#[test]
fn an_existing_empty_folder_can_be_rendered_into_again() {
    let p = project(1, "one");
    let d = p.path();
    std::fs::create_dir(d.join("empty")).unwrap();
    write(d, "kept/.gitkeep", "");
    for out in ["empty", "kept"] {
        for _ in 0..2 {
            kiln_ok(d, &["render", "--out", out]);
            assert!(d.join(out).join(".kiln-output").is_file(), "{out}");
            assert!(d.join(out).join("dev/svc0000.yaml").is_file(), "{out}");
        }
    }
}

/// When the new tree cannot be made beside the output folder, the error names the folder asked
/// for and says what to do, never kiln's temporary folder; the output is untouched.
#[test]
fn an_unwritable_parent_names_the_folder_asked_for() {
    let test = "an_unwritable_parent_names_the_folder_asked_for";
    let p = project(1, "one");
    let d = p.path();
    let ro = d.join("ro");
    let out = ro.join("out");
    std::fs::create_dir(&ro).unwrap();
    let out_arg = out.to_string_lossy().into_owned();
    kiln_ok(d, &["render", "--out", &out_arg]);
    let before = tree(&out);
    // Permissions stop anyone but root; root needs a read-only mount.
    let set_mode = |mode| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(0o555);
    let mount = if std::fs::File::create(ro.join("probe")).is_ok() {
        std::fs::remove_file(ro.join("probe")).unwrap();
        set_mode(0o755);
        match Mount::read_only(&ro, test) {
            Some(m) => Some(m),
            None => return,
        }
    } else {
        None
    };
    greet(d, "two");
    let r = kiln(d, &["render", "--out", &out_arg]);
    drop(mount);
    set_mode(0o755);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("cannot write `{out_arg}`")),
        "the error does not name the folder asked for:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("kiln-new"), "{}", r.stderr);
    assert!(
        r.stderr.contains("make that folder writable"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(&out), before);
}

// ---------------------------------------------------------------------------------------------
// 7. golden/
// ---------------------------------------------------------------------------------------------

/// An empty golden/ means "nothing recorded yet"; a missing one, where kiln.yaml names a golden
/// path, is a drift finding (exit 1), not a silently skipped check. A golden/ a killed `kiln golden update` left aside comes back.
#[test]
fn a_missing_golden_folder_is_a_finding() {
    let p = project(1, "one");
    let d = p.path();
    // A project that never mentions golden files is not made to keep them.
    kiln_ok(d, &["check"]);
    let kiln_yaml = std::fs::read_to_string(d.join("kiln.yaml")).unwrap();
    std::fs::write(
        d.join("kiln.yaml"),
        format!("{kiln_yaml}paths: {{golden: golden}}\n"),
    )
    .unwrap();
    let r = kiln(d, &["check"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("error[golden-drift]")
            && r.stdout.contains("`golden` is missing")
            && r.stdout.contains("kiln golden update"),
        "{}",
        r.stdout
    );
    std::fs::create_dir(d.join("golden")).unwrap();
    kiln_ok(d, &["check"]);
    kiln_ok(d, &["golden", "update"]);
    kiln_ok(d, &["check"]);
    let recorded = tree(&d.join("golden"));
    std::fs::rename(d.join("golden"), d.join(format!(".golden.kiln-old-{DEAD}"))).unwrap();
    kiln_ok(d, &["check"]);
    assert_eq!(
        tree(&d.join("golden")),
        recorded,
        "golden/ was not recovered"
    );
    assert_eq!(strays(d), Vec::<String>::new());
    // A drifting render still fails once golden/ is back.
    greet(d, "two");
    assert_eq!(kiln(d, &["check"]).code, 1);
}

// ---------------------------------------------------------------------------------------------
// 8. Kills
// ---------------------------------------------------------------------------------------------

/// After a kill, `out/` is exactly the previous output or exactly the new one; the next run
/// completes and leaves no temporary folder.
#[track_caller]
fn assert_old_or_new(d: &Path, old: &Tree, new: &Tree, when: &str) {
    let now = tree(&d.join("out"));
    assert!(
        now == *old || now == *new,
        "{when}: out/ is neither the previous output nor the new one: vs previous {:?}, vs new {:?}",
        differences(old, &now),
        differences(new, &now)
    );
    kiln_ok(d, &["render"]);
    assert!(
        tree(&d.join("out")) == *new,
        "{when}: the next run did not finish the render"
    );
    assert_eq!(strays(d), Vec::<String>::new(), "{when}: leftovers stayed");
    assert_eq!(strays(&d.join("out")), Vec::<String>::new(), "{when}");
}

/// Two complete outputs of a project big enough that a render takes a moment: (old, new, how
/// long a render took). The project is left saying "old".
fn two_outputs(d: &Path) -> (Tree, Tree, Duration) {
    kiln_ok(d, &["render"]);
    let old = tree(&d.join("out"));
    greet(d, "new");
    let start = Instant::now();
    kiln_ok(d, &["render"]);
    let took = start.elapsed();
    let new = tree(&d.join("out"));
    greet(d, "old");
    kiln_ok(d, &["render"]);
    (old, new, took)
}

/// SIGKILL at spread-out moments of a real render (no tools needed).
#[test]
fn a_render_killed_at_any_moment_leaves_the_old_or_the_new_output() {
    let p = project(300, "old");
    let d = p.path();
    let (mut old, mut new, took) = two_outputs(d);
    let mut greeting = "new";
    for step in 1..=8u32 {
        greet(d, greeting);
        let mut child = command(d, &["render"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * step / 8);
        let _ = child.kill();
        let status = child.wait().unwrap();
        assert!(status.code().is_none_or(|c| c == 0), "{status}");
        assert_old_or_new(d, &old, &new, &format!("killed at {step}/8 of a render"));
        std::mem::swap(&mut old, &mut new);
        greeting = if greeting == "new" { "old" } else { "new" };
    }
}

/// SIGKILL (delivered by strace on entering a system call) at each step of the swap: making the
/// new tree, writing files (strace counts per thread), linking unchanged ones, syncing the
/// filesystem, just before the exchange, just after it (the parent's fsync), and while the
/// previous tree is removed.
#[test]
fn a_render_killed_at_each_step_leaves_the_old_or_the_new_output() {
    let test = "a_render_killed_at_each_step_leaves_the_old_or_the_new_output";
    let Some(_) = strace(test) else {
        return;
    };
    // 200 files on the writer threads: one of them surely makes 5 writes.
    let p = project(99, "old");
    let d = p.path();
    let (mut old, mut new, _) = two_outputs(d);
    let mut greeting = "new";
    let root = d.to_string_lossy().into_owned();
    for (options, when) in [
        (
            &["-e", "inject=mkdir,mkdirat:signal=KILL:when=3"][..],
            "making the new tree",
        ),
        (
            &["-e", "inject=write:signal=KILL:when=1"],
            "at the first write",
        ),
        (
            &["-e", "inject=write:signal=KILL:when=5"],
            "among the writes",
        ),
        (
            // The marker and each `_env.yaml` are unchanged: linked from the previous tree (the
            // first link of any thread: strace counts per thread).
            &["-e", "inject=linkat:signal=KILL:when=1"],
            "linking an unchanged file",
        ),
        (
            // The first syncfs of a thread: the flush ahead (on out/, while rendering) or the
            // new tree's.
            &["-e", "inject=syncfs:signal=KILL"],
            "on entering a syncfs",
        ),
        (
            &["-e", "inject=renameat2:signal=KILL"],
            "on entering the exchange",
        ),
        (
            &["-P", &root, "-e", "inject=fsync:signal=KILL"],
            "syncing the parent after the exchange",
        ),
        (
            &["-e", "inject=unlinkat:signal=KILL:when=3"],
            "removing the previous tree",
        ),
    ] {
        greet(d, greeting);
        let (r, trace) = traced(strace(test).unwrap(), options, d, &["render"]);
        if when == "removing the previous tree" {
            // The helper removes it after kiln has exited: the kill lands in the helper, and
            // the next render removes what it left.
            assert_eq!(r.code, 0, "{when}: {}", r.stderr);
            assert!(
                trace.contains("killed by SIGKILL"),
                "{when}: not killed:\n{trace}"
            );
            assert_eq!(strays(d).len(), 1, "{when}: the helper's tree stays");
        } else {
            assert_eq!(r.code, -1, "{when}: not killed ({options:?}):\n{trace}");
        }
        assert_old_or_new(d, &old, &new, when);
        std::mem::swap(&mut old, &mut new);
        greeting = if greeting == "new" { "old" } else { "new" };
    }
}

/// The previous tree is removed by a helper once kiln has exited (`--kiln-remove-previous-output`,
/// hidden): the render hands it over, and the helper removes only a real folder named as a
/// run's new tree, never anything else it is pointed at.
#[test]
fn the_previous_tree_is_removed_by_a_helper_that_touches_nothing_else() {
    let p = project(20, "one");
    let d = p.path();
    kiln_ok(d, &["render"]);
    greet(d, "two");
    if let Some(strace) =
        strace("the_previous_tree_is_removed_by_a_helper_that_touches_nothing_else")
    {
        let (r, trace) = traced(strace, &["-e", "trace=execve"], d, &["render"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let handed = format!(
            "\"--kiln-remove-previous-output\", \"{}/.out.kiln-new-",
            d.display()
        );
        assert!(
            trace.contains(&handed),
            "no helper took the tree over:\n{trace}"
        );
    } else {
        kiln_ok(d, &["render"]);
    }
    assert!(
        String::from_utf8_lossy(&tree(&d.join("out"))["dev/svc0000.yaml"])
            .contains("greeting: two")
    );
    assert_eq!(strays(d), Vec::<String>::new());
    let helper = |path: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("--kiln-remove-previous-output")
            .arg(path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // A leftover tree is taken over (one line on stdout) and removed.
    let left = d.join(format!(".out.kiln-new-{DEAD}"));
    write(&left, "dev/a.yaml", "a");
    assert_eq!(helper(&left), (Some(0), "\n".to_string()));
    assert!(!left.exists());
    assert_eq!(strays(d), Vec::<String>::new());
    // Anything else is refused and left as it is: another name, an old tree (recovery brings it
    // back), a symlink named like a tree, a file.
    let kept = d.join("values");
    let old = d.join(format!(".out.kiln-old-{DEAD}"));
    write(&old, "dev/a.yaml", "a");
    let link = d.join(format!(".link.kiln-new-{DEAD}"));
    std::os::unix::fs::symlink(&kept, &link).unwrap();
    let file = d.join(format!(".file.kiln-new-{DEAD}"));
    std::fs::write(&file, "x").unwrap();
    for refused in [&kept, &old, &link, &file, &d.join("missing")] {
        assert_eq!(
            helper(refused),
            (Some(2), String::new()),
            "{}",
            refused.display()
        );
    }
    assert!(kept.join("services/svc0000.yaml").exists());
    assert!(old.join("dev/a.yaml").exists() && link.exists() && file.exists());
}

/// While the helper is still removing the previous tree beside out/ (held up here by strace),
/// the render has returned with the new output in place, and git ignores the tree: out/ holds
/// Secrets, and `kiln render && git add -A` must never pick up the previous render's copy.
#[test]
fn the_tree_a_helper_is_removing_is_ignored_by_git() {
    let test = "the_tree_a_helper_is_removing_is_ignored_by_git";
    let (Some(strace), Some(git)) = (strace(test), crate::support::tool("git")) else {
        return;
    };
    let p = project(20, "one");
    let d = p.path();
    write(d, ".gitignore", "/out\n");
    let git = |args: &[&str]| {
        let out = Command::new(&git)
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    kiln_ok(d, &["render"]);
    greet(d, "two");
    let before = git(&["status", "--porcelain", "--untracked-files=all"]);
    // Every unlinkat waits 3 s: only the helper removes anything in this render.
    let log = tempfile::NamedTempFile::new().unwrap();
    let k = command(d, &["render"]);
    let mut traced = strace;
    traced
        .arg("-o")
        .arg(log.path())
        .args([
            "-e",
            "trace=unlinkat",
            "-e",
            "inject=unlinkat:delay_enter=3000000",
            "--",
        ])
        .arg(k.get_program())
        .args(k.get_args())
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut running = traced.spawn().unwrap();
    // kiln is strace's child; the render has returned once that process is gone (the helper,
    // its child, is held up in its first unlinkat). strace first forks short-lived children of
    // its own (to probe what the kernel can trace): kiln is the child running kiln's program.
    let deadline = Instant::now() + Duration::from_secs(20);
    let children = format!("/proc/{0}/task/{0}/children", running.id());
    let program = k.get_program().to_string_lossy().into_owned();
    let kiln_pid = loop {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        let kiln = listed.split_whitespace().find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.split(|&b| b == 0)
                    .next()
                    .is_some_and(|arg0| arg0 == program.as_bytes())
            })
        });
        if let Some(pid) = kiln {
            break pid.to_string();
        }
        assert!(Instant::now() < deadline, "kiln did not start");
        std::thread::sleep(Duration::from_millis(2));
    };
    let gone = || {
        std::fs::read_to_string(format!("/proc/{kiln_pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    };
    while !gone() {
        assert!(Instant::now() < deadline, "the render did not return");
        std::thread::sleep(Duration::from_millis(20));
    }
    let found = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with(".out.kiln-new-"));
    let Some(helper_tree) = found else {
        let _ = running.kill();
        let out = running.wait_with_output().unwrap();
        let trace = std::fs::read_to_string(log.path()).unwrap_or_default();
        panic!(
            "no helper's tree while it is held up (kiln {kiln_pid}): {}\n{trace}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    assert!(
        String::from_utf8_lossy(&tree(&d.join("out"))["dev/svc0000.yaml"])
            .contains("greeting: two")
    );
    assert!(
        d.join(&helper_tree).join("dev/svc0000.yaml").exists(),
        "{helper_tree}"
    );
    assert_eq!(
        git(&["status", "--porcelain", "--untracked-files=all"]),
        before
    );
    git(&["add", "-A"]);
    let staged = git(&["diff", "--cached", "--name-only"]);
    assert!(
        !staged
            .lines()
            .any(|l| l.starts_with(".out") || l.starts_with("out/")),
        "{staged}"
    );
    let _ = running.kill();
    let _ = running.wait();
}
