//! What a helper hands back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A credential: every part a helper has (HTTP headers, a token, a username
/// with a secret, AWS credentials) and how long it lasts.
///
/// A plain data type built with chained calls. Each [`Client`](crate::Client)
/// takes the part it can use: the headers, else the token as
/// `Authorization: Bearer`, for headers; the token for an API key,
/// Kubernetes and Cargo; the username and secret, else the token, for git
/// and Docker; the AWS part for AWS. credbox validates every part (header
/// names and values, token syntax, sizes), and that the part the client
/// needs is there, before printing anything.
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
    /// for [`Client::Headers`](crate::Client::Headers).
    pub headers: Vec<(String, String)>,
    /// A single token (bearer token, API key); printed for
    /// [`Client::ApiKey`](crate::Client::ApiKey), and sent as
    /// `Authorization: Bearer <token>` for
    /// [`Client::Headers`](crate::Client::Headers) when there are no
    /// headers.
    pub token: Option<String>,
    /// A username with a password or secret (git's basic auth, a Docker
    /// registry login).
    pub user_secret: Option<UserSecret>,
    /// AWS credentials.
    pub aws: Option<AwsCredentials>,
    /// How many seconds the credential stays valid, when known (credbox
    /// caches it no longer than this).
    pub expires_in: Option<u64>,
    /// When the credential stops being valid, in seconds since the Unix
    /// epoch, when known. With [`expires_in`](Self::expires_in) too, the
    /// earlier one counts.
    pub expires_at: Option<u64>,
}

/// A username with a password or secret: see [`Credential::basic`].
///
/// ```
/// let credential = credbox_guest::Credential::basic("alice", "s3cret");
/// let user = credential.user_secret.unwrap();
/// assert_eq!((user.username.as_str(), user.secret.as_str()), ("alice", "s3cret"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSecret {
    /// The username.
    pub username: String,
    /// The password or secret.
    pub secret: String,
}

/// AWS credentials: see [`Credential::aws_credentials`].
///
/// ```
/// let credential = credbox_guest::Credential::aws_credentials("AKIDEXAMPLE", "wJalr", None);
/// let aws = credential.aws.unwrap();
/// assert_eq!(aws.access_key_id, "AKIDEXAMPLE");
/// assert_eq!(aws.session_token, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsCredentials {
    /// The access key id (`AKIA...`, or `ASIA...` for temporary ones).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials (STS).
    pub session_token: Option<String>,
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

    /// A username with a password or secret alone (git's basic auth, a
    /// Docker registry login).
    ///
    /// ```
    /// let credential = credbox_guest::Credential::basic("x-access-token", "ghs_123");
    /// assert_eq!(credential.user_secret.unwrap().username, "x-access-token");
    /// assert_eq!(credential.token, None);
    /// ```
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credential {
        Credential::new().user_secret(username, password)
    }

    /// AWS credentials alone; `session_token` for temporary ones (STS).
    ///
    /// ```
    /// let credential = credbox_guest::Credential::aws_credentials(
    ///     "ASIAEXAMPLE",
    ///     "wJalr",
    ///     Some("FwoGZX".to_owned()),
    /// );
    /// assert_eq!(credential.aws.unwrap().session_token.as_deref(), Some("FwoGZX"));
    /// assert!(credential.headers.is_empty());
    /// ```
    pub fn aws_credentials(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Credential {
        Credential::new().aws(access_key_id, secret_access_key, session_token)
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

    /// Sets the username and secret (replacing any), keeping the other
    /// parts: a credential can serve git and MCP headers at once.
    ///
    /// ```
    /// let credential = credbox_guest::Credential::bearer("t").user_secret("bot", "t");
    /// assert_eq!(credential.token.as_deref(), Some("t"));
    /// assert_eq!(credential.user_secret.unwrap().secret, "t");
    /// ```
    #[must_use]
    pub fn user_secret(
        mut self,
        username: impl Into<String>,
        secret: impl Into<String>,
    ) -> Credential {
        self.user_secret = Some(UserSecret {
            username: username.into(),
            secret: secret.into(),
        });
        self
    }

    /// Sets the AWS credentials (replacing any), keeping the other parts.
    ///
    /// ```
    /// let credential = credbox_guest::Credential::new().aws("AKIDEXAMPLE", "wJalr", None);
    /// assert_eq!(credential.aws.unwrap().secret_access_key, "wJalr");
    /// ```
    #[must_use]
    pub fn aws(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Credential {
        self.aws = Some(AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        });
        self
    }

    /// Sets when the credential stops being valid, in seconds since the
    /// Unix epoch (as in a JWT's `exp`, or AWS's `Expiration`).
    ///
    /// ```
    /// let credential = credbox_guest::Credential::token("t").expires_at(1_767_225_600);
    /// assert_eq!(credential.expires_at, Some(1_767_225_600));
    /// assert_eq!(credential.expires_in, None);
    /// ```
    #[must_use]
    pub fn expires_at(mut self, unix_seconds: u64) -> Credential {
        self.expires_at = Some(unix_seconds);
        self
    }

    /// Sets when the credential stops being valid, as a [`SystemTime`]
    /// (rounded down to whole seconds; a time before the epoch counts as
    /// the epoch, that is, already expired).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let at = UNIX_EPOCH + Duration::from_millis(1_767_225_600_999);
    /// let credential = credbox_guest::Credential::token("t").expires_at_time(at);
    /// assert_eq!(credential.expires_at, Some(1_767_225_600));
    /// ```
    #[must_use]
    pub fn expires_at_time(self, time: SystemTime) -> Credential {
        let seconds = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        self.expires_at(seconds)
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
    fn every_part_can_be_set_on_one_credential() {
        let credential = Credential::bearer("t")
            .user_secret("u", "s")
            .aws("id", "key", Some("session".into()))
            .expires_in(Duration::from_secs(60))
            .expires_at(1_000);
        assert_eq!(credential.headers, [pair("Authorization", "Bearer t")]);
        assert_eq!(credential.token.as_deref(), Some("t"));
        assert_eq!(
            credential.user_secret,
            Some(UserSecret {
                username: "u".into(),
                secret: "s".into()
            })
        );
        assert_eq!(
            credential.aws,
            Some(AwsCredentials {
                access_key_id: "id".into(),
                secret_access_key: "key".into(),
                session_token: Some("session".into()),
            })
        );
        assert_eq!(credential.expires_in, Some(60));
        assert_eq!(credential.expires_at, Some(1_000));
    }

    #[test]
    fn constructors_set_only_their_part() {
        let basic = Credential::basic("u", "p");
        assert_eq!(basic.user_secret.as_ref().unwrap().secret, "p");
        assert_eq!(
            (basic.token, basic.aws, basic.headers.len()),
            (None, None, 0)
        );
        let aws = Credential::aws_credentials("id", "key", None);
        assert_eq!(aws.aws.as_ref().unwrap().access_key_id, "id");
        assert_eq!((aws.token, aws.user_secret), (None, None));
    }

    #[test]
    fn a_time_before_the_epoch_is_already_expired() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(
            Credential::new().expires_at_time(before).expires_at,
            Some(0)
        );
        let after = UNIX_EPOCH + Duration::from_secs(5);
        assert_eq!(Credential::new().expires_at_time(after).expires_at, Some(5));
    }

    #[test]
    fn expiry_rounds_down_to_seconds() {
        let lifetime = |d| Credential::new().expires_in(d).expires_in;
        assert_eq!(lifetime(Duration::from_millis(999)), Some(0));
        assert_eq!(lifetime(Duration::from_secs(60)), Some(60));
    }
}
