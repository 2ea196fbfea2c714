//! Refreshing a credential in the background: stale-while-revalidate.
//!
//! Once a cached credential's refresh time has passed, and while it is
//! still valid, no caller waits for the helper: the first caller to take
//! the entry's lock starts a refresh here and prints the cached credential;
//! the others find the lock taken and print it too (see
//! [`crate::cache::CredentialCache::get_or_run`]).
//!
//! The refresh is credbox itself, re-executed with the caller's own
//! arguments (so under the same manifest, flags, limits and environment)
//! plus the hidden `--refresh-child <key>`. It:
//!
//! - inherits the entry's lock (the same open file description, so the
//!   lock passes from caller to refresh without a moment free), and holds
//!   it until it exits;
//! - has stdin, stdout and stderr on `/dev/null`: a client reading the
//!   caller's output until end of file is never held up by it;
//! - runs in a session of its own, so that a signal to the caller's
//!   process group (a terminal closed, Ctrl-C) does not stop it half-way;
//! - is killed by `SIGALRM` when its deadline passes ([`limit_lifetime`]),
//!   whatever it is doing.

use std::ffi::OsString;
use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cache::CacheKey;

/// The hidden flag of `credbox run` that makes it the refresh of a key.
pub const CHILD_FLAG: &str = "--refresh-child";

/// How a refresh ahead of expiry runs.
#[derive(Debug, Clone)]
pub enum Refresh {
    /// In this process, under the entry's lock, while the caller waits
    /// (library use).
    Here,
    /// In a detached `credbox run` with these arguments (the caller's own,
    /// less the program name) and [`CHILD_FLAG`].
    Detached(Vec<OsString>),
    /// This process is that refresh, for the entry of this key (whose lock
    /// it inherited).
    Child(String),
}

/// Starts the refresh of `key`: `credbox` with `args` and
/// [`CHILD_FLAG`], holding `lock` (the entry's, taken by the caller). Does
/// not wait for it.
pub fn spawn(lock: &File, args: &[OsString], key: &CacheKey) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .args(args)
        .arg(CHILD_FLAG)
        .arg(key.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Not waited for: it outlives this process.
    crate::platform::spawn_detached(command, lock).map(drop)
}

/// Ends this process with `SIGALRM` once `deadline` has passed (rounded
/// up to a whole second).
pub fn limit_lifetime(deadline: Duration) {
    crate::platform::limit_lifetime(deadline);
}
