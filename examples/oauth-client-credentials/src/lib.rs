//! OAuth 2.0 client credentials (RFC 6749 §4.4): trades a client id and
//! secret for an access token at the provider's token endpoint, and hands
//! it to Claude Code as `Authorization: Bearer <access_token>`.
//!
//! Configuration (see `credbox.toml`):
//! - `TOKEN_URL`: the token endpoint; its origin must be in `[network] allow`.
//! - `CLIENT_ID`, `CLIENT_SECRET`: from the environment, allowlisted in
//!   `[env] allow` (or `--config`, for a test).
//! - `SCOPE`: optional, space-separated scopes.
//!
//! credbox caches the token for its `expires_in`, less a safety margin, so
//! the endpoint is called once per token lifetime, not once per request.

use credbox_guest::http::{Client, StatusCode};
use credbox_guest::oauth2::{ErrorResponse, TokenResponse};
use credbox_guest::{Credential, Error, Helper, Request, config, config_required};

struct ClientCredentials;

impl Helper for ClientCredentials {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        // A missing value is reported as "misconfigured: missing config
        // CLIENT_SECRET", with a hint on how to provide it.
        let token_url = config_required("TOKEN_URL")?;
        let client_id = config_required("CLIENT_ID")?;
        let client_secret = config_required("CLIENT_SECRET")?;
        let scope = config("SCOPE");

        // The credentials go in the form body ("client_secret_post").
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ];
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }

        // No timeout of our own: credbox's deadline bounds the request, and
        // a refused connection, a DNS failure or a timeout comes back as
        // `Error::unavailable` (exit code 5: try again later). A request to
        // an origin outside `[network] allow` is refused by credbox (exit
        // code 9) before anything is sent.
        let response = Client::new().post_form(&token_url, &form).send()?;

        // A wrong or revoked secret is `invalid_client` (status 400 or 401):
        // report it as denied (exit code 4), not as a configuration typo.
        if response.status == StatusCode::BAD_REQUEST
            && let Ok(oauth) = response.json::<ErrorResponse>()
        {
            return Err(match oauth.error.as_str() {
                "invalid_client" | "invalid_grant" | "unauthorized_client" => Error::denied(
                    format!("token endpoint refused the client: {}", oauth.error),
                ),
                other => Error::misconfigured(format!("token endpoint answered {other}")),
            });
        }
        // 401/403 → denied, 5xx → unavailable, other 4xx → misconfigured;
        // then the JSON body (an error never quotes it: it holds the token).
        let token: TokenResponse = response.error_for_status()?.json()?;

        // `Authorization: Bearer <access_token>`, for its `expires_in`.
        Ok(token.into_credential())
    }
}

credbox_guest::export!(ClientCredentials);
