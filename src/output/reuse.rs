//! A file of the new tree that the previous tree already holds, byte for byte, is hard-linked
//! from it instead of written again. Most of a render's files are unchanged from the last one;
//! on a disk, creating thousands of inodes and then freeing thousands more (the previous tree's)
//! was most of `render --out`'s time. An unchanged file also keeps its inode and modification
//! time, so `make`, `rsync` and `find -newer` see only the files a render changed.
//!
//! Nothing is weaker for it. The previous tree was made durable before it was swapped in, so a
//! linked file's bytes are on disk; the new tree's folder entries are made durable with the rest
//! of it. A file is linked only when it is a plain file (never a symlink) holding exactly the new
//! bytes, with the owner, group and permissions a file written now would get; anything else, and
//! any error (a filesystem without hard links, another filesystem), writes the file as before.

use std::fs::{self, File};
use std::path::Path;

/// What a file written into the new tree gets: its owner, group and permission bits, read off
/// the new tree's top folder (`0o777 & !umask` for a folder is `0o666 & !umask` for a file).
#[derive(Debug, Clone, Copy)]
pub(super) struct Fresh {
    #[cfg(unix)]
    uid: u32,
    #[cfg(unix)]
    gid: u32,
    #[cfg(unix)]
    mode: u32,
}

impl Fresh {
    /// From the new tree's top folder, just created; `None` where links are not tried.
    pub(super) fn of(root: &File) -> Option<Self> {
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

/// Link `old` to `new` if `old` holds exactly `text` and is what [`Fresh`] says a new file
/// would be. `true` when `new` now exists as that link; `false` leaves `new` absent.
pub(super) fn link_if_same(old: &Path, new: &Path, text: &str, fresh: Fresh) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let Some(ino) = holds(old, text.as_bytes(), fresh) else {
            return false;
        };
        if fs::hard_link(old, new).is_err() {
            return false;
        }
        // `old` could have been replaced between the read and the link (by a symlink, say):
        // the link must be the very file that was read.
        if fs::symlink_metadata(new).is_ok_and(|m| m.ino() == ino) {
            return true;
        }
        let _ = fs::remove_file(new);
        false
    }
    #[cfg(not(unix))]
    {
        let _ = (old, new, text, fresh);
        false
    }
}

/// The inode of `old` if it is a plain file with `fresh`'s owner, group and permissions holding
/// exactly `want`.
#[cfg(unix)]
fn holds(old: &Path, want: &[u8], fresh: Fresh) -> Option<u64> {
    use std::io::Read as _;
    use std::os::unix::fs::MetadataExt as _;

    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let mut file = File::from(rustix::fs::open(old, flags | OFlags::NONBLOCK, Mode::empty()).ok()?);
    let meta = file.metadata().ok()?;
    if !meta.is_file()
        || meta.len() != want.len() as u64
        || meta.uid() != fresh.uid
        || meta.gid() != fresh.gid
        || meta.mode() & 0o7777 != fresh.mode
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn only_the_same_bytes_in_a_plain_file_are_linked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let fresh = Fresh::of(&File::open(d).unwrap()).unwrap();
        let text = "a: 1\n".repeat(3000); // more than one read
        let old = d.join("old.yaml");
        fs::write(&old, &text).unwrap();
        let mode = fs::metadata(&old).unwrap().mode() & 0o7777;
        assert_eq!(mode, fresh.mode, "a new file's mode, from the folder's");
        let new = d.join("new.yaml");
        assert!(link_if_same(&old, &new, &text, fresh));
        assert_eq!(
            fs::metadata(&new).unwrap().ino(),
            fs::metadata(&old).unwrap().ino()
        );
        fs::remove_file(&new).unwrap();
        let mut longer = text.clone();
        longer.push('\n');
        let mut other = text.clone();
        other.replace_range(text.len() - 2..text.len() - 1, "2");
        for differs in [&text[..text.len() - 1], &longer, &other, ""] {
            assert!(!link_if_same(&old, &new, differs, fresh));
            assert!(fs::symlink_metadata(&new).is_err(), "left behind");
        }
        let link = d.join("link.yaml");
        std::os::unix::fs::symlink(&old, &link).unwrap();
        assert!(!link_if_same(&link, &new, &text, fresh), "a symlink");
        assert!(!link_if_same(d, &new, &text, fresh), "a folder");
        assert!(!link_if_same(&d.join("missing"), &new, &text, fresh));
        assert!(fs::symlink_metadata(&new).is_err());
    }
}
