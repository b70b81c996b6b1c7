//! The `kiln` binary: everything happens in [`kiln::run`].

// A large render allocates millions of small nodes from two threads; mimalloc measured
// faster than the system allocator here (see bench/run.sh and the README's numbers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The helper that removes the previous output tree once `kiln render` has exited.
    if let Some(tree) = kiln::output::helper::requested(std::env::args_os()) {
        return kiln::output::helper::remove_previous(&tree);
    }
    kiln::output::helper::allow();
    kiln::run(std::env::args_os())
}
