//! The request: what the caller asked for, as Claude Code describes it.
//!
//! Read from the process environment once per call; handed to the helper
//! and part of the credential cache's key.

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::Format;

/// What the caller asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Headers or API key.
    pub purpose: Format,
    /// `CLAUDE_CODE_MCP_SERVER_NAME`, when set.
    pub mcp_server_name: Option<String>,
    /// `CLAUDE_CODE_MCP_SERVER_URL`, when set.
    pub mcp_server_url: Option<String>,
}

impl Request {
    /// The request for `purpose`, with the MCP server read from Claude
    /// Code's environment variables.
    pub fn from_env(purpose: Format) -> Request {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Request {
            purpose,
            mcp_server_name: var("CLAUDE_CODE_MCP_SERVER_NAME"),
            mcp_server_url: var("CLAUDE_CODE_MCP_SERVER_URL"),
        }
    }
}

impl Fingerprint for Request {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let Request {
            purpose,
            mcp_server_name,
            mcp_server_url,
        } = self;
        f.field("purpose", purpose);
        f.field("mcp_server_name", mcp_server_name);
        f.field("mcp_server_url", mcp_server_url);
    }
}
