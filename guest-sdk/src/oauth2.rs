//! What an OAuth 2.0 token endpoint answers (RFC 6749 §5): a
//! [`TokenResponse`] on success, an [`ErrorResponse`] on failure. (Feature
//! `json`, on by default.)
//!
//! Both are parsed with [`Response::json`], whose errors never quote the
//! body; fields the RFC does not name (`id_token`, provider extensions) are
//! ignored.
//!
//! ```no_run
//! use credbox_guest::http::Client;
//! use credbox_guest::oauth2::{ErrorResponse, TokenResponse};
//! use credbox_guest::{Credential, Error, config_required};
//!
//! fn fetch() -> Result<Credential, Error> {
//!     let token_url = config_required("TOKEN_URL")?;
//!     let secret = config_required("CLIENT_SECRET")?;
//!     let response = Client::new()
//!         .post_form(
//!             &token_url,
//!             &[("grant_type", "client_credentials"), ("client_id", "cli"), ("client_secret", &secret)],
//!         )
//!         .send()?;
//!     if let Some(oauth) = ErrorResponse::from_response(&response) {
//!         return Err(Error::denied(format!("token endpoint answered {}", oauth.error)));
//!     }
//!     let token: TokenResponse = response.error_for_status()?.json()?;
//!     Ok(token.into_credential())
//! }
//! ```

use serde::Deserialize;

use crate::Credential;
use crate::http::{Response, StatusCode};

/// A successful token response (RFC 6749 §5.1): the access token and what
/// the server says about it.
///
/// Each field has the type the RFC gives it; a body in which one has
/// another type (an `expires_in` of `"3600"`, say) is not a token response,
/// and [`Response::json`] fails on it. Only `access_token` must be there:
/// a server that leaves out `token_type` (which the RFC requires) is still
/// understood.
///
/// ```
/// use credbox_guest::http::{HeaderMap, Response, StatusCode};
/// use credbox_guest::oauth2::TokenResponse;
///
/// let response = Response {
///     status: StatusCode::OK,
///     headers: HeaderMap::new(),
///     body: br#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,
///               "refresh_token":"rt-1","scope":"read write","id_token":"ignored"}"#.to_vec(),
///     url: "https://auth.example.com/oauth/token".parse().unwrap(),
/// };
/// let token: TokenResponse = response.json()?;
/// assert_eq!(token.access_token, "at-1");
/// assert_eq!(token.token_type.as_deref(), Some("Bearer"));
/// assert_eq!(token.expires_in, Some(3600));
/// assert_eq!(token.refresh_token.as_deref(), Some("rt-1"));
/// assert_eq!(token.scope.as_deref(), Some("read write"));
/// # Ok::<(), credbox_guest::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
// More of the RFC's relatives (OpenID Connect's `id_token`, say) may come.
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    ///
    /// ```
    /// # use credbox_guest::oauth2::TokenResponse;
    /// let token: TokenResponse = serde_json::from_str(r#"{"access_token":"at-1"}"#).unwrap();
    /// assert_eq!(token.access_token, "at-1");
    /// ```
    pub access_token: String,
    /// How the token is used, such as `Bearer` (any case), when the server
    /// says.
    ///
    /// ```
    /// # use credbox_guest::oauth2::TokenResponse;
    /// let token: TokenResponse =
    ///     serde_json::from_str(r#"{"access_token":"at-1","token_type":"bearer"}"#).unwrap();
    /// assert!(token.token_type.is_some_and(|t| t.eq_ignore_ascii_case("Bearer")));
    /// ```
    pub token_type: Option<String>,
    /// How many seconds the access token stays valid, when the server
    /// says.
    ///
    /// ```
    /// # use credbox_guest::oauth2::TokenResponse;
    /// let token: TokenResponse =
    ///     serde_json::from_str(r#"{"access_token":"at-1","expires_in":3600}"#).unwrap();
    /// assert_eq!(token.expires_in, Some(3600));
    /// ```
    pub expires_in: Option<u64>,
    /// A refresh token, to get the next access token with (RFC 6749 §6),
    /// when the server issues one.
    ///
    /// ```
    /// # use credbox_guest::oauth2::TokenResponse;
    /// let token: TokenResponse =
    ///     serde_json::from_str(r#"{"access_token":"at-1","refresh_token":"rt-1"}"#).unwrap();
    /// assert_eq!(token.refresh_token.as_deref(), Some("rt-1"));
    /// ```
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated, when the server says (it must
    /// when they differ from those asked for).
    ///
    /// ```
    /// # use credbox_guest::oauth2::TokenResponse;
    /// let token: TokenResponse =
    ///     serde_json::from_str(r#"{"access_token":"at-1","scope":"read write"}"#).unwrap();
    /// assert_eq!(token.scope.unwrap().split(' ').collect::<Vec<_>>(), ["read", "write"]);
    /// ```
    pub scope: Option<String>,
}

impl TokenResponse {
    /// The access token as a [`Credential::bearer`] (whatever
    /// [`token_type`](Self::token_type) says), lasting
    /// [`expires_in`](Self::expires_in) when the server says, so that
    /// credbox caches it no longer.
    ///
    /// ```
    /// # use credbox_guest::oauth2::TokenResponse;
    /// let token: TokenResponse =
    ///     serde_json::from_str(r#"{"access_token":"at-1","expires_in":3600}"#).unwrap();
    /// let credential = token.into_credential();
    /// assert_eq!(credential.token.as_deref(), Some("at-1"));
    /// assert_eq!(credential.headers[0], ("Authorization".into(), "Bearer at-1".into()));
    /// assert_eq!(credential.expires_in, Some(3600));
    /// ```
    // In the helper's crate, like `ErrorResponse::from_response`.
    #[inline]
    pub fn into_credential(self) -> Credential {
        let mut credential = Credential::bearer(self.access_token);
        credential.expires_in = self.expires_in;
        credential
    }
}

/// An error response (RFC 6749 §5.2, and the codes RFC 8628 §3.5 adds for
/// the device flow): the reason a token endpoint refused a request, as an
/// error code such as `invalid_client` or `invalid_grant`.
///
/// ```
/// use credbox_guest::http::{HeaderMap, Response, StatusCode};
/// use credbox_guest::oauth2::ErrorResponse;
///
/// let response = Response {
///     status: StatusCode::BAD_REQUEST,
///     headers: HeaderMap::new(),
///     body: br#"{"error":"invalid_grant","error_description":"refresh token expired"}"#.to_vec(),
///     url: "https://auth.example.com/oauth/token".parse().unwrap(),
/// };
/// let oauth: ErrorResponse = response.json()?;
/// assert_eq!(oauth.error, "invalid_grant");
/// assert_eq!(oauth.error_description.as_deref(), Some("refresh token expired"));
/// assert_eq!(oauth.error_uri, None);
/// # Ok::<(), credbox_guest::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The error code, such as `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, or (device flow) `authorization_pending`.
    ///
    /// ```
    /// # use credbox_guest::oauth2::ErrorResponse;
    /// let oauth: ErrorResponse = serde_json::from_str(r#"{"error":"invalid_client"}"#).unwrap();
    /// assert_eq!(oauth.error, "invalid_client");
    /// ```
    pub error: String,
    /// Text for the developer about what went wrong, when the server
    /// sends it.
    ///
    /// ```
    /// # use credbox_guest::oauth2::ErrorResponse;
    /// let oauth: ErrorResponse =
    ///     serde_json::from_str(r#"{"error":"invalid_scope","error_description":"no such scope"}"#)
    ///         .unwrap();
    /// assert_eq!(oauth.error_description.as_deref(), Some("no such scope"));
    /// ```
    pub error_description: Option<String>,
    /// A web page about the error, when the server sends one.
    ///
    /// ```
    /// # use credbox_guest::oauth2::ErrorResponse;
    /// let oauth: ErrorResponse = serde_json::from_str(
    ///     r#"{"error":"invalid_client","error_uri":"https://auth.example.com/errors/1"}"#,
    /// )
    /// .unwrap();
    /// assert_eq!(oauth.error_uri.as_deref(), Some("https://auth.example.com/errors/1"));
    /// ```
    pub error_uri: Option<String>,
}

impl ErrorResponse {
    /// The error response in `response`, if it is one: a status of 400, or
    /// 401 (a client authentication that failed, RFC 6749 §5.2), with a
    /// JSON body that has an `error`. `None` for any other answer, which
    /// [`Response::error_for_status`] then judges by its status alone.
    ///
    /// ```
    /// use credbox_guest::http::{HeaderMap, Response, StatusCode};
    /// use credbox_guest::oauth2::ErrorResponse;
    ///
    /// let answer = |status: u16, body: &str| Response {
    ///     status: StatusCode::from_u16(status).unwrap(),
    ///     headers: HeaderMap::new(),
    ///     body: body.as_bytes().to_vec(),
    ///     url: "https://auth.example.com/oauth/token".parse().unwrap(),
    /// };
    /// let refused = ErrorResponse::from_response(&answer(401, r#"{"error":"invalid_client"}"#));
    /// assert_eq!(refused.unwrap().error, "invalid_client");
    /// // Not an OAuth error: a proxy's page, or a status the RFC does not use.
    /// assert_eq!(ErrorResponse::from_response(&answer(400, "<html>Bad Request</html>")), None);
    /// assert_eq!(ErrorResponse::from_response(&answer(503, r#"{"error":"busy"}"#)), None);
    /// ```
    // Compiled in the helper's crate, beside its own `json` calls: their
    // serde_json code is then shared, where a copy compiled here added
    // ~10 KB to a guest that parses both responses.
    #[inline]
    pub fn from_response(response: &Response) -> Option<ErrorResponse> {
        match response.status {
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => response.json().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::http::HeaderMap;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            url: "https://auth.example.com/oauth/token".parse().unwrap(),
        }
    }

    #[test]
    fn a_full_token_response_is_read_field_by_field() {
        let token: TokenResponse = response(
            200,
            r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,
                "refresh_token":"rt-1","scope":"read write"}"#,
        )
        .json()
        .unwrap();
        assert_eq!(
            token,
            TokenResponse {
                access_token: "at-1".into(),
                token_type: Some("Bearer".into()),
                expires_in: Some(3600),
                refresh_token: Some("rt-1".into()),
                scope: Some("read write".into()),
            }
        );
    }

    #[test]
    fn only_the_access_token_is_required() {
        for body in [
            r#"{"access_token":"at-1"}"#,
            r#"{"access_token":"at-1","token_type":null,"expires_in":null,
                "refresh_token":null,"scope":null}"#,
        ] {
            let token: TokenResponse = response(200, body).json().unwrap();
            assert_eq!(token.access_token, "at-1");
            assert_eq!(
                (
                    token.token_type,
                    token.expires_in,
                    token.refresh_token,
                    token.scope
                ),
                (None, None, None, None),
                "{body}"
            );
        }
    }

    #[test]
    fn fields_the_rfc_does_not_name_are_ignored() {
        let token: TokenResponse = response(
            200,
            r#"{"id_token":"eyJ.x.y","access_token":"at-1","ext":{"a":[1,2]},
                "expires_in":60,"not_before_policy":0}"#,
        )
        .json()
        .unwrap();
        assert_eq!(
            (token.access_token.as_str(), token.expires_in),
            ("at-1", Some(60))
        );
        let oauth: ErrorResponse = response(
            400,
            r#"{"error":"invalid_grant","trace_id":"t-1","code":7}"#,
        )
        .json()
        .unwrap();
        assert_eq!(oauth.error, "invalid_grant");
    }

    #[test]
    fn a_missing_access_token_is_named_and_no_secret_is_quoted() {
        let error = response(200, r#"{"refresh_token":"s3cret","expires_in":60}"#)
            .json::<TokenResponse>()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other);
        assert_eq!(
            error.message(),
            "https://auth.example.com sent unexpected JSON (missing field `access_token` at line 1 column 42)"
        );
    }

    #[test]
    fn a_field_of_another_type_is_not_a_token_response() {
        // Strict like the samples before this type: `expires_in` as a
        // string ("3600") is refused, not guessed at.
        for body in [
            r#"{"access_token":"s3cret","expires_in":"3600"}"#,
            r#"{"access_token":"s3cret","expires_in":-1}"#,
            r#"{"access_token":"s3cret","scope":["read"]}"#,
            r#"{"access_token":7}"#,
        ] {
            let error = response(200, body).json::<TokenResponse>().unwrap_err();
            assert!(!error.message().contains("s3cret"), "{error}");
            assert!(error.message().contains("unexpected JSON"), "{error}");
        }
    }

    #[test]
    fn an_error_response_is_not_a_token_response() {
        let body = r#"{"error":"invalid_client","error_description":"unknown client"}"#;
        let error = response(400, body).json::<TokenResponse>().unwrap_err();
        assert!(
            error.message().contains("missing field `access_token`"),
            "{error}"
        );
        let oauth: ErrorResponse = response(400, body).json().unwrap();
        assert_eq!(
            oauth,
            ErrorResponse {
                error: "invalid_client".into(),
                error_description: Some("unknown client".into()),
                error_uri: None,
            }
        );
    }

    #[test]
    fn error_responses_come_only_with_400_or_401() {
        let body = r#"{"error":"invalid_client"}"#;
        for (status, found) in [
            (400, true),
            (401, true),
            (200, false),
            (403, false),
            (429, false),
            (500, false),
        ] {
            let oauth = ErrorResponse::from_response(&response(status, body));
            assert_eq!(
                oauth.map(|e| e.error).as_deref(),
                found.then_some("invalid_client"),
                "{status}"
            );
        }
        // A body that is not an error response: judged by its status later.
        for body in ["", "Bad Request", r#"{"message":"bad"}"#, r#"{"error":42}"#] {
            assert_eq!(
                ErrorResponse::from_response(&response(400, body)),
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn a_token_becomes_a_bearer_credential_with_its_lifetime() {
        let token: TokenResponse = response(
            200,
            r#"{"access_token":"at-1","token_type":"mac","expires_in":90,"refresh_token":"rt"}"#,
        )
        .json()
        .unwrap();
        assert_eq!(
            token.into_credential(),
            Credential::bearer("at-1").expires_in(std::time::Duration::from_secs(90))
        );
        let token: TokenResponse = response(200, r#"{"access_token":"at-2"}"#).json().unwrap();
        let credential = token.into_credential();
        assert_eq!(credential, Credential::bearer("at-2"));
        assert_eq!(credential.expires_in, None);
    }
}
