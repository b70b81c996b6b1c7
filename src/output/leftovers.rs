//! What killed runs leave behind: kiln's temporary folders (and the temporary files of
//! `--service` renders), recognised by name and removed unless their run is still going.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::sync_dir;
use crate::error::Error;

/// The name of a temporary folder of run `pid` for `of` (see [`Leftover`]).
pub(super) fn temp_name(of: &str, kind: &str, pid: u32) -> String {
    if of.is_empty() {
        format!(".kiln-{kind}-{pid}")
    } else {
        format!(".{of}.kiln-{kind}-{pid}")
    }
}

/// A folder named by kiln's own pattern: `.<of>.kiln-new-<pid>` / `.<of>.kiln-old-<pid>`, or
/// `.kiln-new-<pid>` / `.kiln-old-<pid>` (`of` empty: the stage inside a mount point).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Leftover {
    pub(super) of: String,
    pub(super) old: bool,
    pub(super) pid: u32,
}

impl Leftover {
    pub(super) fn parse(name: &str) -> Option<Leftover> {
        let (head, pid) = name.strip_prefix('.')?.rsplit_once('-')?;
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let pid = pid.parse().ok()?;
        let (of, old) = [("kiln-new", false), ("kiln-old", true)]
            .into_iter()
            .find_map(|(kind, old)| {
                let of = head.strip_suffix(kind)?;
                match of.strip_suffix('.') {
                    Some(of) => Some((of, old)),
                    None => of.is_empty().then_some((of, old)),
                }
            })?;
        Some(Leftover {
            of: of.to_string(),
            old,
            pid,
        })
    }

    /// A run that is still going owns its folders.
    fn running(&self) -> bool {
        self.pid != std::process::id()
            && cfg!(target_os = "linux")
            && Path::new("/proc").join(self.pid.to_string()).exists()
    }
}

/// Recover, then (when `remove`) delete what killed runs left in `dir`: a missing `<of>` comes
/// back from its newest `.<of>.kiln-old-*`, and every other leftover folder (or file) goes. `only`
/// restricts both to the leftovers of one name (the parent of an output folder is the user's).
pub(super) fn tidy(dir: &Path, only: Option<&str>, remove: bool) -> Result<(), Error> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    // Each leftover with whether it is a file (a `--service` render's) rather than a folder.
    let mut found: Vec<(PathBuf, Leftover, bool)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let left = Leftover::parse(e.file_name().to_str()?)?;
            // Real folders, and files of a new tree, only: never follow a symlink out of here.
            let kind = e.file_type().ok()?;
            let ours = kind.is_dir() || (kind.is_file() && !left.old);
            let wanted = only.is_none_or(|o| o == left.of);
            (ours && wanted && !left.running()).then(|| (e.path(), left, kind.is_file()))
        })
        .collect();
    let missing: BTreeSet<String> = found
        .iter()
        .filter(|(_, l, _)| l.old && !l.of.is_empty())
        .map(|(_, l, _)| l.of.clone())
        .filter(|of| dir.join(of).symlink_metadata().is_err())
        .collect();
    for of in missing {
        let newest = found
            .iter()
            .enumerate()
            .filter(|(_, (_, l, _))| l.old && l.of == of)
            .max_by_key(|(_, (p, _, _))| {
                (fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone())
            })
            .map(|(i, _)| i);
        if let Some(i) = newest {
            let (path, _, _) = found.remove(i);
            let dest = dir.join(&of);
            fs::rename(&path, &dest).map_err(|e| Error::io("recover", &dest, &e))?;
            sync_dir(dir).map_err(|e| Error::io("sync", dir, &e))?;
        }
    }
    if remove {
        // Best effort: what cannot be removed now is tried again next time. An old tree is first
        // renamed to its run's new-tree name, so that a removal cut short never leaves a partial
        // tree under a name the recovery above would bring back.
        found.sort_by_key(|(_, l, _)| l.old);
        for (path, l, file) in found {
            if file {
                let _ = fs::remove_file(&path);
                continue;
            }
            let doomed = dir.join(temp_name(&l.of, "new", l.pid));
            let path = if l.old && fs::rename(&path, &doomed).is_ok() {
                doomed
            } else {
                path
            };
            let _ = fs::remove_dir_all(path);
        }
    }
    Ok(())
}
