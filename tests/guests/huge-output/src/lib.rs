//! Returns a header whose (valid) value is 1 MiB long: credbox must refuse
//! output that large.

use credbox_guest::{Credential, Error, Helper, Request};

struct HugeOutput;

impl Helper for HugeOutput {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        Ok(Credential::new().header("X-Huge", "x".repeat(1 << 20)))
    }
}

credbox_guest::export!(HugeOutput);
