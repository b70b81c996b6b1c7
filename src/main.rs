//! The `kiln` binary: everything happens in [`kiln::run`].

fn main() -> std::process::ExitCode {
    kiln::run(std::env::args_os())
}
