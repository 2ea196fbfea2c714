//! The request: which client asks, and for what.
//!
//! Each client protocol (Claude Code's helpers through `credbox run`, git,
//! Docker, AWS, Kubernetes, Cargo) reads its own input into a [`Request`];
//! the request is handed to the helper and is part of the credential
//! cache's key, every field of it.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::Format;

/// Who asks `credbox run` for headers (`--client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunClient {
    /// An MCP server's `headersHelper` (the default): the request names the
    /// server, from `CLAUDE_CODE_MCP_SERVER_NAME` and `_URL`.
    Mcp,
    /// Claude Code's `otelHeadersHelper`: headers for its OpenTelemetry
    /// exporter.
    Otel,
}

impl RunClient {
    /// The name as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RunClient::Mcp => "mcp",
            RunClient::Otel => "otel",
        }
    }
}

/// The variable that carries a proxy's challenge after a 407.
pub const PROXY_AUTHENTICATE: &str = "CLAUDE_CODE_PROXY_AUTHENTICATE";
/// Longest URL, host or MCP server name read from the environment.
const MAX_URL: usize = 4096;
/// Longest challenge read from the environment.
const MAX_CHALLENGE: usize = 8192;

/// A variable of the client's that credbox cannot use (exit code 2).
fn bad_var(name: &str, what: &str) -> Error {
    Error::Environment {
        message: format!("{name} {what}"),
        hint: "the client sets it; check the proxy or MCP server configuration".into(),
    }
}

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

impl Challenge {
    /// The first challenge of a `Proxy-Authenticate` value: its scheme (an
    /// RFC 9110 token) and its `realm`, quoted or not. `None` when the
    /// value does not start with a scheme.
    pub fn parse(text: &str) -> Option<Challenge> {
        let text = text.trim_start();
        let end = text.find(|c: char| !is_tchar(c)).unwrap_or(text.len());
        let (scheme, mut rest) = text.split_at(end);
        if scheme.is_empty() {
            return None;
        }
        let mut realm = None;
        // `name=value` pairs up to the next challenge (a bare token).
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            let end = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
            let (name, after) = rest.split_at(end);
            let after = after.trim_start_matches([' ', '\t']);
            let Some(after) = after.strip_prefix('=').filter(|_| !name.is_empty()) else {
                break;
            };
            let after = after.trim_start_matches([' ', '\t']);
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let mut value = String::new();
                    let mut chars = quoted.char_indices();
                    let mut end = None;
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => value.extend(chars.next().map(|(_, c)| c)),
                            '"' => {
                                end = Some(i + 1);
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    // An unterminated quote ends the parameters.
                    let Some(end) = end else { break };
                    (value, &quoted[end..])
                }
                None => {
                    let end = after.find(|c: char| !is_tchar(c)).unwrap_or(after.len());
                    (after[..end].to_owned(), &after[end..])
                }
            };
            if name.eq_ignore_ascii_case("realm") && realm.is_none() {
                realm = Some(value);
            }
            rest = next;
        }
        Some(Challenge {
            scheme: scheme.to_owned(),
            realm,
        })
    }
}

/// An RFC 9110 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
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
    /// The request of `credbox run` for `format` (and `client`, `--client`),
    /// with its context read from Claude Code's environment variables: the
    /// MCP server for headers, the proxy and its challenge for a
    /// `Proxy-Authorization`. A value that is too long or holds a control
    /// character is refused, naming the variable.
    pub fn from_env(format: Format, client: Option<RunClient>) -> Result<Request, Error> {
        Request::from_vars(format, client, |name| std::env::var(name).ok())
    }

    /// [`Request::from_env`] with the variables read by `var`.
    pub fn from_vars(
        format: Format,
        client: Option<RunClient>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Request, Error> {
        let var = |name: &str, cap: usize| -> Result<Option<String>, Error> {
            match var(name).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(value) if value.len() > cap => {
                    Err(bad_var(name, &format!("is longer than {cap} bytes")))
                }
                Some(value) if value.chars().any(char::is_control) => {
                    Err(bad_var(name, "holds a control character"))
                }
                Some(value) => Ok(Some(value)),
            }
        };
        let client = match (format, client) {
            (Format::Headers, None | Some(RunClient::Mcp)) => Client::Headers {
                mcp_server_name: var("CLAUDE_CODE_MCP_SERVER_NAME", MAX_URL)?,
                mcp_server_url: var("CLAUDE_CODE_MCP_SERVER_URL", MAX_URL)?,
            },
            (Format::Headers, Some(RunClient::Otel)) => Client::Otel,
            (Format::ApiKey, None) => Client::ApiKey,
            (Format::ProxyAuthorization, None) => {
                let challenge = var(PROXY_AUTHENTICATE, MAX_CHALLENGE)?;
                let challenge = challenge
                    .map(|text| {
                        Challenge::parse(&text).ok_or_else(|| {
                            bad_var(PROXY_AUTHENTICATE, "does not start with an auth scheme")
                        })
                    })
                    .transpose()?;
                Client::Proxy(ProxyRequest {
                    url: var("CLAUDE_CODE_PROXY_URL", MAX_URL)?,
                    host: var("CLAUDE_CODE_PROXY_HOST", MAX_URL)?,
                    challenge,
                })
            }
            (format, Some(client)) => {
                return Err(Error::Usage(format!(
                    "--client {} is for --format headers, not {format}",
                    client.as_str()
                )));
            }
        };
        Ok(Request { client })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_challenge_gives_its_scheme_and_realm() {
        let parse = |t| Challenge::parse(t).map(|c| (c.scheme, c.realm));
        let some = |s: &str, r: Option<&str>| Some((s.to_owned(), r.map(str::to_owned)));
        assert_eq!(
            parse(r#"Basic realm="corp proxy""#),
            some("Basic", Some("corp proxy"))
        );
        assert_eq!(
            parse("Bearer realm=edge, error=x"),
            some("Bearer", Some("edge"))
        );
        assert_eq!(
            parse(r#"Basic charset="UTF-8", realm="a \"q\" b""#),
            some("Basic", Some(r#"a "q" b"#))
        );
        assert_eq!(parse("Negotiate"), some("Negotiate", None));
        assert_eq!(parse(r#"Basic realm="unterminated"#), some("Basic", None));
        // The first challenge only.
        assert_eq!(parse("Basic, Bearer realm=x"), some("Basic", None));
        assert_eq!(parse("=x"), None);
        assert_eq!(parse("  "), None);
    }

    #[test]
    fn a_proxy_request_reads_the_proxy_and_its_challenge() {
        let env = [
            ("CLAUDE_CODE_PROXY_URL", "http://proxy.corp:3128"),
            ("CLAUDE_CODE_PROXY_HOST", "proxy.corp"),
            (PROXY_AUTHENTICATE, r#"Basic realm="corp""#),
        ];
        let request = Request::from_vars(Format::ProxyAuthorization, None, vars(&env)).unwrap();
        assert_eq!(
            request.client,
            Client::Proxy(ProxyRequest {
                url: Some("http://proxy.corp:3128".into()),
                host: Some("proxy.corp".into()),
                challenge: Some(Challenge {
                    scheme: "Basic".into(),
                    realm: Some("corp".into()),
                }),
            })
        );
        // The challenge is not part of the key; the proxy is.
        let fingerprint = |r: &Request| {
            let mut f = Fingerprinter::new("test");
            r.fingerprint(&mut f);
            f.finish()
        };
        let plain = Request::from_vars(Format::ProxyAuthorization, None, vars(&env[..2])).unwrap();
        assert_eq!(fingerprint(&request), fingerprint(&plain));
        let other = Request::from_vars(Format::ProxyAuthorization, None, vars(&env[1..2])).unwrap();
        assert_ne!(fingerprint(&plain), fingerprint(&other));
    }

    #[test]
    fn bad_variables_are_refused_by_name() {
        let cases = [
            (
                PROXY_AUTHENTICATE,
                "Basic realm=\"a\"\r\nX-Injected: 1".to_owned(),
            ),
            ("CLAUDE_CODE_PROXY_HOST", "h".repeat(MAX_URL + 1)),
            (PROXY_AUTHENTICATE, "\"no scheme\"".to_owned()),
        ];
        for (name, value) in cases {
            let env = [(name, value.as_str())];
            let err = Request::from_vars(Format::ProxyAuthorization, None, vars(&env)).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
            assert_eq!(err.exit_code(), 2);
        }
        let err = Request::from_vars(Format::ApiKey, Some(RunClient::Otel), vars(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--client otel is for --format headers, not api-key"
        );
        let otel = Request::from_vars(Format::Headers, Some(RunClient::Otel), vars(&[])).unwrap();
        assert_eq!(otel.client, Client::Otel);
    }
}
