//! What `kiln check` and `kiln diff` compare the render with, and the part of the comparison
//! both share: golden/, another folder in kiln's layout, or the project at a git revision; for
//! a folder, only the rendered files that differ from it are kept (in the form the folder holds:
//! golden/ keeps Secret digests and ApplySet labels and parents), so memory stays near a
//! render's.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::command::{Pipeline, RenderedText, file_text, text_with_parts, with_parts};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::render::FileResult;

/// What the render is compared with.
pub enum Baseline {
    /// A folder in kiln's layout (`<env>/<file>.yaml`); `golden`: the project's golden/, which
    /// holds the golden form.
    Folder {
        /// The folder.
        dir: PathBuf,
        /// How messages name it.
        shown: String,
        /// It is the project's golden/.
        golden: bool,
    },
    /// The project at a git revision.
    Git(String),
}

impl Baseline {
    /// The project's golden/.
    #[must_use]
    pub fn golden(pipeline: &Pipeline) -> Baseline {
        let dir = pipeline.project.golden_dir.clone();
        Baseline::Folder {
            shown: pipeline.project.relative(&dir),
            dir,
            golden: true,
        }
    }

    /// `--against`: none is golden/, `git:REF` a revision, anything else a folder (relative to
    /// `dir`); a folder that is golden/ is compared in the golden form.
    ///
    /// # Errors
    /// A folder that does not exist (golden/ included: it says how to make one).
    pub fn from_against(
        pipeline: &Pipeline,
        dir: &Path,
        against: Option<&str>,
    ) -> Result<Baseline, Error> {
        match against {
            Some(a) if a.starts_with("git:") => Ok(Baseline::Git(a["git:".len()..].to_string())),
            None => {
                let golden = &pipeline.project.golden_dir;
                if !golden.is_dir() {
                    return Err(Error::Run(
                        Diagnostic::error(format!(
                            "there is no `{}` to compare with",
                            pipeline.project.relative(golden)
                        ))
                        .help("create it with `kiln golden update`, or compare with `--against DIR` or `--against git:REF`"),
                    ));
                }
                Ok(Baseline::golden(pipeline))
            }
            Some(against) => {
                let d = dir.join(against);
                if !d.is_dir() {
                    return Err(Error::run(format!(
                        "`--against {against}`: no such folder (use `git:REF` for a revision)"
                    )));
                }
                Ok(Baseline::Folder {
                    golden: super::same_folder(&d, &pipeline.project.golden_dir),
                    dir: d,
                    shown: against.to_string(),
                })
            }
        }
    }
}

/// One rendered file against a folder's copy: the file in the form the folder holds when it
/// differs, `None` when the folder's text is byte-identical. `rendered` is its plain text (and
/// where each document is) when the caller has made it already; its objects are copied only
/// when it differs.
///
/// # Errors
/// The file cannot be written as YAML.
pub fn differing(
    pipeline: &Pipeline,
    (dir, golden): (&Path, bool),
    ms: &[Manifest],
    rendered: Option<(String, Vec<(usize, u32, usize)>)>,
) -> Result<Option<RenderedText>, Diagnostic> {
    let golden_form = if golden {
        pipeline.golden_form(ms)?
    } else {
        Cow::Borrowed(ms)
    };
    let form: &[Manifest] = &golden_form;
    let (text, places) = match (rendered, &golden_form) {
        (Some(r), Cow::Borrowed(_)) => r,
        _ => file_text(form, None)?,
    };
    let same = ms
        .first()
        .is_some_and(|m| std::fs::read_to_string(dir.join(m.out_file())).is_ok_and(|t| t == text));
    Ok((!same).then(|| with_parts(form, text, places)))
}

/// The rendered files that differ from the folder, and the paths of those that do not. With
/// `parents` (golden/, whole environments rendered) each environment's ApplySet parent file is
/// compared too.
///
/// # Errors
/// A parent file cannot be written as YAML.
pub fn split(
    pipeline: &Pipeline,
    dir: &Path,
    files: Vec<FileResult<Option<RenderedText>>>,
    parents: bool,
) -> Result<(Vec<FileResult<RenderedText>>, Vec<String>), Error> {
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    let parent_files = if parents {
        pipeline.parent_files(&files)
    } else {
        Vec::new()
    };
    for f in files {
        match f.payload {
            Some(payload) => changed.push(FileResult {
                path: f.path,
                env: f.env,
                ids: f.ids,
                payload,
            }),
            None => unchanged.push(f.path),
        }
    }
    for p in parent_files {
        let rendered = text_with_parts(&p.payload).map_err(Error::Run)?;
        if std::fs::read_to_string(dir.join(&p.path)).is_ok_and(|t| t == rendered.text) {
            unchanged.push(p.path);
        } else {
            changed.push(FileResult {
                path: p.path,
                env: p.env,
                ids: p.ids,
                payload: rendered,
            });
        }
    }
    Ok((changed, unchanged))
}
