//! A small blocking HTTP client for helpers, on `wasi:http`.
//!
//! credbox sends the requests: each one (each redirect hop too) must be
//! allowed by the manifest's `[network] allow` list, and credbox applies
//! its own timeouts (within the run's deadline) and a 1 MiB cap on
//! response bodies. The client adds what a credential helper needs on
//! top: form and JSON bodies, JSON answers, an overall timeout, redirects,
//! and failures mapped to the [`Error`] kinds credbox reports.
//!
//! ```no_run
//! use credbox_guest::http::Client;
//! # #[cfg(feature = "json")]
//! # fn fetch() -> Result<(), credbox_guest::Error> {
//! #[derive(serde::Deserialize)]
//! struct Token {
//!     access_token: String,
//! }
//!
//! let token: Token = Client::new()
//!     .post_form("https://auth.example.com/oauth/token", &[("grant_type", "client_credentials")])
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # Ok(()) }
//! ```
//!
//! How failures map to [`ErrorKind`](crate::ErrorKind)s (and so to credbox's
//! exit codes):
//!
//! | failure | kind | message |
//! | --- | --- | --- |
//! | refused by credbox's network policy | `denied` | `request to https://evil.example refused by credbox's network policy`; credbox reports its own reason instead, with exit code 9 |
//! | connection refused, DNS failure, unreachable host, TLS failure, timeout | `unavailable` | `https://auth.example.com: connection refused` |
//! | [`Client::timeout`] elapsed | `unavailable` | `https://auth.example.com: no complete answer within 2s` |
//! | body over credbox's 1 MiB cap, too many redirects | `other` | `https://auth.example.com: response body larger than credbox's 1 MiB cap` |
//! | an invalid URL | `misconfigured` | `not an http:// or https:// URL: ftp://auth.example.com/token` |
//!
//! and, with [`Response::error_for_status`], HTTP statuses: 401 and 403 are
//! `denied`, 408, 429 and 5xx `unavailable`, other 4xx `misconfigured`.
//!
//! Messages name the origin (`scheme://host[:port]`) only: paths and
//! queries can carry secrets.
//!
//! Outside credbox (natively, in unit tests) sending a request panics; the
//! other types are plain data.

mod redirect;
mod transport;
mod url;

use std::time::Duration;

use ::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, USER_AGENT};
use ::http::{HeaderName, HeaderValue, Method};

pub use ::http::{HeaderMap, StatusCode, Uri};

use self::redirect::Outgoing;
use self::transport::Deadline;
use self::url::Target;
use crate::Error;

/// How many redirects a [`Client`] follows by default.
///
/// ```
/// use credbox_guest::http::{Client, DEFAULT_MAX_REDIRECTS};
///
/// // Allow a longer chain than usual, e.g. for a single-sign-on hop or two more.
/// let client = Client::new().max_redirects(DEFAULT_MAX_REDIRECTS + 2);
/// ```
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// An HTTP client: the settings shared by the requests it makes.
///
/// Cheap to create; make one per helper run.
///
/// ```
/// use std::time::Duration;
/// use credbox_guest::http::Client;
///
/// let client = Client::new().timeout(Duration::from_secs(2)).max_redirects(0);
/// let request = client.get("https://intranet.corp.example.com/health");
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    timeout: Option<Duration>,
    max_redirects: u32,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client with no timeout of its own (credbox's deadline still
    /// applies) that follows up to [`DEFAULT_MAX_REDIRECTS`] redirects.
    ///
    /// ```
    /// let client = credbox_guest::http::Client::new();
    /// ```
    pub fn new() -> Client {
        Client {
            timeout: None,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }

    /// Gives each [`send`](RequestBuilder::send) at most `timeout` for the
    /// whole exchange: connecting, every redirect, and reading the body.
    /// Past it, `send` fails with [`Error::unavailable`].
    ///
    /// Without one, credbox's own limits apply: its network deadline, a
    /// tenth of the run's timeout before the run's end, which leaves the
    /// helper time to report the failure.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // A reachability probe should fail fast.
    /// let probe = credbox_guest::http::Client::new().timeout(Duration::from_millis(800));
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Client {
        self.timeout = Some(timeout);
        self
    }

    /// Follows at most `hops` redirects (301, 302, 303, 307, 308 with a
    /// `Location`); one more fails with [`Error::other`]. `0` does not
    /// follow redirects at all: [`send`](RequestBuilder::send) returns them
    /// as responses.
    ///
    /// Every hop is a new request that credbox checks against the
    /// allowlist. `Authorization` (and `Proxy-Authorization`, `Cookie`) go
    /// only to the origin of the request the helper made; 301, 302 and 303
    /// continue as a `GET` without body; 307 and 308 repeat the request,
    /// but a request body is never sent to another origin (the redirect
    /// fails instead: a form often holds a client secret).
    ///
    /// ```
    /// let client = credbox_guest::http::Client::new().max_redirects(2);
    /// ```
    #[must_use]
    pub fn max_redirects(mut self, hops: u32) -> Client {
        self.max_redirects = hops;
        self
    }

    /// A `GET` request for `url`.
    ///
    /// ```no_run
    /// # fn fetch() -> Result<(), credbox_guest::Error> {
    /// let client = credbox_guest::http::Client::new();
    /// let response = client.get("https://auth.example.com/.well-known/openid-configuration").send()?;
    /// # Ok(()) }
    /// ```
    pub fn get(&self, url: &str) -> RequestBuilder {
        RequestBuilder::new(self, Method::GET, url)
    }

    /// A `POST` request for `url` with `fields` as an
    /// `application/x-www-form-urlencoded` body.
    ///
    /// ```no_run
    /// # fn fetch() -> Result<(), credbox_guest::Error> {
    /// let client = credbox_guest::http::Client::new();
    /// let secret = credbox_guest::config_required("CLIENT_SECRET")?;
    /// let response = client
    ///     .post_form(
    ///         "https://auth.example.com/oauth/token",
    ///         &[("grant_type", "client_credentials"), ("client_id", "cli"), ("client_secret", &secret)],
    ///     )
    ///     .send()?;
    /// # Ok(()) }
    /// ```
    pub fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> RequestBuilder {
        RequestBuilder::new(self, Method::POST, url).body(
            HeaderValue::from_static("application/x-www-form-urlencoded"),
            form_urlencoded(fields),
        )
    }

    /// A `POST` request for `url` with `value` serialized as an
    /// `application/json` body. (Feature `json`, on by default.)
    ///
    /// ```no_run
    /// # fn fetch() -> Result<(), credbox_guest::Error> {
    /// let client = credbox_guest::http::Client::new();
    /// let body = serde_json::json!({ "audience": "https://mcp.example.com" });
    /// let response = client.post_json("https://tokens.corp.example.com/v1/token", &body).send()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    pub fn post_json<T: serde::Serialize + ?Sized>(&self, url: &str, value: &T) -> RequestBuilder {
        let builder = RequestBuilder::new(self, Method::POST, url);
        match serde_json::to_vec(value) {
            Ok(json) => builder.body(HeaderValue::from_static("application/json"), json),
            Err(e) => builder.fail(Error::other(format!("cannot serialize the JSON body: {e}"))),
        }
    }
}

/// A request being built; [`send`](RequestBuilder::send) it.
///
/// ```no_run
/// # fn fetch() -> Result<(), credbox_guest::Error> {
/// let response = credbox_guest::http::Client::new()
///     .get("https://api.example.com/v1/me")
///     .bearer_auth("token")
///     .header("Accept", "application/json")
///     .send()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    /// The first mistake made while building, reported by `send`.
    error: Option<Error>,
}

impl RequestBuilder {
    fn new(client: &Client, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            client: client.clone(),
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            error: None,
        }
    }

    fn body(mut self, content_type: HeaderValue, body: Vec<u8>) -> RequestBuilder {
        self.headers.push((CONTENT_TYPE, content_type));
        self.body = Some(body);
        self
    }

    fn fail(mut self, error: Error) -> RequestBuilder {
        self.error.get_or_insert(error);
        self
    }

    /// Adds the header `name: value`. An invalid name or value (such as one
    /// with a line break) makes [`send`](Self::send) fail with
    /// [`Error::other`], naming the header but not its value.
    ///
    /// ```no_run
    /// # fn fetch() -> Result<(), credbox_guest::Error> {
    /// let response = credbox_guest::http::Client::new()
    ///     .get("https://api.example.com/v1/token")
    ///     .header("X-Tenant", "acme")
    ///     .send()?;
    /// # Ok(()) }
    /// ```
    pub fn header(self, name: &str, value: &str) -> RequestBuilder {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => self.push_header(name, value),
            _ => {
                let shown: String = name
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(64)
                    .collect();
                self.fail(Error::other(format!("invalid request header {shown}")))
            }
        }
    }

    fn push_header(mut self, name: HeaderName, value: HeaderValue) -> RequestBuilder {
        self.headers.push((name, value));
        self
    }

    /// Adds `Authorization: Bearer <token>`, sent only to this request's
    /// origin (see [`Client::max_redirects`]).
    ///
    /// ```no_run
    /// # fn fetch() -> Result<(), credbox_guest::Error> {
    /// let key = credbox_guest::config_required("CORP_API_KEY")?;
    /// let response = credbox_guest::http::Client::new()
    ///     .get("https://tokens.corp.example.com/v1/token")
    ///     .bearer_auth(&key)
    ///     .send()?;
    /// # Ok(()) }
    /// ```
    pub fn bearer_auth(self, token: &str) -> RequestBuilder {
        match HeaderValue::try_from(format!("Bearer {token}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.push_header(AUTHORIZATION, value)
            }
            Err(_) => self.fail(Error::misconfigured(
                "the bearer token contains characters not allowed in a header",
            )),
        }
    }

    /// Sends the request, follows redirects, and reads the whole response.
    ///
    /// Any HTTP status is a response: use
    /// [`Response::error_for_status`] to turn 4xx and 5xx into errors.
    /// `Err` when the request could not be made or answered (see the
    /// [module documentation](self) for the kinds).
    ///
    /// ```no_run
    /// # fn fetch() -> Result<(), credbox_guest::Error> {
    /// let response = credbox_guest::http::Client::new().get("https://auth.example.com/health").send()?;
    /// credbox_guest::debug!("health check answered {}", response.status);
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> Result<Response, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut request = Outgoing {
            method: self.method,
            target: Target::parse(&self.url).map_err(Error::misconfigured)?,
            headers: self.headers,
            body: self.body,
        };
        let deadline = self.client.timeout.map(Deadline::after);
        if !request.headers.iter().any(|(name, _)| name == USER_AGENT) {
            request
                .headers
                .push((USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE)));
        }
        let first = request.target.origin.clone();
        let mut hops = 0;
        loop {
            let response = transport::exchange(&request, request.hop_headers(&first), deadline)?;
            if self.client.max_redirects == 0 {
                return Ok(response);
            }
            let next =
                request.redirected(response.status, response.headers.get(LOCATION), &first)?;
            match next {
                None => return Ok(response),
                Some(_) if hops == self.client.max_redirects => {
                    return Err(Error::other(format!("{first}: more than {hops} redirects")));
                }
                Some(next) => {
                    hops += 1;
                    request = next;
                }
            }
        }
    }
}

/// Sent as `User-Agent` unless the helper sets its own: some servers
/// refuse requests without one.
const USER_AGENT_VALUE: &str = concat!("credbox-guest/", env!("CARGO_PKG_VERSION"));

/// A complete response: status, headers and the whole body.
///
/// Plain data, so a helper's handling of answers can be unit-tested
/// natively:
///
/// ```
/// use credbox_guest::http::{HeaderMap, Response, StatusCode};
///
/// let response = Response {
///     status: StatusCode::OK,
///     headers: HeaderMap::new(),
///     body: br#"{"access_token":"abc"}"#.to_vec(),
///     url: "https://auth.example.com/oauth/token".parse().unwrap(),
/// };
/// assert_eq!(response.text().unwrap(), r#"{"access_token":"abc"}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, at most 1 MiB (credbox's cap).
    pub body: Vec<u8>,
    /// The URL that answered, after redirects.
    pub url: Uri,
}

impl Response {
    /// `self` for a 1xx, 2xx or 3xx status; otherwise an error naming the
    /// origin and status: 401 and 403 are [`Error::denied`] (the secret
    /// was refused), 408, 429 and 5xx [`Error::unavailable`] (try again
    /// later), other 4xx [`Error::misconfigured`] (a wrong URL or request).
    ///
    /// ```
    /// use credbox_guest::ErrorKind;
    /// use credbox_guest::http::{HeaderMap, Response, StatusCode};
    ///
    /// let response = |status| Response {
    ///     status,
    ///     headers: HeaderMap::new(),
    ///     body: Vec::new(),
    ///     url: "https://auth.example.com/oauth/token".parse().unwrap(),
    /// };
    /// let error = response(StatusCode::UNAUTHORIZED).error_for_status().unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::Denied);
    /// assert_eq!(error.message(), "https://auth.example.com answered 401 Unauthorized");
    /// assert!(response(StatusCode::OK).error_for_status().is_ok());
    /// ```
    pub fn error_for_status(self) -> Result<Response, Error> {
        let status = self.status;
        let message = || format!("{} answered {status}", self.origin());
        match status.as_u16() {
            401 | 403 => Err(Error::denied(message())),
            408 | 429 | 500.. => Err(Error::unavailable(message())),
            400..=499 => Err(Error::misconfigured(message())),
            _ => Ok(self),
        }
    }

    /// The body as UTF-8 text.
    ///
    /// ```
    /// use credbox_guest::http::{HeaderMap, Response, StatusCode};
    ///
    /// let response = Response {
    ///     status: StatusCode::OK,
    ///     headers: HeaderMap::new(),
    ///     body: vec![0xff],
    ///     url: "https://auth.example.com/token".parse().unwrap(),
    /// };
    /// let error = response.text().unwrap_err();
    /// assert_eq!(error.message(), "https://auth.example.com sent a body that is not UTF-8");
    /// ```
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|_| Error::other(format!("{} sent a body that is not UTF-8", self.origin())))
    }

    /// The body parsed as JSON into `T`. (Feature `json`, on by default.)
    ///
    /// The error never quotes the body (it may hold a token): it says where
    /// parsing failed, or which field is missing.
    ///
    /// ```
    /// use credbox_guest::http::{HeaderMap, Response, StatusCode};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Token {
    ///     access_token: String,
    ///     expires_in: Option<u64>,
    /// }
    ///
    /// let response = Response {
    ///     status: StatusCode::OK,
    ///     headers: HeaderMap::new(),
    ///     body: br#"{"access_token":"abc","expires_in":3600}"#.to_vec(),
    ///     url: "https://auth.example.com/oauth/token".parse().unwrap(),
    /// };
    /// let token: Token = response.json().unwrap();
    /// assert_eq!((token.access_token.as_str(), token.expires_in), ("abc", Some(3600)));
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let what = e.to_string();
            let what = match what.starts_with("missing field") {
                // The field name comes from `T`, not from the body.
                true => what,
                false => format!("invalid at line {} column {}", e.line(), e.column()),
            };
            Error::other(format!("{} sent unexpected JSON ({what})", self.origin()))
        })
    }

    /// The origin of [`url`](Self::url), for messages.
    fn origin(&self) -> String {
        match Target::parse(&self.url.to_string()) {
            Ok(target) => target.origin.to_string(),
            Err(_) => "the server".to_owned(),
        }
    }
}

/// `fields` as `application/x-www-form-urlencoded` (the WHATWG URL
/// standard's serializer): alphanumerics and `*-._` as they are, space as
/// `+`, every other byte of the UTF-8 as `%XX`.
fn form_urlencoded(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        encode_form_component(name, &mut out);
        out.push(b'=');
        encode_form_component(value, &mut out);
    }
    out
}

fn encode_form_component(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn response(status: u16, body: &[u8]) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_vec(),
            url: "https://auth.example.com:8443/oauth/token?secret=1"
                .parse()
                .unwrap(),
        }
    }

    #[test]
    fn forms_are_encoded_like_browsers_do() {
        let body = form_urlencoded(&[
            ("grant_type", "client_credentials"),
            ("client_secret", "a b+c&d=e/é~"),
            ("scope", "read:x *-._"),
        ]);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "grant_type=client_credentials&client_secret=a+b%2Bc%26d%3De%2F%C3%A9%7E\
             &scope=read%3Ax+*-._"
        );
        assert!(form_urlencoded(&[]).is_empty());
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        for (status, kind) in [
            (401, Some(ErrorKind::Denied)),
            (403, Some(ErrorKind::Denied)),
            (400, Some(ErrorKind::Misconfigured)),
            (404, Some(ErrorKind::Misconfigured)),
            (408, Some(ErrorKind::Unavailable)),
            (429, Some(ErrorKind::Unavailable)),
            (500, Some(ErrorKind::Unavailable)),
            (503, Some(ErrorKind::Unavailable)),
            (200, None),
            (204, None),
            (302, None),
        ] {
            let result = response(status, b"").error_for_status();
            assert_eq!(result.as_ref().err().map(Error::kind), kind, "{status}");
        }
        let error = response(503, b"").error_for_status().unwrap_err();
        assert_eq!(
            error.message(),
            "https://auth.example.com:8443 answered 503 Service Unavailable"
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_errors_never_quote_the_body() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Token {
            access_token: String,
            expires_in: Option<u64>,
        }
        let error = response(200, br#"{"access_token":"s3cret","expires_in":"soon"}"#)
            .json::<Token>()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other);
        assert_eq!(
            error.message(),
            "https://auth.example.com:8443 sent unexpected JSON (invalid at line 1 column 44)"
        );
        let error = response(200, br#"{"token":"s3cret"}"#)
            .json::<Token>()
            .unwrap_err();
        assert_eq!(
            error.message(),
            "https://auth.example.com:8443 sent unexpected JSON (missing field `access_token` at line 1 column 18)"
        );
        let error = response(200, b"<html>s3cret</html>")
            .json::<Token>()
            .unwrap_err();
        assert!(!error.message().contains("s3cret"), "{error}");
    }

    #[test]
    fn builder_mistakes_surface_when_sending_without_a_request() {
        let client = Client::new();
        let error = client
            .get("https://a.example/")
            .header("X-Bad", "a\r\nb")
            .send()
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.message()),
            (ErrorKind::Other, "invalid request header X-Bad")
        );
        let error = client
            .get("https://a.example/")
            .bearer_auth("s3cret\n")
            .send()
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.message()),
            (
                ErrorKind::Misconfigured,
                "the bearer token contains characters not allowed in a header"
            )
        );
        let error = client.get("ftp://a.example/?k=secret").send().unwrap_err();
        assert_eq!(
            (error.kind(), error.message()),
            (
                ErrorKind::Misconfigured,
                "not an http:// or https:// URL: ftp://a.example/"
            )
        );
    }

    #[test]
    fn builders_record_method_headers_and_body() {
        let client = Client::new()
            .timeout(Duration::from_secs(1))
            .max_redirects(1);
        let request = client
            .post_form("https://a.example/token", &[("a", "1")])
            .bearer_auth("t");
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.body.as_deref(), Some(&b"a=1"[..]));
        let headers: Vec<_> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", "Bearer t")
            ]
        );
        assert!(request.headers[1].1.is_sensitive());
        assert_eq!(
            (request.client.timeout, request.client.max_redirects),
            (Some(Duration::from_secs(1)), 1)
        );
        #[cfg(feature = "json")]
        {
            let request =
                client.post_json("https://a.example/token", &serde_json::json!({"a": [1]}));
            assert_eq!(request.body.as_deref(), Some(&br#"{"a":[1]}"#[..]));
            assert_eq!(request.headers[0].1, "application/json");
        }
    }
}
