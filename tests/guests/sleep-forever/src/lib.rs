//! Sleeps in short host calls forever, burning almost no fuel: only the
//! deadline can stop it.

use std::time::Duration;

use credbox_guest::{Credential, Error, Helper, Request};

struct SleepForever;

impl Helper for SleepForever {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        loop {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

credbox_guest::export!(SleepForever);
