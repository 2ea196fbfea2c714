//! GETs config `URL` with the SDK's client and returns the body as the
//! token. Optional: `TIMEOUT_MS` (the client's timeout), `BEARER` (sent as
//! `Authorization: Bearer`), `POST_BYTES` (POST a form field of that many
//! bytes instead of a GET), `REPEAT` (GET it that many times, 1 by
//! default, and return the total length of the bodies instead).

use std::time::Duration;

use credbox_guest::http::Client;
use credbox_guest::{Credential, Error, Helper, Request, config, config_required};

struct HttpGet;

impl Helper for HttpGet {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let mut client = Client::new();
        if let Some(ms) = config("TIMEOUT_MS") {
            let ms = ms
                .parse()
                .map_err(|_| Error::misconfigured("TIMEOUT_MS is not a number"))?;
            client = client.timeout(Duration::from_millis(ms));
        }
        let url = config_required("URL")?;
        if let Some(repeat) = config("REPEAT") {
            let repeat: usize = repeat
                .parse()
                .map_err(|_| Error::misconfigured("REPEAT is not a number"))?;
            let mut total = 0;
            for _ in 0..repeat {
                total += client.get(&url).send()?.error_for_status()?.text()?.len();
            }
            return Ok(Credential::token(format!("got-{total}")));
        }
        let mut request = match config("POST_BYTES") {
            Some(n) => {
                let n = n
                    .parse()
                    .map_err(|_| Error::misconfigured("POST_BYTES is not a number"))?;
                client.post_form(&url, &[("blob", &"p".repeat(n))])
            }
            None => client.get(&url),
        };
        if let Some(token) = config("BEARER") {
            request = request.bearer_auth(&token);
        }
        let response = request.send()?.error_for_status()?;
        Ok(Credential::token(response.text()?.trim()))
    }
}

credbox_guest::export!(HttpGet);
