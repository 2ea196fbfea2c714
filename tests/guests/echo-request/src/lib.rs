//! Hands back what credbox asked for, as headers: the purpose, and the MCP
//! server's name and URL that Claude Code passed to its `headersHelper`
//! (`-` when absent). Lets a test see, at the MCP server, that the name and
//! URL went from Claude Code through credbox into the helper.

use credbox_guest::{Credential, Error, Helper, Purpose, Request};

struct EchoRequest;

impl Helper for EchoRequest {
    fn fetch(request: Request) -> Result<Credential, Error> {
        let purpose = match request.purpose {
            Purpose::Headers => "headers",
            Purpose::ApiKey => "api-key",
        };
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
        Ok(Credential::new()
            .header("X-Purpose", purpose)
            .header("X-Mcp-Server-Name", or_dash(request.mcp_server_name))
            .header("X-Mcp-Server-Url", or_dash(request.mcp_server_url)))
    }
}

credbox_guest::export!(EchoRequest);
