//! Validation: never panics; what passes renders for its format (no
//! CR/LF/NUL, no refused header, names are tokens) and a user-secret is one
//! word; what fails says so in one message that never holds a value.
#![no_main]

use credbox::guest::RawCredential;
use credbox::manifest::Format;
use credbox::output::render;
use credbox::request::Client;
use credbox::validation::{REFUSED_HEADERS, validate};
use libfuzzer_sys::fuzz_target;

type Input = (
    Vec<(String, String)>,
    Option<String>,
    Option<(String, String)>,
    bool,
);

fuzz_target!(|input: Input| {
    let (headers, token, user_secret, api_key) = input;
    let (format, client) = if api_key {
        (Format::ApiKey, Client::ApiKey)
    } else {
        (Format::Headers, Client::default())
    };
    let raw = RawCredential {
        headers: headers.clone(),
        token: token.clone(),
        user_secret: user_secret.clone(),
        ..RawCredential::default()
    };
    match validate(raw, &client, 1_800_000_000) {
        Ok(credential) => {
            let text = render(&credential, format).expect("a validated credential renders");
            assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
            for (name, value) in &credential.headers {
                assert!(!name.is_empty() && name.is_ascii());
                assert!(!REFUSED_HEADERS.iter().any(|r| r.eq_ignore_ascii_case(name)));
                assert!(!value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0));
            }
            if let Some(key) = &credential.token {
                assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()));
            }
            if let Some(u) = &credential.user_secret {
                assert!(!u.username.contains(':'));
                assert!(u.secret.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        Err(e) => {
            // Values are never quoted (names are, for the redactor): the
            // same credential with every letter and digit of its values
            // rotated (which keeps every property the checks look at)
            // fails with the very same message.
            let rotated = RawCredential {
                headers: headers.iter().map(|(n, v)| (n.clone(), rotate(v))).collect(),
                token: token.as_deref().map(rotate),
                user_secret: user_secret.map(|(u, s)| (rotate(&u), rotate(&s))),
                ..RawCredential::default()
            };
            let again =
                validate(rotated, &client, 1_800_000_000).expect_err("the same checks fail");
            assert_eq!(e.to_string(), again.to_string(), "a value shows in the message");
        }
    }
});

/// ROT13 for letters, ROT5 for digits, everything else as it is.
fn rotate(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' => (b'a' + (c as u8 - b'a' + 13) % 26) as char,
            'A'..='Z' => (b'A' + (c as u8 - b'A' + 13) % 26) as char,
            '0'..='9' => (b'0' + (c as u8 - b'0' + 5) % 10) as char,
            _ => c,
        })
        .collect()
}
