//! Cargo's credential-provider protocol (JSON lines): whatever line Cargo
//! (or anyone) writes, parsing it never panics, an error never quotes a
//! value of the request (a `login` request may carry a token: what it
//! quotes is a path of the protocol's field names) and is one short line, and a field taken is within its bound; whatever token or
//! failure message a hostile helper supplies, the answer is one line of
//! JSON that reads back to the same token or message.
//!
//! The input, so that seeds can be written by hand (see `seeds/cargo`):
//! the request line, then 0x1E and the helper's token, then 0x1E and a
//! failure message.
#![no_main]

use credbox::protocol::cargo::{Action, ErrorKind, MAX_FIELD, Response, parse_request};
use libfuzzer_sys::fuzz_target;

/// The names of the request's fields credbox reads, which its errors may
/// name.
const FIELDS: [&str; 7] = ["registry", "index-url", "name", "kind", "operation", "args", "v"];

/// Every error `parse_request` gives, its quoted paths as `…` and its
/// numbers as `N`.
const MESSAGES: [&str; 10] = [
    "Cargo's request is not JSON (line N, column N)",
    "Cargo's request is not a JSON object",
    "Cargo's request is not version N of the protocol",
    "Cargo's request has no … object",
    "Cargo's request has no …",
    "Cargo's request has an … entry that is not a string",
    "Cargo's request has … that is not a list",
    "Cargo's request has a … that is not a string",
    "Cargo's request has a …, … or … that is not a string",
    "Cargo's request has a … longer than N bytes",
];

/// `line` is one line of JSON ending in a newline; the value it holds.
fn one_json_line(line: &str) -> serde_json::Value {
    let json = line.strip_suffix('\n').expect("ends with a newline");
    assert!(!json.contains(['\n', '\r', '\0']), "{line:?}");
    serde_json::from_str(json).expect("JSON")
}

fuzz_target!(|data: &[u8]| {
    let mut sections = data.split(|&b| b == 0x1e);
    let request = String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();
    let token = sections.next().map(|s| String::from_utf8_lossy(s).into_owned());
    let message = sections.next().map(|s| String::from_utf8_lossy(s).into_owned());

    match parse_request(&request) {
        Err(error) => {
            assert!(error.len() <= 200, "{error:?}");
            assert!(!error.chars().any(char::is_control), "{error:?}");
            // The error names fields, never values: every `quoted` part
            // is a path of the protocol's own field names, and the rest,
            // numbers aside, is one of the messages credbox writes.
            let mut skeleton = String::new();
            for (i, piece) in error.split('`').enumerate() {
                if i % 2 == 1 {
                    for part in piece.split('.') {
                        let field = part.split('[').next().unwrap_or_default();
                        assert!(FIELDS.contains(&field), "{piece:?} in {error:?}");
                    }
                    skeleton.push('…');
                } else {
                    let mut digits = false;
                    for c in piece.chars() {
                        match (c.is_ascii_digit(), digits) {
                            (true, true) => {}
                            (true, false) => skeleton.push('N'),
                            (false, _) => skeleton.push(c),
                        }
                        digits = c.is_ascii_digit();
                    }
                }
            }
            assert!(MESSAGES.contains(&skeleton.as_str()), "{error:?}");
        }
        Ok(message) => {
            if let Action::Get(get) = &message.action {
                for field in [
                    Some(&get.index_url),
                    get.registry_name.as_ref(),
                    Some(&get.operation),
                    get.crate_name.as_ref(),
                ]
                .into_iter()
                .flatten()
                {
                    assert!(field.len() <= MAX_FIELD);
                }
            }
        }
    }

    if let Some(token) = token {
        let answer = Response::Token {
            token: token.clone(),
            expires_at: Some(u64::MAX),
        }
        .line();
        let value = one_json_line(&answer);
        assert_eq!(value["Ok"]["token"], token.as_str());
    }
    if let Some(message) = message {
        let answer = Response::error(ErrorKind::Other, message.clone()).line();
        let value = one_json_line(&answer);
        assert_eq!(value["Err"]["message"], message.as_str());
    }
});
