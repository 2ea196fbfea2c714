//! What can go wrong in a run, and what each failure means: one home.
//!
//! Every variant maps to an exit code (documented in the book) and a hint
//! that tells the user what to do next; [`Error::is_cacheable`] and
//! [`Error::is_transient`] tell the credential cache whether to remember a
//! failure and whether a stale credential may stand in for it. A guest's
//! failure is classified here too ([`Error::from_guest_failure`],
//! [`Error::from_helper`], [`Error::is_explained_by_denial`]), so the
//! cache, the guest runner and the binary ask this module instead of
//! matching kinds themselves.
//!
//! Messages never contain secret values: anything that came from the guest
//! passes through a [`Redactor`] on its way in.

use std::time::Duration;

use wasmtime::Trap;
use wasmtime::component::ResourceTableError;
use wasmtime_wasi::I32Exit;

use crate::redact::{MAX_LINE, Redactor};
use crate::units::{first_line, format_duration, format_seconds, format_size};

/// Longest message taken from a helper's error, in bytes.
const MAX_MESSAGE_LEN: usize = 512;
/// Longest URL taken from a refused request, in bytes.
const MAX_URL_LEN: usize = 256;

/// Why `credbox run` did not print a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line, manifest or component is unusable.
    #[error("{0}")]
    Usage(String),
    /// The helper says its configuration is missing or wrong.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The helper is `misconfigured` for want of the state it keeps (it
    /// looked for it and found none): the user must run `credbox login`.
    /// Exit code 3, as `misconfigured`.
    #[error("misconfigured: {message}")]
    LoginNeeded {
        /// The helper's message, redacted.
        message: String,
        /// The manifest to log in with, as the command line named it.
        manifest: String,
    },
    /// The provider refused the helper's secret (HTTP 401/403).
    #[error("denied: {0}")]
    Denied(String),
    /// The provider could not be reached: a transient failure.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The helper has no credential for what was asked (another registry,
    /// host or cluster): each client protocol's own "not found".
    #[error("not found: {0}")]
    NotFound(String),
    /// The helper executed more instructions than its fuel budget.
    #[error("fuel exhausted after {0} instructions")]
    FuelExhausted(u64),
    /// The helper did not finish before its wall-clock deadline.
    #[error("deadline of {} exceeded", format_duration(*.0))]
    DeadlineExceeded(Duration),
    /// Compiling the component did not finish within the run's deadline
    /// (exit code 6): it must be compiled ahead of time with `credbox
    /// build`.
    #[error("compiling the component did not finish within the deadline of {}", format_duration(*.0))]
    CompileTimeout(Duration),
    /// The helper held more host resources (`wasi:http` fields, requests,
    /// bodies, streams...) at once than credbox allows.
    #[error(
        "held more than {0} host resources at once (wasi:http fields, requests, bodies, streams)"
    )]
    ResourcesExceeded(usize),
    /// The helper tried to grow its memory beyond the cap.
    #[error("memory limit {} exceeded", format_size(*.0))]
    MemoryExceeded(u64),
    /// The helper returned a credential that cannot be printed safely.
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    /// The helper crashed: a trap, a panic, or an exit instead of a return.
    #[error("{0}")]
    HelperFailed(String),
    /// The helper returned an `other` error: a failure it could not put in
    /// a class (such as an answer it could not read). Exit code 8, as a
    /// crash.
    #[error("failed: {0}")]
    HelperError(String),
    /// The helper failed after credbox refused one of its network requests
    /// (exit code 9): the refusal is the likely cause, so it is what is
    /// reported.
    #[error("request to {url} denied")]
    RequestDenied {
        /// The refused origin (`scheme://host[:port]`: never a path, query
        /// or user info), redacted.
        url: String,
        /// Why, shown as the hint: `not in [network] allow`, or the
        /// private address the name resolved to.
        reason: String,
    },
    /// A recent failure, remembered: the helper was not run again.
    #[error("{message}")]
    CachedFailure {
        /// The original error's message.
        message: String,
        /// The original error's exit code.
        exit_code: u8,
        /// What the original error said to do (`run: credbox login …`),
        /// kept with it; empty in records older than it.
        hint: String,
        /// When the helper will be run again.
        retry_in: Duration,
    },
    /// credbox's environment is unusable: no home directory to keep the
    /// cache in, a cache directory that cannot be created or is not safe
    /// to trust. Exit code 2, as a usage error; the hint says what to set
    /// or change.
    #[error("{message}")]
    Environment {
        /// What is wrong, with the path or variable concerned.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// A bug in credbox itself.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The exit code of [`Error::NotFound`].
const NOT_FOUND_EXIT: u8 = 10;

impl Error {
    /// The one line that reports this error about `subject` (a helper's
    /// name, a manifest's path, `routes`): `credbox: SUBJECT: MESSAGE
    /// (HINT)`, the subject cut to 128 bytes and the whole escaped and cut
    /// to one line (names and paths come from manifests; a run's messages
    /// are redacted already, see [`crate::run`]).
    pub fn report(&self, subject: &str) -> String {
        let message = format!("{self} ({})", self.hint());
        format!(
            "credbox: {}: {}",
            crate::redact::one_line(subject, 128),
            crate::redact::one_line(&message, MAX_LINE)
        )
    }

    /// Whether this is the helper's "not mine" (its `not-found`, or one
    /// the cache remembers): each client protocol then answers its own
    /// "not mine", so that the client asks elsewhere.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound(_) => true,
            Error::CachedFailure { exit_code, .. } => *exit_code == NOT_FOUND_EXIT,
            _ => false,
        }
    }

    /// The process exit code for this error (the table in the book,
    /// `docs/src/exit-codes.md`, which a test holds to this).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Internal(_) => 1,
            Error::Usage(_) | Error::Environment { .. } => 2,
            Error::Misconfigured(_) | Error::LoginNeeded { .. } => 3,
            Error::Denied(_) => 4,
            Error::Unavailable(_) => 5,
            Error::FuelExhausted(_)
            | Error::DeadlineExceeded(_)
            | Error::CompileTimeout(_)
            | Error::ResourcesExceeded(_)
            | Error::MemoryExceeded(_) => 6,
            Error::InvalidOutput(_) => 7,
            Error::HelperFailed(_) | Error::HelperError(_) => 8,
            Error::RequestDenied { .. } => 9,
            Error::NotFound(_) => NOT_FOUND_EXIT,
            Error::CachedFailure { exit_code, .. } => *exit_code,
        }
    }

    /// What the user should do about it, shown in parentheses after the
    /// message.
    pub fn hint(&self) -> String {
        let hint = match self {
            Error::Usage(_) => {
                "fix the command line or manifest; see `credbox run --help` and the README"
            }
            Error::Misconfigured(_) => {
                "add it to the manifest's [config] or [env] allow; retrying will not help"
            }
            Error::Denied(_) => "the provider refused the secret: check or renew it",
            Error::Unavailable(_) => "transient: check the network or VPN and try again",
            Error::NotFound(_) => {
                "this helper has no credential for it: point the client (or a route) at the helper that has"
            }
            Error::FuelExhausted(_) => {
                "the helper looped or worked too hard; raise [limits] fuel or --fuel if it is legitimate"
            }
            Error::DeadlineExceeded(_) => {
                "the helper hung or the network stalled; raise [limits] timeout or --timeout if it is legitimate"
            }
            Error::CompileTimeout(_) => {
                "compile it ahead of time: run `credbox build <manifest>` once after each update of the helper"
            }
            Error::ResourcesExceeded(_) => {
                "the helper leaks wasi:http handles; report it to its author"
            }
            Error::MemoryExceeded(_) => {
                "raise [limits] memory or --memory if the helper really needs more"
            }
            Error::InvalidOutput(_) => "nothing was printed; report this to the helper's author",
            Error::HelperFailed(_) => {
                "the helper crashed; run with --verbose and report it to its author"
            }
            Error::HelperError(_) => {
                "run with --verbose to see the helper's log; report it to its author if it persists"
            }
            Error::Internal(_) => "this is a credbox bug; please report it",
            Error::RequestDenied { reason, .. } => return reason.clone(),
            Error::LoginNeeded { manifest, .. } => {
                return format!("run: credbox login {manifest}");
            }
            Error::Environment { hint, .. } => return hint.clone(),
            Error::CachedFailure { retry_in, hint, .. } => {
                let secs = u64::try_from(retry_in.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
                let cached = format!(
                    "cached failure, next try in {}; `credbox cache clear` to retry now",
                    format_seconds(secs)
                );
                return match hint.is_empty() {
                    true => cached,
                    false => format!("{hint}; {cached}"),
                };
            }
        };
        hint.to_owned()
    }

    /// Whether the credential cache remembers this failure (and answers
    /// calls within its backoff with it): those a retry within seconds
    /// would repeat. Usage and internal errors are credbox's own, instant,
    /// and fixed by the user, not by waiting.
    pub fn is_cacheable(&self) -> bool {
        !matches!(
            self,
            Error::Usage(_)
                | Error::Environment { .. }
                | Error::Internal(_)
                | Error::CachedFailure { .. }
                | Error::CompileTimeout(_)
        )
    }

    /// Whether the failure is transient (the provider unreachable, or the
    /// run out of time), so that a credential past its expiry may stand in
    /// for `[cache] stale_if_error`.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::DeadlineExceeded(_))
    }

    /// Whether a refused network request is the likely cause of this
    /// failure, so that the refusal is reported instead
    /// ([`Error::request_denied`]). Limits exceeded stay as they are.
    pub fn is_explained_by_denial(&self) -> bool {
        matches!(
            self,
            Error::Misconfigured(_)
                | Error::LoginNeeded { .. }
                | Error::Denied(_)
                | Error::Unavailable(_)
                | Error::HelperError(_)
                | Error::HelperFailed(_)
        )
    }

    /// The same error with every piece of text in it passed through
    /// `redactor` ([`Redactor::line`]): secrets masked, one line, at most
    /// [`MAX_LINE`] bytes. Every error a run returns goes through this
    /// (see [`crate::run`]), so a message that quotes what a helper chose
    /// (a header name, a host) cannot carry a secret to stderr or to the
    /// cache's failure record.
    pub fn redacted(self, redactor: &Redactor) -> Error {
        let r = |text: String| redactor.line(&text, MAX_LINE);
        match self {
            Error::Usage(m) => Error::Usage(r(m)),
            Error::Misconfigured(m) => Error::Misconfigured(r(m)),
            Error::LoginNeeded { message, manifest } => Error::LoginNeeded {
                message: r(message),
                manifest: r(manifest),
            },
            Error::Denied(m) => Error::Denied(r(m)),
            Error::Unavailable(m) => Error::Unavailable(r(m)),
            Error::NotFound(m) => Error::NotFound(r(m)),
            Error::InvalidOutput(m) => Error::InvalidOutput(r(m)),
            Error::HelperFailed(m) => Error::HelperFailed(r(m)),
            Error::HelperError(m) => Error::HelperError(r(m)),
            Error::Internal(m) => Error::Internal(r(m)),
            Error::Environment { message, hint } => Error::Environment {
                message: r(message),
                hint: r(hint),
            },
            Error::RequestDenied { url, reason } => Error::RequestDenied {
                url: redactor.line(&url, MAX_URL_LEN),
                reason: r(reason),
            },
            Error::CachedFailure {
                message,
                exit_code,
                hint,
                retry_in,
            } => Error::CachedFailure {
                message: r(message),
                exit_code,
                hint: r(hint),
                retry_in,
            },
            e @ (Error::FuelExhausted(_)
            | Error::DeadlineExceeded(_)
            | Error::CompileTimeout(_)
            | Error::ResourcesExceeded(_)
            | Error::MemoryExceeded(_)) => e,
        }
    }

    /// A refused request (exit code 9): `url` and `reason` came from the
    /// guest's request, so they are redacted and the URL capped.
    pub fn request_denied(url: &str, reason: &str, redactor: &Redactor) -> Error {
        Error::RequestDenied {
            url: redactor.line(url, MAX_URL_LEN),
            reason: redactor.line(reason, MAX_LINE),
        }
    }

    /// A helper's own error of `kind`, its message redacted and capped
    /// (only its first [`MAX_MESSAGE_LEN`] bytes, and the longest secret's
    /// length past them, are read).
    pub fn from_helper(kind: HelperErrorKind, message: &str, redactor: &Redactor) -> Error {
        let message = redactor.line(message, MAX_MESSAGE_LEN);
        match kind {
            HelperErrorKind::Misconfigured => Error::Misconfigured(message),
            HelperErrorKind::Denied => Error::Denied(message),
            HelperErrorKind::Unavailable => Error::Unavailable(message),
            HelperErrorKind::NotFound => Error::NotFound(message),
            HelperErrorKind::Other => Error::HelperError(message),
        }
    }

    /// Classifies a guest whose wasm side failed: a memory cap refused,
    /// fuel run out, a panic (its message read from what the guest wrote
    /// to stderr), another trap, an exit instead of a return, or an error
    /// while linking or running.
    pub fn from_guest_failure(failure: GuestFailure<'_>, redactor: &Redactor) -> Error {
        let GuestFailure {
            error,
            instantiating,
            memory_cap_hit,
            stderr,
            fuel,
            memory,
            resources,
        } = failure;
        if memory_cap_hit {
            return Error::MemoryExceeded(memory);
        }
        if let Some(ResourceTableError::Full) = error.downcast_ref::<ResourceTableError>() {
            return Error::ResourcesExceeded(resources);
        }
        if let Some(trap) = error.downcast_ref::<Trap>() {
            if *trap == Trap::OutOfFuel {
                return Error::FuelExhausted(fuel);
            }
            if let Some(message) = panic_message(stderr) {
                return Error::HelperFailed(format!(
                    "panicked: {}",
                    redactor.line(&message, MAX_MESSAGE_LEN)
                ));
            }
            let what = trap.to_string();
            return Error::HelperFailed(format!(
                "crashed: {}",
                what.trim_start_matches("wasm trap: ")
            ));
        }
        if let Some(exit) = error.downcast_ref::<I32Exit>() {
            return Error::HelperFailed(format!(
                "exited with status {} instead of returning",
                exit.0
            ));
        }
        let during = if instantiating { "starting" } else { "running" };
        Error::HelperFailed(format!(
            "failed while {during}: {}",
            redactor.line(&first_line(&error), MAX_MESSAGE_LEN)
        ))
    }
}

/// The kinds of error a helper may return (the WIT `error` variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperErrorKind {
    /// `misconfigured`: exit 3, remembered, never stale.
    Misconfigured,
    /// `denied`: exit 4.
    Denied,
    /// `unavailable`: exit 5, transient.
    Unavailable,
    /// `not-found` (0.2.0): exit 10, remembered.
    NotFound,
    /// `other`: exit 8.
    Other,
}

/// What is known about a guest whose wasm side failed (a trap, an exit, a
/// link error), for [`Error::from_guest_failure`].
pub struct GuestFailure<'a> {
    /// wasmtime's error.
    pub error: wasmtime::Error,
    /// Whether it happened while instantiating, before `fetch` ran.
    pub instantiating: bool,
    /// Whether the memory limiter refused a growth during the run.
    pub memory_cap_hit: bool,
    /// What the guest wrote to stderr (captured, capped, secrets already
    /// masked by [`Redactor::mask`]).
    pub stderr: &'a str,
    /// The run's fuel budget, for the message.
    pub fuel: u64,
    /// The run's memory cap in bytes, for the message.
    pub memory: u64,
    /// The most host resources the guest may hold, for the message.
    pub resources: usize,
}

/// The message of a Rust panic, from what the guest wrote to stderr:
/// `thread '…' panicked at src/lib.rs:5:5:` followed by the message.
/// `stderr` is the capped capture, so this is bounded too.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at "));
    let location = lines.next()?;
    let message = lines.next().unwrap_or_default().trim();
    let place = location
        .split("panicked at ")
        .nth(1)
        .map(|p| p.trim_end_matches(':'))
        .unwrap_or_default();
    Some(format!("{message} (at {place})"))
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_per_class() {
        let errors = [
            Error::Internal(String::new()),
            Error::Usage(String::new()),
            Error::Misconfigured(String::new()),
            Error::Denied(String::new()),
            Error::Unavailable(String::new()),
            Error::FuelExhausted(1),
            Error::InvalidOutput(String::new()),
            Error::HelperFailed(String::new()),
            Error::RequestDenied {
                url: String::new(),
                reason: String::new(),
            },
        ];
        let mut codes: Vec<u8> = errors.iter().map(Error::exit_code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert!(!codes.contains(&0));
    }

    #[test]
    fn denied_requests_name_the_origin_and_the_reason() {
        let error = Error::RequestDenied {
            url: "https://evil.example".into(),
            reason: "not in [network] allow".into(),
        };
        assert_eq!(
            format!("{error} ({})", error.hint()),
            "request to https://evil.example denied (not in [network] allow)"
        );
        assert_eq!(error.exit_code(), 9);
    }

    #[test]
    fn panic_messages_are_found_in_rust_panic_output() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:5:5:\nhelper exploded\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("helper exploded (at src/lib.rs:5:5)")
        );
        assert_eq!(panic_message("just a line\n"), None);
    }

    #[test]
    fn a_refused_request_explains_the_failures_a_refusal_can_cause() {
        let redactor = Redactor::new(["s3cr3t-token"]);
        let err = Error::request_denied(
            "https://s3cr3t-token.evil.example",
            "not in [network] allow",
            &redactor,
        );
        assert_eq!(
            format!("{err} ({})", err.hint()),
            "request to https://[redacted].evil.example denied (not in [network] allow)"
        );
        for explained in [
            Error::Unavailable("no network".into()),
            Error::HelperFailed("crashed".into()),
            Error::Misconfigured("x".into()),
            Error::Denied("x".into()),
            Error::HelperError("x".into()),
        ] {
            assert!(explained.is_explained_by_denial(), "{explained}");
        }
        for kept in [
            Error::FuelExhausted(1),
            Error::DeadlineExceeded(Duration::from_secs(1)),
            Error::MemoryExceeded(1 << 20),
            Error::InvalidOutput("x".into()),
        ] {
            assert!(
                !kept.is_explained_by_denial(),
                "limits stay as they are: {kept}"
            );
        }
    }

    #[test]
    fn what_the_cache_remembers_and_what_is_transient() {
        assert!(!Error::Usage("x".into()).is_cacheable());
        assert!(!Error::Internal("x".into()).is_cacheable());
        assert!(Error::Misconfigured("x".into()).is_cacheable());
        assert!(Error::Unavailable("x".into()).is_cacheable());
        assert!(Error::Unavailable("x".into()).is_transient());
        assert!(Error::DeadlineExceeded(Duration::from_secs(1)).is_transient());
        assert!(!Error::Denied("x".into()).is_transient());
        assert!(!Error::Misconfigured("x".into()).is_transient());
    }

    #[test]
    fn helper_errors_keep_their_kind_and_lose_their_secrets() {
        let redactor = Redactor::new(["hunter2-password"]);
        let long = format!("hunter2-password {}", "x".repeat(2000));
        let err = Error::from_helper(HelperErrorKind::Denied, &long, &redactor);
        assert_eq!(err.exit_code(), 4);
        let text = err.to_string();
        assert!(text.starts_with("denied: [redacted] xxx"), "{text}");
        assert!(text.len() <= "denied: ".len() + MAX_MESSAGE_LEN + "…".len());
        assert_eq!(
            Error::from_helper(HelperErrorKind::Other, "x", &redactor).exit_code(),
            8
        );
    }

    #[test]
    fn cached_failures_say_when_the_helper_runs_again() {
        let hint = |ms| {
            Error::CachedFailure {
                message: String::new(),
                exit_code: 5,
                hint: String::new(),
                retry_in: Duration::from_millis(ms),
            }
            .hint()
        };
        assert!(hint(4_200).starts_with("cached failure, next try in 5s;"));
        assert!(hint(90_000).starts_with("cached failure, next try in 1m30s;"));
        // The original's hint leads: a login needed stays a login needed.
        let login = Error::CachedFailure {
            message: "misconfigured: not logged in".into(),
            exit_code: 3,
            hint: "run: credbox login /h/credbox.toml".into(),
            retry_in: Duration::from_secs(5),
        };
        assert_eq!(
            login.hint(),
            "run: credbox login /h/credbox.toml; cached failure, next try in 5s; \
             `credbox cache clear` to retry now"
        );
    }

    #[test]
    fn limit_messages_name_the_limit() {
        assert_eq!(
            Error::DeadlineExceeded(Duration::from_secs(5)).to_string(),
            "deadline of 5s exceeded"
        );
        assert_eq!(
            Error::MemoryExceeded(64 << 20).to_string(),
            "memory limit 64 MiB exceeded"
        );
        assert_eq!(
            Error::FuelExhausted(1_000_000_000).to_string(),
            "fuel exhausted after 1000000000 instructions"
        );
    }
}
