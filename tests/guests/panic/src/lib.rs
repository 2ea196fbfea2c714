//! Panics: credbox must report the panic message, not a backtrace.

use credbox_guest::{Credential, Error, Helper, Request};

struct Panic;

impl Helper for Panic {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        panic!("helper exploded")
    }
}

credbox_guest::export!(Panic);
