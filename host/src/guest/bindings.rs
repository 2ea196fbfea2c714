//! Host bindings for the `credbox:helper/helper` world, every version, and
//! the conversions between their types and credbox's: the request going in,
//! the credential or the helper's error coming out.
//!
//! Host calls are sync; the deadline still cancels a guest blocked in
//! WASI's own async calls (sleeps, streams).

use super::RawCredential;
use crate::error::HelperErrorKind;
use crate::request::{Client, Request};

/// `credbox:helper@0.1.0`, frozen (wit/v0.1.0): its components keep
/// running unchanged.
pub mod world_v1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "helper",
        exports: { default: async },
    });
}

/// `credbox:helper@0.2.0`, frozen (wit/v0.2.0): its components keep
/// running unchanged.
pub mod world_v2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2.0",
        world: "helper",
        exports: { default: async },
    });
}

/// `credbox:helper@0.3.0` (wit/helper.wit), the world new helpers target.
pub mod world_v3 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "helper",
        exports: { default: async },
    });
}

pub use world_v1::credbox::helper::{host as v1_host, types as v1};
pub use world_v2::credbox::helper::{
    host as v2_host, keys as v2_keys, state as v2_state, types as v2, user as v2_user,
};
pub use world_v3::credbox::helper::{
    host as v3_host, keys as v3_keys, state as v3_state, types as v3, user as v3_user,
};

/// A helper's own error: its kind and its message (redacted and capped by
/// [`crate::error::Error::from_helper`]).
pub type HelperError = (HelperErrorKind, String);

/// The request in the 0.1.0 world's terms: it knows headers (with the MCP
/// server) and API keys; every other client reaches a 0.1.0 helper as a
/// request for headers, whose token or headers the client then uses.
pub fn v1_request(request: &Request) -> v1::Request {
    let (purpose, name, url) = match &request.client {
        Client::ApiKey => (v1::Purpose::ApiKey, None, None),
        Client::Headers {
            mcp_server_name,
            mcp_server_url,
        } => (
            v1::Purpose::Headers,
            mcp_server_name.clone(),
            mcp_server_url.clone(),
        ),
        _ => (v1::Purpose::Headers, None, None),
    };
    v1::Request {
        purpose,
        mcp_server_name: name,
        mcp_server_url: url,
    }
}

/// The request in the 0.2.0 world's terms: every client it knows, as it
/// is; the clients 0.3.0 added as `any` (OpenTelemetry as `headers`).
pub fn v2_request(request: &Request) -> v2::Request {
    let client = match &request.client {
        Client::Headers {
            mcp_server_name,
            mcp_server_url,
        } => v2::Client::Headers(v2::McpServer {
            name: mcp_server_name.clone(),
            url: mcp_server_url.clone(),
        }),
        Client::ApiKey => v2::Client::ApiKey,
        Client::Git(git) => v2::Client::Git(v2::GitRequest {
            protocol: git.protocol.clone(),
            host: git.host.clone(),
            path: git.path.clone(),
            username: git.username.clone(),
            wwwauth: git.wwwauth.clone(),
        }),
        Client::Docker { server_url } => v2::Client::Docker(v2::DockerRequest {
            server_url: server_url.clone(),
        }),
        Client::Aws => v2::Client::Aws,
        Client::Kubernetes { server } => v2::Client::Kubernetes(v2::KubernetesRequest {
            server: server.clone(),
        }),
        Client::Cargo(cargo) => v2::Client::Cargo(v2::CargoRequest {
            registry_name: cargo.registry_name.clone(),
            index_url: cargo.index_url.clone(),
            operation: cargo.operation.clone(),
            crate_name: cargo.crate_name.clone(),
        }),
        // Clients the 0.2.0 world does not know: an OpenTelemetry exporter
        // asks for headers (with no MCP server); the others reach a 0.2.0
        // helper as `any`, which returns every part it has.
        Client::Otel => v2::Client::Headers(v2::McpServer {
            name: None,
            url: None,
        }),
        Client::Proxy(_) | Client::PackageIndex(_) | Client::Gcp(_) | Client::Any => {
            v2::Client::Any
        }
    };
    v2::Request { client }
}

/// The request in the 0.3.0 world's terms: every client, as it is.
pub fn v3_request(request: &Request) -> v3::Request {
    let client = match &request.client {
        Client::Headers {
            mcp_server_name,
            mcp_server_url,
        } => v3::Client::Headers(v3::McpServer {
            name: mcp_server_name.clone(),
            url: mcp_server_url.clone(),
        }),
        Client::ApiKey => v3::Client::ApiKey,
        Client::Git(git) => v3::Client::Git(v3::GitRequest {
            protocol: git.protocol.clone(),
            host: git.host.clone(),
            path: git.path.clone(),
            username: git.username.clone(),
            wwwauth: git.wwwauth.clone(),
        }),
        Client::Docker { server_url } => v3::Client::Docker(v3::DockerRequest {
            server_url: server_url.clone(),
        }),
        Client::Aws => v3::Client::Aws,
        Client::Kubernetes { server } => v3::Client::Kubernetes(v3::KubernetesRequest {
            server: server.clone(),
        }),
        Client::Cargo(cargo) => v3::Client::Cargo(v3::CargoRequest {
            registry_name: cargo.registry_name.clone(),
            index_url: cargo.index_url.clone(),
            operation: cargo.operation.clone(),
            crate_name: cargo.crate_name.clone(),
        }),
        Client::Proxy(proxy) => v3::Client::Proxy(v3::ProxyRequest {
            url: proxy.url.clone(),
            host: proxy.host.clone(),
            challenge: proxy.challenge.as_ref().map(|c| v3::Challenge {
                scheme: c.scheme.clone(),
                realm: c.realm.clone(),
            }),
        }),
        Client::Otel => v3::Client::Otel,
        Client::PackageIndex(index) => v3::Client::PackageIndex(v3::PackageIndexRequest {
            url: index.url.clone(),
            username: index.username.clone(),
        }),
        Client::Gcp(gcp) => v3::Client::Gcp(v3::GcpRequest {
            audience: gcp.audience.clone(),
            token_type: gcp.token_type.clone(),
            impersonated_email: gcp.impersonated_email.clone(),
        }),
        Client::Any => v3::Client::Any,
    };
    v3::Request { client }
}

/// A 0.1.0 credential: headers, token and `expires_in` only.
pub fn from_v1(credential: v1::Credential) -> RawCredential {
    RawCredential {
        headers: credential
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        token: credential.token,
        expires_in: credential.expires_in,
        ..RawCredential::default()
    }
}

/// A 0.1.0 helper's own error.
pub fn from_v1_error(error: v1::Error) -> HelperError {
    match error {
        v1::Error::Misconfigured(m) => (HelperErrorKind::Misconfigured, m),
        v1::Error::Denied(m) => (HelperErrorKind::Denied, m),
        v1::Error::Unavailable(m) => (HelperErrorKind::Unavailable, m),
        v1::Error::Other(m) => (HelperErrorKind::Other, m),
    }
}

/// The conversions out of a world from 0.2.0 on, whose credential and
/// error have the same shape in each version: `$credential` takes a
/// credential (every part of it), `$error` a helper's own error (0.2.0
/// added `not-found`).
macro_rules! from_world {
    ($types:ident, $credential:ident, $error:ident) => {
        /// A credential of this world, every part of it.
        pub fn $credential(credential: $types::Credential) -> RawCredential {
            RawCredential {
                headers: credential
                    .headers
                    .into_iter()
                    .map(|h| (h.name, h.value))
                    .collect(),
                token: credential.token,
                user_secret: credential.user_secret.map(|u| (u.username, u.secret)),
                aws: credential
                    .aws
                    .map(|a| (a.access_key_id, a.secret_access_key, a.session_token)),
                expires_in: credential.expires_in,
                expires_at: credential.expires_at,
            }
        }

        /// A helper's own error in this world.
        pub fn $error(error: $types::Error) -> HelperError {
            match error {
                $types::Error::Misconfigured(m) => (HelperErrorKind::Misconfigured, m),
                $types::Error::Denied(m) => (HelperErrorKind::Denied, m),
                $types::Error::Unavailable(m) => (HelperErrorKind::Unavailable, m),
                $types::Error::NotFound(m) => (HelperErrorKind::NotFound, m),
                $types::Error::Other(m) => (HelperErrorKind::Other, m),
            }
        }
    };
}

from_world!(v2, from_v2, from_v2_error);
from_world!(v3, from_v3, from_v3_error);

/// A host call's error, made in 0.2.0's terms (see `keys.rs`, `state.rs`,
/// `user.rs`), in 0.3.0's: the same cases.
pub fn v3_error(error: v2::Error) -> v3::Error {
    match error {
        v2::Error::Misconfigured(m) => v3::Error::Misconfigured(m),
        v2::Error::Denied(m) => v3::Error::Denied(m),
        v2::Error::Unavailable(m) => v3::Error::Unavailable(m),
        v2::Error::NotFound(m) => v3::Error::NotFound(m),
        v2::Error::Other(m) => v3::Error::Other(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{CargoRequest, GitRequest};

    #[test]
    fn a_0_1_helper_sees_other_clients_as_a_request_for_headers() {
        let git = Request {
            client: Client::Git(GitRequest {
                host: Some("example.com".into()),
                ..GitRequest::default()
            }),
        };
        let request = v1_request(&git);
        assert!(matches!(request.purpose, v1::Purpose::Headers));
        assert_eq!(request.mcp_server_name, None);
        assert_eq!(request.mcp_server_url, None);

        let headers = Request {
            client: Client::Headers {
                mcp_server_name: Some("docs".into()),
                mcp_server_url: Some("https://mcp.example.com".into()),
            },
        };
        let request = v1_request(&headers);
        assert!(matches!(request.purpose, v1::Purpose::Headers));
        assert_eq!(request.mcp_server_name.as_deref(), Some("docs"));
        assert_eq!(
            request.mcp_server_url.as_deref(),
            Some("https://mcp.example.com")
        );

        let api_key = v1_request(&Request {
            client: Client::ApiKey,
        });
        assert!(matches!(api_key.purpose, v1::Purpose::ApiKey));
    }

    #[test]
    fn a_0_2_helper_sees_each_client_with_its_context() {
        let git = v2_request(&Request {
            client: Client::Git(GitRequest {
                protocol: Some("https".into()),
                host: Some("example.com".into()),
                path: Some("org/repo.git".into()),
                username: Some("bot".into()),
                wwwauth: vec!["Bearer realm=x".into()],
            }),
        });
        let v2::Client::Git(git) = git.client else {
            panic!("not a git request");
        };
        assert_eq!(git.protocol.as_deref(), Some("https"));
        assert_eq!(git.host.as_deref(), Some("example.com"));
        assert_eq!(git.path.as_deref(), Some("org/repo.git"));
        assert_eq!(git.username.as_deref(), Some("bot"));
        assert_eq!(git.wwwauth, ["Bearer realm=x"]);

        let cargo = v2_request(&Request {
            client: Client::Cargo(CargoRequest {
                registry_name: Some("corp".into()),
                index_url: "sparse+https://crates.example.com/".into(),
                operation: "publish".into(),
                crate_name: Some("widget".into()),
            }),
        });
        let v2::Client::Cargo(cargo) = cargo.client else {
            panic!("not a cargo request");
        };
        assert_eq!(cargo.registry_name.as_deref(), Some("corp"));
        assert_eq!(cargo.index_url, "sparse+https://crates.example.com/");
        assert_eq!(cargo.operation, "publish");
        assert_eq!(cargo.crate_name.as_deref(), Some("widget"));

        let kubernetes = v2_request(&Request {
            client: Client::Kubernetes {
                server: Some("https://k8s.example.com".into()),
            },
        });
        let v2::Client::Kubernetes(kubernetes) = kubernetes.client else {
            panic!("not a kubernetes request");
        };
        assert_eq!(
            kubernetes.server.as_deref(),
            Some("https://k8s.example.com")
        );
    }

    #[test]
    fn a_0_3_helper_hears_the_new_clients_and_a_0_2_helper_hears_any() {
        use crate::request::{Challenge, GcpRequest, PackageIndexRequest, ProxyRequest};
        let proxy = Request::new(Client::Proxy(ProxyRequest {
            url: Some("http://proxy.corp:3128".into()),
            host: Some("proxy.corp".into()),
            challenge: Some(Challenge {
                scheme: "Basic".into(),
                realm: Some("corp".into()),
            }),
        }));
        let v3::Client::Proxy(seen) = v3_request(&proxy).client else {
            panic!("not a proxy request");
        };
        assert_eq!(seen.url.as_deref(), Some("http://proxy.corp:3128"));
        assert_eq!(seen.host.as_deref(), Some("proxy.corp"));
        let challenge = seen.challenge.expect("the challenge");
        assert_eq!(
            (challenge.scheme.as_str(), challenge.realm.as_deref()),
            ("Basic", Some("corp"))
        );
        let index = Request::new(Client::PackageIndex(PackageIndexRequest {
            url: "https://pypi.corp/simple/".into(),
            username: Some("me".into()),
        }));
        let v3::Client::PackageIndex(seen) = v3_request(&index).client else {
            panic!("not a package-index request");
        };
        assert_eq!(
            (seen.url.as_str(), seen.username.as_deref()),
            ("https://pypi.corp/simple/", Some("me"))
        );
        let gcp = Request::new(Client::Gcp(GcpRequest {
            audience: "//iam.googleapis.com/x".into(),
            token_type: "urn:ietf:params:oauth:token-type:jwt".into(),
            impersonated_email: None,
        }));
        let v3::Client::Gcp(seen) = v3_request(&gcp).client else {
            panic!("not a gcp request");
        };
        assert_eq!(seen.audience, "//iam.googleapis.com/x");
        assert!(matches!(
            v3_request(&Request::new(Client::Otel)).client,
            v3::Client::Otel
        ));
        // A 0.2.0 helper: `any`, and OTel as headers for no MCP server.
        for request in [&proxy, &index, &gcp] {
            assert!(matches!(v2_request(request).client, v2::Client::Any));
        }
        let otel = v2_request(&Request::new(Client::Otel)).client;
        assert!(matches!(
            otel,
            v2::Client::Headers(v2::McpServer {
                name: None,
                url: None
            })
        ));
    }

    #[test]
    fn credentials_keep_every_part_their_world_has() {
        let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        let old = from_v1(v1::Credential {
            headers: vec![v1::Header {
                name: "X-Key".into(),
                value: "k".into(),
            }],
            token: Some("t".into()),
            expires_in: Some(60),
        });
        assert_eq!(
            old,
            RawCredential {
                headers: vec![header("X-Key", "k")],
                token: Some("t".into()),
                expires_in: Some(60),
                ..RawCredential::default()
            }
        );

        let new = from_v2(v2::Credential {
            headers: vec![v2::Header {
                name: "X-Key".into(),
                value: "k".into(),
            }],
            token: Some("t".into()),
            user_secret: Some(v2::UserSecret {
                username: "bot".into(),
                secret: "s".into(),
            }),
            aws: Some(v2::AwsCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: Some("session".into()),
            }),
            expires_in: Some(60),
            expires_at: Some(1_767_225_600),
        });
        assert_eq!(
            new,
            RawCredential {
                headers: vec![header("X-Key", "k")],
                token: Some("t".into()),
                user_secret: Some(("bot".into(), "s".into())),
                aws: Some(("AKID".into(), "secret".into(), Some("session".into()))),
                expires_in: Some(60),
                expires_at: Some(1_767_225_600),
            }
        );
    }

    #[test]
    fn helper_errors_keep_their_kind_and_message() {
        assert_eq!(
            from_v1_error(v1::Error::Denied("no".into())),
            (HelperErrorKind::Denied, "no".to_owned())
        );
        assert_eq!(
            from_v1_error(v1::Error::Unavailable("down".into())),
            (HelperErrorKind::Unavailable, "down".to_owned())
        );
        assert_eq!(
            from_v2_error(v2::Error::NotFound("none".into())),
            (HelperErrorKind::NotFound, "none".to_owned())
        );
        assert_eq!(
            from_v2_error(v2::Error::Misconfigured("bad".into())),
            (HelperErrorKind::Misconfigured, "bad".to_owned())
        );
    }
}
