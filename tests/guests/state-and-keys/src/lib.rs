//! Calls credbox's `state`, `keys` and `user` imports and reports what
//! each call answered as headers, so host tests can assert the behaviour
//! of each import (and of its bounds) through `credbox run`.
//!
//! An answer is `ok`, a value, `none`, or `error:<kind>` (the WIT case
//! name: `error:misconfigured`, ...). Headers only, no token.
//!
//! `fetch`, in this order, driven by configuration:
//! 1. `STATE_FILL=<n>`: sets the names `fill-1` to `fill-<n>` to `x`;
//!    `X-State-Fill: ok`, or `error:<kind>@<i>` for the first that failed.
//! 2. `STATE_SET=<value>`, or `STATE_SET_BYTES=<n>` (that many `v`s): sets
//!    `STATE_NAME` (default `probe`); `X-State-Set`.
//! 3. `STATE_DELETE` (any value): deletes `STATE_NAME`; `X-State-Delete`.
//! 4. Always: gets `STATE_NAME`; `X-State-Get` (an empty value is `""`).
//! 5. `KEY=<name>`: `X-Key-Algorithm` (`hmac-sha256`, `es256`, `ed25519`),
//!    `X-Key-Id` and `X-Key-Public` (hex) from `keys::info`; then signs
//!    `SIGN_DATA` (default `credbox`), or `SIGN_BYTES=<n>` bytes of `s`,
//!    with `SIGN_ALG` (default: the key's algorithm, else `hmac-sha256`):
//!    `X-Sign` is the signature in hex.
//! 6. Always: `user::show(SHOW)` (default `hello from fetch`); `X-Show`
//!    (outside `credbox login` credbox refuses it as `misconfigured`).
//!
//! `login` shows `LOGIN_MESSAGE` (default `credbox test login: open
//! https://example.test/device`), then sets `LOGIN_STATE_NAME` (default
//! `login`) to `LOGIN_STATE_VALUE` (default `done`), and fails with the
//! first error.

use credbox_guest::keys::{self, Algorithm};
use credbox_guest::{Credential, Error, Helper, Request, config, state, user};

struct StateAndKeys;

impl Helper for StateAndKeys {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let mut credential = Credential::new();
        let mut report = |name: &str, answer: String| {
            credential = std::mem::take(&mut credential).header(name, answer);
        };

        if let Some(count) = number("STATE_FILL")? {
            let failed = (1..=count).find_map(|i| {
                state::set(&format!("fill-{i}"), "x")
                    .err()
                    .map(|e| format!("{}@{i}", failure(&e)))
            });
            report("X-State-Fill", failed.unwrap_or_else(|| "ok".to_owned()));
        }

        let name = config("STATE_NAME").unwrap_or_else(|| "probe".to_owned());
        let value = match number("STATE_SET_BYTES")? {
            Some(bytes) => Some("v".repeat(bytes)),
            None => config("STATE_SET"),
        };
        if let Some(value) = value {
            report("X-State-Set", done(state::set(&name, &value)));
        }
        if config("STATE_DELETE").is_some() {
            report("X-State-Delete", done(state::delete(&name)));
        }
        report(
            "X-State-Get",
            match state::get(&name) {
                Ok(Some(value)) if value.is_empty() => "\"\"".to_owned(),
                Ok(Some(value)) => value,
                Ok(None) => "none".to_owned(),
                Err(error) => failure(&error),
            },
        );

        if let Some(key) = config("KEY") {
            let info = keys::info(&key);
            let algorithm = match config("SIGN_ALG") {
                Some(name) => parse_algorithm(&name)?,
                None => info
                    .as_ref()
                    .map_or(Algorithm::HmacSha256, |info| info.algorithm),
            };
            match info {
                Ok(info) => {
                    report("X-Key-Algorithm", algorithm_name(info.algorithm).to_owned());
                    report("X-Key-Id", info.key_id.unwrap_or_else(|| "none".to_owned()));
                    report(
                        "X-Key-Public",
                        info.public_key
                            .map_or_else(|| "none".to_owned(), |key| keys::hex(&key)),
                    );
                }
                Err(error) => report("X-Key-Algorithm", failure(&error)),
            }
            let data = match number("SIGN_BYTES")? {
                Some(bytes) => vec![b's'; bytes],
                None => config("SIGN_DATA")
                    .unwrap_or_else(|| "credbox".to_owned())
                    .into_bytes(),
            };
            report(
                "X-Sign",
                match keys::sign(&key, algorithm, &data) {
                    Ok(signature) => keys::hex(&signature),
                    Err(error) => failure(&error),
                },
            );
        }

        let message = config("SHOW").unwrap_or_else(|| "hello from fetch".to_owned());
        report("X-Show", done(user::show(&message)));
        Ok(credential)
    }

    fn login() -> Result<(), Error> {
        let message = config("LOGIN_MESSAGE")
            .unwrap_or_else(|| "credbox test login: open https://example.test/device".to_owned());
        user::show(&message)?;
        let name = config("LOGIN_STATE_NAME").unwrap_or_else(|| "login".to_owned());
        let value = config("LOGIN_STATE_VALUE").unwrap_or_else(|| "done".to_owned());
        state::set(&name, &value)
    }
}

/// `ok`, or the error's kind.
fn done(result: Result<(), Error>) -> String {
    result.map_or_else(|e| failure(&e), |()| "ok".to_owned())
}

/// `error:<kind>`.
fn failure(error: &Error) -> String {
    format!("error:{}", error.kind())
}

/// The config value `name` as a count.
fn number(name: &str) -> Result<Option<usize>, Error> {
    config(name)
        .map(|value| {
            value
                .parse()
                .map_err(|_| Error::misconfigured(format!("{name} is not a number")))
        })
        .transpose()
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HmacSha256 => "hmac-sha256",
        Algorithm::Es256 => "es256",
        Algorithm::Ed25519 => "ed25519",
    }
}

fn parse_algorithm(name: &str) -> Result<Algorithm, Error> {
    [Algorithm::HmacSha256, Algorithm::Es256, Algorithm::Ed25519]
        .into_iter()
        .find(|&algorithm| algorithm_name(algorithm) == name)
        .ok_or_else(|| Error::misconfigured(format!("SIGN_ALG {name} is not an algorithm")))
}

credbox_guest::export!(StateAndKeys);
