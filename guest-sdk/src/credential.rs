//! What a helper hands back.

use std::time::Duration;

/// A credential: HTTP headers, a token, or both, and how long it lasts.
///
/// A plain data type built with chained calls. credbox validates it (header
/// names and values, token syntax, sizes) before printing anything.
///
/// ```
/// use std::time::Duration;
/// use credbox_guest::Credential;
///
/// let credential = Credential::bearer("abc")
///     .header("X-Tenant", "acme")
///     .expires_in(Duration::from_secs(3600));
/// assert_eq!(credential.token.as_deref(), Some("abc"));
/// assert_eq!(credential.headers[0], ("Authorization".into(), "Bearer abc".into()));
/// assert_eq!(credential.expires_in, Some(3600));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credential {
    /// HTTP headers as `(name, value)`, in order; printed as a JSON object
    /// for [`Purpose::Headers`](crate::Purpose::Headers).
    pub headers: Vec<(String, String)>,
    /// A single token; printed for [`Purpose::ApiKey`](crate::Purpose::ApiKey),
    /// and sent as `Authorization: Bearer <token>` for
    /// [`Purpose::Headers`](crate::Purpose::Headers) when there are no
    /// headers.
    pub token: Option<String>,
    /// How many seconds the credential stays valid, when known (credbox
    /// caches it no longer than this).
    pub expires_in: Option<u64>,
}

impl Credential {
    /// An empty credential, to be filled with [`header`](Self::header).
    ///
    /// ```
    /// let credential = credbox_guest::Credential::new().header("X-Api-Key", "k");
    /// assert_eq!(credential.headers, [("X-Api-Key".to_owned(), "k".to_owned())]);
    /// assert_eq!(credential.token, None);
    /// ```
    pub fn new() -> Credential {
        Credential::default()
    }

    /// A bearer token: serves both purposes, as the API key and as the
    /// header `Authorization: Bearer <token>`.
    ///
    /// ```
    /// let credential = credbox_guest::Credential::bearer("abc");
    /// assert_eq!(credential.token.as_deref(), Some("abc"));
    /// assert_eq!(credential.headers, [("Authorization".to_owned(), "Bearer abc".to_owned())]);
    /// ```
    pub fn bearer(token: impl Into<String>) -> Credential {
        let token = token.into();
        Credential::new()
            .header("Authorization", format!("Bearer {token}"))
            .with_token(token)
    }

    /// A token alone, with no headers (credbox still sends it as a bearer
    /// header when headers are asked for).
    ///
    /// ```
    /// let credential = credbox_guest::Credential::token("sk-123");
    /// assert_eq!(credential.token.as_deref(), Some("sk-123"));
    /// assert!(credential.headers.is_empty());
    /// ```
    pub fn token(token: impl Into<String>) -> Credential {
        Credential::new().with_token(token.into())
    }

    /// Appends the header `name: value`.
    ///
    /// ```
    /// let credential = credbox_guest::Credential::new().header("X-A", "1").header("X-B", "2");
    /// assert_eq!(credential.headers[1], ("X-B".to_owned(), "2".to_owned()));
    /// ```
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Credential {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets how long the credential stays valid, in whole seconds (rounded
    /// down).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let credential = credbox_guest::Credential::token("t").expires_in(Duration::from_millis(1999));
    /// assert_eq!(credential.expires_in, Some(1));
    /// ```
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Credential {
        self.expires_in = Some(lifetime.as_secs());
        self
    }

    fn with_token(mut self, token: String) -> Credential {
        self.token = Some(token);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn bearer_sets_the_token_and_the_header() {
        let credential = Credential::bearer(String::from("abc"));
        assert_eq!(credential.token.as_deref(), Some("abc"));
        assert_eq!(credential.headers, [pair("Authorization", "Bearer abc")]);
        assert_eq!(credential.expires_in, None);
    }

    #[test]
    fn headers_are_appended_in_order_even_when_repeated() {
        let credential = Credential::token("t").header("X-A", "1").header("X-A", "2");
        assert_eq!(credential.headers, [pair("X-A", "1"), pair("X-A", "2")]);
        assert_eq!(credential.token.as_deref(), Some("t"));
    }

    #[test]
    fn expiry_rounds_down_to_seconds() {
        let lifetime = |d| Credential::new().expires_in(d).expires_in;
        assert_eq!(lifetime(Duration::from_millis(999)), Some(0));
        assert_eq!(lifetime(Duration::from_secs(60)), Some(60));
    }
}
