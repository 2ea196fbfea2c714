//! Makes host memory grow through `wasi:http` `fields` resources: each one
//! holds a value copied from one guest buffer (so the guest's own memory
//! stays small), and all are kept. Config `VALUE_KIB` sets the value's size
//! (default 120; credbox refuses fields over its size limit, so a smaller
//! value that fits is tried too), `COUNT` how many (default 8000).

use credbox_guest::{Credential, Error, Helper, Request, config};
use wasip2::http::types::Fields;

struct FieldsBomb;

fn number(name: &str, default: usize) -> Result<usize, Error> {
    config(name).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| Error::misconfigured(format!("{name} is not a number")))
    })
}

impl Helper for FieldsBomb {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let count = number("COUNT", 8000)?;
        let mut size = number("VALUE_KIB", 120)? << 10;
        let value = vec![b'v'; size];
        let mut kept = Vec::new();
        while kept.len() < count {
            let fields = Fields::new();
            match fields.append("x-big", &value[..size]) {
                Ok(()) => kept.push(fields),
                // Over the size limit: halve the value and go on.
                Err(_) if size > 1024 => size /= 2,
                Err(e) => return Err(Error::other(format!("append failed: {e:?}"))),
            }
        }
        Ok(Credential::bearer(format!("kept-{}", kept.len())))
    }
}

credbox_guest::export!(FieldsBomb);
