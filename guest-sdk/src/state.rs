//! A few small named secrets of the helper's own (a refresh token, say),
//! kept by credbox between runs.
//!
//! credbox keeps them in the OS keystore, or in a file store the manifest
//! chose explicitly. A helper sees only its own state (identified by its
//! manifest); nothing of it ever reaches the credential cache, stdout,
//! stderr or a log. The usual pattern: [`Helper::login`](crate::Helper::login)
//! stores a refresh token, [`Helper::fetch`](crate::Helper::fetch) reads it
//! and trades it for an access token (storing the new refresh token when
//! the provider rotates it).
//!
//! Bounds (set by credbox):
//! - a name is 1 to 64 bytes of ASCII letters, digits, `.`, `_` and `-`;
//! - a value is at most 16 KiB;
//! - a helper keeps at most 16 names.
//!
//! Breaking a bound is an [`ErrorKind::Misconfigured`](crate::ErrorKind::Misconfigured)
//! error and changes nothing. Outside credbox these functions panic.
//!
//! ```no_run
//! use credbox_guest::{Error, state};
//!
//! # fn fetch() -> Result<(), Error> {
//! let Some(refresh_token) = state::get("refresh_token")? else {
//!     return Err(Error::misconfigured("not logged in: run `credbox login`"));
//! };
//! // ... trade it for an access token and a new refresh token ...
//! # let rotated = refresh_token;
//! state::set("refresh_token", &rotated)?;
//! # Ok(()) }
//! ```

use crate::__bindings::credbox::helper::state as wit;
use crate::__private::error_from_wit;
use crate::Error;

/// The value stored under `name`, or `None`.
///
/// ```no_run
/// let token = credbox_guest::state::get("refresh_token")?;
/// # Ok::<(), credbox_guest::Error>(())
/// ```
pub fn get(name: &str) -> Result<Option<String>, Error> {
    wit::get(name).map_err(error_from_wit)
}

/// Stores `value` under `name`, replacing any value there.
///
/// ```no_run
/// credbox_guest::state::set("refresh_token", "rt-123")?;
/// # Ok::<(), credbox_guest::Error>(())
/// ```
pub fn set(name: &str, value: &str) -> Result<(), Error> {
    wit::set(name, value).map_err(error_from_wit)
}

/// Forgets `name`; no error when it is not there.
///
/// ```no_run
/// credbox_guest::state::delete("refresh_token")?;
/// # Ok::<(), credbox_guest::Error>(())
/// ```
pub fn delete(name: &str) -> Result<(), Error> {
    wit::delete(name).map_err(error_from_wit)
}
