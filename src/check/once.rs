//! A value made once and shared by the worker threads (`check` renders and checks files on
//! them, `lint` reads and checks documents), made by the first that asks while the others do
//! other work: a schema takes milliseconds to compile, and a worker that sat waiting for
//! another to compile it left one of two cores idle.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::LocalKey;

/// A value made once, by the first thread that asks: [`Once::get_or_make`].
pub struct Once<T> {
    claimed: AtomicBool,
    value: OnceLock<T>,
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Once::new()
    }
}

impl<T> Once<T> {
    /// Not made yet.
    #[must_use]
    pub const fn new() -> Self {
        Once {
            claimed: AtomicBool::new(false),
            value: OnceLock::new(),
        }
    }

    /// The value; the first thread to ask makes it. A render worker that asks while another
    /// makes it runs its other queued work (rendering and checking further files) until the
    /// value is there, instead of sitting idle for the few milliseconds a schema takes to
    /// compile; only with nothing left to run does it block.
    ///
    /// A thread never runs other work while it makes a value: that work could ask for the very
    /// value this thread is making, further up its own stack, and wait for it for ever. The
    /// work it runs while waiting is on its own stack, and may wait in turn; past
    /// [`MAX_NESTED_WAITS`] it blocks instead.
    pub fn get_or_make(&self, make: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        if !self.claimed.swap(true, Ordering::AcqRel) {
            let _making = Count::up(&MAKING);
            return self.value.get_or_init(make);
        }
        if MAKING.get() == 0 && WAITING.get() < MAX_NESTED_WAITS {
            let _waiting = Count::up(&WAITING);
            loop {
                if let Some(v) = self.value.get() {
                    return v;
                }
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    break;
                }
            }
        }
        // Blocks while the maker works; makes the value itself if that one panicked.
        let _making = Count::up(&MAKING);
        self.value.get_or_init(make)
    }
}

/// How deep the waits of one thread may nest: each runs a file's render and checks on top of
/// the one before (a few kilobytes of stack in a release build, tens in a debug one, on
/// rayon workers of 32 MB); 128 files are about 6 ms of rendering, what the Deployment schema
/// takes to compile.
const MAX_NESTED_WAITS: u32 = 128;

thread_local! {
    /// How many values this thread is making (nested: a schema needs its meta-schema).
    static MAKING: Cell<u32> = const { Cell::new(0) };
    /// How many waits are running other work on this thread's stack.
    static WAITING: Cell<u32> = const { Cell::new(0) };
}

/// One more on a counter of this thread until dropped, panic or not.
struct Count(&'static LocalKey<Cell<u32>>);

impl Count {
    fn up(counter: &'static LocalKey<Cell<u32>>) -> Count {
        counter.set(counter.get() + 1);
        Count(counter)
    }
}

impl Drop for Count {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// While one worker makes the value, another that asks runs the work it has queued (here:
    /// the second half of a `join`) instead of blocking until the value is there.
    #[test]
    fn a_worker_waiting_for_the_value_runs_its_queued_work() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let once: Once<u32> = Once::new();
        let ran_before_ready = AtomicBool::new(false);
        let (a, b) = pool.install(|| {
            rayon::join(
                || {
                    once.get_or_make(|| {
                        std::thread::sleep(Duration::from_millis(400));
                        1
                    })
                },
                || {
                    std::thread::sleep(Duration::from_millis(50));
                    let (b, ()) = rayon::join(
                        || *once.get_or_make(|| 2),
                        || {
                            let ready = once.value.get().is_some();
                            ran_before_ready.store(!ready, Ordering::SeqCst);
                        },
                    );
                    b
                },
            )
        });
        assert_eq!((*a, b), (1, 1), "made once, by the first to ask");
        assert!(ran_before_ready.load(Ordering::SeqCst));
    }

    /// A maker that panics leaves the value unmade; the next to ask makes it.
    #[test]
    fn the_value_is_made_again_after_a_maker_panicked() {
        let once: Once<u32> = Once::new();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.get_or_make(|| panic!("schema compiler bug"));
        }));
        assert!(panicked.is_err());
        assert_eq!(*once.get_or_make(|| 2), 2);
    }
}
