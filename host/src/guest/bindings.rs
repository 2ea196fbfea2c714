//! Host bindings for the `credbox:helper/helper` world, both versions, and
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

/// `credbox:helper@0.2.0` (wit/helper.wit).
pub mod world_v2 {
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

/// The request in the 0.2.0 world's terms: every client, as it is.
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
        Client::Any => v2::Client::Any,
    };
    v2::Request { client }
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

/// A 0.2.0 credential, every part of it.
pub fn from_v2(credential: v2::Credential) -> RawCredential {
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

/// A 0.1.0 helper's own error.
pub fn from_v1_error(error: v1::Error) -> HelperError {
    match error {
        v1::Error::Misconfigured(m) => (HelperErrorKind::Misconfigured, m),
        v1::Error::Denied(m) => (HelperErrorKind::Denied, m),
        v1::Error::Unavailable(m) => (HelperErrorKind::Unavailable, m),
        v1::Error::Other(m) => (HelperErrorKind::Other, m),
    }
}

/// A 0.2.0 helper's own error (0.2.0 adds `not-found`).
pub fn from_v2_error(error: v2::Error) -> HelperError {
    match error {
        v2::Error::Misconfigured(m) => (HelperErrorKind::Misconfigured, m),
        v2::Error::Denied(m) => (HelperErrorKind::Denied, m),
        v2::Error::Unavailable(m) => (HelperErrorKind::Unavailable, m),
        v2::Error::NotFound(m) => (HelperErrorKind::NotFound, m),
        v2::Error::Other(m) => (HelperErrorKind::Other, m),
    }
}
