//! An API key and its secret, sent as two headers: `X-API-Key` and
//! `X-API-Secret`, the pattern of APIs that issue a key pair instead of a
//! token.
//!
//! Configuration (see `credbox.toml`): `API_KEY` and `API_SECRET`, from
//! environment variables the manifest allowlists (or `--config` for a
//! test). Nothing else of the environment is visible to the helper, and
//! credbox masks both values in anything the helper logs.

use credbox_guest::{Credential, Error, Helper, Request, config_required};

struct ApiKeySecret;

impl Helper for ApiKeySecret {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        // "misconfigured: missing config API_SECRET" when a variable is unset.
        let key = config_required("API_KEY")?;
        let secret = config_required("API_SECRET")?;
        // Headers only: there is no single token to print as an API key.
        Ok(Credential::new()
            .header("X-API-Key", key)
            .header("X-API-Secret", secret))
    }
}

credbox_guest::export!(ApiKeySecret);
