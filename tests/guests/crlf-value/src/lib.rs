//! Tries to inject a second header through CR LF in a header value.

use credbox_guest::{Credential, Error, Helper, Request};

struct CrlfValue;

impl Helper for CrlfValue {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        Ok(Credential::new().header("X-Test", "ok\r\nInjected: yes"))
    }
}

credbox_guest::export!(CrlfValue);
