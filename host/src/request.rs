//! The request: which client asks, and for what.
//!
//! Each client protocol (Claude Code's helpers through `credbox run`, git,
//! Docker, AWS, Kubernetes, Cargo) reads its own input into a [`Request`];
//! the request is handed to the helper and is part of the credential
//! cache's key, every field of it.

use serde::{Deserialize, Serialize};

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::Format;

/// What the caller asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Who asked, and with what context.
    pub client: Client,
}

/// The client protocol that asks, with its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Client {
    /// A JSON object of HTTP headers (Claude Code's `headersHelper`).
    Headers {
        /// `CLAUDE_CODE_MCP_SERVER_NAME`, when set.
        mcp_server_name: Option<String>,
        /// `CLAUDE_CODE_MCP_SERVER_URL`, when set.
        mcp_server_url: Option<String>,
    },
    /// A single API key (Claude Code's `apiKeyHelper`).
    ApiKey,
    /// git's credential helper protocol.
    Git(GitRequest),
    /// The Docker credential helper protocol.
    Docker {
        /// The registry's server URL.
        server_url: String,
    },
    /// AWS credentials (`credential_process`, Claude Code's
    /// `awsCredentialExport`).
    Aws,
    /// A Kubernetes exec credential plugin.
    Kubernetes {
        /// The cluster's API server, from `KUBERNETES_EXEC_INFO`.
        server: Option<String>,
    },
    /// A Cargo credential provider.
    Cargo(CargoRequest),
    /// Any client: the manifest shares one credential among all clients
    /// (`[cache] share = true`), so the helper is not told who asks.
    Any,
}

impl Default for Client {
    fn default() -> Client {
        Client::Headers {
            mcp_server_name: None,
            mcp_server_url: None,
        }
    }
}

/// What git asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitRequest {
    /// `protocol`, such as `https`.
    pub protocol: Option<String>,
    /// `host`, with a non-default port.
    pub host: Option<String>,
    /// `path`, when `credential.useHttpPath` is set.
    pub path: Option<String>,
    /// `username`, when known.
    pub username: Option<String>,
    /// Each `wwwauth[]` value, in order.
    pub wwwauth: Vec<String>,
}

/// What Cargo asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CargoRequest {
    /// The registry's name, when Cargo knows it.
    pub registry_name: Option<String>,
    /// The registry's index URL.
    pub index_url: String,
    /// `read`, `publish`, `yank`, `unyank` or `owners`.
    pub operation: String,
    /// The crate, for operations on one crate.
    pub crate_name: Option<String>,
}

impl Request {
    /// The request of `credbox run` for `format`, with the MCP server read
    /// from Claude Code's environment variables.
    pub fn from_env(format: Format) -> Request {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let client = match format {
            Format::Headers => Client::Headers {
                mcp_server_name: var("CLAUDE_CODE_MCP_SERVER_NAME"),
                mcp_server_url: var("CLAUDE_CODE_MCP_SERVER_URL"),
            },
            Format::ApiKey => Client::ApiKey,
        };
        Request { client }
    }

    /// A request from `client`.
    pub fn new(client: Client) -> Request {
        Request { client }
    }
}

impl Client {
    /// The client's name, as the README and messages call it.
    pub fn name(&self) -> &'static str {
        match self {
            Client::Headers { .. } => "headers",
            Client::ApiKey => "api-key",
            Client::Git(_) => "git",
            Client::Docker { .. } => "docker",
            Client::Aws => "aws",
            Client::Kubernetes { .. } => "kubernetes",
            Client::Cargo(_) => "cargo",
            Client::Any => "any",
        }
    }
}

impl Fingerprint for Request {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let Request { client } = self;
        f.field("client", client);
    }
}

impl Fingerprint for Client {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.field("kind", self.name());
        match self {
            Client::Headers {
                mcp_server_name,
                mcp_server_url,
            } => {
                f.field("mcp_server_name", mcp_server_name);
                f.field("mcp_server_url", mcp_server_url);
            }
            Client::ApiKey | Client::Aws | Client::Any => {}
            Client::Git(git) => f.field("git", git),
            Client::Docker { server_url } => f.field("server_url", server_url),
            Client::Kubernetes { server } => f.field("server", server),
            Client::Cargo(cargo) => f.field("cargo", cargo),
        }
    }
}

impl Fingerprint for GitRequest {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let GitRequest {
            protocol,
            host,
            path,
            username,
            wwwauth,
        } = self;
        f.field("protocol", protocol);
        f.field("host", host);
        f.field("path", path);
        f.field("username", username);
        f.field("wwwauth", wwwauth);
    }
}

impl Fingerprint for CargoRequest {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let CargoRequest {
            registry_name,
            index_url,
            operation,
            crate_name,
        } = self;
        f.field("registry_name", registry_name);
        f.field("index_url", index_url);
        f.field("operation", operation);
        f.field("crate_name", crate_name);
    }
}
