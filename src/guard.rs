//! What happens when kiln itself has a bug: a panic is never shown to a user as a backtrace.
//!
//! Code that runs third-party logic on user input (the template engine, the YAML reader, one
//! file's checks) runs inside [`catch`], which turns a panic into an error the caller reports
//! at the input that caused it, and the rest of the run goes on. Any other panic goes through the
//! hook installed by [`install_hook`]: one line asking for a bug report, exit code 2, and a
//! backtrace only when `RUST_BACKTRACE` asks for one.
//!
//! Template rendering runs under [`watch`]: a watchdog thread stops the run (exit 1, nothing
//! written) when one template render takes longer than [`RENDER_DEADLINE`] or the process grows
//! past [`MEMORY_LIMIT`], naming the template and instance. minijinja's fuel stops almost every
//! runaway template with a located error first; the watchdog covers the few operations the
//! engine does not charge (materialising a list that doubled itself, `x = x + x`).
//!
//! This module prints only from the panic hook and the watchdog, both just before exiting.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::diagnostic::{self, Diagnostic};

/// The longest one template render may take. Real templates render in milliseconds; the fuel
/// limit stops a runaway loop in about a second even in a debug build, and this leaves room for
/// a loaded CI machine before the watchdog steps in.
pub const RENDER_DEADLINE: Duration = Duration::from_secs(20);

/// The most memory (resident set) kiln may use while rendering: a 4,000-service fleet needs
/// under 300 MB.
pub const MEMORY_LIMIT: u64 = 4 << 30;

thread_local! {
    /// How many [`catch`] calls are active on this thread: their panics are reported by them.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Where bugs are reported.
const REPORT_TO: &str = "https://github.com/kiln-dev/kiln/issues";

/// Install the panic hook (once per process).
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) > 0 {
                return;
            }
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let _ = writeln!(
                std::io::stderr(),
                "error: kiln hit a bug ({}{place}); please report it at {REPORT_TO} with the command you ran",
                first_line(&message(info.payload()))
            );
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                default(info);
            }
            std::process::exit(2);
        }));
    });
}

/// Run `f`; a panic inside it comes back as `Err` with the panic's message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
    result.map_err(|p| first_line(&message(p.as_ref())).to_string())
}

/// What each thread is rendering now, and since when.
static ACTIVE: Mutex<Option<HashMap<std::thread::ThreadId, (String, Instant)>>> = Mutex::new(None);

/// Marks one template render as running on this thread until dropped.
#[derive(Debug)]
pub struct Watched(());

impl Drop for Watched {
    fn drop(&mut self) {
        if let Ok(mut active) = ACTIVE.lock()
            && let Some(map) = active.as_mut()
        {
            map.remove(&std::thread::current().id());
        }
    }
}

/// Watch the render described by `what` (template and instance) until the guard is dropped.
pub fn watch(what: String) -> Watched {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("kiln-watchdog".into())
            .spawn(watchdog);
    });
    if let Ok(mut active) = ACTIVE.lock() {
        active
            .get_or_insert_with(HashMap::new)
            .insert(std::thread::current().id(), (what, Instant::now()));
    }
    Watched(())
}

fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let Ok(active) = ACTIVE.lock() else { return };
        let Some(map) = active.as_ref() else { continue };
        let deadline = render_deadline();
        let slow = map.values().find(|(_, since)| since.elapsed() > deadline);
        let big = (!map.is_empty())
            .then(resident_bytes)
            .flatten()
            .filter(|b| *b > MEMORY_LIMIT);
        let d = match (slow, big) {
            (Some((what, _)), _) => Diagnostic::error(format!(
                "rendering {what} took longer than {} s and was stopped",
                deadline.as_secs()
            )),
            (None, Some(bytes)) => Diagnostic::error(format!(
                "rendering used more than {} GiB of memory ({} MiB) and was stopped",
                MEMORY_LIMIT >> 30,
                bytes >> 20
            ))
            .note(format!(
                "while rendering {}",
                map.values()
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (None, None) => continue,
        };
        let d = d.help(
            "look for a loop that doubles a list or string (`{% set x = x + x %}`) or a very large `range()`; nothing was written",
        );
        let _ = std::io::stderr().write_all(diagnostic::render(&[d], false).as_bytes());
        std::process::exit(1);
    }
}

/// [`RENDER_DEADLINE`], or `KILN_RENDER_DEADLINE` seconds when set (for tests and very slow
/// machines).
fn render_deadline() -> Duration {
    std::env::var("KILN_RENDER_DEADLINE")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(RENDER_DEADLINE, Duration::from_secs)
}

/// The resident set size of this process, where the system says it.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// A panic message can quote the input it choked on (a secret, a whole document): keep only its
/// first line up to the first quotation, at most 200 characters.
fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or("");
    let line = line.split(['`', '\'', '"']).next().unwrap_or("").trim_end();
    match line.char_indices().nth(200) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_turns_a_panic_into_an_error() {
        // No `install_hook()` here: it would exit the test process on any failing assertion.
        let r: Result<(), String> = catch(|| panic!("boom\nsecret on line two"));
        assert_eq!(r, Err("boom".to_string()));
        let r: Result<(), String> = catch(|| panic!("bad index of `hunter2`"));
        assert_eq!(r, Err("bad index of".to_string()));
        assert_eq!(catch(|| 7), Ok(7));
    }
}
