//! Logging to credbox's stderr.
//!
//! The functions here take a finished message; the macros [`debug!`],
//! [`info!`], [`warn!`] and [`error!`] (exported at the crate root, as
//! `credbox_guest::info!` and so on) take `format!` arguments.
//!
//! credbox shows `info` and `debug` lines only with `-v`/`-vv`, redacts known
//! secrets and caps the number of lines per run. Outside credbox these
//! functions panic.
//!
//! ```no_run
//! credbox_guest::log::info("fetching a token");
//! credbox_guest::warn!("token expires in {}s", 30);
//! ```
//!
//! [`debug!`]: crate::debug!
//! [`info!`]: crate::info!
//! [`warn!`]: crate::warn!
//! [`error!`]: crate::error!

use crate::__bindings::credbox::helper::host::{self, Level};

/// Logs `message` at debug level (shown with `-vv`).
///
/// ```no_run
/// credbox_guest::log::debug("cache miss");
/// ```
pub fn debug(message: &str) {
    host::log(Level::Debug, message);
}

/// Logs `message` at info level (shown with `-v`).
///
/// ```no_run
/// credbox_guest::log::info("fetching a token");
/// ```
pub fn info(message: &str) {
    host::log(Level::Info, message);
}

/// Logs `message` at warn level (always shown).
///
/// ```no_run
/// credbox_guest::log::warn("falling back to the cached refresh token");
/// ```
pub fn warn(message: &str) {
    host::log(Level::Warn, message);
}

/// Logs `message` at error level (always shown).
///
/// ```no_run
/// credbox_guest::log::error("the token endpoint sent malformed JSON");
/// ```
pub fn error(message: &str) {
    host::log(Level::Error, message);
}

/// Logs a `format!`-style message at debug level; see [`log::debug`](crate::log::debug).
///
/// ```no_run
/// credbox_guest::debug!("{} scopes requested", 3);
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::debug(&::std::format!($($arg)+)) };
}

/// Logs a `format!`-style message at info level; see [`log::info`](crate::log::info).
///
/// ```no_run
/// let url = "https://auth.example.com/token";
/// credbox_guest::info!("fetching a token from {url}");
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::info(&::std::format!($($arg)+)) };
}

/// Logs a `format!`-style message at warn level; see [`log::warn`](crate::log::warn).
///
/// ```no_run
/// credbox_guest::warn!("token expires in {}s", 30);
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::warn(&::std::format!($($arg)+)) };
}

/// Logs a `format!`-style message at error level; see [`log::error`](crate::log::error).
///
/// ```no_run
/// let status = 500;
/// credbox_guest::error!("token endpoint answered {status}");
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::error(&::std::format!($($arg)+)) };
}
