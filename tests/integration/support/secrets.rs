//! Looking for a secret where it must not be: in what a run printed and in
//! every file under a directory (credbox's cache), raw or in the forms a
//! careless path would give it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::crypto::{base64, base64url, hex};

/// The modes of the `leak-everywhere` guest that place its secret
/// somewhere (a header name, an error message, a log line, ...) and fail.
pub const LEAK_EVERYWHERE_MODES: &[&str] = &[
    "name-empty",
    "name-long",
    "name-crlf",
    "name-token",
    "name-twice",
    "name-hop",
    "value-control",
    "token",
    "misconfigured",
    "denied",
    "unavailable",
    "other",
    "log",
    "panic",
    "deny-host",
    "deny-path",
    "deny-userinfo",
    "stdout-split",
];

/// Asserts that no form of any of `secrets` (see [`forms`]) is in any of
/// `outputs`, `(name, text)` pairs such as [`Outcome::streams`] gives, nor
/// in any file under `dir` (when given; a directory that is not there
/// holds nothing). `what` names the case in the failure. Returns how many
/// files it read under `dir`.
///
/// [`Outcome::streams`]: super::util::Outcome::streams
#[track_caller]
pub fn assert_no_secret<S: AsRef<[u8]>>(
    what: &str,
    secrets: &[S],
    outputs: &[(&str, &str)],
    dir: Option<&Path>,
) -> usize {
    let forms: Vec<Form> = secrets.iter().flat_map(|s| forms(s.as_ref())).collect();
    for (name, text) in outputs {
        if let Some(found) = find(&forms, text.as_bytes()) {
            panic!("{what}: {found} in {name}");
        }
    }
    let files = dir.map(files_under).unwrap_or_default();
    let mut read = 0;
    for path in &files {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            // Gone since it was listed: a temporary file renamed into place.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => panic!("{what}: {}: {e}", path.display()),
        };
        read += 1;
        if let Some(found) = find(&forms, &bytes) {
            panic!("{what}: {found} in the file {}", path.display());
        }
    }
    read
}

/// Every file under `dir` (none if it is not there), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => dirs.push(entry.path()),
                Ok(kind) if kind.is_file() => found.push(entry.path()),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// One way a secret could show.
struct Form {
    /// The secret it is a form of.
    secret: String,
    /// How it was encoded.
    how: &'static str,
    bytes: Vec<u8>,
    /// Whether to look for it in any ASCII case.
    any_case: bool,
}

/// The forms of `secret` to look for: raw and hex in any ASCII case (a
/// copy in mixed case still gives the secret away); percent-encoded, as in
/// a URL or a form; and base64 and base64url of each stretch a copy inside
/// a longer encoded text would show, whatever came before it (the secret
/// from its first, second and third byte on, cut to whole 3-byte groups).
fn forms(secret: &[u8]) -> Vec<Form> {
    assert!(
        secret.len() >= 8,
        "{secret:?} is too short to look for without false alarms"
    );
    let shown = String::from_utf8_lossy(secret).into_owned();
    let form = |how, bytes: Vec<u8>, any_case| Form {
        secret: shown.clone(),
        how,
        bytes,
        any_case,
    };
    let mut all = vec![
        form("raw", secret.to_vec(), true),
        form("hex", hex(secret).into_bytes(), true),
    ];
    let percent: String = secret
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    if percent.as_bytes() != secret {
        all.push(form("percent-encoded", percent.into_bytes(), true));
    }
    for skip in 0..3 {
        let stretch = &secret[skip..];
        let stretch = &stretch[..stretch.len() / 3 * 3];
        all.push(form("base64", base64(stretch).into_bytes(), false));
        all.push(form("base64url", base64url(stretch).into_bytes(), false));
    }
    all.dedup_by(|a, b| a.bytes == b.bytes && a.any_case == b.any_case);
    all
}

/// The first form in `haystack`, described with what surrounds it.
fn find(forms: &[Form], haystack: &[u8]) -> Option<String> {
    let lower = haystack.to_ascii_lowercase();
    forms.iter().find_map(|form| {
        let (text, needle) = if form.any_case {
            (&lower[..], form.bytes.to_ascii_lowercase())
        } else {
            (haystack, form.bytes.clone())
        };
        let at = position(text, &needle)?;
        let from = at.saturating_sub(120);
        let to = (at + needle.len() + 120).min(haystack.len());
        Some(format!(
            "the secret {:?} ({}: {:?}) at byte {at}, in: {:?}",
            form.secret,
            form.how,
            String::from_utf8_lossy(&form.bytes),
            String::from_utf8_lossy(&haystack[from..to]),
        ))
    })
}

/// Where `needle` (not empty) first is in `haystack`.
fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[test]
fn each_form_of_a_secret_is_found_and_nothing_else() {
    // `~~~` is `fn5+` in base64 and `fn5-` in base64url, at any alignment.
    let secret = "Sk-Live/7f3a~~~~~~9c2e+1b";
    let dir = tempfile::tempdir().unwrap();
    let clean = "a run that printed [redacted] and nothing else";
    assert_eq!(
        assert_no_secret("clean", &[secret], &[("stdout", clean)], Some(dir.path())),
        0
    );
    // Each form, inside other text, as a copy would stand.
    let mut shown = vec![
        secret.to_owned(),
        secret.to_ascii_uppercase(),
        hex(secret.as_bytes()).to_ascii_uppercase(),
        "Sk-Live%2F7f3a~~~~~~9c2e%2B1b".to_owned(),
    ];
    for prefix in ["", "x", "xy"] {
        let text = format!("{prefix}{secret}");
        shown.push(base64(text.as_bytes()));
        shown.push(base64url(text.as_bytes()));
    }
    for text in shown {
        let line = format!("credbox: h: failed: {text} here");
        let outputs = [("stderr", line.as_str())];
        let caught = std::panic::catch_unwind(|| {
            assert_no_secret("a copy", &[secret], &outputs, None);
        });
        assert!(caught.is_err(), "missed {text:?}");
        let file = dir.path().join("nested").join("entry.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &line).unwrap();
        let caught = std::panic::catch_unwind(|| {
            assert_no_secret("a file", &[secret], &[], Some(dir.path()));
        });
        assert!(caught.is_err(), "missed {text:?} in a file");
        std::fs::remove_file(&file).unwrap();
    }
}
