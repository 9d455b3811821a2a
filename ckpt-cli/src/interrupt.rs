//! SIGINT, SIGTERM and SIGHUP: the temporary outputs still being written are removed and
//! the run exits with 128 + the signal's number (130, 143, 129).
//!
//! Every temporary file an [`Output`](crate::io::Output) writes is registered here while
//! it lives. A thread waits for the signals; on one, it takes the registry's lock, removes
//! every registered file and exits. Whatever the main thread is doing meanwhile (blocked
//! reading a pipe, inside a multi-GiB `copy_file_range`) does not delay it. The lock is
//! also held while a temporary file is created and registered, and while one is renamed
//! into place and unregistered, so a signal sees either the temporary (and removes it:
//! the destination is untouched) or the renamed output (complete), never a half state.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The temporaries being written, by registration number.
struct Live {
    next: u64,
    files: BTreeMap<u64, PathBuf>,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    next: 0,
    files: BTreeMap::new(),
});

/// The registry, also when a thread panicked holding it (its map is still right).
fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The signals that end a run, with their names.
const SIGNALS: [(i32, &str); 3] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")];

/// Installs the handling of SIGINT, SIGTERM and SIGHUP (once, first thing in `main`).
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new(SIGNALS.map(|(n, _)| n))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                end(signal);
            }
        })?;
    Ok(())
}

/// Removes every live temporary and exits with 128 + `signal`, keeping the registry
/// locked so that no output is created or renamed into place meanwhile.
fn end(signal: i32) -> ! {
    if let Some(f) = AT_SIGNAL.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        f();
    }
    let live = live();
    for path in live.files.values() {
        let _ = std::fs::remove_file(path);
    }
    let name = SIGNALS
        .iter()
        .find(|(n, _)| *n == signal)
        .map_or("a signal", |(_, name)| name);
    let _ = writeln!(
        std::io::stderr(),
        "ckpt: interrupted by {name}; no output was left half-written"
    );
    std::process::exit(128 + signal);
}

/// What to do on a signal before exiting (`ckpt mount`: unmount).
type AtSignal = Box<dyn FnMut() + Send>;

static AT_SIGNAL: Mutex<Option<AtSignal>> = Mutex::new(None);

/// Runs `f` on SIGINT, SIGTERM or SIGHUP, before the temporaries are removed and the run
/// exits (one such action: a later call replaces it).
#[cfg_attr(not(feature = "fuse"), allow(dead_code))]
pub fn at_signal(f: impl FnMut() + Send + 'static) {
    *AT_SIGNAL.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(f));
}

/// A registered temporary file: unregistered when dropped (declare it after the file, so
/// that the file is removed first).
#[derive(Debug)]
pub struct Registered(u64);

/// Runs `create`, which makes a temporary file and gives it with its path, and registers
/// the path, both under the registry's lock (a signal cannot come between the two).
pub fn register<T>(
    create: impl FnOnce() -> std::io::Result<(T, PathBuf)>,
) -> std::io::Result<(T, Registered)> {
    let mut live = live();
    let (file, path) = create()?;
    let id = live.next;
    live.next += 1;
    live.files.insert(id, path);
    Ok((file, Registered(id)))
}

impl Registered {
    /// Runs `rename`, which puts the temporary file in its place, and unregisters it, both
    /// under the registry's lock.
    pub fn finish<R>(self, rename: impl FnOnce() -> R) -> R {
        let mut live = live();
        let result = rename();
        live.files.remove(&self.0);
        drop(live);
        result
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        live().files.remove(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_files_are_unregistered_when_finished_or_dropped() {
        let count = || live().files.len();
        let before = count();
        let ((), a) = register(|| Ok(((), PathBuf::from("/nonexistent/a")))).unwrap();
        let ((), b) = register(|| Ok(((), PathBuf::from("/nonexistent/b")))).unwrap();
        assert_eq!(count(), before + 2);
        assert_eq!(a.finish(|| 7), 7);
        assert_eq!(count(), before + 1);
        drop(b);
        assert_eq!(count(), before);
        let failed: std::io::Result<((), Registered)> =
            register(|| Err(std::io::Error::other("cannot create")));
        assert!(failed.is_err());
        assert_eq!(count(), before);
    }
}
