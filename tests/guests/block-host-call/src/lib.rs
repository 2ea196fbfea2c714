//! Makes one host call that does not return for an hour: wasm never runs
//! again, so only the host-side deadline can stop it.

use std::time::Duration;

use credbox_guest::{Credential, Error, Helper, Request};

struct BlockHostCall;

impl Helper for BlockHostCall {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        std::thread::sleep(Duration::from_secs(3600));
        Err(Error::other("woke up after an hour"))
    }
}

credbox_guest::export!(BlockHostCall);
