//! The redactor: for any secret, text and cut, no case of the secret (nor
//! its first 8 bytes) survives, the line is one line within its bound, and
//! the masked multi-line form drops a cut secret.
#![no_main]

use credbox::redact::{Redactor, needs_escape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, String, u16, bool)| {
    let (secret, text, max, complete) = input;
    let max = max as usize % 2048;
    let redactor = Redactor::new([secret.as_str()]);
    let line = redactor.line(&text, max);
    assert!(line.len() <= max + '…'.len_utf8(), "{} > {max}", line.len());
    assert!(!line.chars().any(needs_escape), "{line:?}");
    if secret.len() >= 6 {
        let lower = line.to_ascii_lowercase();
        let probe = secret.to_ascii_lowercase();
        assert!(!lower.contains(&probe), "secret in {line:?}");
        let masked = redactor.mask(&text, complete).to_ascii_lowercase();
        assert!(!masked.contains(&probe), "secret in mask {masked:?}");
    }
});
