//! Allocates and touches memory 1 MiB at a time until the memory cap stops
//! it.

use credbox_guest::{Credential, Error, Helper, Request};

const MIB: usize = 1 << 20;

struct AllocBomb;

impl Helper for AllocBomb {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let mut hoard: Vec<u8> = Vec::new();
        loop {
            // Writing a non-zero byte everywhere makes the pages real.
            hoard.resize(hoard.len() + MIB, 0xa5);
            core::hint::black_box(&mut hoard);
        }
    }
}

credbox_guest::export!(AllocBomb);
