//! One helper for several MCP servers, each of another tenant: the tenant
//! is chosen per server, from the name or URL Claude Code gives the
//! helper (`CLAUDE_CODE_MCP_SERVER_NAME`, `CLAUDE_CODE_MCP_SERVER_URL`),
//! through a map in the manifest's `[config]`:
//!
//! ```toml
//! [config]
//! "tenant.internal-tools" = "acme"                   # by server name
//! "tenant.https://mcp.globex.example/mcp" = "globex" # by server URL
//! ```
//!
//! The tenant's token comes from the allowlisted variable
//! `TOKEN_<TENANT>` (`TOKEN_ACME`, `TOKEN_GLOBEX`); the helper answers
//! `Authorization: Bearer <token>` and `X-Tenant-ID: <tenant>`.
//!
//! credbox keys its cache by the server's name and URL, so each server's
//! credential is cached apart: one server never gets another's tenant.

use credbox_guest::{Credential, Error, Helper, Request, config};

struct MultiTenant;

impl Helper for MultiTenant {
    fn fetch(request: Request) -> Result<Credential, Error> {
        let by_name = request.mcp_server_name();
        let by_url = request.mcp_server_url();
        let tenant = by_name
            .and_then(|name| config(&format!("tenant.{name}")))
            .or_else(|| by_url.and_then(|url| config(&format!("tenant.{url}"))))
            .ok_or_else(|| {
                Error::misconfigured(format!(
                    "no tenant for the MCP server {}: add \"tenant.NAME\" or \"tenant.URL\" to [config]",
                    by_name.or(by_url).unwrap_or("(unnamed: not run as a headersHelper?)")
                ))
            })?;
        if tenant.is_empty()
            || !tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::misconfigured(
                "a tenant is letters, digits and -, as in [config] \"tenant.NAME\" = \"acme\"",
            ));
        }
        let variable = format!("TOKEN_{}", tenant.to_ascii_uppercase().replace('-', "_"));
        let token = config(&variable).ok_or_else(|| {
            Error::misconfigured(format!(
                "missing config {variable}: the token of tenant {tenant} (allowlist it in [env])"
            ))
        })?;
        Ok(Credential::bearer(token).header("X-Tenant-ID", tenant))
    }
}

credbox_guest::export!(MultiTenant);
