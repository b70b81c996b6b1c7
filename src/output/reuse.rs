//! A file of the new tree that the previous tree already holds, byte for byte, is hard-linked
//! from it instead of written again. Most of a render's files are unchanged from the last one;
//! on a disk, creating thousands of inodes and then freeing thousands more (the previous tree's)
//! was most of `render --out`'s time. An unchanged file also keeps its inode and modification
//! time, so `make`, `rsync` and `find -newer` see only the files a render changed.
//!
//! Nothing is weaker for it. The previous tree was made durable before it was swapped in, and the
//! new tree is made durable (linked files included) before it is. A file is linked only when it
//! is exactly what writing it would make: a plain file with no other link (not shared with a
//! `cp -al` snapshot, say), in real folders of the previous tree (no symlink on the way),
//! holding exactly the new bytes, with the owner, group and permission bits a new file gets and,
//! on Linux, no access ACL of its own. Anything else, and any error, writes the file as before;
//! a filesystem that refuses hard links (or holds the previous tree elsewhere) is not asked again.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The previous tree, as a source of files for the new one.
pub(super) struct Previous<'a> {
    root: &'a Path,
    /// Folders of the previous tree (relative; `""` is its top) that are real folders.
    real: BTreeSet<&'a Path>,
    fresh: Fresh,
    /// Cleared by the first link the filesystem refuses as such.
    links_work: AtomicBool,
}

impl<'a> Previous<'a> {
    /// The previous tree `root` (`None` when it is missing or not a real folder, or off Unix),
    /// for a new tree whose top folder `new_root` was just created and whose files are in
    /// `dirs` (relative).
    pub(super) fn at(root: &'a Path, new_root: &File, dirs: &BTreeSet<&'a Path>) -> Option<Self> {
        let real_dir = |d: &Path| fs::symlink_metadata(root.join(d)).is_ok_and(|m| m.is_dir());
        if !real_dir(Path::new("")) {
            return None;
        }
        // A folder is real when it and every folder above it are (`dirs` holds all of them).
        let real = std::iter::once(Path::new(""))
            .chain(dirs.iter().copied().filter(|d| {
                d.ancestors()
                    .filter(|a| !a.as_os_str().is_empty())
                    .all(real_dir)
            }))
            .collect();
        Some(Previous {
            root,
            real,
            fresh: Fresh::of(new_root)?,
            links_work: AtomicBool::new(true),
        })
    }

    /// Link the previous tree's `rel` to `new` if it holds exactly `text` and is what writing
    /// `new` would make. `true` when `new` now exists as that link; `false` leaves `new` absent.
    pub(super) fn link(&self, rel: &str, new: &Path, text: &str) -> bool {
        let folder = Path::new(rel).parent().unwrap_or(Path::new(""));
        if !self.links_work.load(Ordering::Relaxed) || !self.real.contains(folder) {
            return false;
        }
        let old = self.root.join(rel);
        let Some(ino) = holds(&old, text.as_bytes(), self.fresh) else {
            return false;
        };
        if let Err(e) = fs::hard_link(&old, new) {
            if refuses_links(&e) {
                self.links_work.store(false, Ordering::Relaxed);
            }
            return false;
        }
        // `old` could have been replaced between the read and the link (by a symlink, say):
        // the link must be the very file that was read.
        if same_inode(new, ino) {
            return true;
        }
        let _ = fs::remove_file(new);
        false
    }
}

/// An error of `link(2)` that says the filesystem does not do it here (rather than this file).
fn refuses_links(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    if let Some(errno) = rustix::io::Errno::from_io_error(e) {
        use rustix::io::Errno;
        return [
            Errno::XDEV,
            Errno::PERM,
            Errno::NOTSUP,
            Errno::OPNOTSUPP,
            Errno::NOSYS,
        ]
        .contains(&errno);
    }
    let _ = e;
    true
}

#[cfg(unix)]
fn same_inode(path: &Path, ino: u64) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::symlink_metadata(path).is_ok_and(|m| m.ino() == ino)
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: u64) -> bool {
    false
}

/// What a file written into the new tree gets: its owner, group and permission bits, read off
/// the new tree's top folder (`0o777 & !umask` for a folder is `0o666 & !umask` for a file).
#[derive(Debug, Clone, Copy)]
struct Fresh {
    #[cfg(unix)]
    uid: u32,
    #[cfg(unix)]
    gid: u32,
    #[cfg(unix)]
    mode: u32,
}

impl Fresh {
    /// From the new tree's top folder, just created; `None` where links are not tried.
    fn of(root: &File) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let meta = root.metadata().ok()?;
            Some(Fresh {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o666,
            })
        }
        #[cfg(not(unix))]
        {
            let _ = root;
            None
        }
    }
}

/// The inode of `old` if it is a plain file without other links, with `fresh`'s owner, group
/// and permissions and no ACL of its own, holding exactly `want`.
#[cfg(unix)]
fn holds(old: &Path, want: &[u8], fresh: Fresh) -> Option<u64> {
    use std::io::Read as _;
    use std::os::unix::fs::MetadataExt as _;

    use rustix::fs::{Mode, OFlags};
    // Never through a symlink; never waiting on a FIFO or becoming a terminal's controller.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let mut file = File::from(rustix::fs::open(old, flags | OFlags::CLOEXEC, Mode::empty()).ok()?);
    let meta = file.metadata().ok()?;
    if !meta.is_file()
        || meta.nlink() != 1
        || meta.len() != want.len() as u64
        || meta.uid() != fresh.uid
        || meta.gid() != fresh.gid
        || meta.mode() & 0o7777 != fresh.mode
        || has_acl(&file)
    {
        return None;
    }
    let mut buf = [0u8; 8192];
    let mut at = 0;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        if want.get(at..at + n)? != &buf[..n] {
            return None;
        }
        at += n;
    }
    (at == want.len()).then_some(meta.ino())
}

#[cfg(not(unix))]
fn holds(_: &Path, _: &[u8], _: Fresh) -> Option<u64> {
    None
}

/// Whether the file has an access ACL (an entry for a named user or group, say): a new file
/// gets only what the folder's default ACL gives, so such a file is written anew. An error other
/// than "none" or "not supported here" counts as one.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn has_acl(file: &File) -> bool {
    use rustix::io::Errno;
    !matches!(
        rustix::fs::fgetxattr_query(file, "system.posix_acl_access"),
        Err(Errno::NODATA | Errno::OPNOTSUPP)
    )
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn has_acl(_: &File) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn only_the_same_bytes_in_a_plain_unshared_file_in_real_folders_are_linked() {
        let dir = tempfile::tempdir().unwrap();
        let (old_root, new_root) = (dir.path().join("old"), dir.path().join("new"));
        fs::create_dir_all(old_root.join("dev")).unwrap();
        fs::create_dir_all(new_root.join("dev")).unwrap();
        let dirs = BTreeSet::from([Path::new("dev")]);
        let previous = Previous::at(&old_root, &File::open(&new_root).unwrap(), &dirs).unwrap();
        let text = "a: 1\n".repeat(3000); // more than one read
        let old = old_root.join("dev/a.yaml");
        fs::write(&old, &text).unwrap();
        let mode = fs::metadata(&old).unwrap().mode() & 0o7777;
        assert_eq!(
            mode, previous.fresh.mode,
            "a new file's mode, from the folder's"
        );
        let new = new_root.join("dev/a.yaml");
        assert!(previous.link("dev/a.yaml", &new, &text));
        assert_eq!(
            fs::metadata(&new).unwrap().ino(),
            fs::metadata(&old).unwrap().ino()
        );
        // Now shared with the new tree: not linked again.
        let again = new_root.join("dev/b.yaml");
        assert!(
            !previous.link("dev/a.yaml", &again, &text),
            "a file with two links"
        );
        fs::remove_file(&new).unwrap();
        let mut longer = text.clone();
        longer.push('\n');
        let mut other = text.clone();
        other.replace_range(text.len() - 2..text.len() - 1, "2");
        for differs in [&text[..text.len() - 1], &longer, &other, ""] {
            assert!(!previous.link("dev/a.yaml", &new, differs));
            assert!(fs::symlink_metadata(&new).is_err(), "left behind");
        }
        std::os::unix::fs::symlink(&old, old_root.join("dev/link.yaml")).unwrap();
        assert!(!previous.link("dev/link.yaml", &new, &text), "a symlink");
        assert!(!previous.link("dev", &new, &text), "a folder");
        assert!(!previous.link("dev/missing.yaml", &new, &text));
        // A folder on the way that is a symlink (to a folder holding the very bytes).
        fs::create_dir(dir.path().join("elsewhere")).unwrap();
        fs::write(dir.path().join("elsewhere/a.yaml"), &text).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), old_root.join("prod")).unwrap();
        let dirs = BTreeSet::from([Path::new("dev"), Path::new("prod")]);
        let previous = Previous::at(&old_root, &File::open(&new_root).unwrap(), &dirs).unwrap();
        assert!(
            !previous.link("prod/a.yaml", &new, &text),
            "through a symlinked folder"
        );
        assert!(fs::symlink_metadata(&new).is_err());
        assert!(
            previous.link("dev/a.yaml", &new, &text),
            "the real folder's file still is"
        );
    }
}
