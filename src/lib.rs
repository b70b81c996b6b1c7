//! kiln: per-service values and Jinja templates in, checked Kubernetes manifests out.
//!
//! Data flows `cli -> config -> values -> render -> manifest -> output`; see ARCHITECTURE.md for
//! what each module owns. [`run`] is the whole program: the binary only forwards to it.

pub mod adopt;
pub mod check;
pub mod cli;
pub mod command;
pub mod config;
pub mod convert;
pub mod diagnostic;
pub mod diff;
pub mod error;
pub mod guard;
pub mod kube;
pub mod manifest;
pub mod output;
pub mod par;
pub mod render;
pub mod report;
pub mod secret;
pub mod source;
pub mod values;
pub mod yaml;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Whether to colour standard output (diffs): `--color`, else a terminal without `NO_COLOR`.
fn color_stdout(choice: cli::Color) -> bool {
    match choice {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Run kiln with these arguments (the first is the program name) and return the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    guard::install_hook();
    let cli = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let color = match cli.color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    // Template rendering recurses (includes, macros); rayon's default worker stacks are too
    // small for minijinja's recursion limit in debug builds. Ignored if already built (tests).
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(32 << 20)
        .build_global();
    match command::run(&cli, color_stdout(cli.color)) {
        Ok(out) => {
            if !out.stderr.is_empty() {
                let _ = std::io::stderr().write_all(out.stderr.as_bytes());
            }
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(out.stdout.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // `kiln render --stdout | head` is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "error: cannot write to standard output: {e}"
                    );
                    ExitCode::from(2)
                }
                _ => ExitCode::from(out.code),
            }
        }
        Err(e) => {
            let _ =
                std::io::stderr().write_all(diagnostic::render(e.diagnostics(), color).as_bytes());
            ExitCode::from(e.exit_code())
        }
    }
}
