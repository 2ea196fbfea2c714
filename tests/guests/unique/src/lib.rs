//! A well-behaved helper whose every run is visible: it logs `fetching` and
//! returns a token no other run returns. The cache tests drive it through
//! config:
//!
//! - `SLEEP_MS`: work this long first (so concurrent callers overlap);
//! - `FAIL_AFTER_MS`: from this Unix time on, fail instead;
//! - `FAIL_KIND`: how to fail: `unavailable` (default), `denied`,
//!   `misconfigured`;
//! - `EXPIRES_IN`: the token's lifetime in seconds.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credbox_guest::{Credential, Error, Helper, Request, config};

struct Unique;

fn number(name: &str) -> Option<u64> {
    config(name).and_then(|v| v.parse().ok())
}

impl Helper for Unique {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        credbox_guest::log::info("fetching");
        if let Some(ms) = number("SLEEP_MS") {
            std::thread::sleep(Duration::from_millis(ms));
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        if number("FAIL_AFTER_MS").is_some_and(|t| now_ms >= t) {
            let message = "token endpoint down";
            return Err(match config("FAIL_KIND").as_deref() {
                Some("denied") => Error::denied(message),
                Some("misconfigured") => Error::misconfigured(message),
                _ => Error::unavailable(message),
            });
        }
        // Seeded from wasi:random, so every run differs.
        let token = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let mut credential = Credential::bearer(format!("tok-{token:016x}"));
        if let Some(secs) = number("EXPIRES_IN") {
            credential = credential.expires_in(Duration::from_secs(secs));
        }
        Ok(credential)
    }
}

credbox_guest::export!(Unique);
