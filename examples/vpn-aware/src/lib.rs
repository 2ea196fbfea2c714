//! For a token service reachable only over the corporate VPN: probe the
//! internal network first, so that off the VPN the helper says so at once
//! instead of waiting for the token request to time out.
//!
//! Configuration (see `credbox.toml`):
//! - `PROBE_URL`: any URL on the internal network, such as a health check.
//!   Any HTTP answer, even a 404, means the network is there.
//! - `TOKEN_URL`: the internal token service. It takes
//!   `POST {"audience": "<MCP server URL>"}` with
//!   `Authorization: Bearer <CORP_API_KEY>` and answers
//!   `{"token": "...", "expires_in": 3600}`.
//! - `CORP_API_KEY`: the user's long-lived key, from the environment.

use std::time::Duration;

use credbox_guest::http::{Client, Uri};
use credbox_guest::{Credential, Error, ErrorKind, Helper, Request, config_required};
use serde::{Deserialize, Serialize};

/// How long the probe may take. Off the VPN an internal name usually fails
/// to resolve, or the connection is refused, and the probe fails at once;
/// this bounds the other case, a route that drops packets.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct TokenRequest<'a> {
    /// The MCP server the token is for (Claude Code names it when it runs
    /// credbox as a `headersHelper`).
    audience: Option<&'a str>,
}

#[derive(Deserialize)]
struct TokenResponse {
    token: String,
    expires_in: Option<u64>,
}

struct VpnAware;

impl Helper for VpnAware {
    fn fetch(request: Request) -> Result<Credential, Error> {
        let probe_url = config_required("PROBE_URL")?;
        let token_url = config_required("TOKEN_URL")?;
        let api_key = config_required("CORP_API_KEY")?;

        // 1. The probe: a GET with a short timeout. Redirects are not
        //    followed (a redirect to a login page proves the network is
        //    there too), and the status does not matter.
        let probe = Client::new()
            .timeout(PROBE_TIMEOUT)
            .max_redirects(0)
            .get(&probe_url)
            .send();
        match probe {
            Ok(_) => {}
            // Refused, unresolvable, unreachable, timed out: off the VPN.
            // `unavailable` is transient: credbox remembers it for
            // `[cache] backoff` and answers at once until then.
            Err(error) if error.kind() == ErrorKind::Unavailable => {
                let host = probe_url
                    .parse::<Uri>()
                    .ok()
                    .and_then(|uri| uri.host().map(str::to_owned))
                    .unwrap_or(probe_url);
                return Err(Error::unavailable(format!(
                    "VPN not connected or {host} unreachable"
                )));
            }
            // Anything else (a PROBE_URL outside `[network] allow`, or not
            // a URL at all) is a configuration problem: report it as is.
            Err(error) => return Err(error),
        }

        // 2. The token, with a JSON request and a JSON answer.
        let body = TokenRequest {
            audience: request.mcp_server_url(),
        };
        let token: TokenResponse = Client::new()
            .post_json(&token_url, &body)
            .bearer_auth(&api_key)
            .send()?
            .error_for_status()?
            .json()?;

        let credential = Credential::bearer(token.token);
        Ok(match token.expires_in {
            Some(seconds) => credential.expires_in(Duration::from_secs(seconds)),
            None => credential,
        })
    }
}

credbox_guest::export!(VpnAware);
