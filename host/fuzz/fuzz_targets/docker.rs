//! The Docker credential helper protocol: whatever a client writes on
//! stdin, reading it and taking its server URL never panics, and a URL
//! taken is one line, trimmed, not empty, without NUL; whatever values a
//! hostile helper returns, the answer is one line of JSON, an object of
//! exactly `ServerURL`, `Username` and `Secret`, the URL the client sent
//! and the helper's values unchanged.
//!
//! The input, so that seeds can be written by hand (see `corpus/docker`):
//! the client's stdin, then 0x1E and the helper's values split by 0x1F:
//! token, username, secret. A value left out is absent.
#![no_main]

mod common;

use credbox::protocol::docker::{TOKEN_USERNAME, answer, route_url, server_url};
use credbox::protocol::{MAX_STDIN, read_capped};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut stdin, values) = common::client_and_values(data);
    let Ok(text) = read_capped(&mut stdin, MAX_STDIN, false) else {
        return;
    };
    let Ok(url) = server_url(&text) else {
        return;
    };
    assert!(!url.is_empty() && !url.contains(['\n', '\0']), "{url:?}");
    assert_eq!(url, url.trim());
    let _ = route_url(&url);

    let credential = common::credential(&values);
    let Ok(out) = answer(&credential, &url) else {
        return;
    };
    let line = out.strip_suffix('\n').expect("ends with a newline");
    assert!(!line.contains(['\n', '\r', '\0']), "{out:?}");
    let json: serde_json::Value = serde_json::from_str(line).expect("JSON");
    let object = json.as_object().expect("an object");
    assert_eq!(object.len(), 3, "{out:?}");
    assert_eq!(object["ServerURL"], url.as_str());
    let (username, secret) = match &credential.user_secret {
        Some(u) => (u.username.as_str(), u.secret.as_str()),
        None => (TOKEN_USERNAME, credential.token.as_deref().unwrap()),
    };
    assert_eq!(object["Username"], username);
    assert_eq!(object["Secret"], secret);
});
