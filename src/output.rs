//! Writing rendered files, atomically.
//!
//! Everything is rendered and checked in memory before this module is called. It then writes the
//! new tree beside the old one and swaps it in with renames, so a failed run leaves the previous
//! output untouched and a successful run leaves exactly this render (files of removed services
//! are gone). It refuses to replace a folder kiln did not write.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// The file that marks a folder as kiln's output.
pub const MARKER: &str = ".kiln-output";

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

/// Write `files` (relative path -> contents) under `out`, replacing what `scope` covers.
pub fn write(out: &Path, files: &BTreeMap<String, String>, scope: &Scope) -> Result<(), Error> {
    check_ours(out)?;
    match scope {
        Scope::All => swap_in(out, files.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        Scope::Envs(envs) => {
            ensure_dir(out)?;
            for env in envs {
                let prefix = format!("{env}/");
                let subset = files
                    .iter()
                    .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|rest| (rest, v.as_str())));
                swap_in(&out.join(env), subset)?;
            }
            Ok(())
        }
        Scope::Files => {
            ensure_dir(out)?;
            for (rel, text) in files {
                let path = out.join(rel);
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io("create folder", parent, &e))?;
                }
                let tmp = path.with_extension(format!("yaml.kiln-tmp-{}", std::process::id()));
                fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, &e))?;
                fs::rename(&tmp, &path).map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    Error::io("replace", &path, &e)
                })?;
            }
            Ok(())
        }
    }
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
        // A folder holding only a `.gitkeep` counts as empty.
        if entries.any(|e| e.is_ok_and(|e| e.file_name() != ".gitkeep")) {
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

fn ensure_dir(out: &Path) -> Result<(), Error> {
    fs::create_dir_all(out).map_err(|e| Error::io("create folder", out, &e))?;
    let marker = out.join(MARKER);
    if !marker.exists() {
        fs::write(
            &marker,
            "written by kiln render; the whole folder is replaced on every render\n",
        )
        .map_err(|e| Error::io("write", &marker, &e))?;
    }
    Ok(())
}

/// Build a complete new folder beside `dest`, then rename it into place.
fn swap_in<'a>(dest: &Path, files: impl Iterator<Item = (&'a str, &'a str)>) -> Result<(), Error> {
    let parent = dest
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let parent = if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io("create folder", &parent, &e))?;
    let base = dest
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let pid = std::process::id();
    let tmp = parent.join(format!(".{base}.kiln-new-{pid}"));
    let old = parent.join(format!(".{base}.kiln-old-{pid}"));
    let _ = fs::remove_dir_all(&tmp);
    let result = (|| {
        fs::create_dir_all(&tmp).map_err(|e| Error::io("create folder", &tmp, &e))?;
        let is_top = dest.join(MARKER).exists() || !dest.exists();
        if is_top && dest.parent().is_none_or(|p| !p.join(MARKER).exists()) {
            fs::write(
                tmp.join(MARKER),
                "written by kiln render; the whole folder is replaced on every render\n",
            )
            .map_err(|e| Error::io("write", &tmp, &e))?;
        }
        // Folders first, then the files in parallel: thousands of small files are the bulk of
        // a large render's wall time otherwise.
        let files: Vec<(&str, &str)> = files.collect();
        let mut dirs: Vec<PathBuf> = files
            .iter()
            .filter_map(|(rel, _)| tmp.join(rel).parent().map(Path::to_path_buf))
            .collect();
        dirs.dedup();
        for d in &dirs {
            fs::create_dir_all(d).map_err(|e| Error::io("create folder", d, &e))?;
        }
        files.par_iter().try_for_each(|(rel, text)| {
            fs::write(tmp.join(rel), text).map_err(|e| Error::io("write", &dest.join(rel), &e))
        })?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dest.exists() {
        fs::rename(dest, &old).map_err(|e| {
            let _ = fs::remove_dir_all(&tmp);
            Error::io("move aside", dest, &e)
        })?;
    }
    if let Err(e) = fs::rename(&tmp, dest) {
        let _ = fs::rename(&old, dest);
        let _ = fs::remove_dir_all(&tmp);
        return Err(Error::io("replace", dest, &e));
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}
