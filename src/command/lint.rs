//! `kiln lint`: check any manifests, no project needed.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::check::{self, Checked, Document};
use crate::cli::LintArgs;
use crate::command::{Output, catalog, exit_code, upgrade_to};
use crate::config::Project;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::kube::KubeVersion;
use crate::report;
use crate::source::Sources;

/// Run `kiln lint`.
pub fn run(dir: &Path, args: &LintArgs) -> Result<Output, Error> {
    let project = Project::discover(dir, &mut Sources::default()).ok();
    // Inside a project, its `lint:` settings apply to plain manifests too.
    let options = check::Options {
        skip_missing_schemas: args.check.skip_missing_schemas,
        upgrade_to: upgrade_to(&args.check)?,
        lint: project.as_ref().map(|p| p.lint.clone()).unwrap_or_default(),
        host_network: Vec::new(),
    };
    let catalog = catalog(&args.check, project.as_ref())?;
    let version = match &args.kube_version {
        Some(v) => KubeVersion::parse(v).ok_or_else(|| {
            Error::run(format!("`--kube-version {v}` is not a version like 1.35"))
        })?,
        None => catalog.newest().ok_or_else(|| {
            Error::run("no schemas are available; import some with `kiln schemas import`")
        })?,
    };
    let mut results: Vec<Checked> = Vec::new();
    for path in &args.paths {
        // A path named on the command line that cannot be read is "could not run" (exit 2);
        // unreadable files found inside a folder are findings of that folder.
        if path.as_os_str() != "-"
            && let Err(e) = std::fs::metadata(path)
        {
            return Err(Error::Run(
                Diagnostic::error(format!("cannot read `{}`: {e}", path.display()))
                    .help("check the path; `-` reads standard input"),
            ));
        }
        for input in inputs(path, &args.paths) {
            results.extend(check_input(input, version, &catalog, &options));
        }
    }
    check::flag_duplicates(&mut results);
    let text = report::render(&results, args.check.format);
    Ok(Output {
        stdout: text,
        code: exit_code(&results, args.check.fail_on),
        stderr: String::new(),
    })
}

/// A file to check (as shown to users) and where its bytes come from. Files are read one at a
/// time, when checked, so a folder of manifests is never all in memory at once.
enum Input {
    File(String, Bytes),
}

enum Bytes {
    /// Standard input, read already.
    Read(Result<Vec<u8>, String>),
    /// A file, read when it is checked.
    Path(PathBuf),
}

impl Bytes {
    fn read(self) -> Result<Vec<u8>, String> {
        match self {
            Bytes::Read(r) => r,
            Bytes::Path(p) => std::fs::read(p).map_err(|e| e.to_string()),
        }
    }
}

/// Expand a path: `-` is standard input, a folder is searched (symlinks followed, loops
/// reported), a file is read whatever its extension.
fn inputs(path: &Path, given: &[PathBuf]) -> Vec<Input> {
    let shown = |p: &Path| p.strip_prefix("./").unwrap_or(p).display().to_string();
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        let r = std::io::stdin()
            .read_to_end(&mut buf)
            .map(|_| buf)
            .map_err(|e| e.to_string());
        return vec![Input::File("<stdin>".into(), Bytes::Read(r))];
    }
    if !path.is_dir() {
        return vec![Input::File(shown(path), Bytes::Path(path.to_path_buf()))];
    }
    let _ = given;
    let mut out = Vec::new();
    for entry in crate::manifest::files_in(path) {
        match entry {
            Ok(p) => out.push(Input::File(shown(&p), Bytes::Path(p))),
            Err(e) => {
                let at = e.path().map_or_else(|| shown(path), shown);
                let why = if e.loop_ancestor().is_some() {
                    "symlink loop; not followed".to_string()
                } else {
                    e.to_string()
                };
                out.push(Input::File(at, Bytes::Read(Err(why))));
            }
        }
    }
    out
}

fn file_error(file: &str, message: String) -> Checked {
    Checked::file_level(&check::rule::UNREADABLE, file, message)
}

fn check_input(
    input: Input,
    version: KubeVersion,
    catalog: &check::Catalog,
    options: &check::Options,
) -> Vec<Checked> {
    let Input::File(file, bytes) = input;
    let bytes = match bytes.read() {
        Ok(b) => b,
        Err(e) => return vec![file_error(&file, format!("cannot read: {e}"))],
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let bad_line = crate::config::line_count(good);
            let mut c = file_error(
                &file,
                format!(
                    "not UTF-8 text (first bad byte on line {bad_line}); Kubernetes manifests must be UTF-8"
                ),
            );
            c.findings[0].line = Some(u32::try_from(bad_line).unwrap_or(u32::MAX));
            return vec![c];
        }
    };
    // Each document is checked as soon as it is parsed and its tree dropped right after: only
    // the results are kept. A bug in kiln's checks on one document is reported on that
    // document; the others are still checked.
    let results = check::input::map_documents(&file, &text, &|_| None, &|d: Document<'static>| {
        crate::guard::catch(|| check::check_document(&d, version, catalog, options))
            .unwrap_or_else(|bug| {
                let mut c = file_error(
                    &d.file,
                    format!("kiln could not check this document (a bug in kiln: {bug}); please report it"),
                );
                // Which document: the others of the file are still checked.
                c.findings[0].line = Some(d.line_base + 1);
                c
            })
    });
    if results.is_empty() {
        return vec![Checked::file_level(
            &check::rule::EMPTY_FILE,
            &file,
            "no Kubernetes objects in this file (empty, or only comments and `---`)".into(),
        )];
    }
    results
}
