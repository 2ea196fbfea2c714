//! The redactor: for any secrets (known from the environment or config,
//! or learnt as state values: refresh tokens, JWTs), any text and any
//! cut, no secret of 6 bytes or more survives in any ASCII case, raw, hex
//! or base64 (either alphabet, at any alignment inside a longer encoded
//! text); the line is one line within its bound; the masked multi-line
//! form drops a cut secret.
//!
//! The input, so that seeds can be written by hand (see `corpus/redact`):
//! two bytes of `max` (little-endian) and a flags byte (bit 0: the text is
//! complete), then three sections split by 0x1E: the known secrets, the
//! state values (each list split by 0x1F), and the text. In the text,
//! 0x1A and the byte after it stand for an encoded copy of a secret:
//! the byte's high nibble picks the secret (known then state values), its
//! low nibble the form (see `form`), so that the fuzzer reaches encoded
//! secrets it could not guess.
#![no_main]

use credbox::redact::{MIN_SECRET_LEN, Redactor, needs_escape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max = u16::from_le_bytes([data[0], data[1]]) as usize % 2048;
    let complete = data[2] & 1 == 1;
    let mut sections = data[3..].split(|&b| b == 0x1e);
    let list = |section: Option<&[u8]>| -> Vec<String> {
        section
            .map(|s| {
                s.split(|&b| b == 0x1f)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let known = list(sections.next());
    let state = list(sections.next());
    let template = sections.next().unwrap_or_default();
    let all: Vec<&String> = known.iter().chain(&state).collect();
    let text = expand(template, &all);

    let mut redactor = Redactor::new(known.iter().map(String::as_str));
    for value in &state {
        redactor.add(value);
    }
    let line = redactor.line(&text, max);
    assert!(line.len() <= max + '…'.len_utf8(), "{} > {max}", line.len());
    assert!(!line.chars().any(needs_escape), "{line:?}");
    let masked = redactor.mask(&text, complete);
    for secret in all.iter().filter(|s| s.len() >= MIN_SECRET_LEN) {
        for probe in probes(secret.as_bytes()) {
            assert!(
                !line.to_ascii_lowercase().contains(&probe),
                "{probe:?} of {secret:?} in {line:?}"
            );
            assert!(
                !masked.to_ascii_lowercase().contains(&probe),
                "{probe:?} of {secret:?} in mask {masked:?}"
            );
        }
    }
});

/// `template` with each 0x1A and the byte after it replaced by an encoded
/// copy of one of `secrets`.
fn expand(template: &[u8], secrets: &[&String]) -> String {
    let mut out = Vec::new();
    let mut bytes = template.iter();
    while let Some(&b) = bytes.next() {
        match (b, bytes.next()) {
            (0x1a, Some(&pick)) if !secrets.is_empty() => {
                let secret = secrets[(pick >> 4) as usize % secrets.len()];
                out.extend(form(secret.as_bytes(), pick & 0xf));
            }
            (b, next) => {
                out.push(b);
                out.extend(next);
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The secret in form `n`: as is, uppercased, hex (lower, upper), base64
/// alone (padded, URL-safe), or inside a longer base64 text at each
/// alignment (`user:` before it, or one or two bytes, and bytes after).
fn form(secret: &[u8], n: u8) -> Vec<u8> {
    let upper = secret.to_ascii_uppercase();
    let text = match n {
        0 => return secret.to_vec(),
        1 => return upper,
        2 => hex(secret),
        3 => hex(secret).to_ascii_uppercase(),
        4 => base64(secret, STANDARD, true),
        5 => base64(secret, URL_SAFE, false),
        6 => base64(&[b"user:", secret].concat(), STANDARD, true),
        7 => base64(&[b"x", secret, b"~"].concat(), STANDARD, true),
        8 => base64(&[b"xy", secret, b"~~"].concat(), URL_SAFE, false),
        9 => base64(&[b"xyz", secret, b"!"].concat(), STANDARD, false),
        _ => return [secret, b" ", &upper].concat(),
    };
    text.into_bytes()
}

/// What must never show of `secret` (lowercased): itself, its hex, and of
/// its base64 in either alphabet the characters made of its bits alone at
/// each alignment (the checks written here, not taken from credbox).
fn probes(secret: &[u8]) -> Vec<String> {
    let mut probes = vec![
        String::from_utf8_lossy(secret).to_ascii_lowercase(),
        hex(secret),
    ];
    for skip in 0..3 {
        let shifted = [&vec![0; skip][..], secret].concat();
        let first = [0, 2, 3][skip];
        let end = shifted.len() * 8 / 6;
        for alphabet in [STANDARD, URL_SAFE] {
            let encoded = base64(&shifted, alphabet, false);
            probes.push(encoded[first..end].to_ascii_lowercase());
        }
    }
    probes
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8], alphabet: &[u8; 64], padded: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if padded {
                out.push('=');
            }
        }
    }
    out
}
