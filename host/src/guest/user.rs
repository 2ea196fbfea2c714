//! The `user` interface (0.2.0 and 0.3.0): a message for the user, shown only while
//! `credbox login` runs the helper.

use super::HostState;
use super::bindings::{v2, v2_user, v3, v3_error, v3_user};

/// Whether a run may talk to the user: only `credbox login` may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `fetch`: never interactive.
    Fetch,
    /// `login`: `user.show` reaches the terminal.
    Login,
}

impl v2_user::Host for HostState {
    fn show(&mut self, message: String) -> std::result::Result<(), v2::Error> {
        match self.mode {
            Mode::Fetch => Err(v2::Error::Misconfigured(
                "the helper asked to show the user a message outside `credbox login` \
                 (fetch never interacts; log in first)"
                    .into(),
            )),
            Mode::Login => {
                self.log.show(&message);
                Ok(())
            }
        }
    }
}

impl v3_user::Host for HostState {
    fn show(&mut self, message: String) -> std::result::Result<(), v3::Error> {
        v2_user::Host::show(self, message).map_err(v3_error)
    }
}
