//! Writing rendered files, atomically.
//!
//! Everything is rendered and checked in memory before this module is called. It builds the new
//! tree beside the destination (`.out.kiln-new-<pid>`; a file the previous tree holds unchanged
//! is hard-linked from it, see [`reuse`]), makes it durable (one `syncfs(2)` of its
//! filesystem on Linux; an fsync of every file and folder elsewhere), swaps it in with one
//! `renameat2(RENAME_EXCHANGE)`, fsyncs the parent folder and removes the previous tree (after
//! kiln has exited, see [`helper`]). At every instant, and after a crash or a power cut, the
//! destination holds either the complete previous output or the complete new one: a failed run
//! leaves the previous output untouched and a successful one leaves exactly this render (files
//! of removed services are gone). It refuses to replace a folder kiln did not write (kiln marks
//! its own with `.kiln-output`).
//!
//! Two cases are weaker, because the kernel allows no better:
//!
//! - A filesystem that refuses the exchange (EINVAL, ENOSYS, EOPNOTSUPP; systems other than
//!   Linux): the destination is renamed aside to `.out.kiln-old-<pid>`, then the new tree is
//!   renamed in. A run killed between the two renames leaves no destination; the next run of any
//!   command renames the old one back before anything else ([`recover`]).
//! - A destination that is a mount point cannot be renamed (EBUSY). Its new children (the `<env>`
//!   folders and the marker) are built in `.kiln-new-<pid>` inside it and exchanged one by one,
//!   then the children the render no longer has are removed. Each child is replaced atomically,
//!   but a run killed halfway leaves some environments old and some new until the next run.
//!
//! Leftovers of killed runs (`.out.kiln-new-*`, `.out.kiln-old-*` beside the destination;
//! `.<env>.kiln-*`, `.kiln-new-*`, `.kiln-old-*` inside it; the `.<file>.kiln-new-*` files of
//! `--service` renders in the `<env>` folders they write to) are removed at the start of the next
//! write, after that recovery. Only folders (and those files) named so are removed, and none of
//! a process that is still running (two renders of one folder at once must not delete each
//! other's trees).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::error::Error;

mod file;
pub mod helper;
mod leftovers;
mod reuse;

pub use file::{replace_file, write_private};
use leftovers::{temp_name, tidy};

/// The file that marks a folder as kiln's output.
pub const MARKER: &str = ".kiln-output";

const MARKER_TEXT: &str = "written by kiln render; the whole folder is replaced on every render\n";

/// What part of the output folder a render replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole folder: every environment was rendered.
    All,
    /// These environment folders only (`--env`).
    Envs(Vec<String>),
    /// Just the listed files (`--service`): nothing else is touched or removed.
    Files,
}

/// Swaps two paths atomically (`renameat2(RENAME_EXCHANGE)`); a seam so tests can fail it the
/// way a filesystem or a mount point does.
type Exchange<'a> = dyn Fn(&Path, &Path) -> io::Result<()> + Sync + 'a;

/// Write `files` (relative path -> contents) under `out`, replacing what `scope` covers.
pub fn write(out: &Path, files: &BTreeMap<String, String>, scope: &Scope) -> Result<(), Error> {
    write_with(out, files, scope, &exchange)
}

/// Start flushing the filesystem `out` is on, in the background, while the caller renders: the
/// `syncfs` that makes the new tree durable then waits only for kiln's own files, not for what
/// other programs left unwritten there. Best effort: it changes no guarantee and reports nothing.
pub fn flush_ahead(out: &Path) {
    if !HAS_SYNCFS {
        return;
    }
    let at = if out.is_dir() {
        out.to_path_buf()
    } else {
        parent_of(out)
    };
    let _ = std::thread::Builder::new()
        .name("kiln-flush".into())
        .spawn(move || {
            if let Ok(dir) = File::open(&at) {
                let _ = sync_filesystem(&dir);
            }
        });
}

/// A relative path made only of plain names: no root, no `.` or `..`, not empty.
fn stays_inside(rel: &str) -> bool {
    let path = Path::new(rel);
    !rel.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

fn write_with(
    out: &Path,
    files: &BTreeMap<String, String>,
    scope: &Scope,
    exchange: &Exchange<'_>,
) -> Result<(), Error> {
    // Paths are built from names checked as DNS labels when the project loads; this is the
    // last line of defence: nothing is written unless every path stays inside `out`.
    if let Some(bad) = files.keys().find(|rel| !stays_inside(rel)) {
        return Err(Error::Run(Diagnostic::error(format!(
            "refusing to write `{bad}`: it is not a plain path inside the output folder `{}`",
            out.display()
        ))));
    }
    if let Scope::Envs(envs) = scope
        && let Some(bad) = envs.iter().find(|e| !stays_inside(e) || e.contains('/'))
    {
        return Err(Error::Run(Diagnostic::error(format!(
            "refusing to replace `{bad}`: it is not a folder name inside `{}`",
            out.display()
        ))));
    }
    // Recover and tidy first: a killed run may have left `out` missing or leftovers in it that
    // would make it look like a folder kiln did not write.
    tidy(&parent_of(out), Some(&base_name(out)), true)?;
    if out.is_dir() {
        tidy(out, None, true)?;
    }
    check_ours(out)?;
    match scope {
        Scope::All => {
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            swap_in(out, &files, true, exchange)
        }
        Scope::Envs(envs) => {
            ensure_dir(out)?;
            for env in envs {
                let prefix = format!("{env}/");
                let subset: Vec<(&str, &str)> = files
                    .iter()
                    .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|rest| (rest, v.as_str())))
                    .collect();
                swap_in(&out.join(env), &subset, false, exchange)?;
            }
            Ok(())
        }
        Scope::Files => {
            ensure_dir(out)?;
            // Every folder a file was renamed into is synced, and `out` for a new `<env>` folder.
            let mut touched = BTreeSet::from([out.to_path_buf()]);
            for (rel, text) in files {
                let path = out.join(rel);
                if let Some(parent) = path.parent() {
                    // The temporary files a killed `--service` render left here go first.
                    if touched.insert(parent.to_path_buf()) {
                        tidy(parent, None, true)?;
                    }
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io("create folder", parent, &e))?;
                }
                // `.<name>.kiln-new-<pid>` beside it: a name the next run knows as a leftover.
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tmp = path.with_file_name(temp_name(&name, "new", std::process::id()));
                // One an earlier process with this pid left (tidy keeps a live pid's).
                let _ = fs::remove_file(&tmp);
                write_synced(&tmp, text).map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    Error::io("write", &path, &e)
                })?;
                fs::rename(&tmp, &path).map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    Error::io("replace", &path, &e)
                })?;
            }
            for dir in &touched {
                sync_dir(dir).map_err(|e| Error::io("sync", dir, &e))?;
            }
            Ok(())
        }
    }
}

/// Recover `dest` if a killed run left it renamed aside (`.<dest>.kiln-old-<pid>`) and it is
/// missing. Commands call this first, for out/ and golden/, so that nothing (not even a failed
/// render, nor a check reading golden/) sees the folder missing.
pub fn recover(dest: &Path) -> Result<(), Error> {
    tidy(&parent_of(dest), Some(&base_name(dest)), false)
}

/// Refuse to overwrite a non-empty folder that kiln did not create.
fn check_ours(out: &Path) -> Result<(), Error> {
    if out.exists() && !out.is_dir() {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "output path `{}` exists and is not a folder",
                out.display()
            ))
            .help("choose another folder with `--out DIR`"),
        ));
    }
    if out.is_dir() && !out.join(MARKER).exists() {
        let mut entries = fs::read_dir(out).map_err(|e| Error::io("read folder", out, &e))?;
        // A folder holding only a `.gitkeep` counts as empty, and so does a fresh filesystem's
        // `lost+found` (`--out` on a mount point).
        let counts = |name: &OsString| name != GITKEEP && name != LOST_FOUND;
        if entries.any(|e| e.is_ok_and(|e| counts(&e.file_name()))) {
            return Err(Error::Run(
                Diagnostic::error(format!(
                    "output folder `{}` was not written by kiln; refusing to replace its contents",
                    out.display()
                ))
                .help("empty or remove the folder, or choose another with `--out DIR`"),
            ));
        }
    }
    Ok(())
}

/// Kept by users in a folder they mean to fill; it does not make the folder "not written by kiln".
const GITKEEP: &str = ".gitkeep";
/// A fresh ext2/3/4 filesystem's root has it; `fsck` owns it, so a swap never moves it.
const LOST_FOUND: &str = "lost+found";

/// Make the top output folder (with its marker) for a render that replaces only part of it.
fn ensure_dir(out: &Path) -> Result<(), Error> {
    if !out.is_dir() {
        let parent = parent_of(out);
        fs::create_dir_all(out).map_err(|e| Error::io("create folder", out, &e))?;
        sync_dir(&parent).map_err(|e| Error::io("sync", &parent, &e))?;
    }
    let marker = out.join(MARKER);
    if !marker.exists() {
        write_synced(&marker, MARKER_TEXT).map_err(|e| Error::io("write", &marker, &e))?;
        sync_dir(out).map_err(|e| Error::io("sync", out, &e))?;
    }
    Ok(())
}

/// Replace `dest` by a folder holding exactly `files` (and the marker when `top`).
fn swap_in(
    dest: &Path,
    files: &[(&str, &str)],
    top: bool,
    exchange: &Exchange<'_>,
) -> Result<(), Error> {
    if dest.is_dir() && is_mount_point(dest) {
        // Renaming it would fail with EBUSY, and its parent may not even be writable.
        return swap_children(dest, files, top, exchange);
    }
    let parent = parent_of(dest);
    fs::create_dir_all(&parent).map_err(|e| Error::io("create folder", &parent, &e))?;
    let base = base_name(dest);
    let pid = std::process::id();
    let tmp = parent.join(temp_name(&base, "new", pid));
    let _ = fs::remove_dir_all(&tmp);
    build(&tmp, dest, files, top)?;
    let fail = |e: Error| {
        let _ = fs::remove_dir_all(&tmp);
        Err(e)
    };
    if dest.symlink_metadata().is_err() {
        if let Err(e) = fs::rename(&tmp, dest) {
            return fail(Error::io("replace", dest, &e));
        }
        return sync_dir(&parent).map_err(|e| Error::io("sync", &parent, &e));
    }
    match exchange(&tmp, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::ResourceBusy => {
            let _ = fs::remove_dir_all(&tmp);
            return swap_children(dest, files, top, exchange);
        }
        Err(e) if exchange_refused(&e) => {
            // Two renames: between them `dest` is missing, and the next run recovers it.
            let old = parent.join(temp_name(&base, "old", pid));
            let _ = fs::remove_dir_all(&old);
            match fs::rename(dest, &old) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::ResourceBusy => {
                    let _ = fs::remove_dir_all(&tmp);
                    return swap_children(dest, files, top, exchange);
                }
                Err(e) => return fail(Error::io("move aside", dest, &e)),
            }
            if let Err(e) = fs::rename(&tmp, dest) {
                let _ = fs::rename(&old, dest);
                return fail(Error::io("replace", dest, &e));
            }
            // The old tree leaves under the name the exchange would have given it, so that a
            // removal cut short never leaves a partial tree under a name recovery brings back.
            if fs::rename(&old, &tmp).is_err() {
                let _ = fs::remove_dir_all(&old);
            }
        }
        Err(e) => return fail(Error::io("replace", dest, &e)),
    }
    // `tmp` now holds the previous tree. Beside the destination it goes after kiln has exited;
    // inside it (one environment's folder) it goes now, so the output holds nothing else.
    let synced = sync_dir(&parent);
    if top {
        helper::remove_later(&tmp);
    } else {
        remove_tree(&tmp);
    }
    synced.map_err(|e| Error::io("sync", &parent, &e))
}

/// Replace the children of `dest` one by one, for a `dest` that cannot itself be renamed (a
/// mount point). The new tree is built inside `dest`, on the same filesystem as its children.
fn swap_children(
    dest: &Path,
    files: &[(&str, &str)],
    top: bool,
    exchange: &Exchange<'_>,
) -> Result<(), Error> {
    let pid = std::process::id();
    let stage = dest.join(temp_name("", "new", pid));
    let aside = dest.join(temp_name("", "old", pid));
    let _ = fs::remove_dir_all(&stage);
    let _ = fs::remove_dir_all(&aside);
    build(&stage, dest, files, top)?;
    let mut names: Vec<OsString> = fs::read_dir(&stage)
        .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
        .map_err(|e| Error::io("read folder", dest, &e))?;
    // The marker first, so a folder left half-swapped is still recognised as kiln's.
    names.sort_by_key(|n| (n != MARKER, n.clone()));
    for name in &names {
        let new = stage.join(name);
        let cur = dest.join(name);
        let result = if cur.symlink_metadata().is_ok() {
            match exchange(&new, &cur) {
                Err(e) if exchange_refused(&e) => fs::create_dir_all(&aside)
                    .and_then(|()| fs::rename(&cur, aside.join(name)))
                    .and_then(|()| fs::rename(&new, &cur)),
                other => other,
            }
        } else {
            fs::rename(&new, &cur)
        };
        result.map_err(|e| Error::io("replace", &cur, &e))?;
    }
    // What the render no longer has goes into the stage, which is then removed whole.
    let entries = fs::read_dir(dest).map_err(|e| Error::io("read folder", dest, &e))?;
    for entry in entries {
        let name = entry
            .map_err(|e| Error::io("read folder", dest, &e))?
            .file_name();
        let ours = name == stage.file_name().unwrap_or_default()
            || name == aside.file_name().unwrap_or_default();
        if ours || names.contains(&name) || name == LOST_FOUND {
            continue;
        }
        fs::rename(dest.join(&name), stage.join(&name))
            .map_err(|e| Error::io("remove", &dest.join(&name), &e))?;
    }
    sync_dir(dest).map_err(|e| Error::io("sync", dest, &e))?;
    let _ = fs::remove_dir_all(&stage);
    let _ = fs::remove_dir_all(&aside);
    Ok(())
}

/// Write `files` into the new folder `root`, then make all of it durable. Errors name the path in
/// `dest` a file is for, never the temporary folder.
///
/// On Linux the files are written without an fsync each and then one `syncfs(2)` on the
/// staging tree's filesystem flushes the data and commits the metadata of all of them: one
/// journal commit instead of thousands of fsyncs, which were most of a large render's time.
/// Elsewhere (and where `syncfs` is missing) every file and folder is fsynced.
fn build(root: &Path, dest: &Path, files: &[(&str, &str)], marker: bool) -> Result<(), Error> {
    let result = (|| {
        fs::create_dir(root).map_err(|e| unwritable(dest, root, &e))?;
        // Opened before anything is written: `syncfs` reports the write-back errors of the
        // filesystem since this descriptor was opened (Linux 5.8 and later).
        let handle = File::open(root).map_err(|e| Error::io("open", dest, &e))?;
        let mut dirs: BTreeSet<&Path> = BTreeSet::new();
        for (rel, _) in files {
            dirs.extend(
                Path::new(rel)
                    .ancestors()
                    .skip(1)
                    .filter(|d| !d.as_os_str().is_empty()),
            );
        }
        for d in &dirs {
            fs::create_dir(root.join(d))
                .map_err(|e| Error::io("create folder", &dest.join(d), &e))?;
        }
        let all: Vec<(&str, &str)> = files
            .iter()
            .copied()
            .chain(marker.then_some((MARKER, MARKER_TEXT)))
            .collect();
        // Files the previous tree holds unchanged are linked from it ([`reuse`]).
        let previous = reuse::Previous::at(dest, &handle, &dirs);
        let write_all = |each: bool| {
            crate::par::try_each(&all, |(rel, text)| {
                let path = root.join(rel);
                let done = if previous.as_ref().is_some_and(|p| p.link(rel, &path, text)) {
                    // Its bytes may not be on disk yet (an edit, then its undoing).
                    if each {
                        File::open(&path).and_then(|f| f.sync_all())
                    } else {
                        Ok(())
                    }
                } else {
                    write_file(&path, text, each)
                };
                done.map_err(|e| Error::io("write", &dest.join(rel), &e))
            })
        };
        // Every file and folder fsynced on its own: a folder's entries are durable only once
        // the folder itself is synced.
        let sync_each = || {
            let all_dirs: Vec<&Path> = dirs.iter().copied().chain([Path::new("")]).collect();
            crate::par::try_each(&all_dirs, |d| {
                sync_dir(&root.join(d)).map_err(|e| Error::io("sync", &dest.join(d), &e))
            })
        };
        if !HAS_SYNCFS {
            return writers(|| write_all(true).and_then(|()| sync_each()));
        }
        write_all(false)?;
        match sync_filesystem(&handle) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => writers(|| {
                crate::par::try_each(&all, |(rel, _)| {
                    File::open(root.join(rel))
                        .and_then(|f| f.sync_all())
                        .map_err(|e| Error::io("sync", &dest.join(rel), &e))
                })?;
                sync_each()
            }),
            Err(e) => Err(Error::io("sync", dest, &e)),
        }
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(root);
    }
    result
}

/// Whether [`sync_filesystem`] exists on this system.
const HAS_SYNCFS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// `syncfs(2)`: write back every dirty page and commit the metadata of the filesystem `file` is
/// on, and wait for it. `Unsupported` where the kernel lacks it (then fsync file by file).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sync_filesystem(file: &File) -> io::Result<()> {
    match rustix::fs::syncfs(file) {
        Err(rustix::io::Errno::NOSYS) => Err(io::ErrorKind::Unsupported.into()),
        other => other.map_err(io::Error::from),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sync_filesystem(_: &File) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Remove the tree `dir` (the previous output, after the swap), its top-level folders in
/// parallel: thousands of unlinks are otherwise a visible part of a render. A `.gitignore` at
/// its top goes last: it keeps git from seeing the tree while it goes ([`helper`]).
fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        let children: Vec<PathBuf> = entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.file_name().is_none_or(|n| n != ".gitignore"))
            .collect();
        crate::par::each(&children, |c| {
            let is_dir = c.symlink_metadata().is_ok_and(|m| m.is_dir());
            let _ = if is_dir {
                fs::remove_dir_all(c)
            } else {
                fs::remove_file(c)
            };
        });
    }
    // Whatever could not be removed above (or appeared meanwhile) goes here, or stays as a
    // leftover the next run removes.
    let _ = fs::remove_dir_all(dir);
}

/// The error for a new folder that cannot be created beside (or in) the destination: it names
/// the folder the user asked for, not kiln's temporary one.
fn unwritable(dest: &Path, tmp: &Path, err: &io::Error) -> Error {
    let place = parent_of(tmp);
    Error::Run(
        Diagnostic::error(format!(
            "cannot write `{}`: cannot create a folder in `{}`: {err}",
            dest.display(),
            place.display()
        ))
        .help(format!(
            "kiln builds the new output in `{}` and swaps it in: make that folder writable, or write elsewhere with `--out DIR`",
            place.display()
        )),
    )
}

/// How many files are fsynced at once where there is no `syncfs`. An fsync waits for the disk, not the CPU, and
/// fsyncs in flight together share one journal commit, so this is wider than the CPU count.
const WRITERS: usize = 16;

/// Run `f` (which writes files with rayon) on a pool of [`WRITERS`] threads.
fn writers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(WRITERS)
        .thread_name(|i| format!("kiln-writer-{i}"))
        .build()
    {
        Ok(pool) => pool.install(f),
        // No threads to be had: the global pool writes just as correctly.
        Err(_) => f(),
    }
}

fn write_synced(path: &Path, text: &str) -> io::Result<()> {
    write_file(path, text, true)
}

/// Write a new file (never an existing one: it could be a link to a file of the previous tree),
/// and fsync it when `sync`.
fn write_file(path: &Path, text: &str, sync: bool) -> io::Result<()> {
    let mut f = File::options().write(true).create_new(true).open(path)?;
    f.write_all(text.as_bytes())?;
    if sync { f.sync_all() } else { Ok(()) }
}

/// fsync a folder, so that the entries created or renamed in it survive a power cut.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        // Folders cannot be opened as files elsewhere; NTFS journals its metadata.
        Ok(())
    }
}

/// The folder holding `dest` (`.` for a bare name).
fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn base_name(dest: &Path) -> String {
    dest.file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned())
}

/// `renameat2(a, b, RENAME_EXCHANGE)`: both must exist; afterwards each has the other's name.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The filesystem (or the system) cannot exchange: fall back to two renames.
fn exchange_refused(e: &io::Error) -> bool {
    #[cfg(unix)]
    if let Some(errno) = rustix::io::Errno::from_io_error(e) {
        use rustix::io::Errno;
        return matches!(errno, Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP);
    }
    e.kind() == io::ErrorKind::Unsupported
}

/// Whether `dir` is the root of a mount (`statx`'s `STATX_ATTR_MOUNT_ROOT`, Linux 5.8+; else a
/// different device than its parent's).
fn is_mount_point(dir: &Path) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};
        let flags = AtFlags::NO_AUTOMOUNT | AtFlags::SYMLINK_NOFOLLOW;
        if let Ok(s) = statx(CWD, dir, flags, StatxFlags::empty())
            && s.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
        {
            return s.stx_attributes.contains(StatxAttributes::MOUNT_ROOT);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let dev = |p: &Path| fs::symlink_metadata(p).map(|m| m.dev()).ok();
        dev(dir).is_some_and(|d| dev(&parent_of(dir)).is_some_and(|p| p != d))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::leftovers::Leftover;
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_folder_are_written() {
        for ok in ["dev/api.yaml", "dev/_env.yaml", "x"] {
            assert!(stays_inside(ok), "{ok}");
        }
        for bad in ["", "../values", "..", "/abs", "dev/../../x", "./dev/a.yaml"] {
            assert!(!stays_inside(bad), "{bad}");
        }
        let tmp = tempfile::tempdir().unwrap();
        let files = BTreeMap::from([("../escape.yaml".to_string(), "x".to_string())]);
        assert!(write(&tmp.path().join("out"), &files, &Scope::All).is_err());
        assert!(!tmp.path().join("escape.yaml").exists() && !tmp.path().join("out").exists());
    }

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    /// Every file under `dir`, relative, with contents.
    fn tree(dir: &Path) -> BTreeMap<String, String> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(dir).unwrap();
                (
                    rel.to_string_lossy().into_owned(),
                    fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    fn errno(e: rustix::io::Errno) -> io::Error {
        io::Error::from_raw_os_error(e.raw_os_error())
    }

    #[test]
    fn leftover_names() {
        let l = |of: &str, old, pid| {
            Some(Leftover {
                of: of.into(),
                old,
                pid,
            })
        };
        assert_eq!(Leftover::parse(".out.kiln-new-12"), l("out", false, 12));
        assert_eq!(Leftover::parse(".golden.kiln-old-7"), l("golden", true, 7));
        assert_eq!(Leftover::parse(".my.out.kiln-old-7"), l("my.out", true, 7));
        assert_eq!(Leftover::parse(".kiln-new-3"), l("", false, 3));
        for not in [
            "out",
            ".out.kiln-new-",
            ".out.kiln-new-12x",
            ".out.kiln-tmp-12",
            "out.kiln-new-12",
            ".outkiln-new-12",
            ".out.kiln-new-+1",
            ".kiln-output",
        ] {
            assert_eq!(Leftover::parse(not), None, "{not}");
        }
    }

    /// A destination that cannot be renamed (EBUSY: a mount point) has its children exchanged
    /// one by one; removed environments go, and nothing is left behind.
    #[test]
    fn busy_destination_swaps_its_children() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let first = files(&[
            ("dev/a.yaml", "a1"),
            ("dev/b.yaml", "b1"),
            ("prod/a.yaml", "pa"),
        ]);
        write(&out, &first, &Scope::All).unwrap();
        let busy = |a: &Path, b: &Path| {
            if b == out {
                Err(errno(rustix::io::Errno::BUSY))
            } else {
                exchange(a, b)
            }
        };
        let ino = |p: &Path| {
            use std::os::unix::fs::MetadataExt as _;
            fs::metadata(p).unwrap().ino()
        };
        let before = ino(&out);
        let second = files(&[("dev/a.yaml", "a2"), ("stage/c.yaml", "c2")]);
        write_with(&out, &second, &Scope::All, &busy).unwrap();
        assert_eq!(ino(&out), before, "the folder itself stays");
        let mut want = second.clone();
        want.insert(MARKER.into(), MARKER_TEXT.into());
        assert_eq!(tree(&out), want);
        assert_eq!(names(&out), [MARKER, "dev", "stage"]);
        assert_eq!(names(t.path()), ["out"]);
        // Where the exchange is refused too, each child is replaced with two renames.
        let neither = |_: &Path, b: &Path| {
            let e = if b == out {
                rustix::io::Errno::BUSY
            } else {
                rustix::io::Errno::INVAL
            };
            Err(errno(e))
        };
        write_with(&out, &first, &Scope::All, &neither).unwrap();
        let mut want = first.clone();
        want.insert(MARKER.into(), MARKER_TEXT.into());
        assert_eq!(tree(&out), want);
        assert_eq!(names(&out), [MARKER, "dev", "prod"]);
        assert_eq!(ino(&out), before);
    }

    /// A filesystem without RENAME_EXCHANGE gets the two renames, and the same result.
    #[test]
    fn refused_exchange_falls_back_to_two_renames() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        write(&out, &files(&[("dev/a.yaml", "1")]), &Scope::All).unwrap();
        for e in [
            rustix::io::Errno::INVAL,
            rustix::io::Errno::NOSYS,
            rustix::io::Errno::OPNOTSUPP,
        ] {
            let refuse = move |_: &Path, _: &Path| Err(errno(e));
            let new = files(&[("prod/b.yaml", &e.raw_os_error().to_string())]);
            write_with(&out, &new, &Scope::All, &refuse).unwrap();
            let mut want = new.clone();
            want.insert(MARKER.into(), MARKER_TEXT.into());
            assert_eq!(tree(&out), want);
            assert_eq!(names(t.path()), ["out"], "{e:?}");
        }
        // Any other failure is an error naming the destination, and changes nothing.
        let broken = |_: &Path, _: &Path| Err(errno(rustix::io::Errno::IO));
        let err = write_with(&out, &files(&[("x/y.yaml", "z")]), &Scope::All, &broken).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("cannot replace `{}`", out.display())),
            "{err}"
        );
        let last = rustix::io::Errno::OPNOTSUPP.raw_os_error().to_string();
        assert_eq!(tree(&out).get("prod/b.yaml"), Some(&last));
        assert_eq!(names(t.path()), ["out"]);
    }
}
