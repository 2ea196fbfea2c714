//! Fails with the error kind named by config `KIND` (its WIT case name:
//! `misconfigured`, `denied`, `unavailable`, `not-found`, `other`; message
//! `kind test`), or succeeds with `KIND=ok`.

use std::time::Duration;

use credbox_guest::{Credential, Error, Helper, Request, config_required};

struct ErrorKinds;

impl Helper for ErrorKinds {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let message = "kind test";
        match config_required("KIND")?.as_str() {
            "ok" => Ok(Credential::bearer("tok-ok").expires_in(Duration::from_secs(60))),
            "misconfigured" => Err(Error::misconfigured(message)),
            "denied" => Err(Error::denied(message)),
            "unavailable" => Err(Error::unavailable(message)),
            "not-found" => Err(Error::not_found(message)),
            "other" => Err(Error::other(message)),
            unknown => Err(Error::misconfigured(format!("unknown KIND {unknown}"))),
        }
    }
}

credbox_guest::export!(ErrorKinds);
