//! A hostile helper after the keys credbox holds: it tries every way a
//! component has to get a key's bytes, and hands back everything it got,
//! so the test can check that no key byte is among it.
//!
//! For each name in `KEYS` (comma-separated) and a few hostile ones, it
//! asks `keys::info`, signs `credbox` with every algorithm (the key's and
//! the others) and signs 64 KiB + 1 bytes; it reads the key's variable
//! (`KEY_VARIABLE`) through `config` and the environment, and files
//! (`KEY_FILE`, `/proc/self/environ`). Each name's answers become one
//! header, `X-Key-<i>: info=<a>;hmac-sha256=<a>;es256=<a>;ed25519=<a>;big=<a>`
//! (an answer is hex bytes, or `error:<kind>`), and one log line with the
//! error messages in full; the other probes become `X-Env`, `X-Config`,
//! `X-Env-Names` and `X-File-<i>`.

use credbox_guest::keys::{self, Algorithm, hex};
use credbox_guest::{Credential, Error, Helper, Request, config, log};

/// An answer as text: hex bytes, or `error:<kind>`; and the error's
/// message, if any.
fn short(result: &Result<Vec<u8>, Error>) -> (String, Option<String>) {
    match result {
        Ok(bytes) => (hex(bytes), None),
        Err(e) => (format!("error:{}", e.kind()), Some(e.message().to_owned())),
    }
}

struct KeyThief;

impl Helper for KeyThief {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let mut credential = Credential::new();
        let listed = config("KEYS").unwrap_or_default();
        let long = "k".repeat(100_000);
        let mut names: Vec<&str> = listed.split(',').filter(|n| !n.is_empty()).collect();
        names.extend(["", "HMAC", "../../etc/passwd", long.as_str()]);
        let algorithms = [
            ("hmac-sha256", Algorithm::HmacSha256),
            ("es256", Algorithm::Es256),
            ("ed25519", Algorithm::Ed25519),
        ];
        let big = vec![b'x'; 64 * 1024 + 1];
        for (i, name) in names.iter().enumerate() {
            let info = keys::info(name);
            let mut results = vec![(
                "info",
                info.as_ref()
                    .map(|info| {
                        let mut bytes = info.public_key.clone().unwrap_or_default();
                        bytes.extend(info.key_id.clone().unwrap_or_default().into_bytes());
                        bytes
                    })
                    .map_err(Clone::clone),
            )];
            for (label, algorithm) in algorithms {
                results.push((label, keys::sign(name, algorithm, b"credbox")));
            }
            let own = info.map(|i| i.algorithm).unwrap_or(Algorithm::HmacSha256);
            results.push(("big", keys::sign(name, own, &big)));
            let mut header = Vec::new();
            let mut messages = Vec::new();
            for (label, result) in &results {
                let (text, message) = short(result);
                header.push(format!("{label}={text}"));
                messages.extend(message.map(|m| format!("{label}: {m}")));
            }
            log::warn(&format!("key #{i}: {}", messages.join(" | ")));
            credential = credential.header(format!("X-Key-{i}"), header.join(";"));
        }

        // The key's variable, by every road a component has.
        if let Some(variable) = config("KEY_VARIABLE") {
            let by_config = config(&variable).unwrap_or_else(|| "none".into());
            let by_env = std::env::var(&variable).unwrap_or_else(|e| e.to_string());
            credential = credential
                .header("X-Config", hex(by_config.as_bytes()))
                .header("X-Env", hex(by_env.as_bytes()));
        }
        let visible: Vec<String> = std::env::vars().map(|(name, _)| name).collect();
        credential = credential.header("X-Env-Names", format!("[{}]", visible.join(",")));
        let mut files = vec!["/proc/self/environ".to_owned(), ".".to_owned()];
        files.extend(config("KEY_FILE"));
        for (i, path) in files.iter().enumerate() {
            let (text, message) =
                short(&std::fs::read(path).map_err(|e| Error::other(e.to_string())));
            log::warn(&format!("read {path}: {}", message.unwrap_or_default()));
            credential = credential.header(format!("X-File-{i}"), text);
        }
        Ok(credential)
    }
}

credbox_guest::export!(KeyThief);
