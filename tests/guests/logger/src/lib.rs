//! Logs 5 info lines (one with the `API_TOKEN` secret in it, which credbox
//! must redact) and then 1000 warnings (more than credbox lets through).

use credbox_guest::{Credential, Error, Helper, Request, config, info, warn};

struct Logger;

impl Helper for Logger {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let token = config("API_TOKEN").unwrap_or_default();
        for i in 1..=4 {
            info!("info line {i} of 5");
        }
        info!("info line 5 of 5: the token is {token}");
        for i in 1..=1000 {
            warn!("warning {i} of 1000");
        }
        Ok(Credential::bearer("logged"))
    }
}

credbox_guest::export!(Logger);
