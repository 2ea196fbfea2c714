//! How credbox reads and writes durations, sizes and digests.
//!
//! A leaf module: every step of the flow formats with it, and it imports
//! nothing of credbox's own.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Parses `500ms`, `5s`, `2m` (a whole number and a unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let expected = || format!("`{text}` is not a duration like 500ms, 5s or 2m");
    let n: u64 = number.parse().map_err(|_| expected())?;
    let millis = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" | "min" => n.checked_mul(60_000),
        _ => return Err(expected()),
    };
    millis.map(Duration::from_millis).ok_or_else(expected)
}

/// Parses `64MiB`, `512KiB`, `1GiB` or a plain byte count. `MB`/`KB`/`GB`
/// and `M`/`K`/`G` are read as their binary counterparts, as memory sizes
/// usually are.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let expected = || format!("`{text}` is not a size like 64MiB or 512KiB");
    let n: u64 = number.parse().map_err(|_| expected())?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KB" | "KiB" => 10,
        "M" | "MB" | "MiB" => 20,
        "G" | "GB" | "GiB" => 30,
        _ => return Err(expected()),
    };
    n.checked_mul(1 << shift).ok_or_else(expected)
}

/// Formats a duration exactly, the way a user writes one in a manifest:
/// `5s`, `1500ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Formats a whole number of seconds for a person reading a table or a
/// hint: `45s`, `1m30s`, `2h05m` (seconds dropped past an hour).
pub fn format_seconds(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Formats a size in the largest whole binary unit: `64 MiB`, `1536 KiB`.
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// The first line of a message (wasmtime's errors can span several).
pub fn first_line(message: &impl std::fmt::Display) -> String {
    message
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("64 furlongs").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1536 << 10), "1536 KiB");
        assert_eq!(format_size(100), "100 bytes");
    }

    #[test]
    fn seconds_read_like_a_clock() {
        assert_eq!(format_seconds(0), "0s");
        assert_eq!(format_seconds(59), "59s");
        assert_eq!(format_seconds(90), "1m30s");
        assert_eq!(format_seconds(7500), "2h05m");
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
