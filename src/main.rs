//! The `kiln` binary: everything happens in [`kiln::run`].

// A large render allocates millions of small nodes from two threads; mimalloc measured
// faster than the system allocator here (see bench/run.sh and the README's numbers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kiln::run(std::env::args_os())
}
