//! The credential cache: answers repeated calls without running the helper,
//! and ends retry loops.
//!
//! One entry per helper and request, keyed by a SHA-256 of everything that
//! could change the answer: the component file's identity
//! ([`component_stamp`]), the effective policy,
//! the values of the allowlisted environment variables and config (hashed,
//! never stored), the purpose and the MCP server. Entries live in a private
//! directory (see [`crate::private_dir`]) and are replaced atomically.
//!
//! - **Fresh**: served as is, without starting wasmtime.
//! - **Refresh ahead**: near expiry the helper runs again; if that run
//!   fails, the still-valid entry is served.
//! - **Stale if error**: past expiry, a transient failure (`unavailable`, a
//!   deadline) may serve the old entry for `[cache] stale_if_error`.
//! - **Negative cache**: a failure is remembered; calls within its backoff
//!   fail at once with the recorded reason, without running the guest.
//! - **Single flight**: an advisory lock per entry; while one process runs
//!   the helper, the others wait, watching the entry file without the lock
//!   (it is replaced atomically, so an unlocked read sees a whole entry),
//!   and are answered together as soon as it can be served: a fresh
//!   credential, or a failure within its backoff. Only if the holder lets
//!   go leaving nothing to serve (a failure that is not remembered, or the
//!   process died) does one waiter take the lock and run. The lock dies
//!   with its process.
//!
//! Its parts, each using only the ones above it:
//!
//! - `key.rs`: the [`CacheKey`], derived from the fingerprint of the
//!   policy, the request, the environment's values and the
//!   [`component_stamp`] (the component file's identity from its
//!   metadata).
//! - `entry.rs`: the stored [`Entry`] (format v3: a checksum over the key
//!   and the JSON, then the JSON), its credential ([`Stored`]) and its
//!   remembered [`Failure`], and the invariants a sound entry keeps.
//! - `decide.rs`: the state machine, pure: what to do with an entry at a
//!   given time (serve, serve and refresh, fail fast, run) and how a run's
//!   result settles into the next entry and the [`Answer`]. The time is
//!   always an argument: no I/O and no clock in there.
//! - `store.rs`: the [`CredentialCache`]: the entry files, their locks, the
//!   sweep, and the calls that read the clock and tie it all together
//!   ([`CredentialCache::get_or_run`], [`CredentialCache::refresh`]).

mod decide;
mod entry;
mod key;
mod store;

pub use decide::{Answer, Fetched};
pub use entry::{Entry, Failure, Stored};
pub use key::{CacheKey, component_stamp};
pub use store::{Background, CredentialCache, TEMP_MAX_AGE, now_ms};

/// What the tests of every part share: a default policy and credentials
/// that stand for a text.
#[cfg(test)]
mod testing {
    use std::path::Path;

    use super::decide::settle;
    use super::{Answer, Entry, Fetched, now_ms};
    use crate::policy::Policy;
    use crate::validation::Credential;

    pub const FRESH: &str = "{\"Authorization\":\"Bearer fresh\"}\n";

    pub fn policy() -> Policy {
        Policy::for_component(Path::new("h.wasm"))
    }

    /// Test credentials stand for their text: one header carrying it.
    impl From<&str> for Credential {
        fn from(text: &str) -> Credential {
            Credential {
                headers: vec![("X-Text".into(), text.trim_end_matches('\n').into())],
                ..Credential::default()
            }
        }
    }

    impl Answer {
        /// The text a test credential stands for.
        pub fn output(&self) -> String {
            format!("{}\n", self.credential.headers[0].1)
        }
    }

    /// A fetched credential that stands for `text` and expires in
    /// `expires_in` seconds from the system clock.
    pub fn fetched(text: &str, expires_in: Option<u64>) -> Fetched {
        let mut credential = Credential::from(text);
        credential.expires_at = expires_in.map(|s| now_ms() / 1000 + s);
        Ok((credential, expires_in))
    }

    /// The entry of a credential standing for `output`, fetched at `now`.
    pub fn fresh(output: &str, now: u64) -> Entry {
        settle(None, Ok((output.into(), None)), &policy(), now)
            .0
            .unwrap()
    }
}
