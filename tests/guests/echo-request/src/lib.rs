//! Hands back what credbox asked for, so a test can see that the client's
//! context went from the client through credbox into the helper.
//!
//! Headers, for every client:
//! - `X-Purpose` and `X-Client`: the client's WIT case name (`headers`,
//!   `api-key`, `git`, `docker`, `aws`, `kubernetes`, `cargo`, `proxy`,
//!   `otel`, `package-index`, `gcp`, `any`);
//!   `X-Purpose` is the 0.1 name, kept for the tests that read it.
//! - `X-Mcp-Server-Name`, `X-Mcp-Server-Url`: the MCP server that Claude
//!   Code passed to its `headersHelper` (`-` for other clients).
//! - the client's own fields: `X-Git-Protocol`, `X-Git-Host`, `X-Git-Path`,
//!   `X-Git-Username`, `X-Git-Wwwauth-Count` and `X-Git-Wwwauth-1`, `-2`,
//!   ...; `X-Docker-Server-Url`; `X-Kubernetes-Server`;
//!   `X-Cargo-Registry-Name`, `X-Cargo-Index-Url`, `X-Cargo-Operation`,
//!   `X-Cargo-Crate-Name`; `X-Proxy-Url`, `X-Proxy-Host`,
//!   `X-Proxy-Challenge-Scheme`, `X-Proxy-Challenge-Realm`; `X-Index-Url`,
//!   `X-Index-Username`; `X-Gcp-Audience`, `X-Gcp-Token-Type`,
//!   `X-Gcp-Impersonated-Email`.
//!
//! Every client but `headers` and `otel` (which get the headers alone, as in 0.1)
//! also gets the same context as one word, for the clients that read no
//! headers: as the token; for git, Docker and `any` also as the secret of
//! the user `echo`; for AWS and `any` also as the secret access key of the
//! key id `ECHOECHOECHOECHO` (only the parts the client can use: credbox
//! checks every part, and an AWS secret is at most 1 KiB). The word is the
//! client name followed by `;field=value` for each field, in the order above
//! (`wwwauth=` once per value), e.g.
//! `git;protocol=https;host=git.example;path=-;username=-`.
//!
//! A field's value: `-` when absent, `""` when empty, else the value with
//! every byte but ASCII letters, digits and ``-._~:/?#[]@!$&'()*+,``
//! percent-encoded (`%20` for a space; a lone `-` is `%2D`).

use credbox_guest::{Client, Credential, Error, Helper, Request};

struct EchoRequest;

impl Helper for EchoRequest {
    fn fetch(request: Request) -> Result<Credential, Error> {
        let client = request.client.name();
        let mut fields: Vec<(&str, &str, String)> = Vec::new();
        let mut field = |header, name, value: Option<&str>| {
            fields.push((header, name, encode(value)));
        };
        field("X-Mcp-Server-Name", "", request.mcp_server_name());
        field("X-Mcp-Server-Url", "", request.mcp_server_url());
        let mut wwwauth = Vec::new();
        match &request.client {
            Client::Git(git) => {
                field("X-Git-Protocol", "protocol", git.protocol.as_deref());
                field("X-Git-Host", "host", git.host.as_deref());
                field("X-Git-Path", "path", git.path.as_deref());
                field("X-Git-Username", "username", git.username.as_deref());
                wwwauth = git.wwwauth.iter().map(|v| encode(Some(v))).collect();
            }
            Client::Docker { server_url } => {
                field("X-Docker-Server-Url", "server-url", Some(server_url));
            }
            Client::Kubernetes { server } => {
                field("X-Kubernetes-Server", "server", server.as_deref());
            }
            Client::Cargo(cargo) => {
                field(
                    "X-Cargo-Registry-Name",
                    "registry-name",
                    cargo.registry_name.as_deref(),
                );
                field("X-Cargo-Index-Url", "index-url", Some(&cargo.index_url));
                field("X-Cargo-Operation", "operation", Some(&cargo.operation));
                field(
                    "X-Cargo-Crate-Name",
                    "crate-name",
                    cargo.crate_name.as_deref(),
                );
            }
            Client::Proxy(proxy) => {
                let challenge = proxy.challenge.as_ref();
                field("X-Proxy-Url", "url", proxy.url.as_deref());
                field("X-Proxy-Host", "host", proxy.host.as_deref());
                field(
                    "X-Proxy-Challenge-Scheme",
                    "scheme",
                    challenge.map(|c| c.scheme.as_str()),
                );
                field(
                    "X-Proxy-Challenge-Realm",
                    "realm",
                    challenge.and_then(|c| c.realm.as_deref()),
                );
            }
            Client::PackageIndex(index) => {
                field("X-Index-Url", "url", Some(&index.url));
                field("X-Index-Username", "username", index.username.as_deref());
            }
            Client::Gcp(gcp) => {
                field("X-Gcp-Audience", "audience", Some(&gcp.audience));
                field("X-Gcp-Token-Type", "token-type", Some(&gcp.token_type));
                field(
                    "X-Gcp-Impersonated-Email",
                    "impersonated-email",
                    gcp.impersonated_email.as_deref(),
                );
            }
            Client::Headers { .. } | Client::ApiKey | Client::Aws | Client::Otel | Client::Any => {}
        }

        let mut credential = Credential::new()
            .header("X-Purpose", client)
            .header("X-Client", client);
        let mut word = client.to_owned();
        for (header, name, value) in fields {
            if !name.is_empty() {
                word += &format!(";{name}={value}");
            }
            credential = credential.header(header, value);
        }
        if matches!(request.client, Client::Git(_)) {
            credential = credential.header("X-Git-Wwwauth-Count", wwwauth.len().to_string());
        }
        for (i, value) in wwwauth.into_iter().enumerate() {
            word += &format!(";wwwauth={value}");
            credential = credential.header(format!("X-Git-Wwwauth-{}", i + 1), value);
        }

        if matches!(request.client, Client::Headers { .. } | Client::Otel) {
            return Ok(credential);
        }
        if matches!(
            request.client,
            Client::Git(_) | Client::Docker { .. } | Client::Any
        ) {
            credential = credential.user_secret("echo", word.clone());
        }
        if matches!(request.client, Client::Aws | Client::Any) {
            credential = credential.aws("ECHOECHOECHOECHO", word.clone(), None);
        }
        credential.token = Some(word);
        Ok(credential)
    }
}

/// A field's value as the module's doc says.
fn encode(value: Option<&str>) -> String {
    const KEPT: &[u8] = b"-._~:/?#[]@!$&'()*+,";
    match value {
        None => "-".to_owned(),
        Some("") => "\"\"".to_owned(),
        Some("-") => "%2D".to_owned(),
        Some(value) => value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || KEPT.contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
    }
}

credbox_guest::export!(EchoRequest);
