//! Write credbox credential helpers in Rust: one trait, one macro.
//!
//! A helper is a `cdylib` crate built for `wasm32-wasip2`. It implements
//! [`Helper`] and registers the implementation with [`export!`]; credbox
//! calls [`Helper::fetch`] once per run (and [`Helper::login`] for
//! `credbox login`), inside a sandbox with no files, no sockets, only
//! allowlisted environment variables and limits on fuel, time and memory.
//!
//! Version 0.2 of this crate targets the WIT package
//! `credbox:helper@0.3.0`: a [`Request`] names the [`Client`] that asks
//! (headers, an API key, git, Docker, AWS, Kubernetes, Cargo), a
//! [`Credential`] carries every part a client may take, and a helper can
//! keep [`state`], have credbox sign with its [`keys`] and talk to the
//! [`user`] of `credbox login`. Components built with version 0.1 of this
//! crate (`credbox:helper@0.1.0`) keep running unchanged, since credbox
//! accepts both worlds; their source does not compile against 0.2 as it
//! is: `request.purpose` became `request.client` (`Purpose::Headers` is
//! [`Client::Headers`], `Purpose::ApiKey` is [`Client::ApiKey`]), and
//! `request.mcp_server_name`/`mcp_server_url` became the methods
//! [`Request::mcp_server_name`] and [`Request::mcp_server_url`].
//!
//! `credbox new NAME` makes such a crate with this SDK inside it (in
//! `credbox-guest/`, so it builds without the credbox repository):
//!
//! ```toml
//! # Cargo.toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! credbox-guest = { path = "credbox-guest" }
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
//! JSON bodies and answers through `serde`, and the `oauth2` module: an
//! OAuth 2.0 token endpoint's answers, and a token response as a
//! [`Credential`]).
//!
//! Everything that talks to credbox ([`config`], [`config_required`], the
//! [`log`] functions and macros, sending an [`http`] request, [`state`],
//! [`keys::info`], [`keys::sign`], [`user::show`]) works only inside
//! credbox: on any other target it compiles but panics when called.
//! [`Credential`], [`Error`], [`Request`], [`Client`], [`http::Response`]
//! and the encoders [`keys::base64url`] and [`keys::hex`] are plain data or
//! code and work everywhere, so a helper's own logic can be unit-tested
//! natively.

#![warn(missing_docs)]

use std::time::Duration;

mod credential;
mod error;
pub mod http;
pub mod keys;
pub mod log;
#[cfg(feature = "json")]
pub mod oauth2;
mod request;
pub mod state;
pub mod user;

pub use credential::{AwsCredentials, Credential, UserSecret};
pub use error::{Error, ErrorKind};
pub use request::{
    CargoRequest, Challenge, Client, GcpRequest, GitRequest, PackageIndexRequest, ProxyRequest,
    Request,
};

/// A credential helper: credbox calls [`Helper::fetch`] once per run, and
/// [`Helper::login`] for `credbox login`.
///
/// Register the implementation with [`export!`].
///
/// ```
/// use credbox_guest::{Client, Credential, Error, Helper, Request};
///
/// struct Static;
///
/// impl Helper for Static {
///     fn fetch(request: Request) -> Result<Credential, Error> {
///         match request.client {
///             Client::ApiKey => Ok(Credential::token("sk-123")),
///             Client::Headers { .. } => Ok(Credential::new().header("X-Api-Key", "sk-123")),
///             Client::Git(_) => Ok(Credential::basic("bot", "sk-123")),
///             other => Err(Error::not_found(format!("no credential for {}", other.name()))),
///         }
///     }
/// }
///
/// credbox_guest::export!(Static);
/// ```
pub trait Helper {
    /// Produces a credential for `request`, or says why it cannot. Never
    /// interactive: nobody reads [`user::show`] here.
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

    /// Logs in: called only by `credbox login`, with a longer deadline and
    /// [`user::show`] to show messages (such as a device code). Store what
    /// [`fetch`](Helper::fetch) needs with [`state::set`].
    ///
    /// The default has nothing to log in to: it fails with
    /// [`Error::misconfigured`]`("this helper has nothing to log in to")`.
    ///
    /// ```no_run
    /// # use credbox_guest::{Credential, Error, Helper, Request, state, user};
    /// # struct Device;
    /// # impl Helper for Device {
    /// # fn fetch(_request: Request) -> Result<Credential, Error> { todo!() }
    /// fn login() -> Result<(), Error> {
    ///     user::show("Open https://auth.example.com/device and enter WDJB-MJHT")?;
    ///     // ... poll the token endpoint until the user approves ...
    ///     state::set("refresh_token", "rt-123")
    /// }
    /// # }
    /// ```
    fn login() -> Result<(), Error> {
        Err(nothing_to_log_in_to())
    }
}

/// The error of the default [`Helper::login`].
fn nothing_to_log_in_to() -> Error {
    Error::misconfigured("this helper has nothing to log in to")
}

/// Waits for `duration` (between the polls of an OAuth device flow, say)
/// without burning fuel: inside credbox it blocks on a `wasi:clocks`
/// timer; natively it is [`std::thread::sleep`]. credbox's deadline still
/// bounds the whole run.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// credbox_guest::sleep(Duration::from_millis(20));
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(duration: Duration) {
    #[cfg(target_arch = "wasm32")]
    {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        wasip2::clocks::monotonic_clock::subscribe_duration(nanos).block();
    }
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::sleep(duration);
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

/// Exports a [`Helper`] implementation as the component's `fetch` and
/// `login` functions.
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

                fn login() -> ::core::result::Result<(), $crate::__bindings::Error> {
                    $crate::__private::login::<$helper>()
                }
            }

            $crate::__bindings::export!(Export with_types_in $crate::__bindings);
        };
    };
}

/// Bindings generated from `wit/helper.wit` (`credbox:helper@0.3.0`); not
/// part of the API.
#[doc(hidden)]
// The generated lowering of a 0.2 `credential` takes one argument per flat
// field: wit-bindgen's code, not ours.
#[allow(clippy::too_many_arguments)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "credbox:helper/helper@0.3.0",
        // The export macro is invoked from helper crates, through ours.
        pub_export_macro: true,
    });
}

/// Support for [`export!`] and the modules that call credbox; not part of
/// the API.
#[doc(hidden)]
pub mod __private {
    use crate::__bindings::credbox::helper::types as wit;
    use crate::{
        AwsCredentials, CargoRequest, Challenge, Client, Credential, Error, ErrorKind, GcpRequest,
        GitRequest, Helper, PackageIndexRequest, ProxyRequest, Request, UserSecret,
    };

    /// Runs `H::fetch` on a request from credbox and converts the answer.
    pub fn fetch<H: Helper>(request: wit::Request) -> Result<wit::Credential, wit::Error> {
        H::fetch(request_from_wit(request))
            .map(credential_to_wit)
            .map_err(error_to_wit)
    }

    /// Runs `H::login` and converts its error.
    pub fn login<H: Helper>() -> Result<(), wit::Error> {
        H::login().map_err(error_to_wit)
    }

    fn request_from_wit(request: wit::Request) -> Request {
        Request {
            client: match request.client {
                wit::Client::Headers(server) => Client::Headers {
                    mcp_server_name: server.name,
                    mcp_server_url: server.url,
                },
                wit::Client::ApiKey => Client::ApiKey,
                wit::Client::Git(git) => Client::Git(GitRequest {
                    protocol: git.protocol,
                    host: git.host,
                    path: git.path,
                    username: git.username,
                    wwwauth: git.wwwauth,
                }),
                wit::Client::Docker(docker) => Client::Docker {
                    server_url: docker.server_url,
                },
                wit::Client::Aws => Client::Aws,
                wit::Client::Kubernetes(kubernetes) => Client::Kubernetes {
                    server: kubernetes.server,
                },
                wit::Client::Cargo(cargo) => Client::Cargo(CargoRequest {
                    registry_name: cargo.registry_name,
                    index_url: cargo.index_url,
                    operation: cargo.operation,
                    crate_name: cargo.crate_name,
                }),
                wit::Client::Proxy(proxy) => Client::Proxy(ProxyRequest {
                    url: proxy.url,
                    host: proxy.host,
                    challenge: proxy.challenge.map(|c| Challenge {
                        scheme: c.scheme,
                        realm: c.realm,
                    }),
                }),
                wit::Client::Otel => Client::Otel,
                wit::Client::PackageIndex(index) => Client::PackageIndex(PackageIndexRequest {
                    url: index.url,
                    username: index.username,
                }),
                wit::Client::Gcp(gcp) => Client::Gcp(GcpRequest {
                    audience: gcp.audience,
                    token_type: gcp.token_type,
                    impersonated_email: gcp.impersonated_email,
                }),
                wit::Client::Any => Client::Any,
            },
        }
    }

    fn credential_to_wit(credential: Credential) -> wit::Credential {
        let Credential {
            headers,
            token,
            user_secret,
            aws,
            expires_in,
            expires_at,
        } = credential;
        wit::Credential {
            headers: headers
                .into_iter()
                .map(|(name, value)| wit::Header { name, value })
                .collect(),
            token,
            user_secret: user_secret
                .map(|UserSecret { username, secret }| wit::UserSecret { username, secret }),
            aws: aws.map(|aws: AwsCredentials| wit::AwsCredentials {
                access_key_id: aws.access_key_id,
                secret_access_key: aws.secret_access_key,
                session_token: aws.session_token,
            }),
            expires_in,
            expires_at,
        }
    }

    fn error_to_wit(error: Error) -> wit::Error {
        let (kind, message) = error.into_parts();
        match kind {
            ErrorKind::Misconfigured => wit::Error::Misconfigured(message),
            ErrorKind::Denied => wit::Error::Denied(message),
            ErrorKind::Unavailable => wit::Error::Unavailable(message),
            ErrorKind::NotFound => wit::Error::NotFound(message),
            ErrorKind::Other => wit::Error::Other(message),
        }
    }

    /// An error from one of credbox's imports (`state`, `keys`, `user`).
    pub(crate) fn error_from_wit(error: wit::Error) -> Error {
        let (kind, message) = match error {
            wit::Error::Misconfigured(m) => (ErrorKind::Misconfigured, m),
            wit::Error::Denied(m) => (ErrorKind::Denied, m),
            wit::Error::Unavailable(m) => (ErrorKind::Unavailable, m),
            wit::Error::NotFound(m) => (ErrorKind::NotFound, m),
            wit::Error::Other(m) => (ErrorKind::Other, m),
        };
        Error::new(kind, message)
    }

    #[cfg(test)]
    mod tests {
        use std::time::Duration;

        use super::*;

        /// Hands the request back inside the error, so one call checks the
        /// conversion of the request.
        struct Echo;

        impl Helper for Echo {
            fn fetch(request: Request) -> Result<Credential, Error> {
                Err(Error::other(format!("{:?}", request.client)))
            }
        }

        /// Answers an API key request with a token, anything else with
        /// `not-found`, and logs in.
        struct Picky;

        impl Helper for Picky {
            fn fetch(request: Request) -> Result<Credential, Error> {
                match request.client {
                    Client::ApiKey => Ok(Credential::token("k")),
                    _ => Err(Error::not_found("not mine")),
                }
            }

            fn login() -> Result<(), Error> {
                Err(Error::denied("the user said no"))
            }
        }

        fn echoed(client: wit::Client) -> String {
            match fetch::<Echo>(wit::Request { client }) {
                Err(wit::Error::Other(message)) => message,
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn every_client_reaches_the_helper_with_its_context() {
            let cases = [
                (
                    wit::Client::Headers(wit::McpServer {
                        name: Some("tools".into()),
                        url: Some("https://tools.example".into()),
                    }),
                    Client::Headers {
                        mcp_server_name: Some("tools".into()),
                        mcp_server_url: Some("https://tools.example".into()),
                    },
                ),
                (wit::Client::ApiKey, Client::ApiKey),
                (
                    wit::Client::Git(wit::GitRequest {
                        protocol: Some("https".into()),
                        host: Some("git.example:8443".into()),
                        path: Some("org/repo.git".into()),
                        username: Some("alice".into()),
                        wwwauth: vec!["Basic realm=\"x\"".into(), "Bearer".into()],
                    }),
                    Client::Git(GitRequest {
                        protocol: Some("https".into()),
                        host: Some("git.example:8443".into()),
                        path: Some("org/repo.git".into()),
                        username: Some("alice".into()),
                        wwwauth: vec!["Basic realm=\"x\"".into(), "Bearer".into()],
                    }),
                ),
                (
                    wit::Client::Docker(wit::DockerRequest {
                        server_url: "registry.example".into(),
                    }),
                    Client::Docker {
                        server_url: "registry.example".into(),
                    },
                ),
                (wit::Client::Aws, Client::Aws),
                (
                    wit::Client::Kubernetes(wit::KubernetesRequest {
                        server: Some("https://k8s.example:6443".into()),
                    }),
                    Client::Kubernetes {
                        server: Some("https://k8s.example:6443".into()),
                    },
                ),
                (
                    wit::Client::Cargo(wit::CargoRequest {
                        registry_name: Some("internal".into()),
                        index_url: "sparse+https://crates.example/".into(),
                        operation: "publish".into(),
                        crate_name: Some("tool".into()),
                    }),
                    Client::Cargo(CargoRequest {
                        registry_name: Some("internal".into()),
                        index_url: "sparse+https://crates.example/".into(),
                        operation: "publish".into(),
                        crate_name: Some("tool".into()),
                    }),
                ),
                (wit::Client::Any, Client::Any),
            ];
            for (wit, client) in cases {
                assert_eq!(echoed(wit), format!("{client:?}"));
            }
        }

        #[test]
        fn fetch_and_login_pass_answers_and_errors_through() {
            let credential = fetch::<Picky>(wit::Request {
                client: wit::Client::ApiKey,
            })
            .unwrap();
            assert_eq!(credential.token.as_deref(), Some("k"));
            match fetch::<Picky>(wit::Request {
                client: wit::Client::Aws,
            }) {
                Err(wit::Error::NotFound(message)) => assert_eq!(message, "not mine"),
                other => panic!("{other:?}"),
            }
            match login::<Picky>() {
                Err(wit::Error::Denied(message)) => assert_eq!(message, "the user said no"),
                other => panic!("{other:?}"),
            }
            match login::<Echo>() {
                Err(wit::Error::Misconfigured(message)) => {
                    assert_eq!(message, "this helper has nothing to log in to")
                }
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn a_credential_keeps_every_part_and_its_headers_in_order() {
            let credential = Credential::bearer("t")
                .header("X-One", "1")
                .user_secret("u", "s")
                .aws("id", "key", Some("session".into()))
                .expires_in(Duration::from_secs(90))
                .expires_at(1_767_225_600);
            let wit = credential_to_wit(credential);
            let headers: Vec<_> = wit.headers.iter().map(|h| (&*h.name, &*h.value)).collect();
            assert_eq!(headers, [("Authorization", "Bearer t"), ("X-One", "1")]);
            assert_eq!(wit.token.as_deref(), Some("t"));
            let user = wit.user_secret.unwrap();
            assert_eq!((&*user.username, &*user.secret), ("u", "s"));
            let aws = wit.aws.unwrap();
            assert_eq!(
                (
                    &*aws.access_key_id,
                    &*aws.secret_access_key,
                    aws.session_token.as_deref()
                ),
                ("id", "key", Some("session"))
            );
            assert_eq!(wit.expires_in, Some(90));
            assert_eq!(wit.expires_at, Some(1_767_225_600));

            let empty = credential_to_wit(Credential::new());
            assert!(empty.user_secret.is_none() && empty.aws.is_none());
            assert_eq!((empty.expires_in, empty.expires_at), (None, None));
        }

        #[test]
        fn each_error_kind_maps_to_its_wit_case_and_back() {
            for (error, case) in [
                (Error::misconfigured("m"), "misconfigured"),
                (Error::denied("m"), "denied"),
                (Error::unavailable("m"), "unavailable"),
                (Error::not_found("m"), "not-found"),
                (Error::other("m"), "other"),
            ] {
                let wit = error_to_wit(error.clone());
                let (name, message) = match &wit {
                    wit::Error::Misconfigured(m) => ("misconfigured", m),
                    wit::Error::Denied(m) => ("denied", m),
                    wit::Error::Unavailable(m) => ("unavailable", m),
                    wit::Error::NotFound(m) => ("not-found", m),
                    wit::Error::Other(m) => ("other", m),
                };
                assert_eq!((name, message.as_str()), (case, "m"));
                assert_eq!(error_from_wit(wit), error);
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

    struct Fetcher;

    impl Helper for Fetcher {
        fn fetch(_request: Request) -> Result<Credential, Error> {
            Ok(Credential::new())
        }
    }

    #[test]
    fn by_default_a_helper_has_nothing_to_log_in_to() {
        let error = Fetcher::login().unwrap_err();
        assert_eq!(error, nothing_to_log_in_to());
        assert_eq!(
            error.to_string(),
            "misconfigured: this helper has nothing to log in to"
        );
    }

    #[test]
    fn sleep_waits_natively() {
        let start = std::time::Instant::now();
        sleep(Duration::from_millis(30));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
