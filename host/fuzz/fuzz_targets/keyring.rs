//! The `keyring` command pip and uv run: whatever arguments the client
//! passes, parsing them never panics, and a SERVICE and USERNAME taken are
//! not empty, within their caps and free of control characters; whatever
//! values a hostile helper returns, the answer is the password line (or
//! the username and password lines), each ending with LF, with no CR or
//! NUL, and a user-secret never goes out under another username.
//!
//! The input, so that seeds can be written by hand (see `corpus/keyring`):
//! the arguments split by 0x1F (bytes, not necessarily UTF-8), then 0x1E
//! and the helper's values split by 0x1F: token, username, secret.
#![no_main]

mod common;

use std::ffi::OsString;

use credbox::protocol::keyring::{MAX_SERVICE, MAX_USERNAME, Mode, Operation, answer, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (client, values) = common::client_and_values(data);
    let args: Vec<OsString> = client.split(|&b| b == 0x1f).map(os_string).collect();
    let Ok(invocation) = parse(&args) else {
        return;
    };
    let Operation::Get { service, username } = invocation.operation else {
        return;
    };
    let clean = |text: &str, max: usize| {
        !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
    };
    assert!(clean(&service, MAX_SERVICE), "{service:?}");
    assert!(username.as_deref().is_none_or(|u| clean(u, MAX_USERNAME)));
    let _ = credbox::protocol::keyring::route_url(&service);

    let credential = common::credential(&values);
    let Ok(out) = answer(&credential, username.as_deref(), invocation.mode) else {
        return;
    };
    assert!(!out.contains(['\r', '\0']), "{out:?}");
    let lines: Vec<&str> = out
        .strip_suffix('\n')
        .expect("ends with LF")
        .split('\n')
        .collect();
    match invocation.mode {
        Mode::Password => assert_eq!(lines.len(), 1, "{out:?}"),
        Mode::Creds => assert_eq!(lines.len(), 2, "{out:?}"),
    }
    if let (Some(secret), Some(asked)) = (&credential.user_secret, &username) {
        assert_eq!(&secret.username, asked, "another user's secret: {out:?}");
    }
});

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    String::from_utf8_lossy(bytes).into_owned().into()
}
