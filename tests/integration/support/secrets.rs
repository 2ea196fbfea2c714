//! Looking for a secret where it must not be.

use std::path::Path;

/// Every byte of every file under `dir`, for "the secret is nowhere here".
pub fn all_bytes_under(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return bytes;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            bytes.extend(all_bytes_under(&path));
        } else if kind.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
