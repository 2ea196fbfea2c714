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
    /// A forward proxy's `Proxy-Authorization` value (Claude Code's
    /// `proxyAuthHelper`).
    Proxy(ProxyRequest),
    /// HTTP headers for an OpenTelemetry exporter (Claude Code's
    /// `otelHeadersHelper`, `credbox run --client otel`).
    Otel,
    /// A Python package index's password (pip's and uv's `keyring`
    /// provider, `credbox keyring`).
    PackageIndex(PackageIndexRequest),
    /// A Google Cloud external account's subject token (executable-sourced
    /// credentials, `credbox gcp`).
    Gcp(GcpRequest),
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

/// What a proxy asked for, from Claude Code's `CLAUDE_CODE_PROXY_*`
/// variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRequest {
    /// The proxy's URL (`CLAUDE_CODE_PROXY_URL`), when known.
    pub url: Option<String>,
    /// The proxy's host (`CLAUDE_CODE_PROXY_HOST`), when known.
    pub host: Option<String>,
    /// The proxy's challenge after it answered 407
    /// (`CLAUDE_CODE_PROXY_AUTHENTICATE`). Not part of the cache key: a
    /// challenge means the cached value was refused, and the fresh one
    /// replaces it.
    pub challenge: Option<Challenge>,
}

/// A `Proxy-Authenticate` (or `WWW-Authenticate`) challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The scheme, such as `Basic` or `Bearer`, as the server wrote it.
    pub scheme: String,
    /// The `realm` parameter, when given.
    pub realm: Option<String>,
}

/// What pip or uv asked for: an index's password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageIndexRequest {
    /// The index URL (or the service name the client passed).
    pub url: String,
    /// The username, when the client gave one.
    pub username: Option<String>,
}

/// What Google's auth libraries asked for: a subject token for workload
/// identity federation, from the `GOOGLE_EXTERNAL_ACCOUNT_*` variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcpRequest {
    /// The audience (`GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE`): the workload
    /// identity provider's resource name.
    pub audience: String,
    /// The subject token type (`GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE`), such
    /// as `urn:ietf:params:oauth:token-type:id_token`.
    pub token_type: String,
    /// The service account to impersonate
    /// (`GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL`), when set.
    pub impersonated_email: Option<String>,
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
            Client::Proxy(_) => "proxy",
            Client::Otel => "otel",
            Client::PackageIndex(_) => "package-index",
            Client::Gcp(_) => "gcp",
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
            Client::ApiKey | Client::Aws | Client::Otel | Client::Any => {}
            Client::Git(git) => f.field("git", git),
            Client::Docker { server_url } => f.field("server_url", server_url),
            Client::Kubernetes { server } => f.field("server", server),
            Client::Cargo(cargo) => f.field("cargo", cargo),
            Client::Proxy(proxy) => f.field("proxy", proxy),
            Client::PackageIndex(index) => f.field("package_index", index),
            Client::Gcp(gcp) => f.field("gcp", gcp),
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

impl Fingerprint for ProxyRequest {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        // The challenge is left out on purpose: a challenge says the cached
        // value was refused, and the value fetched for it is the one the
        // next request (without a challenge) must find.
        let ProxyRequest {
            url,
            host,
            challenge: _,
        } = self;
        f.field("url", url);
        f.field("host", host);
    }
}

impl Fingerprint for PackageIndexRequest {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let PackageIndexRequest { url, username } = self;
        f.field("url", url);
        f.field("username", username);
    }
}

impl Fingerprint for GcpRequest {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let GcpRequest {
            audience,
            token_type,
            impersonated_email,
        } = self;
        f.field("audience", audience);
        f.field("token_type", token_type);
        f.field("impersonated_email", impersonated_email);
    }
}
