//! Executes the wasm `unreachable` instruction: a trap, not a panic.

use credbox_guest::{Credential, Error, Helper, Request};

struct Trap;

impl Helper for Trap {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        core::arch::wasm32::unreachable()
    }
}

credbox_guest::export!(Trap);
