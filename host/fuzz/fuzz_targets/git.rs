//! git's credential protocol: whatever git (or whoever writes credbox's
//! stdin) sends, reading and parsing it never panics, and a request that
//! parses holds no CR, LF or NUL in any value; whatever values a hostile
//! helper returns, the answer is `key=value` lines, each ending with LF,
//! with no CR or NUL anywhere, only keys credbox means to write, each
//! once.
//!
//! The input, so that seeds can be written by hand (see `corpus/git`):
//! git's request, then 0x1E and the helper's values split by 0x1F: token,
//! username, secret, expiry (Unix seconds). A value left out is absent.
#![no_main]

mod common;

use credbox::protocol::git::{Input, answer};
use credbox::protocol::{MAX_STDIN, read_capped};
use credbox::validation::Credential;
use libfuzzer_sys::fuzz_target;

/// The keys of git's answer that credbox writes.
const KEYS: [&str; 7] = [
    "username",
    "password",
    "capability[]",
    "authtype",
    "credential",
    "ephemeral",
    "password_expiry_utc",
];

fuzz_target!(|data: &[u8]| {
    let (mut stdin, values) = common::client_and_values(data);
    let Ok(text) = read_capped(&mut stdin, MAX_STDIN, true) else {
        return;
    };
    let Ok(input) = Input::parse(&text) else {
        return;
    };
    let request = &input.request;
    for value in [
        &request.protocol,
        &request.host,
        &request.path,
        &request.username,
    ]
    .into_iter()
    .flatten()
    .chain(&request.wwwauth)
    .chain(&input.capabilities)
    {
        assert!(!value.contains(['\r', '\n', '\0']), "{value:?}");
    }
    let _ = input.url();
    let _ = input.erase_requests();

    let credential = Credential {
        expires_at: values.get(3).and_then(|v| v.parse().ok()),
        ..common::credential(&values)
    };
    let Ok(out) = answer(&credential, &input) else {
        return;
    };
    assert!(out.ends_with('\n'), "{out:?}");
    assert!(!out.contains(['\r', '\0']), "{out:?}");
    let mut seen = Vec::new();
    for line in out.strip_suffix('\n').unwrap().split('\n') {
        let (key, _value) = line.split_once('=').expect("key=value");
        assert!(KEYS.contains(&key), "unexpected key in {out:?}");
        assert!(!seen.contains(&key), "{key} twice in {out:?}");
        seen.push(key);
    }
    assert!(
        seen.contains(&"password") || seen.contains(&"credential"),
        "{out:?}"
    );
});
