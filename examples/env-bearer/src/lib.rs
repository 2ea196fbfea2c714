//! The smallest useful credbox helper: hands a token from the configuration
//! to Claude Code as a bearer credential.
//!
//! `API_TOKEN` comes from the manifest's `[config]` table, a
//! `--config API_TOKEN=...` flag, or the environment when the manifest
//! allowlists it (`[env] allow = ["API_TOKEN"]`, as in `credbox.toml` here).

use credbox_guest::{Credential, Error, Helper, Request, config_required};

struct EnvBearer;

impl Helper for EnvBearer {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        // A missing token is a configuration error, reported by credbox as
        // "misconfigured: missing config API_TOKEN" with a hint on how to set it.
        let token = config_required("API_TOKEN")?;
        // Serves both uses: the API key for `apiKeyHelper`, and
        // `Authorization: Bearer <token>` for an MCP server's `headersHelper`.
        Ok(Credential::bearer(token))
    }
}

// Makes `EnvBearer` the component's `fetch` export.
credbox_guest::export!(EnvBearer);
