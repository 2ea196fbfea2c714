//! Puts JSON syntax, quotes and backslashes in a header value: credbox must
//! still print a JSON object whose values are plain strings.

use credbox_guest::{Credential, Error, Helper, Request};

struct JsonInValue;

impl Helper for JsonInValue {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        Ok(Credential::new().header("X-Json", r#"{"a":1,"b":[true,null]}\"\\"#))
    }
}

credbox_guest::export!(JsonInValue);
