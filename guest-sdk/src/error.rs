//! Why a helper could not produce a credential.

use std::fmt;

/// Why a helper could not produce a credential: a [kind](ErrorKind) that
/// tells credbox (and the user) what to do next, and a message.
///
/// ```
/// use credbox_guest::{Error, ErrorKind};
///
/// let error = Error::unavailable("auth.example.com: connection refused");
/// assert_eq!(error.kind(), ErrorKind::Unavailable);
/// assert_eq!(error.to_string(), "unavailable: auth.example.com: connection refused");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The kinds of [`Error`], one per case of the WIT `error` variant.
///
/// ```
/// use credbox_guest::ErrorKind;
///
/// assert_eq!(ErrorKind::Denied.to_string(), "denied");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A secret or setting is missing or wrong, or the helper has not
    /// logged in: fix the configuration (or run `credbox login`); retrying
    /// will not help.
    Misconfigured,
    /// The provider refused (HTTP 401/403): the secret is wrong or revoked.
    Denied,
    /// The provider could not be reached (network down, VPN off, timeout):
    /// transient, worth retrying later.
    Unavailable,
    /// This helper has no credential for what was asked (another registry,
    /// host or cluster): each client's own "not found", so the client can
    /// try its next helper.
    NotFound,
    /// Anything else.
    Other,
}

impl Error {
    /// A secret or setting is missing or wrong.
    ///
    /// ```
    /// let error = credbox_guest::Error::misconfigured("TOKEN_URL is not a URL");
    /// assert_eq!(error.message(), "TOKEN_URL is not a URL");
    /// ```
    pub fn misconfigured(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Misconfigured, message)
    }

    /// The provider refused the secret.
    ///
    /// ```
    /// let error = credbox_guest::Error::denied("token endpoint answered 401");
    /// assert_eq!(error.kind(), credbox_guest::ErrorKind::Denied);
    /// ```
    pub fn denied(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Denied, message)
    }

    /// The provider could not be reached; worth retrying later.
    ///
    /// ```
    /// let error = credbox_guest::Error::unavailable("timed out");
    /// assert_eq!(error.kind(), credbox_guest::ErrorKind::Unavailable);
    /// ```
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unavailable, message)
    }

    /// This helper has no credential for what was asked (another registry,
    /// host or cluster).
    ///
    /// ```
    /// let error = credbox_guest::Error::not_found("no token for git.other.example");
    /// assert_eq!(error.kind(), credbox_guest::ErrorKind::NotFound);
    /// assert_eq!(error.to_string(), "not-found: no token for git.other.example");
    /// ```
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Any other failure.
    ///
    /// ```
    /// let error = credbox_guest::Error::other("unexpected response");
    /// assert_eq!(error.kind(), credbox_guest::ErrorKind::Other);
    /// ```
    pub fn other(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Other, message)
    }

    /// What kind of failure this is.
    ///
    /// ```
    /// use credbox_guest::{Error, ErrorKind};
    ///
    /// let retry = |e: &Error| e.kind() == ErrorKind::Unavailable;
    /// assert!(!retry(&Error::denied("no")));
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, as the helper wrote it.
    ///
    /// ```
    /// assert_eq!(credbox_guest::Error::other("boom").message(), "boom");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// Splits the error for conversion to the WIT type.
    pub(crate) fn into_parts(self) -> (ErrorKind, String) {
        (self.kind, self.message)
    }
}

impl fmt::Display for Error {
    /// `<kind>: <message>`, as credbox reports it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl fmt::Display for ErrorKind {
    /// The WIT case name: `misconfigured`, `denied`, `unavailable`,
    /// `not-found`, `other`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Misconfigured => "misconfigured",
            ErrorKind::Denied => "denied",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Other => "other",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_kind_and_message() {
        for (error, kind) in [
            (Error::misconfigured("a"), ErrorKind::Misconfigured),
            (Error::denied("a"), ErrorKind::Denied),
            (Error::unavailable("a"), ErrorKind::Unavailable),
            (Error::not_found("a"), ErrorKind::NotFound),
            (Error::other("a"), ErrorKind::Other),
        ] {
            assert_eq!(error.kind(), kind);
            assert_eq!(error.message(), "a");
        }
    }

    #[test]
    fn display_shows_kind_then_message() {
        assert_eq!(
            Error::misconfigured("missing config X").to_string(),
            "misconfigured: missing config X"
        );
        assert_eq!(Error::other(String::from("x")).to_string(), "other: x");
        assert_eq!(Error::not_found("x").to_string(), "not-found: x");
    }
}
