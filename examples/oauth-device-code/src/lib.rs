//! OAuth 2.0 device authorization grant (RFC 8628) with refresh tokens:
//! log in once with `credbox login`, then every `credbox run` trades the
//! stored refresh token for an access token, for weeks.
//!
//! - `login` asks `DEVICE_URL` for a device code, shows the user where to
//!   approve it (`verification_uri` and `user_code`, one line), then polls
//!   `TOKEN_URL` at the server's `interval` (slower by 5 s after each
//!   `slow_down`) until it answers with tokens, `access_denied` or
//!   `expired_token`, and stores the refresh token in credbox's state (the
//!   OS keystore).
//! - `fetch` trades the refresh token for an access token (RFC 6749 §6),
//!   stores the new refresh token when the server rotates it, and hands
//!   the access token out as `Authorization: Bearer` with its
//!   `expires_in`, for credbox to cache. A refused refresh token
//!   (`invalid_grant`: expired, revoked, or reused after a rotation) is
//!   forgotten, and the user told to log in again.
//!
//! Configuration (see `credbox.toml`): `DEVICE_URL`, `TOKEN_URL`,
//! `CLIENT_ID`, and optionally `SCOPE` (ask for `offline_access` where the
//! provider needs it for a refresh token).

use std::time::{Duration, Instant};

use credbox_guest::http::Client;
use credbox_guest::oauth2::{ErrorResponse, TokenResponse};
use credbox_guest::{Credential, Error, Helper, Request, config, config_required, state, user};
use serde::Deserialize;

/// Where the refresh token is kept.
const REFRESH_TOKEN: &str = "refresh_token";
/// The device code grant's `grant_type` (RFC 8628 §3.4).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Polling interval when the server names none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: u64 = 5;
/// Added to the interval after each `slow_down` (RFC 8628 §3.5).
const SLOW_DOWN: u64 = 5;

/// The device authorization response (RFC 8628 §3.2).
#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    interval: Option<u64>,
}

/// Keeps `text` to one short line of printable characters: it came from
/// the server and is shown on the user's terminal.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

struct DeviceCodeHelper;

impl Helper for DeviceCodeHelper {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let token_url = config_required("TOKEN_URL")?;
        let client_id = config_required("CLIENT_ID")?;
        // Not logged in: credbox turns this into "run: credbox login <manifest>".
        let Some(refresh_token) = state::get(REFRESH_TOKEN)? else {
            return Err(Error::misconfigured("not logged in"));
        };
        let response = Client::new()
            .post_form(
                &token_url,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token),
                    ("client_id", &client_id),
                ],
            )
            .send()?;
        if let Some(ErrorResponse { error, .. }) = ErrorResponse::from_response(&response) {
            return Err(match error.as_str() {
                // Expired, revoked, or reused after a rotation: it will
                // never work again. Forgetting it makes every later run ask
                // for a login too.
                "invalid_grant" => {
                    state::delete(REFRESH_TOKEN)?;
                    Error::misconfigured(
                        "the refresh token was refused (invalid_grant): log in again",
                    )
                }
                "invalid_client" | "unauthorized_client" => {
                    Error::denied(format!("the token endpoint refused the client: {error}"))
                }
                other => Error::misconfigured(format!(
                    "the token endpoint answered {}",
                    printable(other)
                )),
            });
        }
        let tokens: TokenResponse = response.error_for_status()?.json()?;
        // Rotation: the old refresh token is now spent; keep the new one
        // before handing anything out.
        if let Some(rotated) = &tokens.refresh_token
            && *rotated != refresh_token
        {
            state::set(REFRESH_TOKEN, rotated)?;
        }
        Ok(tokens.into_credential())
    }

    fn login() -> Result<(), Error> {
        let device_url = config_required("DEVICE_URL")?;
        let token_url = config_required("TOKEN_URL")?;
        let client_id = config_required("CLIENT_ID")?;
        let scope = config("SCOPE");
        let mut form = vec![("client_id", client_id.as_str())];
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        let device: DeviceCode = Client::new()
            .post_form(&device_url, &form)
            .send()?
            .error_for_status()?
            .json()?;
        user::show(&format!(
            "To log in, open {} and enter the code {}",
            printable(&device.verification_uri),
            printable(&device.user_code)
        ))?;

        let expires = Instant::now() + Duration::from_secs(device.expires_in);
        let mut interval = device.interval.unwrap_or(DEFAULT_INTERVAL);
        let client = Client::new();
        loop {
            credbox_guest::sleep(Duration::from_secs(interval));
            if Instant::now() >= expires {
                return Err(Error::denied(
                    "the code expired before it was approved; log in again",
                ));
            }
            let response = client
                .post_form(
                    &token_url,
                    &[
                        ("grant_type", DEVICE_GRANT),
                        ("device_code", &device.device_code),
                        ("client_id", &client_id),
                    ],
                )
                .send()?;
            let error = ErrorResponse::from_response(&response).map(|e| e.error);
            match error.as_deref() {
                None => {}
                Some("authorization_pending") => continue,
                Some("slow_down") => {
                    interval += SLOW_DOWN;
                    continue;
                }
                Some("access_denied") => return Err(Error::denied("the login was refused")),
                Some("expired_token") => {
                    return Err(Error::denied(
                        "the code expired before it was approved; log in again",
                    ));
                }
                Some(other) => {
                    return Err(Error::misconfigured(format!(
                        "the token endpoint answered {}",
                        printable(other)
                    )));
                }
            }
            let tokens: TokenResponse = response.error_for_status()?.json()?;
            let Some(refresh_token) = tokens.refresh_token else {
                return Err(Error::misconfigured(
                    "the server sent no refresh token (does SCOPE need offline_access?)",
                ));
            };
            return state::set(REFRESH_TOKEN, &refresh_token);
        }
    }
}

credbox_guest::export!(DeviceCodeHelper);
