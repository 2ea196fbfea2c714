//! The user of `credbox login`.
//!
//! Only [`Helper::login`](crate::Helper::login) has somebody to talk to:
//! outside `credbox login` (in [`Helper::fetch`](crate::Helper::fetch))
//! [`show`] fails as [`ErrorKind::Misconfigured`](crate::ErrorKind::Misconfigured)
//! and shows nothing. Outside credbox it panics.

use crate::__bindings::credbox::helper::user as wit;
use crate::__private::error_from_wit;
use crate::Error;

/// Shows `message` (one line, such as a verification URL and code) on the
/// terminal of `credbox login`.
///
/// ```no_run
/// credbox_guest::user::show("Open https://auth.example.com/device and enter WDJB-MJHT")?;
/// # Ok::<(), credbox_guest::Error>(())
/// ```
pub fn show(message: &str) -> Result<(), Error> {
    wit::show(message).map_err(error_from_wit)
}
