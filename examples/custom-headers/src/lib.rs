//! Custom authentication headers: `X-Auth-Token`, `X-User-ID` and
//! `X-Tenant-ID`, for services that identify the user and tenant beside
//! the token.
//!
//! Configuration (see `credbox.toml`):
//! - `AUTH_TOKEN`: the secret, from an allowlisted environment variable.
//! - `USER_ID`, `TENANT_ID`: not secret, so in the manifest's `[config]`;
//!   an environment variable of the same name, when allowlisted, or a
//!   `--config` flag, works too (`[config]` and flags come first).

use credbox_guest::{Credential, Error, Helper, Request, config_required};

struct CustomHeaders;

impl Helper for CustomHeaders {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let token = config_required("AUTH_TOKEN")?;
        let user = config_required("USER_ID")?;
        let tenant = config_required("TENANT_ID")?;
        // credbox checks every name and value (no newline can split a
        // header) before it prints the JSON object.
        Ok(Credential::new()
            .header("X-Auth-Token", token)
            .header("X-User-ID", user)
            .header("X-Tenant-ID", tenant))
    }
}

credbox_guest::export!(CustomHeaders);
