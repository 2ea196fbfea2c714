//! A forward proxy's credential, for Claude Code's `proxyAuthHelper`
//! (`credbox run --format proxy-authorization`): `Basic` for a proxy that
//! takes a username and password, `Bearer` for one that takes a token.
//!
//! Configuration (see `credbox.toml`), from allowlisted environment
//! variables (or `--config` for a test):
//! - `PROXY_USER` and `PROXY_PASSWORD`: sent as `Basic
//!   base64(user:password)` (credbox encodes it, RFC 7617);
//! - `PROXY_TOKEN`: sent as `Bearer <token>`;
//! - `PROXY_SCHEME` (`basic` or `bearer`): which to send when both are
//!   configured and the proxy has not said.
//!
//! When the proxy refused the last value (a 407), the request carries its
//! challenge, and the helper answers in the scheme the proxy asked for.
//! Any other client gets the token, else the username and password.

use credbox_guest::{Client, Credential, Error, Helper, Request, config, config_required};

struct ProxyAuth;

/// The two schemes this helper speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Basic,
    Bearer,
}

impl Scheme {
    fn parse(name: &str) -> Option<Scheme> {
        match name.to_ascii_lowercase().as_str() {
            "basic" => Some(Scheme::Basic),
            "bearer" => Some(Scheme::Bearer),
            _ => None,
        }
    }
}

impl Helper for ProxyAuth {
    fn fetch(request: Request) -> Result<Credential, Error> {
        let challenged = match &request.client {
            Client::Proxy(proxy) => proxy.challenge.as_ref().map(|c| c.scheme.as_str()),
            _ => None,
        };
        let scheme = match (challenged, config("PROXY_SCHEME")) {
            (Some(asked), _) => Scheme::parse(asked).ok_or_else(|| {
                Error::misconfigured(format!(
                    "the proxy asks for {asked:?}; this helper speaks \"Basic\" and \"Bearer\""
                ))
            })?,
            (None, Some(chosen)) => Scheme::parse(&chosen).ok_or_else(|| {
                Error::misconfigured("PROXY_SCHEME must be \"basic\" or \"bearer\"")
            })?,
            (None, None) if config("PROXY_TOKEN").is_some() => Scheme::Bearer,
            (None, None) => Scheme::Basic,
        };
        match scheme {
            Scheme::Basic => Ok(Credential::basic(
                config_required("PROXY_USER")?,
                config_required("PROXY_PASSWORD")?,
            )),
            Scheme::Bearer => Ok(Credential::token(config_required("PROXY_TOKEN")?)),
        }
    }
}

credbox_guest::export!(ProxyAuth);
