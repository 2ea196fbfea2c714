//! Output validation: never panics; what passes is printable as headers
//! (no CR/LF/NUL, no refused header, names are tokens); what fails says so
//! in one message that never holds a value.
#![no_main]

use credbox::guest::RawCredential;
use credbox::manifest::Format;
use credbox::validation::{REFUSED_HEADERS, Validated, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<(String, String)>, Option<String>, bool)| {
    let (headers, token, api_key) = input;
    let format = if api_key { Format::ApiKey } else { Format::Headers };
    let raw = RawCredential {
        headers: headers.clone(),
        token: token.clone(),
        expires_in: None,
    };
    match validate(raw, format) {
        Ok(Validated::Headers(out)) => {
            assert!(!out.is_empty());
            for (name, value) in &out {
                assert!(!name.is_empty() && name.is_ascii());
                assert!(!REFUSED_HEADERS.iter().any(|r| r.eq_ignore_ascii_case(name)));
                assert!(!value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0));
            }
        }
        Ok(Validated::ApiKey(key)) => {
            assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(e) => {
            // Values are never quoted (names are, for the redactor): the
            // same credential with every letter and digit of its values
            // rotated (which keeps every property the checks look at)
            // fails with the very same message.
            let rotated = RawCredential {
                headers: headers.iter().map(|(n, v)| (n.clone(), rotate(v))).collect(),
                token: token.as_deref().map(rotate),
                expires_in: None,
            };
            let again = validate(rotated, format).expect_err("the same checks fail");
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
