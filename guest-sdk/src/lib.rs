//! Write credbox credential helpers in Rust: one trait, one macro.
//!
//! A helper is a `cdylib` crate built for `wasm32-wasip2`. It implements
//! [`Helper`] and registers the implementation with [`export!`]; credbox
//! calls [`Helper::fetch`] once per run, inside a sandbox with no files, no
//! sockets, only allowlisted environment variables and limits on fuel, time
//! and memory.
//!
//! ```toml
//! # Cargo.toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! credbox-guest = { path = "path/to/credbox/guest-sdk" }
//! ```
//!
//! ```
//! // src/lib.rs
//! use credbox_guest::{Credential, Error, Helper, Request, config_required};
//!
//! struct EnvBearer;
//!
//! impl Helper for EnvBearer {
//!     fn fetch(_request: Request) -> Result<Credential, Error> {
//!         // `API_TOKEN` comes from the manifest's `[config]` table, a
//!         // `--config` flag or an allowlisted environment variable.
//!         let token = config_required("API_TOKEN")?;
//!         credbox_guest::debug!("token is {} bytes long", token.len());
//!         Ok(Credential::bearer(token))
//!     }
//! }
//!
//! credbox_guest::export!(EnvBearer);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and run the
//! `.wasm` file with `credbox run`.
//!
//! Helpers that fetch a token over the network use [`http::Client`], a
//! blocking client on `wasi:http` (its `json` feature, on by default, adds
//! JSON bodies and answers through `serde`).
//!
//! Everything that talks to credbox ([`config`], [`config_required`], the
//! [`log`] functions and macros, sending an [`http`] request) works only
//! inside credbox: on any other target it compiles but panics when called.
//! [`Credential`], [`Error`], [`Request`] and [`http::Response`] are plain
//! data and work everywhere, so a helper's own logic can be unit-tested
//! natively.

#![warn(missing_docs)]

mod credential;
mod error;
pub mod http;
pub mod log;

pub use credential::Credential;
pub use error::{Error, ErrorKind};

/// A credential helper: credbox calls [`Helper::fetch`] once per run.
///
/// Register the implementation with [`export!`].
///
/// ```
/// use credbox_guest::{Credential, Error, Helper, Purpose, Request};
///
/// struct Static;
///
/// impl Helper for Static {
///     fn fetch(request: Request) -> Result<Credential, Error> {
///         match request.purpose {
///             Purpose::ApiKey => Ok(Credential::token("sk-123")),
///             Purpose::Headers => Ok(Credential::new().header("X-Api-Key", "sk-123")),
///         }
///     }
/// }
///
/// credbox_guest::export!(Static);
/// ```
pub trait Helper {
    /// Produces a credential for `request`, or says why it cannot.
    ///
    /// ```
    /// # use credbox_guest::{Credential, Error, Helper, Request};
    /// # struct Denied;
    /// # impl Helper for Denied {
    /// fn fetch(_request: Request) -> Result<Credential, Error> {
    ///     Err(Error::denied("the token endpoint answered 401"))
    /// }
    /// # }
    /// ```
    fn fetch(request: Request) -> Result<Credential, Error>;
}

/// What credbox was asked for.
///
/// ```
/// use credbox_guest::{Purpose, Request};
///
/// fn audience(request: &Request) -> &str {
///     request.mcp_server_url.as_deref().unwrap_or("https://api.anthropic.com")
/// }
///
/// let request = Request { purpose: Purpose::Headers, mcp_server_name: None, mcp_server_url: None };
/// assert_eq!(audience(&request), "https://api.anthropic.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Whether the caller wants headers or an API key.
    pub purpose: Purpose,
    /// The MCP server's name, when Claude Code set
    /// `CLAUDE_CODE_MCP_SERVER_NAME`.
    pub mcp_server_name: Option<String>,
    /// The MCP server's URL, when Claude Code set
    /// `CLAUDE_CODE_MCP_SERVER_URL`.
    pub mcp_server_url: Option<String>,
}

/// What the caller will do with the credential.
///
/// ```
/// use credbox_guest::Purpose;
///
/// let purpose = Purpose::ApiKey;
/// assert_ne!(purpose, Purpose::Headers);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A JSON object of HTTP headers (Claude Code's `headersHelper`, for MCP
    /// servers). credbox prints the credential's
    /// [`headers`](Credential#structfield.headers), or turns a lone
    /// [`token`](Credential#structfield.token) into
    /// `Authorization: Bearer <token>`.
    Headers,
    /// A single API key (Claude Code's `apiKeyHelper`). credbox prints the
    /// credential's [`token`](Credential#structfield.token).
    ApiKey,
}

/// Reads the configuration value `name`: the manifest's `[config]` table (or
/// a `--config NAME=VALUE` flag) first, then an environment variable that the
/// manifest's `[env] allow` list names. `None` when neither has it.
///
/// ```no_run
/// let url = credbox_guest::config("TOKEN_URL")
///     .unwrap_or_else(|| "https://auth.example.com/oauth/token".to_owned());
/// ```
pub fn config(name: &str) -> Option<String> {
    __bindings::credbox::helper::host::get_config(name)
}

/// Reads the configuration value `name` like [`config`], failing with
/// [`Error::misconfigured`]`("missing config NAME")` when it is absent
/// (credbox adds a hint on how to provide it).
///
/// ```no_run
/// # fn fetch() -> Result<(), credbox_guest::Error> {
/// let secret = credbox_guest::config_required("CLIENT_SECRET")?;
/// # Ok(()) }
/// ```
pub fn config_required(name: &str) -> Result<String, Error> {
    config(name).ok_or_else(|| missing_config(name))
}

/// The error [`config_required`] returns for an absent value.
fn missing_config(name: &str) -> Error {
    Error::misconfigured(format!("missing config {name}"))
}

/// Exports a [`Helper`] implementation as the component's `fetch` function.
///
/// Invoke it once per helper crate, at the top level, with the type that
/// implements [`Helper`]:
///
/// ```
/// use credbox_guest::{Credential, Error, Helper, Request};
///
/// struct Fixed;
///
/// impl Helper for Fixed {
///     fn fetch(_request: Request) -> Result<Credential, Error> {
///         Ok(Credential::bearer("fixed"))
///     }
/// }
///
/// credbox_guest::export!(Fixed);
/// ```
#[macro_export]
macro_rules! export {
    ($helper:ty $(,)?) => {
        const _: () = {
            // wit-bindgen exports a named type that implements its `Guest`
            // trait; this adapter forwards to the helper, converting types.
            struct Export;

            impl $crate::__bindings::Guest for Export {
                fn fetch(
                    request: $crate::__bindings::Request,
                ) -> ::core::result::Result<
                    $crate::__bindings::Credential,
                    $crate::__bindings::Error,
                > {
                    $crate::__private::fetch::<$helper>(request)
                }
            }

            $crate::__bindings::export!(Export with_types_in $crate::__bindings);
        };
    };
}

/// Bindings generated from `wit/helper.wit`; not part of the API.
#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.1.0",
        world: "credbox:helper/helper@0.1.0",
        // The export macro is invoked from helper crates, through ours.
        pub_export_macro: true,
    });
}

/// Support for [`export!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use crate::__bindings::credbox::helper::types as wit;
    use crate::{Credential, Error, ErrorKind, Helper, Purpose, Request};

    /// Runs `H::fetch` on a request from credbox and converts the answer.
    pub fn fetch<H: Helper>(request: wit::Request) -> Result<wit::Credential, wit::Error> {
        H::fetch(from_wit(request))
            .map(credential_to_wit)
            .map_err(error_to_wit)
    }

    fn from_wit(request: wit::Request) -> Request {
        Request {
            purpose: match request.purpose {
                wit::Purpose::Headers => Purpose::Headers,
                wit::Purpose::ApiKey => Purpose::ApiKey,
            },
            mcp_server_name: request.mcp_server_name,
            mcp_server_url: request.mcp_server_url,
        }
    }

    fn credential_to_wit(credential: Credential) -> wit::Credential {
        wit::Credential {
            headers: credential
                .headers
                .into_iter()
                .map(|(name, value)| wit::Header { name, value })
                .collect(),
            token: credential.token,
            expires_in: credential.expires_in,
        }
    }

    fn error_to_wit(error: Error) -> wit::Error {
        let (kind, message) = error.into_parts();
        match kind {
            ErrorKind::Misconfigured => wit::Error::Misconfigured(message),
            ErrorKind::Denied => wit::Error::Denied(message),
            ErrorKind::Unavailable => wit::Error::Unavailable(message),
            ErrorKind::Other => wit::Error::Other(message),
        }
    }

    #[cfg(test)]
    mod tests {
        use std::time::Duration;

        use super::*;

        /// Echoes parts of the request back, so one call checks both
        /// directions of the conversion.
        struct Echo;

        impl Helper for Echo {
            fn fetch(request: Request) -> Result<Credential, Error> {
                match request.purpose {
                    Purpose::ApiKey => Ok(Credential::token(request.mcp_server_name.unwrap())),
                    Purpose::Headers => Err(Error::denied(request.mcp_server_url.unwrap())),
                }
            }
        }

        fn request(purpose: wit::Purpose) -> wit::Request {
            wit::Request {
                purpose,
                mcp_server_name: Some("tools".into()),
                mcp_server_url: Some("https://tools.example".into()),
            }
        }

        #[test]
        fn fetch_passes_the_request_and_the_answer_through() {
            let credential = fetch::<Echo>(request(wit::Purpose::ApiKey)).unwrap();
            assert_eq!(credential.token.as_deref(), Some("tools"));
            assert!(credential.headers.is_empty());
            match fetch::<Echo>(request(wit::Purpose::Headers)) {
                Err(wit::Error::Denied(message)) => assert_eq!(message, "https://tools.example"),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn a_credential_keeps_its_headers_in_order() {
            let credential = Credential::bearer("t")
                .header("X-One", "1")
                .expires_in(Duration::from_secs(90));
            let wit = credential_to_wit(credential);
            let headers: Vec<_> = wit.headers.iter().map(|h| (&*h.name, &*h.value)).collect();
            assert_eq!(headers, [("Authorization", "Bearer t"), ("X-One", "1")]);
            assert_eq!(wit.token.as_deref(), Some("t"));
            assert_eq!(wit.expires_in, Some(90));
        }

        #[test]
        fn each_error_kind_maps_to_its_wit_case() {
            for (error, case) in [
                (Error::misconfigured("m"), "misconfigured"),
                (Error::denied("m"), "denied"),
                (Error::unavailable("m"), "unavailable"),
                (Error::other("m"), "other"),
            ] {
                let (name, message) = match error_to_wit(error) {
                    wit::Error::Misconfigured(m) => ("misconfigured", m),
                    wit::Error::Denied(m) => ("denied", m),
                    wit::Error::Unavailable(m) => ("unavailable", m),
                    wit::Error::Other(m) => ("other", m),
                };
                assert_eq!((name, message.as_str()), (case, "m"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_config_names_the_value() {
        let error = missing_config("API_TOKEN");
        assert_eq!(error.kind(), ErrorKind::Misconfigured);
        assert_eq!(error.message(), "missing config API_TOKEN");
    }
}
