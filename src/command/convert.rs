//! `kiln convert`: rewrite removed API versions where the migration is mechanical.
//!
//! Reads files, folders or `-` as `kiln lint` does, converts each file's objects with
//! [`crate::convert::convert_text`], and either prints the whole stream or (`--in-place`)
//! replaces each changed file atomically. Every object that needed attention gets one line on
//! standard error: `file:line: converted ...`, `file:line: note: ...` or `file:line: error: ...`.

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::cli::ConvertArgs;
use crate::command::Output;
use crate::convert::{self, FileResult, Level};
use crate::error::Error;
use crate::kube::KubeVersion;

/// One input: what users see as its name, where to write it back, and its text.
struct Input {
    shown: String,
    path: Option<PathBuf>,
    text: String,
}

/// Run `kiln convert`.
pub fn run(args: &ConvertArgs) -> Result<Output, Error> {
    let to = KubeVersion::parse(&args.to)
        .ok_or_else(|| Error::run(format!("`--to {}` is not a version like 1.29", args.to)))?;
    let mut inputs = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            if args.in_place {
                return Err(Error::run(
                    "`--in-place` cannot rewrite standard input; give file or folder paths",
                ));
            }
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::run(format!("cannot read standard input: {e}")))?;
            inputs.push(Input {
                shown: "<stdin>".into(),
                path: None,
                text: utf8("<stdin>", buf)?,
            });
            continue;
        }
        read_inputs(path, &mut inputs)?;
    }

    let results: Vec<(Input, FileResult)> = inputs
        .into_iter()
        .map(|input| {
            let json = input
                .path
                .as_ref()
                .is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
            // On standard output everything is one YAML stream; JSON stays JSON only in place.
            let r = convert::convert_text(&input.text, to, json && args.in_place);
            (input, r)
        })
        .collect();

    let mut log = String::new();
    let (mut converted, mut failed, mut rewritten, mut reemitted) = (0, 0, 0, 0);
    for (input, r) in &results {
        converted += r.converted;
        failed += r.failed;
        reemitted += r.rewritten;
        for rep in &r.reports {
            let level = match rep.level {
                Level::Converted => "",
                Level::Note => "note: ",
                Level::Error => "error: ",
            };
            let _ = writeln!(log, "{}:{}: {level}{}", input.shown, rep.line, rep.message);
        }
        if args.in_place && r.unparsable {
            let _ = writeln!(
                log,
                "{}: error: not rewritten: a document in it is not valid YAML",
                input.shown
            );
        }
    }

    let mut stdout = String::new();
    if args.in_place {
        for (input, r) in &results {
            if !r.changed || r.unparsable {
                continue;
            }
            if let Some(path) = &input.path {
                crate::output::replace_file(path, r.text.as_bytes())
                    .map_err(|e| Error::io("replace", path, &e))?;
                rewritten += 1;
            }
        }
    } else {
        for (_, r) in &results {
            if !stdout.is_empty() {
                if !stdout.ends_with('\n') {
                    stdout.push('\n');
                }
                if !convert::starts_with_marker(&r.text) {
                    stdout.push_str("---\n");
                }
            }
            stdout.push_str(&r.text);
        }
    }

    let mut summary = format!("converted {converted} object(s) for Kubernetes {to}");
    if args.in_place {
        let _ = write!(summary, "; rewrote {rewritten} file(s)");
    }
    if failed > 0 {
        let _ = write!(summary, "; {failed} could not be converted (see above)");
    }
    if reemitted > 0 {
        let _ = write!(
            summary,
            "; {reemitted} document(s) were written out again, without the comments inside them"
        );
    }
    let _ = writeln!(log, "{summary}");
    Ok(Output {
        stdout,
        code: u8::from(failed > 0),
        stderr: log,
    })
}

fn utf8(shown: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let line = crate::config::line_count(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        Error::run(format!(
            "`{shown}` is not UTF-8 text (first bad byte on line {line}); Kubernetes manifests must be UTF-8"
        ))
    })
}

/// A file, or the .yaml, .yml and .json files under a folder (symlinks followed). Anything
/// unreadable stops the run before any file is written.
fn read_inputs(path: &Path, out: &mut Vec<Input>) -> Result<(), Error> {
    let shown = |p: &Path| p.strip_prefix("./").unwrap_or(p).display().to_string();
    if !path.is_dir() {
        let bytes = fs::read(path).map_err(|e| Error::io("read", path, &e))?;
        out.push(Input {
            shown: shown(path),
            path: Some(path.to_path_buf()),
            text: utf8(&shown(path), bytes)?,
        });
        return Ok(());
    }
    for entry in crate::manifest::files_in(path) {
        let p = entry.map_err(|e| {
            let at = e.path().map_or_else(|| shown(path), shown);
            if e.loop_ancestor().is_some() {
                Error::run(format!("`{at}`: symlink loop"))
            } else {
                Error::run(format!("cannot read `{at}`: {e}"))
            }
        })?;
        let bytes = fs::read(&p).map_err(|e| Error::io("read", &p, &e))?;
        out.push(Input {
            shown: shown(&p),
            text: utf8(&shown(&p), bytes)?,
            path: Some(p),
        });
    }
    Ok(())
}
