//! Spins forever without a host call: only fuel (or, with unlimited fuel,
//! the deadline) can stop it.

use credbox_guest::{Credential, Error, Helper, Request};

struct LoopForever;

impl Helper for LoopForever {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let mut counter = 0u64;
        loop {
            // `black_box` keeps the optimiser from proving the loop useless.
            counter = core::hint::black_box(counter.wrapping_add(1));
        }
    }
}

credbox_guest::export!(LoopForever);
