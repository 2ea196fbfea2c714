//! Resource limits: fuel, wall-clock deadline and memory.
//!
//! The manifest's `[limits]` table and the `--fuel`, `--timeout` and
//! `--memory` flags set them; the defaults stop a runaway helper well inside
//! Claude Code's 10 s `headersHelper` limit while never troubling a real one.

use std::time::Duration;

use serde::Deserialize;

/// Default fuel: about a billion wasm instructions. A helper that reads
/// config and makes one HTTP request uses a few million; a tight infinite
/// loop burns this in well under a second.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// Default deadline: half of Claude Code's 10 s `headersHelper` limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default memory cap, summed over all of the component's linear memories.
pub const DEFAULT_MEMORY: u64 = 64 << 20;

/// Longest deadline accepted: Claude Code waits at most 600 s for an
/// `apiKeyHelper`, so a longer one could never be used.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// Smallest memory cap accepted: below this not even Rust's std starts.
pub const MIN_MEMORY: u64 = 1 << 20;
/// Largest memory cap accepted (4 GiB, the most a 32-bit memory can hold).
pub const MAX_MEMORY: u64 = 4 << 30;

/// The `[limits]` table of a manifest, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Instruction budget (`fuel = 1_000_000_000`).
    pub fuel: Option<u64>,
    /// Wall-clock deadline (`timeout = "5s"`).
    pub timeout: Option<String>,
    /// Memory cap (`memory = "64MiB"`).
    pub memory: Option<String>,
}

/// Limits in force for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget.
    pub fuel: u64,
    /// Wall-clock deadline for the whole run, guest and host calls alike.
    pub timeout: Duration,
    /// Memory cap in bytes, summed over all linear memories.
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            timeout: DEFAULT_TIMEOUT,
            memory: DEFAULT_MEMORY,
        }
    }
}

impl Limits {
    /// Applies a manifest's `[limits]` table over `self`. `Err` names the
    /// offending field.
    pub fn apply(&mut self, config: &LimitsConfig) -> Result<(), String> {
        if let Some(fuel) = config.fuel {
            self.set_fuel(fuel)
                .map_err(|e| format!("[limits] fuel: {e}"))?;
        }
        if let Some(timeout) = &config.timeout {
            self.set_timeout(timeout)
                .map_err(|e| format!("[limits] timeout: {e}"))?;
        }
        if let Some(memory) = &config.memory {
            self.set_memory(memory)
                .map_err(|e| format!("[limits] memory: {e}"))?;
        }
        Ok(())
    }

    /// Sets the fuel budget; zero is refused.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), String> {
        if fuel == 0 {
            return Err("must be at least 1".into());
        }
        self.fuel = fuel;
        Ok(())
    }

    /// Sets the deadline from text such as `5s`, `1500ms` or `2m`.
    pub fn set_timeout(&mut self, text: &str) -> Result<(), String> {
        let timeout = parse_duration(text)?;
        if timeout.is_zero() {
            return Err("must be more than zero".into());
        }
        if timeout > MAX_TIMEOUT {
            return Err(format!(
                "{text} is longer than Claude Code waits ({})",
                format_duration(MAX_TIMEOUT)
            ));
        }
        self.timeout = timeout;
        Ok(())
    }

    /// Sets the memory cap from text such as `64MiB`, `512KiB` or a byte
    /// count.
    pub fn set_memory(&mut self, text: &str) -> Result<(), String> {
        let memory = parse_size(text)?;
        if !(MIN_MEMORY..=MAX_MEMORY).contains(&memory) {
            return Err(format!(
                "{text} is outside {} to {}",
                format_size(MIN_MEMORY),
                format_size(MAX_MEMORY)
            ));
        }
        self.memory = memory;
        Ok(())
    }
}

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

/// Formats a duration the way a user writes one: `5s`, `1500ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
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
    fn out_of_range_limits_are_refused_with_the_field() {
        let mut limits = Limits::default();
        let err = limits
            .apply(&LimitsConfig {
                timeout: Some("11m".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.starts_with("[limits] timeout:"), "{err}");
        let err = limits
            .apply(&LimitsConfig {
                memory: Some("10KiB".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.starts_with("[limits] memory:"), "{err}");
        assert!(limits.set_fuel(0).is_err());
        assert_eq!(limits, Limits::default(), "failed updates change nothing");
    }
}
