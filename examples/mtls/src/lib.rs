//! OAuth 2.0 client credentials with mutual TLS (RFC 8705): the client
//! proves who it is with a client certificate instead of a secret, and
//! gets an access token, handed to Claude Code as
//! `Authorization: Bearer <access_token>`.
//!
//! The certificate and its key are credbox's, not the helper's: the
//! manifest names them in `[[network.client_cert]]` for the token
//! endpoint's origin, and credbox presents them on TLS connections to that
//! origin only. The helper's code is an ordinary HTTPS request; it never
//! sees the key, so it cannot leak it.
//!
//! Configuration (see `credbox.toml`):
//! - `TOKEN_URL`: the token endpoint; its origin must be in `[network]
//!   allow` and have the `[[network.client_cert]]`.
//! - `CLIENT_ID`: the client's id (not a secret), from `[config]` or an
//!   allowlisted variable.
//! - `SCOPE`: optional, space-separated scopes.

use credbox_guest::http::Client;
use credbox_guest::oauth2::TokenResponse;
use credbox_guest::{Credential, Error, Helper, Request, config, config_required};

struct Mtls;

impl Helper for Mtls {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let token_url = config_required("TOKEN_URL")?;
        let client_id = config_required("CLIENT_ID")?;
        let scope = config("SCOPE");

        // RFC 8705 §2: the client id in the body, the certificate in the
        // handshake (credbox's), no secret anywhere.
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
        ];
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        // A server that refuses the handshake (no or an unknown
        // certificate) is a failed request: `unavailable`, with credbox's
        // reason in the log. 401/403 → denied, 5xx → unavailable.
        let token: TokenResponse = Client::new()
            .post_form(&token_url, &form)
            .send()?
            .error_for_status()?
            .json()?;

        // `Authorization: Bearer <access_token>`, for its `expires_in`.
        Ok(token.into_credential())
    }
}

credbox_guest::export!(Mtls);
