//! A JWT signed with a key credbox holds (ES256, or Ed25519 as EdDSA),
//! used two ways:
//!
//! - **as a bearer token** (no `TOKEN_URL`): the service verifies the JWT
//!   with the public key;
//! - **as an OAuth client assertion** (`TOKEN_URL` set): the JWT
//!   authenticates the client at the token endpoint (RFC 7523
//!   `private_key_jwt`, client credentials grant), which answers an access
//!   token.
//!
//! Either way Claude Code gets `Authorization: Bearer <token>`. The private
//! key never enters the sandbox: the manifest names it in
//! `[keys.assertion]`, and credbox signs what the helper builds.
//!
//! Claims: `iss` (`ISSUER`, the client id), `sub` (`SUBJECT`, default the
//! issuer), `aud` (`AUDIENCE`; default the token endpoint, or the MCP
//! server's URL), `iat` (now), `exp` (now + `LIFETIME` seconds, default
//! 300) and a random `jti`. The header carries the manifest's `key_id` as
//! `kid`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credbox_guest::http::Client;
use credbox_guest::keys::{self, base64url, hex};
use credbox_guest::oauth2::{ErrorResponse, TokenResponse};
use credbox_guest::{Credential, Error, Helper, Request, config, config_required};
use serde::Serialize;

/// The name of the key in the manifest's `[keys]`.
const KEY: &str = "assertion";

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

struct Jwt;

impl Helper for Jwt {
    fn fetch(request: Request) -> Result<Credential, Error> {
        let issuer = config_required("ISSUER")?;
        let subject = config("SUBJECT").unwrap_or_else(|| issuer.clone());
        let token_url = config("TOKEN_URL");
        let audience = config("AUDIENCE")
            .or_else(|| token_url.clone())
            .or_else(|| request.mcp_server_url().map(str::to_owned))
            .ok_or_else(|| Error::misconfigured("missing config AUDIENCE"))?;
        let lifetime: u64 = match config("LIFETIME") {
            None => 300,
            Some(text) => text
                .parse()
                .map_err(|_| Error::misconfigured("LIFETIME is a number of seconds"))?,
        };

        let jwt = sign_jwt(&issuer, &subject, &audience, lifetime)?;
        let Some(token_url) = token_url else {
            // The JWT itself is the bearer token, valid `lifetime` seconds.
            return Ok(Credential::bearer(jwt).expires_in(Duration::from_secs(lifetime)));
        };

        // RFC 7523 §2.2: the JWT authenticates the client; no secret.
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", jwt.as_str()),
        ];
        let scope = config("SCOPE");
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        let response = Client::new().post_form(&token_url, &form).send()?;
        if let Some(oauth) = ErrorResponse::from_response(&response) {
            return Err(match oauth.error.as_str() {
                "invalid_client" | "invalid_grant" | "unauthorized_client" => {
                    Error::denied(format!(
                        "token endpoint refused the client assertion: {}",
                        oauth.error
                    ))
                }
                other => Error::misconfigured(format!("token endpoint answered {other}")),
            });
        }
        let token: TokenResponse = response.error_for_status()?.json()?;
        Ok(token.into_credential())
    }
}

/// A JWT with the standard claims, signed by credbox with the key
/// [`KEY`].
fn sign_jwt(issuer: &str, subject: &str, audience: &str, lifetime: u64) -> Result<String, Error> {
    let key = keys::info(KEY)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::other("the clock is before 1970"))?
        .as_secs();
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|_| Error::other("no random source"))?;
    let jti = hex(&nonce);
    let header = Header {
        alg: key.algorithm.jws_name(),
        typ: "JWT",
        kid: key.key_id.as_deref(),
    };
    let claims = Claims {
        iss: issuer,
        sub: subject,
        aud: audience,
        iat: now,
        exp: now + lifetime,
        jti: &jti,
    };
    let header = serde_json::to_string(&header).map_err(|e| Error::other(e.to_string()))?;
    let claims = serde_json::to_string(&claims).map_err(|e| Error::other(e.to_string()))?;
    let input = format!(
        "{}.{}",
        base64url(header.as_bytes()),
        base64url(claims.as_bytes())
    );
    // ES256: the 64-byte r || s that JWS wants (RFC 7518 §3.4).
    let signature = keys::sign(KEY, key.algorithm, input.as_bytes())?;
    Ok(format!("{input}.{}", base64url(&signature)))
}

credbox_guest::export!(Jwt);
