//! Validation: nothing reaches stdout until the whole credential passes.
//!
//! Claude Code sends `headersHelper` output as HTTP headers and the
//! `apiKeyHelper` output as `x-api-key` and `Authorization: Bearer`. A value
//! with CR/LF could inject headers; a bad name makes the client throw; an
//! oversized one is refused by servers; a framing or hop-by-hop header
//! (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection`, ...) is the
//! HTTP client's business, and a helper that sets one could smuggle a
//! request. Every check here rejects the whole credential with a message
//! that names the header but never its value. The name is the helper's
//! text, so the message passes the run's redactor on its way out (see
//! [`crate::error::Error::redacted`]).

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::guest::RawCredential;
use crate::request::Client;

/// Most headers a credential may carry.
pub const MAX_HEADERS: usize = 64;
/// Longest header value (servers commonly refuse header lines over 8 KiB).
pub const MAX_VALUE_LEN: usize = 8 << 10;
/// Most bytes of names and values together.
pub const MAX_TOTAL_LEN: usize = 16 << 10;
/// Longest header name.
pub const MAX_NAME_LEN: usize = 256;
/// Longest API key.
pub const MAX_KEY_LEN: usize = 8 << 10;

/// Headers a client must never be told to send: the message framing
/// (RFC 9112 section 6), the target's host, and the hop-by-hop fields of
/// RFC 9110 section 7.6.1 (with the legacy ones clients still honour).
pub const REFUSED_HEADERS: [&str; 11] = [
    "Host",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Expect",
    "Keep-Alive",
    "Proxy-Connection",
    "HTTP2-Settings",
];

/// Longest username (git, a registry login).
pub const MAX_USERNAME_LEN: usize = 256;
/// Longest AWS access key id (AWS documents at most 128 characters).
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;

/// A username with a password or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSecret {
    /// The username.
    pub username: String,
    /// The password, secret or token.
    pub secret: String,
}

/// AWS credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

/// A credential that passed validation: every part it has is well-formed.
/// This is what the cache stores and every client renders (each takes the
/// part it can use; see [`needed_part`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// HTTP headers, in order.
    pub headers: Vec<(String, String)>,
    /// A single token.
    pub token: Option<String>,
    /// A username with a secret.
    pub user_secret: Option<UserSecret>,
    /// AWS credentials.
    pub aws: Option<AwsCredentials>,
    /// When it stops being valid (Unix seconds), when the helper said.
    pub expires_at: Option<u64>,
}

impl Credential {
    /// The value of the helper's own `Proxy-Authorization` header (any
    /// case), when it gave one.
    pub fn proxy_authorization(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, value)| value.as_str())
    }
}

/// Checks `raw` and makes it a [`Credential`] for `client`, at `now` (Unix
/// seconds): every part it has must be well-formed, and the part that
/// `client` needs must be there. Its expiry is the earlier of `now +
/// expires-in` and `expires-at`; an `expires-at` already past is refused.
pub fn validate(raw: RawCredential, client: &Client, now: u64) -> Result<Credential, Error> {
    let RawCredential {
        headers,
        token,
        user_secret,
        aws,
        expires_in,
        expires_at,
    } = raw;
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(invalid(
            "the credential expired before credbox got it (check expires-at: Unix seconds)",
        ));
    }
    // `expires-in` 0 is "valid now, do not cache": it stays `now`.
    let expires_at = match (expires_in.map(|s| now.saturating_add(s)), expires_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let credential = Credential {
        headers,
        token,
        user_secret: user_secret.map(|(username, secret)| UserSecret { username, secret }),
        aws: aws.map(
            |(access_key_id, secret_access_key, session_token)| AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token,
            },
        ),
        expires_at,
    };
    check(&credential)?;
    check_for(&credential, client)?;
    Ok(credential)
}

/// Checks every part of `credential`: used on a fresh one and again on
/// every cached one before it is printed, so that an entry damaged or
/// planted in the cache never reaches a client.
pub fn check(credential: &Credential) -> Result<(), Error> {
    let Credential {
        headers,
        token,
        user_secret,
        aws,
        expires_at: _,
    } = credential;
    if headers.is_empty() && token.is_none() && user_secret.is_none() && aws.is_none() {
        return Err(invalid("no headers and no token"));
    }
    if !headers.is_empty() {
        check_headers(headers)?;
    }
    if let Some(token) = token {
        check_key(token)?;
    }
    if let Some(UserSecret { username, secret }) = user_secret {
        check_username(username)?;
        check_password(secret)?;
    }
    if let Some(aws) = aws {
        let id = &aws.access_key_id;
        if id.len() < 16
            || id.len() > MAX_ACCESS_KEY_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(invalid(
                "the AWS access key id must be 16 to 128 letters and digits",
            ));
        }
        check_word("the AWS secret access key", &aws.secret_access_key, 1024)?;
        if let Some(session) = &aws.session_token {
            check_word("the AWS session token", session, MAX_KEY_LEN)?;
        }
    }
    Ok(())
}

/// The part of a credential a client uses: what [`check_for`] requires.
pub fn needed_part(client: &Client) -> &'static str {
    match client {
        Client::Headers { .. } | Client::Otel => "headers or token",
        Client::ApiKey | Client::Kubernetes { .. } | Client::Cargo(_) | Client::Gcp(_) => "token",
        Client::Git(_) | Client::Docker { .. } | Client::PackageIndex(_) => "user-secret or token",
        Client::Proxy(_) => "Proxy-Authorization header, token or user-secret",
        Client::Aws => "AWS credentials",
        Client::Any => "any part",
    }
}

/// Checks that `credential` has the part `client` uses.
pub fn check_for(credential: &Credential, client: &Client) -> Result<(), Error> {
    let has = match client {
        Client::Headers { .. } | Client::Otel => {
            !credential.headers.is_empty() || credential.token.is_some()
        }
        Client::ApiKey | Client::Kubernetes { .. } | Client::Cargo(_) | Client::Gcp(_) => {
            credential.token.is_some()
        }
        Client::Git(_) | Client::Docker { .. } | Client::PackageIndex(_) => {
            credential.user_secret.is_some() || credential.token.is_some()
        }
        Client::Proxy(_) => {
            credential.proxy_authorization().is_some()
                || credential.user_secret.is_some()
                || credential.token.is_some()
        }
        Client::Aws => credential.aws.is_some(),
        Client::Any => true,
    };
    if has {
        return Ok(());
    }
    let hint = match client {
        Client::ApiKey => " (return Credential::bearer or Credential::token)",
        Client::Aws => " (return Credential::aws)",
        Client::Git(_) | Client::Docker { .. } | Client::PackageIndex(_) | Client::Proxy(_) => {
            " (return Credential::basic or Credential::token)"
        }
        Client::Gcp(_) => " (return Credential::token with the subject token)",
        _ => "",
    };
    Err(invalid(format!(
        "no {} for {}{hint}",
        needed_part(client),
        client.name()
    )))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidOutput(message.into())
}

fn check_key(key: &str) -> Result<(), Error> {
    check_size("the token", key, MAX_KEY_LEN)?;
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "the token must be one line of printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// A username: printable ASCII without spaces or `:` (basic auth splits at
/// the first colon), at most [`MAX_USERNAME_LEN`] bytes.
fn check_username(username: &str) -> Result<(), Error> {
    check_word("the username", username, MAX_USERNAME_LEN)?;
    if username.contains(':') {
        return Err(invalid("the username contains `:`"));
    }
    Ok(())
}

/// A user-secret's secret (a password): printable ASCII with inner spaces
/// (passphrases, proxy and index passwords have them, and every protocol
/// credbox writes one to keeps a line's inner spaces: git's `password=`
/// runs to the end of its line, the others are JSON or base64), at most
/// [`MAX_KEY_LEN`] bytes. No leading or trailing space: clients trim
/// what a helper program prints (pip's keyring provider among them), so
/// such a password would arrive changed.
fn check_password(secret: &str) -> Result<(), Error> {
    check_size("the secret", secret, MAX_KEY_LEN)?;
    if !secret.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(invalid(
            "the secret must be one line of printable ASCII (spaces allowed inside)",
        ));
    }
    if secret.starts_with(' ') || secret.ends_with(' ') {
        return Err(invalid("the secret has leading or trailing spaces"));
    }
    Ok(())
}

/// `value` (called `what`) is not empty and at most `max` bytes.
fn check_size(what: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if value.len() > max {
        return Err(invalid(format!(
            "{what} is {} bytes, more than {max}",
            value.len()
        )));
    }
    Ok(())
}

/// One non-empty word of printable ASCII, at most `max` bytes: nothing a
/// line-based protocol (git's `key=value` lines) could split on.
fn check_word(what: &str, value: &str, max: usize) -> Result<(), Error> {
    check_size(what, value, max)?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(format!(
            "{what} must be one line of printable ASCII without spaces"
        )));
    }
    Ok(())
}

fn check_headers(headers: &[(String, String)]) -> Result<(), Error> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!(
            "{} headers, more than {MAX_HEADERS}",
            headers.len()
        )));
    }
    let mut total = 0;
    let mut seen: Vec<String> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        check_name(name)?;
        if let Some(refused) = REFUSED_HEADERS
            .iter()
            .find(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(invalid(format!(
                "header {refused} is the HTTP client's to set, not a credential's \
                 (framing and hop-by-hop headers are refused)"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(invalid(format!("header {name} appears twice")));
        }
        seen.push(lower);
        check_value(name, value)?;
        total += name.len() + value.len();
    }
    if total > MAX_TOTAL_LEN {
        return Err(invalid(format!(
            "headers total {total} bytes, more than {MAX_TOTAL_LEN}"
        )));
    }
    Ok(())
}

/// An RFC 9110 token: `!#$%&'*+-.^_`|~`, digits and letters.
fn check_name(name: &str) -> Result<(), Error> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() {
        return Err(invalid("a header has an empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "a header name is {} bytes, more than {MAX_NAME_LEN}",
            name.len()
        )));
    }
    if !name.bytes().all(is_tchar) {
        // The name is shown as written: the run's redactor masks a secret
        // in it and escapes control characters.
        return Err(invalid(format!(
            "header name `{name}` is not an RFC 9110 token"
        )));
    }
    Ok(())
}

/// Visible ASCII, with inner spaces and tabs; no CR, LF, NUL or other
/// control characters, no leading or trailing whitespace.
fn check_value(name: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(invalid(format!("header {name} has an empty value")));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(invalid(format!(
            "header {name} is {} bytes, more than {MAX_VALUE_LEN}",
            value.len()
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(invalid(format!("header {name} contains CR, LF or NUL")));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
    {
        return Err(invalid(format!(
            "header {name} contains control or non-ASCII characters"
        )));
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err(invalid(format!(
            "header {name} has leading or trailing whitespace"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Format;

    const NOW: u64 = 1_800_000_000;

    /// The parts `format` prints, as validation hands them on.
    #[derive(Debug, PartialEq)]
    enum Validated {
        Headers(Vec<(String, String)>),
        ApiKey(String),
    }

    fn validate(raw: RawCredential, format: Format) -> Result<Validated, Error> {
        let client = match format {
            Format::Headers => Client::default(),
            Format::ApiKey => Client::ApiKey,
            Format::ProxyAuthorization => unreachable!("not asked in these tests"),
        };
        let c = super::validate(raw, &client, NOW)?;
        Ok(match format {
            Format::Headers => Validated::Headers(c.headers),
            Format::ApiKey => Validated::ApiKey(c.token.expect("checked")),
            Format::ProxyAuthorization => unreachable!("not asked in these tests"),
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> RawCredential {
        RawCredential {
            headers: pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn rejects(raw: RawCredential, format: Format, needle: &str) {
        match validate(raw, format) {
            Err(Error::InvalidOutput(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected invalid output, got {other:?}"),
        }
    }

    #[test]
    fn good_headers_pass_in_order() {
        let out = validate(
            headers(&[("X-B", "2"), ("Authorization", "Bearer a b")]),
            Format::Headers,
        );
        assert_eq!(
            out.unwrap(),
            Validated::Headers(vec![
                ("X-B".into(), "2".into()),
                ("Authorization".into(), "Bearer a b".into())
            ])
        );
    }

    #[test]
    fn a_token_alone_serves_headers_and_api_keys() {
        let raw = RawCredential {
            token: Some("abc".into()),
            ..Default::default()
        };
        assert_eq!(
            validate(raw.clone(), Format::Headers).unwrap(),
            Validated::Headers(vec![])
        );
        assert_eq!(
            validate(raw, Format::ApiKey).unwrap(),
            Validated::ApiKey("abc".into())
        );
    }

    #[test]
    fn header_names_must_be_tokens() {
        rejects(headers(&[("Bad Header", "v")]), Format::Headers, "RFC 9110");
        rejects(headers(&[("X:Y", "v")]), Format::Headers, "RFC 9110");
        rejects(headers(&[("", "v")]), Format::Headers, "empty name");
        rejects(headers(&[("Ä", "v")]), Format::Headers, "RFC 9110");
    }

    #[test]
    fn header_values_cannot_inject_or_hide() {
        rejects(
            headers(&[("X", "a\r\nInjected: 1")]),
            Format::Headers,
            "CR, LF",
        );
        rejects(headers(&[("X", "a\0")]), Format::Headers, "CR, LF or NUL");
        rejects(headers(&[("X", "a\x1b")]), Format::Headers, "control");
        rejects(headers(&[("X", "é")]), Format::Headers, "non-ASCII");
        rejects(headers(&[("X", " a")]), Format::Headers, "whitespace");
        rejects(headers(&[("X", "a\t")]), Format::Headers, "whitespace");
        rejects(headers(&[("X", "")]), Format::Headers, "empty value");
    }

    #[test]
    fn sizes_counts_and_duplicates_are_capped() {
        let big = "v".repeat(MAX_VALUE_LEN + 1);
        rejects(headers(&[("X", &big)]), Format::Headers, "more than 8192");
        let half = "v".repeat(MAX_VALUE_LEN);
        rejects(
            headers(&[("A", &half), ("B", &half), ("C", "v")]),
            Format::Headers,
            "headers total",
        );
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("X-{i}"), "v".to_string()))
            .collect();
        let raw = RawCredential {
            headers: many,
            ..Default::default()
        };
        rejects(raw, Format::Headers, "65 headers");
        rejects(
            headers(&[("X-A", "1"), ("x-a", "2")]),
            Format::Headers,
            "twice",
        );
    }

    #[test]
    fn api_keys_are_one_printable_word() {
        let key = |k: &str| RawCredential {
            token: Some(k.into()),
            ..Default::default()
        };
        rejects(key("abc def"), Format::ApiKey, "without spaces");
        rejects(key("abc\n"), Format::ApiKey, "printable");
        rejects(key(""), Format::ApiKey, "empty");
        rejects(
            key(&"k".repeat(MAX_KEY_LEN + 1)),
            Format::ApiKey,
            "more than",
        );
        rejects(headers(&[("X", "1")]), Format::ApiKey, "no token");
        rejects(
            RawCredential::default(),
            Format::Headers,
            "no headers and no token",
        );
    }

    #[test]
    fn framing_and_hop_by_hop_headers_are_refused_by_name() {
        for name in [
            "Host",
            "content-length",
            "TRANSFER-ENCODING",
            "Connection",
            "Upgrade",
            "te",
            "Trailer",
            "Expect",
            "Keep-Alive",
            "Proxy-Connection",
        ] {
            match validate(headers(&[("X-Ok", "1"), (name, "v")]), Format::Headers) {
                Err(Error::InvalidOutput(m)) => assert!(
                    m.to_ascii_lowercase().starts_with(&format!(
                        "header {} is the http client's",
                        name.to_ascii_lowercase()
                    )),
                    "{m}"
                ),
                other => panic!("{name} accepted: {other:?}"),
            }
        }
        assert!(validate(headers(&[("Authorization", "Bearer x")]), Format::Headers).is_ok());
        assert!(validate(headers(&[("X-Host", "h")]), Format::Headers).is_ok());
    }

    #[test]
    fn messages_that_quote_a_name_pass_the_redactor() {
        let secret = "Secret-Name-123";
        let redactor = crate::redact::Redactor::new([secret]);
        for pairs in [
            vec![(secret, "")],
            vec![(secret, "a\r\nb")],
            vec![("X", "v"), ("x", "w")],
        ] {
            let pairs: Vec<(&str, &str)> = pairs;
            let err = validate(headers(&pairs), Format::Headers).unwrap_err();
            let text = err.redacted(&redactor).to_string();
            assert!(!text.to_ascii_lowercase().contains("secret-name"), "{text}");
        }
        let upper = secret.to_ascii_uppercase() + " x";
        let err = validate(headers(&[(&upper, "v")]), Format::Headers).unwrap_err();
        let text = err.redacted(&redactor).to_string();
        assert!(
            text.contains("[redacted]") && !text.contains("SECRET-NAME"),
            "{text}"
        );
    }

    #[test]
    fn messages_never_echo_values() {
        let secret = "s3cr3t\r\nvalue";
        match validate(headers(&[("X", secret)]), Format::Headers) {
            Err(e) => assert!(!e.to_string().contains("s3cr3t")),
            Ok(_) => panic!("accepted"),
        }
    }

    fn raw(f: impl FnOnce(&mut RawCredential)) -> RawCredential {
        let mut raw = RawCredential::default();
        f(&mut raw);
        raw
    }

    fn invalid_for(raw: RawCredential, client: &Client, needle: &str) {
        match super::validate(raw, client, NOW) {
            Err(Error::InvalidOutput(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected invalid output, got {other:?}"),
        }
    }

    #[test]
    fn each_client_needs_its_part() {
        let token = raw(|r| r.token = Some("t0ken".into()));
        let basic = raw(|r| r.user_secret = Some(("me".into(), "pw".into())));
        let aws = raw(|r| {
            r.aws = Some((
                "AKIAIOSFODNN7EXAMPLE".into(),
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                Some("FwoGZXIvYXdzEJr//////////wEaDM".into()),
            ))
        });
        let git = Client::Git(Default::default());
        let docker = Client::Docker {
            server_url: "r.example".into(),
        };
        for client in [&git, &docker, &Client::ApiKey, &Client::Any] {
            assert!(super::validate(token.clone(), client, NOW).is_ok());
        }
        for client in [&git, &docker] {
            assert!(super::validate(basic.clone(), client, NOW).is_ok());
        }
        assert!(super::validate(aws.clone(), &Client::Aws, NOW).is_ok());
        invalid_for(token, &Client::Aws, "no AWS credentials for aws");
        invalid_for(basic, &Client::ApiKey, "no token for api-key");
        invalid_for(aws.clone(), &git, "no user-secret or token for git");
        invalid_for(aws, &Client::default(), "no headers or token for headers");
        invalid_for(
            RawCredential::default(),
            &Client::Any,
            "no headers and no token",
        );
    }

    #[test]
    fn user_secrets_and_aws_parts_are_checked() {
        let user = |u: &str, s: &str| raw(|r| r.user_secret = Some((u.into(), s.into())));
        let any = Client::Any;
        invalid_for(user("a:b", "pw"), &any, "contains `:`");
        invalid_for(user("", "pw"), &any, "username is empty");
        // A passphrase's inner spaces are kept; spaces at its ends would
        // be trimmed by clients, so they are refused.
        assert!(super::validate(user("me", "correct horse battery"), &any, NOW).is_ok());
        invalid_for(user("me", " pw"), &any, "leading or trailing spaces");
        invalid_for(user("me", "pw "), &any, "leading or trailing spaces");
        invalid_for(user("me", "p\tw"), &any, "secret must be one line");
        invalid_for(
            user("me", "pw\nprotocol=http"),
            &any,
            "secret must be one line",
        );
        invalid_for(user(&"u".repeat(257), "pw"), &any, "more than 256");
        let aws = |id: &str, secret: &str, session: Option<&str>| {
            raw(|r| r.aws = Some((id.into(), secret.into(), session.map(Into::into))))
        };
        invalid_for(aws("SHORT", "s", None), &any, "access key id");
        invalid_for(
            aws("AKIA-IOSFODNN7EXAMPLE", "s", None),
            &any,
            "access key id",
        );
        invalid_for(
            aws("AKIAIOSFODNN7EXAMPLE", "", None),
            &any,
            "secret access key is empty",
        );
        invalid_for(
            aws("AKIAIOSFODNN7EXAMPLE", "s", Some("a\r\nb")),
            &any,
            "session token must be one line",
        );
        assert!(super::validate(aws("AKIAIOSFODNN7EXAMPLE", "s", None), &any, NOW).is_ok());
    }

    #[test]
    fn the_earlier_expiry_counts_and_a_past_one_is_refused() {
        let at = |expires_in, expires_at| {
            super::validate(
                raw(|r| {
                    r.token = Some("t".into());
                    r.expires_in = expires_in;
                    r.expires_at = expires_at;
                }),
                &Client::ApiKey,
                NOW,
            )
            .map(|c| c.expires_at)
        };
        assert_eq!(at(None, None).unwrap(), None);
        assert_eq!(at(Some(60), None).unwrap(), Some(NOW + 60));
        assert_eq!(at(None, Some(NOW + 5)).unwrap(), Some(NOW + 5));
        assert_eq!(at(Some(60), Some(NOW + 5)).unwrap(), Some(NOW + 5));
        assert_eq!(at(Some(6), Some(NOW + 50)).unwrap(), Some(NOW + 6));
        assert_eq!(at(Some(u64::MAX), None).unwrap(), Some(u64::MAX));
        assert!(at(None, Some(NOW)).is_err());
        assert_eq!(at(Some(0), None).unwrap(), Some(NOW));
    }

    #[test]
    fn a_stored_credential_is_checked_again() {
        let good = Credential {
            headers: vec![("Authorization".into(), "Bearer abc".into())],
            ..Default::default()
        };
        assert!(check(&good).is_ok());
        let bad = [
            Credential::default(),
            Credential {
                headers: vec![("A".into(), "x\r\nB: 1".into())],
                ..Default::default()
            },
            Credential {
                headers: vec![("A".into(), "1".into()), ("a".into(), "2".into())],
                ..Default::default()
            },
            Credential {
                token: Some("a b".into()),
                ..Default::default()
            },
            Credential {
                user_secret: Some(UserSecret {
                    username: "u".into(),
                    secret: "x\n".into(),
                }),
                ..Default::default()
            },
        ];
        for credential in bad {
            assert!(check(&credential).is_err(), "{credential:?}");
        }
    }
}
