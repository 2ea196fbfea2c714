//! Makes host memory grow through outgoing request bodies that are never
//! sent (so no network permission is needed): for each of `COUNT` requests
//! (default 1000) it writes as much of a 1 MiB buffer into the body as
//! the host accepts without blocking, and keeps request, body and stream.

use credbox_guest::{Credential, Error, Helper, Request, config};
use wasip2::http::types::{Fields, OutgoingRequest};

struct BodyBomb;

impl Helper for BodyBomb {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let count: usize = config("COUNT").and_then(|c| c.parse().ok()).unwrap_or(1000);
        let data = vec![b'b'; 1 << 20];
        let mut kept = Vec::new();
        let mut buffered = 0usize;
        for _ in 0..count {
            let request = OutgoingRequest::new(Fields::new());
            let body = request.body().map_err(|()| Error::other("no body"))?;
            let stream = body.write().map_err(|()| Error::other("no stream"))?;
            let mut written = 0;
            while written < data.len() {
                match stream.check_write() {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let n = (n as usize).min(data.len() - written);
                        if stream.write(&data[written..written + n]).is_err() {
                            break;
                        }
                        written += n;
                    }
                }
            }
            buffered += written;
            // Stream, body, request: a resource drops after its children.
            kept.push((stream, body, request));
        }
        Ok(Credential::bearer(format!("buffered-{buffered}")))
    }
}

credbox_guest::export!(BodyBomb);
