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
            // Values are never quoted (names are, for the redactor): with
            // every name blanked out, no long value is left in the message.
            let mut message = e.to_string();
            for (name, _) in &headers {
                if !name.is_empty() {
                    message = message.replace(name.as_str(), "\u{1}");
                }
            }
            for (_, value) in &headers {
                if value.len() >= 12 && !headers.iter().any(|(n, _)| n.contains(value.as_str())) {
                    assert!(!message.contains(value.as_str()), "{message}");
                }
            }
        }
    }
});
