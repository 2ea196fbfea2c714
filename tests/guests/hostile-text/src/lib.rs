//! Text built to make credbox's own work slow or large, by config `MODE`:
//!
//! - `bearer-error`: fails with a 1.8 MB message of `bearer x ` (the
//!   scheme masking was quadratic in it);
//! - `bearer-log`: logs that text twice through the synchronous `log` host
//!   call, then succeeds;
//! - `control-error`: fails with a 40 MiB message of control characters
//!   (escaped in full before the cut, it took 370 MiB).

use credbox_guest::{Credential, Error, Helper, Request, config_required, log};

struct HostileText;

impl Helper for HostileText {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        match config_required("MODE")?.as_str() {
            "bearer-error" => Err(Error::other("bearer x ".repeat(200_000))),
            "bearer-log" => {
                let text = "bearer x ".repeat(200_000);
                log::warn(&text);
                log::warn(&text);
                Ok(Credential::bearer("survived"))
            }
            "control-error" => {
                let text = String::from_utf8(vec![1u8; 40 << 20]).expect("ASCII");
                Err(Error::other(text))
            }
            other => Err(Error::misconfigured(format!("unknown MODE {other}"))),
        }
    }
}

credbox_guest::export!(HostileText);
