//! One file written atomically and durably: a values file `kiln set` edits, a file `convert
//! --in-place` rewrites, a schema cache entry, a kubeconfig (owner-only).

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use super::{parent_of, sync_dir};
use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// Write one file that holds a credential (a kubeconfig): readable by its owner only (0600 from
/// the moment it exists), written beside its destination and renamed over it, so a reader never
/// sees half of it and a replaced file never keeps wider permissions. `replace` allows an
/// existing file to be replaced; otherwise an existing file is an error.
pub fn write_private(path: &Path, text: &str, force: bool) -> Result<(), Error> {
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(Error::Run(
            Diagnostic::error(format!("`{}` already exists", path.display()))
                .help("write to another path, or add `--force` to replace it"),
        ));
    }
    replace_with(path, text.as_bytes(), true).map_err(|e| Error::io("write", path, &e))
}

/// Replace one file atomically and durably: the new bytes are written to a temporary file in
/// the same folder (with the original's permissions; a new file gets 0644), fsynced, renamed
/// over the original, and the folder is fsynced. A symlink is followed: its target is replaced and the link stays. A
/// failure leaves the original untouched and no temporary file behind.
///
/// # Errors
/// What the filesystem refused.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with(path, bytes, false)
}

/// [`replace_file`]; `private`: the file is readable by its owner only (0600), whatever the
/// original's permissions.
fn replace_with(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let target = match fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let folder = parent_of(&target);
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.kiln-"))
        .tempfile_in(&folder)?;
    match fs::metadata(&target) {
        // tempfile creates the file 0600.
        _ if private => {}
        Ok(meta) => tmp.as_file().set_permissions(meta.permissions())?,
        // tempfile creates 0600; a new file is as readable as any other the user writes.
        #[cfg(unix)]
        Err(_) => {
            use std::os::unix::fs::PermissionsExt as _;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))?;
        }
        #[cfg(not(unix))]
        Err(_) => {}
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    sync_dir(&folder)
}
