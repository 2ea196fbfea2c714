//! The last bound on a run: whatever a host call is doing (one that does
//! not honour the deadline, a file system that stopped answering), the
//! process ends at the run's deadline plus [`GRACE`] (inside the 250 ms
//! the README promises, counted from the process's start), with the deadline's
//! exit code and one line, after its last words (the failure recorded in
//! the cache, so that `credbox status` shows why and callers back off).
//!
//! The guest's own deadline (epoch interruption and the async timeout,
//! see [`crate::guest`]) ends every run that returns to wasmtime; this
//! thread is for the ones that do not: a thread that waits, writes its
//! line past std's lock on stderr (which `main` holds) and calls
//! `std::process::exit`.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::Error;

/// How long past the deadline a run may take before the watchdog ends the
/// process: 200 ms, which leaves 50 ms of the README's 250 ms for what
/// came before the run's deadline was set (start-up, reading the manifest)
/// and for ending the process.
pub const GRACE: Duration = Duration::from_millis(200);

/// What the watchdog does before it ends the process, with the error it
/// ends it for.
pub type LastWords = Box<dyn FnOnce(Error) + Send>;

/// Last words that say nothing more (a run without the cache).
pub fn silent() -> LastWords {
    Box::new(|_| {})
}

/// An armed watchdog; disarmed when dropped (the run returned in time).
#[derive(Debug)]
pub struct Watchdog {
    disarmed: Arc<(Mutex<bool>, Condvar)>,
}

/// Arms a watchdog for the run of `helper` that must end by `deadline`
/// (its timeout `timeout`): at `deadline` + [`GRACE`], unless disarmed, it
/// runs `last_words`, prints the deadline's one line on stderr and ends
/// the process with its exit code.
pub fn arm(helper: &str, deadline: Instant, timeout: Duration, last_words: LastWords) -> Watchdog {
    let disarmed = Arc::new((Mutex::new(false), Condvar::new()));
    let shared = disarmed.clone();
    let helper = helper.to_owned();
    let fire_at = deadline + GRACE;
    std::thread::spawn(move || {
        let (lock, woken) = &*shared;
        let mut done = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !*done {
            let left = fire_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let error = Error::DeadlineExceeded(timeout);
                last_words(Error::DeadlineExceeded(timeout));
                // Not eprintln!: main holds std's lock on stderr.
                let line = format!("{}\n", error.report(&helper));
                let _ = std::io::Write::write_all(
                    &mut *crate::platform::stderr_unlocked(),
                    line.as_bytes(),
                );
                std::process::exit(i32::from(error.exit_code()));
            }
            done = woken
                .wait_timeout(done, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    });
    Watchdog { disarmed }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, woken) = &*self.disarmed;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        woken.notify_all();
    }
}
