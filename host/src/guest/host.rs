//! The `host` interface, the same in both worlds (only the generated types
//! differ): `get-config`, the manifest's config and then the allowlisted
//! environment, and `log`, through the redacting, capped [`GuestLog`].
//!
//! [`GuestLog`]: super::log::GuestLog

use super::HostState;
use super::bindings::{v1, v1_host, v2, v2_host};
use super::log::LogLevel;

impl HostState {
    fn get_config(&self, name: &str) -> Option<String> {
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
