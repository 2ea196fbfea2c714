//! Returns a credential with the parts its configuration names, so host
//! tests can check how credbox validates, caches and renders every part of
//! a `credbox:helper@0.2.0` credential.
//!
//! Configuration (every value optional; a part is there when its values
//! are):
//! - `TOKEN`: the token.
//! - `HEADER_NAME`, `HEADER_VALUE`: one header.
//! - `USERNAME`, `SECRET`: the user-secret part (both, or neither).
//! - `ACCESS_KEY_ID`, `SECRET_ACCESS_KEY` (both, or neither) and
//!   `SESSION_TOKEN`: the AWS part.
//! - `EXPIRES_IN`: seconds the credential stays valid.
//! - `EXPIRES_AT`: when it stops being valid, in Unix seconds.
//! - `EXPIRES_AT_IN`: the same, as seconds from now by the guest's own
//!   wall clock (checks `Credential::expires_at_time` inside credbox).
//! - `CLIENT`: a client's WIT case name (`git`, `docker`, ...); a request
//!   from any other client fails as `not-found`.
//!
//! A half-given pair, or a number that does not parse, fails as
//! `misconfigured`, naming the value.

use std::time::{Duration, SystemTime};

use credbox_guest::{Credential, Error, Helper, Request, config};

struct V02Parts;

impl Helper for V02Parts {
    fn fetch(request: Request) -> Result<Credential, Error> {
        if let Some(only) = config("CLIENT")
            && only != request.client.name()
        {
            return Err(Error::not_found(format!(
                "no credential for {}, only for {only}",
                request.client.name()
            )));
        }

        let mut credential = Credential::new();
        credential.token = config("TOKEN");
        if let Some((name, value)) = pair("HEADER_NAME", "HEADER_VALUE")? {
            credential = credential.header(name, value);
        }
        if let Some((username, secret)) = pair("USERNAME", "SECRET")? {
            credential = credential.user_secret(username, secret);
        }
        if let Some((id, secret)) = pair("ACCESS_KEY_ID", "SECRET_ACCESS_KEY")? {
            credential = credential.aws(id, secret, config("SESSION_TOKEN"));
        }
        if let Some(seconds) = number("EXPIRES_IN")? {
            credential = credential.expires_in(Duration::from_secs(seconds));
        }
        if let Some(at) = number("EXPIRES_AT")? {
            credential = credential.expires_at(at);
        }
        if let Some(seconds) = number("EXPIRES_AT_IN")? {
            credential =
                credential.expires_at_time(SystemTime::now() + Duration::from_secs(seconds));
        }
        Ok(credential)
    }
}

/// Both values, neither, or an error naming the missing one.
fn pair(first: &str, second: &str) -> Result<Option<(String, String)>, Error> {
    match (config(first), config(second)) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::misconfigured(format!("{first} without {second}"))),
        (None, Some(_)) => Err(Error::misconfigured(format!("{second} without {first}"))),
    }
}

/// The config value `name` as a number of seconds.
fn number(name: &str) -> Result<Option<u64>, Error> {
    config(name)
        .map(|value| {
            value
                .parse()
                .map_err(|_| Error::misconfigured(format!("{name} is not a number of seconds")))
        })
        .transpose()
}

credbox_guest::export!(V02Parts);
