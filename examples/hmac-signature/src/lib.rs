//! HMAC request signing: `X-Timestamp` (Unix seconds), `X-Signature` (the
//! hex HMAC-SHA256 of the timestamp) and `X-API-Key`, for services that
//! check a signature and the clock instead of a bearer token.
//!
//! The signing secret is credbox's, not the helper's: the manifest names
//! it in `[keys.signing]`, and the helper asks credbox to sign
//! ([`keys::sign`]); the secret never enters the sandbox.
//!
//! Configuration (see `credbox.toml`):
//! - `API_KEY`: the key sent beside the signature, from an allowlisted
//!   environment variable.
//! - `ACCEPTED_SKEW`: how far, in seconds, the service lets a timestamp
//!   lag its clock (default 300). The credential is cached no longer than
//!   that (credbox takes its safety margin off), so a cached signature is
//!   never stale when it is sent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use credbox_guest::keys::{self, Algorithm, hex};
use credbox_guest::{Credential, Error, Helper, Request, config, config_required};

struct HmacSignature;

impl Helper for HmacSignature {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let api_key = config_required("API_KEY")?;
        let skew: u64 = match config("ACCEPTED_SKEW") {
            None => 300,
            Some(text) => text.parse().map_err(|_| {
                Error::misconfigured("ACCEPTED_SKEW is a number of seconds, as in \"300\"")
            })?,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::other("the clock is before 1970"))?
            .as_secs();
        let timestamp = now.to_string();
        // credbox signs with the key it holds; an unknown key or another
        // algorithm is `misconfigured`, with a hint.
        let mac = keys::sign("signing", Algorithm::HmacSha256, timestamp.as_bytes())?;
        Ok(Credential::new()
            .header("X-Timestamp", timestamp)
            .header("X-Signature", hex(&mac))
            .header("X-API-Key", api_key)
            .expires_in(Duration::from_secs(skew)))
    }
}

credbox_guest::export!(HmacSignature);
