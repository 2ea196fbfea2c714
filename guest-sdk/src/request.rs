//! What credbox was asked for: who asks, and for what.

/// What credbox was asked for: the [`Client`] that asks and its context.
///
/// Everything in it is part of credbox's cache key, so a helper may answer
/// differently for each (another token per MCP server, per git host, per
/// registry).
///
/// ```
/// use credbox_guest::{Client, Request};
///
/// fn audience(request: &Request) -> &str {
///     request.mcp_server_url().unwrap_or("https://api.anthropic.com")
/// }
///
/// assert_eq!(audience(&Request::default()), "https://api.anthropic.com");
/// let mcp = Request::new(Client::Headers {
///     mcp_server_name: Some("tools".into()),
///     mcp_server_url: Some("https://tools.example/mcp".into()),
/// });
/// assert_eq!(audience(&mcp), "https://tools.example/mcp");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Who asked, and for what.
    pub client: Client,
}

impl Request {
    /// A request from `client`.
    ///
    /// ```
    /// use credbox_guest::{Client, Request};
    ///
    /// assert_eq!(Request::new(Client::Aws).client, Client::Aws);
    /// ```
    pub fn new(client: Client) -> Request {
        Request { client }
    }

    /// The MCP server's name (`CLAUDE_CODE_MCP_SERVER_NAME`), when Claude
    /// Code asks for its headers and set it; `None` for any other client.
    ///
    /// ```
    /// use credbox_guest::{Client, Request};
    ///
    /// let request = Request::new(Client::Headers {
    ///     mcp_server_name: Some("tools".into()),
    ///     mcp_server_url: None,
    /// });
    /// assert_eq!(request.mcp_server_name(), Some("tools"));
    /// assert_eq!(Request::new(Client::ApiKey).mcp_server_name(), None);
    /// ```
    pub fn mcp_server_name(&self) -> Option<&str> {
        match &self.client {
            Client::Headers {
                mcp_server_name, ..
            } => mcp_server_name.as_deref(),
            _ => None,
        }
    }

    /// The MCP server's URL (`CLAUDE_CODE_MCP_SERVER_URL`), when Claude Code
    /// asks for its headers and set it; `None` for any other client.
    ///
    /// ```
    /// use credbox_guest::{Client, Request};
    ///
    /// let request = Request::new(Client::Headers {
    ///     mcp_server_name: None,
    ///     mcp_server_url: Some("https://tools.example/mcp".into()),
    /// });
    /// assert_eq!(request.mcp_server_url(), Some("https://tools.example/mcp"));
    /// assert_eq!(Request::new(Client::Any).mcp_server_url(), None);
    /// ```
    pub fn mcp_server_url(&self) -> Option<&str> {
        match &self.client {
            Client::Headers { mcp_server_url, .. } => mcp_server_url.as_deref(),
            _ => None,
        }
    }
}

/// Who asked: the client protocol, with its context. Each client takes the
/// part of the [`Credential`](crate::Credential) it can use (see each case,
/// and the README's table).
///
/// Not to be confused with [`http::Client`](crate::http::Client), the HTTP
/// client: import one of them by path (`credbox_guest::http::Client`) when
/// a helper uses both.
///
/// ```
/// use credbox_guest::{Client, Credential, GitRequest};
///
/// fn credential(client: &Client) -> Credential {
///     match client {
///         Client::Git(git) if git.host.as_deref() == Some("git.example.com") => {
///             Credential::basic("x-access-token", "ghs_123")
///         }
///         _ => Credential::bearer("ghs_123"),
///     }
/// }
///
/// let git = Client::Git(GitRequest { host: Some("git.example.com".into()), ..GitRequest::default() });
/// assert!(credential(&git).user_secret.is_some());
/// assert_eq!(git.name(), "git");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// A JSON object of HTTP headers (`credbox run --format headers`,
    /// Claude Code's `headersHelper` for MCP servers): the credential's
    /// headers or, when it has none, its token as `Authorization: Bearer`.
    Headers {
        /// `CLAUDE_CODE_MCP_SERVER_NAME`, when Claude Code set it.
        mcp_server_name: Option<String>,
        /// `CLAUDE_CODE_MCP_SERVER_URL`, when Claude Code set it.
        mcp_server_url: Option<String>,
    },
    /// A single API key (`credbox run --format api-key`, Claude Code's
    /// `apiKeyHelper`): the credential's token.
    ApiKey,
    /// git's credential helper protocol (`credbox git`): the credential's
    /// username and secret, else its token (`authtype=Bearer`).
    Git(GitRequest),
    /// The Docker credential helper protocol (`docker-credential-credbox`):
    /// the credential's username and secret, else its token.
    Docker {
        /// The registry's server URL, as the client wrote it.
        server_url: String,
    },
    /// AWS credentials (`credbox aws`: `credential_process`, or Claude
    /// Code's `awsCredentialExport`): the credential's AWS part.
    Aws,
    /// A Kubernetes exec credential plugin (`credbox k8s`): the token.
    Kubernetes {
        /// The cluster's API server, when `KUBERNETES_EXEC_INFO` provides it
        /// (`provideClusterInfo: true` in the kubeconfig).
        server: Option<String>,
    },
    /// A Cargo credential provider (`credbox cargo`): the token.
    Cargo(CargoRequest),
    /// A forward proxy (`credbox run --format proxy-authorization`, Claude
    /// Code's `proxyAuthHelper`): the credential's `Proxy-Authorization`
    /// header, else its token as `Bearer`, else its username and secret as
    /// `Basic`. With a [`ProxyRequest::challenge`], the proxy refused the
    /// last one: credbox never answers that from its cache.
    Proxy(ProxyRequest),
    /// Headers for Claude Code's OpenTelemetry exporter (`credbox run
    /// --client otel`, its `otelHeadersHelper`): as for `Headers`.
    Otel,
    /// A Python package index (`credbox keyring`, for pip and uv): the
    /// credential's username and secret, else its token as the password.
    PackageIndex(PackageIndexRequest),
    /// Google Cloud workload identity federation (`credbox gcp`): the
    /// token, a subject token of [`GcpRequest::token_type`].
    Gcp(GcpRequest),
    /// Any client: the manifest says the credential is the same whoever
    /// asks (`[cache] share = true`), so credbox does not say who asks and
    /// one cached credential answers every client. Return every part you
    /// have.
    Any,
}

impl Client {
    /// The WIT case name: `headers`, `api-key`, `git`, `docker`, `aws`,
    /// `kubernetes`, `cargo`, `proxy`, `otel`, `package-index`, `gcp` or
    /// `any` (for logs and messages).
    ///
    /// ```
    /// use credbox_guest::Client;
    ///
    /// assert_eq!(Client::ApiKey.name(), "api-key");
    /// assert_eq!(Client::Kubernetes { server: None }.name(), "kubernetes");
    /// ```
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

impl Default for Client {
    /// Headers, with no MCP server named: what `credbox run` asks by
    /// default.
    fn default() -> Client {
        Client::Headers {
            mcp_server_name: None,
            mcp_server_url: None,
        }
    }
}

/// What git asked for: `git credential`'s attributes.
///
/// ```
/// use credbox_guest::GitRequest;
///
/// let git = GitRequest {
///     protocol: Some("https".into()),
///     host: Some("git.example.com".into()),
///     ..GitRequest::default()
/// };
/// assert_eq!(git.path, None);
/// assert!(git.wwwauth.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitRequest {
    /// `protocol`, such as `https`.
    pub protocol: Option<String>,
    /// `host`, with the port when it is not the default.
    pub host: Option<String>,
    /// `path`, when `credential.useHttpPath` is set.
    pub path: Option<String>,
    /// `username`, when the URL or configuration names one.
    pub username: Option<String>,
    /// Each `wwwauth[]` value: the server's `WWW-Authenticate` headers.
    pub wwwauth: Vec<String>,
}

/// What Cargo asked for (a credential provider request, RFC 2730).
///
/// ```
/// use credbox_guest::CargoRequest;
///
/// let cargo = CargoRequest {
///     registry_name: Some("internal".into()),
///     index_url: "sparse+https://crates.example.com/index/".into(),
///     operation: "publish".into(),
///     crate_name: Some("tool".into()),
/// };
/// assert_eq!(cargo.operation, "publish");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoRequest {
    /// The registry's name, when Cargo knows it.
    pub registry_name: Option<String>,
    /// The registry's index URL.
    pub index_url: String,
    /// `read`, `publish`, `yank`, `unyank` or `owners`.
    pub operation: String,
    /// The crate, for the operations on one crate.
    pub crate_name: Option<String>,
}

/// What a forward proxy asked for.
///
/// ```
/// use credbox_guest::{Challenge, ProxyRequest};
///
/// let proxy = ProxyRequest {
///     host: Some("proxy.corp".into()),
///     challenge: Some(Challenge { scheme: "Basic".into(), realm: Some("corp".into()) }),
///     ..ProxyRequest::default()
/// };
/// assert!(proxy.challenge.is_some_and(|c| c.scheme.eq_ignore_ascii_case("basic")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRequest {
    /// The proxy's URL (`CLAUDE_CODE_PROXY_URL`), when known.
    pub url: Option<String>,
    /// The proxy's host (`CLAUDE_CODE_PROXY_HOST`), when known.
    pub host: Option<String>,
    /// The proxy's challenge, when it refused the last credential (407).
    pub challenge: Option<Challenge>,
}

/// A proxy's challenge (its `Proxy-Authenticate` header).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, such as `Basic` or `Bearer`, as the proxy wrote it.
    pub scheme: String,
    /// The `realm` parameter, when given.
    pub realm: Option<String>,
}

/// What pip or uv asked for: a package index's password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageIndexRequest {
    /// The index URL, as the client passed it.
    pub url: String,
    /// The username, when the client gave one.
    pub username: Option<String>,
}

/// What Google's auth libraries asked for: a subject token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpRequest {
    /// The workload identity provider's audience.
    pub audience: String,
    /// The subject token type, such as
    /// `urn:ietf:params:oauth:token-type:jwt`.
    pub token_type: String,
    /// The service account to impersonate, when set.
    pub impersonated_email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_request_is_headers_for_no_named_server() {
        let request = Request::default();
        assert_eq!(
            request.client,
            Client::Headers {
                mcp_server_name: None,
                mcp_server_url: None
            }
        );
        assert_eq!(request.mcp_server_name(), None);
        assert_eq!(request.mcp_server_url(), None);
    }

    #[test]
    fn only_the_headers_client_names_an_mcp_server() {
        let headers = Request::new(Client::Headers {
            mcp_server_name: Some("n".into()),
            mcp_server_url: Some("u".into()),
        });
        assert_eq!(headers.mcp_server_name(), Some("n"));
        assert_eq!(headers.mcp_server_url(), Some("u"));
        for client in [
            Client::ApiKey,
            Client::Git(GitRequest::default()),
            Client::Any,
        ] {
            let request = Request::new(client);
            assert_eq!(request.mcp_server_name(), None);
            assert_eq!(request.mcp_server_url(), None);
        }
    }

    #[test]
    fn each_client_has_its_wit_case_name() {
        let names: Vec<_> = [
            Client::default(),
            Client::ApiKey,
            Client::Git(GitRequest::default()),
            Client::Docker {
                server_url: String::new(),
            },
            Client::Aws,
            Client::Kubernetes { server: None },
            Client::Cargo(CargoRequest::default()),
            Client::Proxy(ProxyRequest::default()),
            Client::Otel,
            Client::PackageIndex(PackageIndexRequest::default()),
            Client::Gcp(GcpRequest::default()),
            Client::Any,
        ]
        .iter()
        .map(Client::name)
        .collect();
        assert_eq!(
            names,
            [
                "headers",
                "api-key",
                "git",
                "docker",
                "aws",
                "kubernetes",
                "cargo",
                "proxy",
                "otel",
                "package-index",
                "gcp",
                "any"
            ]
        );
    }
}
