//! The top-level error and its exit code.
//!
//! Every failure reaches the user as one or more [`Diagnostic`]s; this type only says which of
//! the two failure classes it belongs to, which decides the exit code.

use std::path::Path;

use crate::diagnostic::Diagnostic;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project has problems (values, templates, rendered documents): exit 1.
    #[error("the project has {} problem(s)", .0.len())]
    Project(Vec<Diagnostic>),
    /// kiln could not run (bad flags, no kiln.yaml, unreadable or unwritable files): exit 2.
    #[error("{}", .0.message)]
    Run(Diagnostic),
}

impl Error {
    /// The process exit code for this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Project(_) => 1,
            Error::Run(_) => 2,
        }
    }

    /// The diagnostics to print.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Project(d) => d,
            Error::Run(d) => std::slice::from_ref(d),
        }
    }

    /// A problem that stops kiln from running.
    pub fn run(message: impl Into<String>) -> Error {
        Error::Run(Diagnostic::error(message))
    }

    /// An I/O failure on `path`.
    #[must_use]
    pub fn io(action: &str, path: &Path, err: &std::io::Error) -> Error {
        Error::Run(Diagnostic::error(format!(
            "cannot {action} `{}`: {err}",
            path.display()
        )))
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Error {
        Error::Project(vec![d])
    }
}
