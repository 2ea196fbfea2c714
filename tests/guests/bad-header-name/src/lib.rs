//! Returns a header name with a space, which is not an RFC 9110 token.

use credbox_guest::{Credential, Error, Helper, Request};

struct BadHeaderName;

impl Helper for BadHeaderName {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        Ok(Credential::new().header("Bad Header", "fine"))
    }
}

credbox_guest::export!(BadHeaderName);
