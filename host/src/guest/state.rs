//! The `state` interface (0.2.0 and 0.3.0): the helper's own values, kept between
//! runs by the host (see [`crate::state`]). Calls are counted, and every
//! value read or written is masked in everything the run prints or stores.

use std::time::Instant;

use super::HostState;
use super::bindings::{v2, v2_state, v3, v3_error, v3_state};
use super::log::GuestLog;
use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::state::StateStore;

/// Most state calls in one run: a helper makes a few; a loop of them
/// would hammer the keystore.
pub const MAX_STATE_CALLS: usize = 256;
/// Most distinct state values one run may read or write: each is kept to
/// be masked (at most 16 KiB each, so 1 MiB at most).
pub const MAX_STATE_VALUES: usize = 64;

/// The run's access to the helper's host-kept state (see [`crate::state`]).
pub(super) enum StateAccess {
    /// A bare component: no manifest, no identity, no state.
    Nobody,
    /// The state could not be opened (the message says why); every call
    /// fails with it.
    Broken(String),
    /// The helper's own state.
    Store {
        store: Box<StateStore>,
        /// Each value read or written, masked in everything the run
        /// prints or stores (at most [`MAX_STATE_VALUES`]).
        values: Vec<String>,
        /// State calls made (at most [`MAX_STATE_CALLS`]).
        calls: usize,
        /// Whether a `get` found nothing, or a `delete` dropped something:
        /// a `misconfigured` helper is then told to log in
        /// ([`Error::LoginNeeded`]).
        missed: bool,
        /// The first failure of the store itself (no keystore, a locked
        /// one): reported instead of the helper's error that follows it.
        failure: Option<Error>,
    },
}

impl StateAccess {
    /// Opens the state of `policy`'s helper; its calls give up at
    /// `deadline`. A fetch holds the end signals from its first state call to its
    /// end (`hold_for_run`); a login, during each write alone.
    pub(super) fn open(policy: &Policy, deadline: Instant, hold_for_run: bool) -> StateAccess {
        match StateStore::for_policy(policy) {
            Ok(None) => StateAccess::Nobody,
            Ok(Some(store)) => StateAccess::Store {
                store: Box::new(if hold_for_run {
                    store.with_deadline(deadline).holding_end_signals()
                } else {
                    store.with_deadline(deadline)
                }),
                values: Vec::new(),
                calls: 0,
                missed: false,
                failure: None,
            },
            Err(e) => StateAccess::Broken(format!("{e} ({})", e.hint())),
        }
    }

    /// The longest value the run may learn: a secret cut by the capture's
    /// end must be seen whole to be masked.
    pub(super) fn longest_value(&self) -> usize {
        match self {
            StateAccess::Store { .. } => crate::state::MAX_VALUE_LEN,
            _ => 0,
        }
    }

    /// Whether the helper looked for its state and found none, or dropped
    /// it.
    pub(super) fn missed(&self) -> bool {
        matches!(self, StateAccess::Store { missed: true, .. })
    }

    /// The store's own first failure, if any.
    pub(super) fn take_failure(&mut self) -> Option<Error> {
        match self {
            StateAccess::Store { failure, .. } => failure.take(),
            _ => None,
        }
    }

    /// Every value read or written so far.
    pub(super) fn values(&self) -> &[String] {
        match self {
            StateAccess::Store { values, .. } => values,
            _ => &[],
        }
    }
}

impl HostState {
    /// Runs one state call: counted, on the helper's own store, with the
    /// value (the one read, or `remember`) masked from then on.
    fn with_state<T>(
        &mut self,
        remember: Option<&str>,
        call: impl FnOnce(&StateStore) -> Result<T>,
        seen: impl FnOnce(&T) -> Option<&str>,
    ) -> std::result::Result<T, v2::Error> {
        let (store, values, calls, failure) = match &mut self.state {
            StateAccess::Nobody => {
                return Err(v2::Error::Misconfigured(
                    "credbox keeps state only for a helper run from its manifest \
                     (a bare component has none)"
                        .into(),
                ));
            }
            StateAccess::Broken(why) => return Err(v2::Error::Misconfigured(why.clone())),
            StateAccess::Store {
                store,
                values,
                calls,
                failure,
                ..
            } => (store, values, calls, failure),
        };
        *calls += 1;
        if *calls > MAX_STATE_CALLS {
            return Err(v2::Error::Misconfigured(format!(
                "more than {MAX_STATE_CALLS} state calls in one run"
            )));
        }
        let mut learn = |value: &str, log: &mut GuestLog| {
            if values.iter().any(|v| v == value) {
                return Ok(());
            }
            if values.len() >= MAX_STATE_VALUES {
                return Err(v2::Error::Misconfigured(format!(
                    "more than {MAX_STATE_VALUES} distinct state values in one run"
                )));
            }
            log.add_secret(value);
            values.push(value.to_owned());
            Ok(())
        };
        if let Some(value) = remember
            && value.len() <= crate::state::MAX_VALUE_LEN
        {
            learn(value, &mut self.log)?;
        }
        let result = match call(store) {
            Ok(result) => result,
            Err(e) => {
                let wit = state_error(&e);
                if failure.is_none()
                    && matches!(e, Error::Environment { .. } | Error::Unavailable(_))
                {
                    *failure = Some(e);
                }
                return Err(wit);
            }
        };
        if let Some(value) = seen(&result) {
            learn(value, &mut self.log)?;
        }
        Ok(result)
    }
}

/// A state store's error in the WIT's terms. Its messages never hold a
/// value (see [`crate::state`]).
fn state_error(e: &Error) -> v2::Error {
    match e {
        Error::Misconfigured(m) => v2::Error::Misconfigured(m.clone()),
        Error::Unavailable(m) => v2::Error::Unavailable(m.clone()),
        Error::Environment { .. } | Error::Usage(_) => {
            v2::Error::Misconfigured(format!("{e} ({})", e.hint()))
        }
        e => v2::Error::Other(e.to_string()),
    }
}

impl v2_state::Host for HostState {
    fn get(&mut self, name: String) -> std::result::Result<Option<String>, v2::Error> {
        let value = self.with_state(None, |s| s.get(&name), |v| v.as_deref())?;
        if value.is_none()
            && let StateAccess::Store { missed, .. } = &mut self.state
        {
            *missed = true;
        }
        Ok(value)
    }

    fn set(&mut self, name: String, value: String) -> std::result::Result<(), v2::Error> {
        self.with_state(Some(&value), |s| s.set(&name, &value), |_| None)
    }

    fn delete(&mut self, name: String) -> std::result::Result<(), v2::Error> {
        self.with_state(None, |s| s.delete(&name), |_| None)?;
        // A helper that drops its state (a refresh token refused for good)
        // and then gives up needs a login, as one that found none.
        if let StateAccess::Store { missed, .. } = &mut self.state {
            *missed = true;
        }
        Ok(())
    }
}

impl v3_state::Host for HostState {
    fn get(&mut self, name: String) -> std::result::Result<Option<String>, v3::Error> {
        v2_state::Host::get(self, name).map_err(v3_error)
    }

    fn set(&mut self, name: String, value: String) -> std::result::Result<(), v3::Error> {
        v2_state::Host::set(self, name, value).map_err(v3_error)
    }

    fn delete(&mut self, name: String) -> std::result::Result<(), v3::Error> {
        v2_state::Host::delete(self, name).map_err(v3_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_reach_the_helper_as_its_kinds() {
        let unavailable = state_error(&Error::Unavailable("keystore locked".into()));
        assert!(matches!(unavailable, v2::Error::Unavailable(m) if m == "keystore locked"));
        let environment = state_error(&Error::Environment {
            message: "no keystore".into(),
            hint: "install one".into(),
        });
        assert!(
            matches!(&environment, v2::Error::Misconfigured(m) if m.starts_with("no keystore") && m.contains("install one")),
            "{environment:?}"
        );
        let internal = state_error(&Error::Internal("bug".into()));
        assert!(matches!(internal, v2::Error::Other(m) if m.contains("bug")));
    }

    #[test]
    fn without_a_store_nothing_is_missed_failed_or_learnt() {
        let mut nobody = StateAccess::Nobody;
        assert!(!nobody.missed());
        assert!(nobody.take_failure().is_none());
        assert!(nobody.values().is_empty());
        assert_eq!(nobody.longest_value(), 0);
        let broken = StateAccess::Broken("no keystore".into());
        assert_eq!(broken.longest_value(), 0);
    }
}
