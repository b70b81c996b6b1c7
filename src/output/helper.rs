//! The previous output tree is removed after `kiln` has exited, not before: after the swap it
//! sits beside the destination under this run's temporary name, a helper process (this binary,
//! started with [`REMOVE_ARG`]) takes it over by renaming it to its own temporary name, says so
//! on its stdout, and removes it while the user goes on. Removing thousands of files was a
//! visible part of every `kiln render`.
//!
//! Nothing is weaker for it: the destination already holds the complete new output when the
//! helper starts, a helper killed halfway leaves a leftover under the name of a process that is
//! gone, which the next run removes (see [`super::leftovers`]), and a tree a helper is still
//! removing is never touched by another run, because its process is alive. Only the `kiln`
//! binary uses a helper (it calls [`allow`]); elsewhere, and where the helper cannot start or
//! take the tree over, the tree is removed before returning, as before.

use std::ffi::OsString;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use super::leftovers::{Leftover, temp_name};
use super::{parent_of, remove_tree};

/// The hidden first argument that makes `kiln` the helper for one tree (the second argument).
pub const REMOVE_ARG: &str = "--kiln-remove-previous-output";

static ALLOWED: AtomicBool = AtomicBool::new(false);

/// Called by the `kiln` binary: this executable understands [`REMOVE_ARG`].
pub fn allow() {
    ALLOWED.store(true, Ordering::Relaxed);
}

/// The tree to remove when the arguments ask for the helper.
pub fn requested(mut args: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    if args.nth(1)? != REMOVE_ARG {
        return None;
    }
    Some(PathBuf::from(args.next().unwrap_or_default()))
}

/// Remove `old`, the previous tree after a swap, in a helper where one can take it over.
pub(super) fn remove_later(old: &Path) {
    if !(cfg!(target_os = "linux") && ALLOWED.load(Ordering::Relaxed) && hand_over(old)) {
        remove_tree(old);
    }
}

/// Start the helper and wait until it has taken `old` over: true once it said so.
fn hand_over(old: &Path) -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    // The tree may outlive kiln by a moment beside a folder a repository ignores (out/ holds
    // Secrets): git ignores a folder whose own .gitignore ignores everything, so
    // `kiln render && git add -A` never picks it up.
    if fs::write(old.join(".gitignore"), "*\n").is_err() {
        return false;
    }
    let child = Command::new(exe)
        .arg(REMOVE_ARG)
        .arg(old)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let mut said = [0u8; 1];
    // The helper is never waited for: once this process exits, init reaps it.
    child
        .stdout
        .take()
        .is_some_and(|mut out| out.read(&mut said).is_ok_and(|n| n == 1))
}

/// The helper: take `tree` over and remove it. Only a real folder named as a run's new tree
/// (`.<name>.kiln-new-<pid>`) is touched, so the hidden argument removes nothing else.
#[must_use]
pub fn remove_previous(tree: &Path) -> ExitCode {
    // Only kiln starts this, with stderr closed; anyone else who does is told why nothing went.
    let refuse = |why: &str| {
        eprintln!(
            "error: nothing removed: `{}` {why}; `{REMOVE_ARG}` is for kiln's own use after a render",
            tree.display()
        );
        ExitCode::from(2)
    };
    let left = tree
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(Leftover::parse);
    let Some(left) = left.filter(|l| !l.old) else {
        return refuse("is not named as a render's new tree (`.<name>.kiln-new-<pid>`)");
    };
    if !fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()) {
        return refuse("is not a folder");
    }
    let mine = parent_of(tree).join(temp_name(&left.of, "new", std::process::id()));
    if let Err(e) = fs::rename(tree, &mine) {
        return refuse(&format!("cannot be taken over: {e}"));
    }
    // Taken over: the run that started this one may exit now.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"\n").and_then(|()| out.flush());
    drop(out);
    remove_tree(&mine);
    ExitCode::SUCCESS
}
