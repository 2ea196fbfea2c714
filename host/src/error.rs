//! What can go wrong in a run, as one typed enum.
//!
//! Every variant maps to an exit code (documented in the README) and a hint
//! that tells the user what to do next. Messages never contain secret
//! values: anything that came from the guest is redacted before it gets
//! here (see [`crate::redact`]).

use std::time::Duration;

use crate::policy::limits::{format_duration, format_size};

/// Why `credbox run` did not print a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line, manifest or component is unusable.
    #[error("{0}")]
    Usage(String),
    /// The helper says its configuration is missing or wrong.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The provider refused the helper's secret (HTTP 401/403).
    #[error("denied: {0}")]
    Denied(String),
    /// The provider could not be reached: a transient failure.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The helper executed more instructions than its fuel budget.
    #[error("fuel exhausted after {0} instructions")]
    FuelExhausted(u64),
    /// The helper did not finish before its wall-clock deadline.
    #[error("deadline of {} exceeded", format_duration(*.0))]
    DeadlineExceeded(Duration),
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
        /// When the helper will be run again.
        retry_in: Duration,
    },
    /// A bug or an environment problem in credbox itself.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error (see the README's table).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Internal(_) => 1,
            Error::Usage(_) => 2,
            Error::Misconfigured(_) => 3,
            Error::Denied(_) => 4,
            Error::Unavailable(_) => 5,
            Error::FuelExhausted(_) | Error::DeadlineExceeded(_) | Error::MemoryExceeded(_) => 6,
            Error::InvalidOutput(_) => 7,
            Error::HelperFailed(_) | Error::HelperError(_) => 8,
            Error::RequestDenied { .. } => 9,
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
            Error::FuelExhausted(_) => {
                "the helper looped or worked too hard; raise [limits] fuel or --fuel if it is legitimate"
            }
            Error::DeadlineExceeded(_) => {
                "the helper hung or the network stalled; raise [limits] timeout or --timeout if it is legitimate"
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
            Error::CachedFailure { retry_in, .. } => {
                return format!(
                    "cached failure, next try in {}s; `credbox cache clear` to retry now",
                    retry_in.as_millis().div_ceil(1000)
                );
            }
        };
        hint.to_owned()
    }
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
