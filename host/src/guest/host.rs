//! The `host` interface, the same in every world (only the generated types
//! differ): `get-config`, the manifest's config and then the allowlisted
//! environment, and `log`, through the redacting, capped [`GuestLog`].
//!
//! [`GuestLog`]: super::log::GuestLog

use std::time::Duration;

use super::HostState;
use super::bindings::{v1, v1_host, v2, v2_host, v3, v3_host};
use super::log::LogLevel;

/// A fault to inject, for tests: with `CREDBOX_FAILPOINT_STALL_MS=N` set
/// in credbox's environment, each `get-config` call blocks N ms without
/// looking at the deadline, as a host call stuck in the kernel would. Only
/// the [`crate::watchdog`] ends such a run on time; the tests show that it
/// does. A helper cannot set it: the variable is read from credbox's own
/// environment, never from what a helper is given.
pub const STALL_ENV: &str = "CREDBOX_FAILPOINT_STALL_MS";

/// The stall [`STALL_ENV`] asks for, if any.
pub(super) fn stall() -> Option<Duration> {
    let ms = std::env::var(STALL_ENV).ok()?.parse().ok()?;
    Some(Duration::from_millis(ms))
}

impl HostState {
    fn get_config(&self, name: &str) -> Option<String> {
        if let Some(stall) = self.stall {
            std::thread::sleep(stall);
        }
        self.config.get(name).map(str::to_owned).or_else(|| {
            self.env
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
    }
}

macro_rules! host_interface {
    ($types:ident, $host:ident) => {
        impl $types::Host for HostState {}

        impl $host::Host for HostState {
            fn get_config(&mut self, name: String) -> Option<String> {
                HostState::get_config(self, &name)
            }

            fn log(&mut self, level: $host::Level, message: String) {
                let level = match level {
                    $host::Level::Debug => LogLevel::Debug,
                    $host::Level::Info => LogLevel::Info,
                    $host::Level::Warn => LogLevel::Warn,
                    $host::Level::Error => LogLevel::Error,
                };
                self.log.log(level, &message);
            }
        }
    };
}

host_interface!(v1, v1_host);
host_interface!(v2, v2_host);
host_interface!(v3, v3_host);
