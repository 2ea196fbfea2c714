//! Returns an API key with a space in it, which credbox must refuse.

use credbox_guest::{Credential, Error, Helper, Request};

struct ApiKeySpace;

impl Helper for ApiKeySpace {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        Ok(Credential::token("abc def"))
    }
}

credbox_guest::export!(ApiKeySpace);
