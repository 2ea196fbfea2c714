//! TEMPORARY: the contract's 0.2 types (notes/contract.md), until the
//! lead's core lands on main; then this file goes and the protocols use
//! `crate::request` and `crate::validation`.
#![allow(missing_docs)]

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub client: Client,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    Headers {
        mcp_server_name: Option<String>,
        mcp_server_url: Option<String>,
    },
    ApiKey,
    Git(GitRequest),
    Docker {
        server_url: String,
    },
    Any,
}

impl Default for Client {
    fn default() -> Self {
        Client::Headers {
            mcp_server_name: None,
            mcp_server_url: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitRequest {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub username: Option<String>,
    pub wwwauth: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSecret {
    pub username: String,
    pub secret: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credential {
    pub headers: Vec<(String, String)>,
    pub token: Option<String>,
    pub user_secret: Option<UserSecret>,
    pub expires_at: Option<u64>,
}
