//! Resource limits: fuel, wall-clock deadline, memory, and the size of the
//! component file credbox reads.
//!
//! The manifest's `[limits]` table and the `--fuel`, `--timeout` and
//! `--memory` flags set them (`component_size` only in the manifest); the defaults stop a runaway helper well inside
//! Claude Code's 10 s `headersHelper` limit while never troubling a real one.

use std::time::Duration;

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::LimitsTable;
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// Default fuel: about a billion wasm instructions. A helper that reads
/// config and makes one HTTP request uses a few million; a tight infinite
/// loop burns this in well under a second.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// Default deadline: half of Claude Code's 10 s `headersHelper` limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default memory cap, summed over all of the component's linear memories.
pub const DEFAULT_MEMORY: u64 = 64 << 20;

/// Default cap on the component file's size. Components in Rust or Go are
/// a few MiB; those that bundle an interpreter (JavaScript, Python) reach
/// tens of MiB.
pub const DEFAULT_COMPONENT_SIZE: u64 = 64 << 20;
/// Largest component-size cap accepted.
pub const MAX_COMPONENT_SIZE: u64 = 1 << 30;

/// Default deadline of `credbox login`: the user's time to open a URL,
/// sign in and approve (kubelogin waits as long).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest `credbox login` deadline accepted.
pub const MAX_LOGIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// Longest deadline accepted: Claude Code waits at most 600 s for an
/// `apiKeyHelper`, so a longer one could never be used.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// Smallest memory cap accepted: below this not even Rust's std starts.
pub const MIN_MEMORY: u64 = 1 << 20;
/// Largest memory cap accepted (4 GiB, the most a 32-bit memory can hold).
pub const MAX_MEMORY: u64 = 4 << 30;

/// Limits in force for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget.
    pub fuel: u64,
    /// Wall-clock deadline for the whole run, guest and host calls alike.
    pub timeout: Duration,
    /// Memory cap in bytes, summed over all linear memories.
    pub memory: u64,
    /// Largest component file read, in bytes.
    pub component_size: u64,
    /// Wall-clock deadline of `credbox login` (the `login` export), in
    /// place of `timeout`.
    pub login_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            timeout: DEFAULT_TIMEOUT,
            memory: DEFAULT_MEMORY,
            component_size: DEFAULT_COMPONENT_SIZE,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }
}

impl Limits {
    /// Applies a manifest's `[limits]` table over `self`. `Err` names the
    /// offending field.
    pub fn apply(&mut self, config: &LimitsTable) -> Result<(), String> {
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
        if let Some(size) = &config.component_size {
            self.set_component_size(size)
                .map_err(|e| format!("[limits] component_size: {e}"))?;
        }
        if let Some(timeout) = &config.login_timeout {
            self.set_login_timeout(timeout)
                .map_err(|e| format!("[limits] login_timeout: {e}"))?;
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

impl Limits {
    /// Sets the component-size cap from text such as `32MiB`.
    pub fn set_component_size(&mut self, text: &str) -> Result<(), String> {
        let size = parse_size(text)?;
        if !(1..=MAX_COMPONENT_SIZE).contains(&size) {
            return Err(format!(
                "{text} is outside 1 byte to {}",
                format_size(MAX_COMPONENT_SIZE)
            ));
        }
        self.component_size = size;
        Ok(())
    }
}

impl Limits {
    /// Sets the `credbox login` deadline from text such as `3m`.
    pub fn set_login_timeout(&mut self, text: &str) -> Result<(), String> {
        let timeout = parse_duration(text)?;
        if timeout.is_zero() || timeout > MAX_LOGIN_TIMEOUT {
            return Err(format!(
                "{text} is outside 1 ms to {}",
                format_duration(MAX_LOGIN_TIMEOUT)
            ));
        }
        self.login_timeout = timeout;
        Ok(())
    }
}

impl Fingerprint for Limits {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let Limits {
            fuel,
            timeout,
            memory,
            component_size,
            // Only `credbox login` uses it, which caches nothing.
            login_timeout: _,
        } = self;
        f.field("fuel", fuel);
        f.field("timeout", timeout);
        f.field("memory", memory);
        f.field("component_size", component_size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_limits_are_refused_with_the_field() {
        let mut limits = Limits::default();
        let err = limits
            .apply(&LimitsTable {
                timeout: Some("11m".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.starts_with("[limits] timeout:"), "{err}");
        let err = limits
            .apply(&LimitsTable {
                memory: Some("10KiB".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.starts_with("[limits] memory:"), "{err}");
        for bad in ["2GiB", "0", "lots"] {
            let err = limits
                .apply(&LimitsTable {
                    component_size: Some(bad.into()),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(err.starts_with("[limits] component_size:"), "{err}");
        }
        assert!(limits.set_fuel(0).is_err());
        assert_eq!(limits, Limits::default(), "failed updates change nothing");
        limits.set_component_size("32MiB").unwrap();
        assert_eq!(limits.component_size, 32 << 20);
        assert_eq!(limits.login_timeout, Duration::from_secs(180));
        for bad in ["0s", "2h", "soon"] {
            let err = limits
                .apply(&LimitsTable {
                    login_timeout: Some(bad.into()),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(err.starts_with("[limits] login_timeout:"), "{err}");
        }
        limits.set_login_timeout("10m").unwrap();
        assert_eq!(limits.login_timeout, Duration::from_secs(600));
    }
}
