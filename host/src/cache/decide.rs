//! What to do with an entry at a given time, and how a run's result
//! settles into the next entry: pure functions of the entry, the policy and
//! the time, which every caller passes in. No I/O and no clock here (the
//! callers in `store.rs` read both).

use std::time::Duration;

use super::entry::{ENTRY_VERSION, Entry, Failure, Stored, ms};
use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::units::format_duration;
use crate::validation::Credential;

/// What a run handed back: the credential and, when an older credential
/// stood in for a failed run, a warning for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The validated credential, for the client to render.
    pub credential: Credential,
    /// A one-line warning, without secrets.
    pub warning: Option<String>,
}

/// What a fresh run of the helper produced: the validated credential and
/// its own lifetime in seconds, if it has an expiry (counted from the same
/// clock reading that validated it).
pub type Fetched = Result<(Credential, Option<u64>)>;

/// What to do with an entry at a given time, before running anything.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Answer this; no run.
    Serve(Credential),
    /// Answer this, still valid, and refresh it (in the background when
    /// the caller can).
    ServeAndRefresh(Credential),
    /// Fail at once with the recorded failure.
    FailFast(Failure),
    /// Run the helper.
    Run,
}

/// Whether `stored` may be printed at `now`: created in the past (a clock
/// that went back never extends a lifetime) and not expired.
fn valid_at(stored: &Stored, now: u64) -> bool {
    stored.created_ms <= now && now < stored.expires_ms
}

/// What to do with `entry` (`None`: there is none) at `now`, Unix ms.
pub(super) fn decide(entry: Option<&Entry>, now: u64) -> Decision {
    let Some(entry) = entry else {
        return Decision::Run;
    };
    if let Some(stored) = &entry.credential
        && valid_at(stored, now)
        && now < stored.refresh_ms
    {
        return Decision::Serve(stored.credential.clone());
    }
    if let Some(failure) = &entry.failure
        && now >= failure.at_ms
        && now < failure.retry_ms
    {
        // Within the backoff: never run. A credential still valid (its
        // refresh failed) or, for a transient failure, within its stale
        // window was already handled by `settle` when the failure was
        // recorded, so serve it the same way here.
        return match &entry.credential {
            Some(stored) if valid_at(stored, now) => Decision::Serve(stored.credential.clone()),
            _ => Decision::FailFast(failure.clone()),
        };
    }
    match &entry.credential {
        Some(stored) if valid_at(stored, now) => {
            Decision::ServeAndRefresh(stored.credential.clone())
        }
        _ => Decision::Run,
    }
}

/// Turns a decision that needs no run into its answer at `now`.
pub(super) fn decision_result(decision: Decision, now: u64) -> Option<Result<Answer>> {
    match decision {
        Decision::Serve(credential) | Decision::ServeAndRefresh(credential) => Some(Ok(Answer {
            credential,
            warning: None,
        })),
        Decision::FailFast(failure) => Some(Err(Error::CachedFailure {
            message: failure.message,
            exit_code: failure.exit_code,
            hint: failure.hint,
            retry_in: Duration::from_millis(failure.retry_ms.saturating_sub(now)),
        })),
        Decision::Run => None,
    }
}

/// Folds a run's result into the entry: the new entry to store (`None`:
/// remove it) and the answer for this call. All arithmetic on times
/// saturates, and a credential counts as valid only from its creation on.
pub(super) fn settle(
    previous: Option<Entry>,
    fetched: Fetched,
    policy: &Policy,
    now: u64,
) -> (Option<Entry>, Result<Answer>) {
    let previous_credential = previous.as_ref().and_then(|e| e.credential.clone());
    match fetched {
        Ok((credential, expires_in)) => {
            let lifetime = policy.cache.lifetime(expires_in);
            let answer = Ok(Answer {
                credential: credential.clone(),
                warning: None,
            });
            if lifetime.is_zero() {
                return (None, answer);
            }
            let window = crate::policy::cache::CachePolicy::refresh_window(lifetime);
            let entry = Entry {
                version: ENTRY_VERSION,
                helper: policy.name.clone(),
                credential: Some(Stored {
                    credential,
                    created_ms: now,
                    refresh_ms: now.saturating_add(ms(lifetime.saturating_sub(window))),
                    expires_ms: now.saturating_add(ms(lifetime)),
                    stale: false,
                }),
                failure: None,
            };
            (Some(entry), answer)
        }
        Err(error) if !error.is_cacheable() => (previous, Err(error)),
        Err(error) => {
            let count = previous
                .as_ref()
                .and_then(|e| e.failure.as_ref())
                .map_or(1, |f| f.count.saturating_add(1));
            let failure = Failure {
                message: error.to_string(),
                exit_code: error.exit_code(),
                hint: error.hint(),
                transient: error.is_transient(),
                count,
                at_ms: now,
                retry_ms: now.saturating_add(ms(policy.cache.backoff_after(count))),
            };
            let stale_until = |stored: &Stored| {
                stored
                    .expires_ms
                    .saturating_add(ms(policy.cache.stale_if_error))
            };
            let mut credential = previous_credential;
            let answer = match &credential {
                Some(stored) if valid_at(stored, now) => Ok(Answer {
                    credential: stored.credential.clone(),
                    warning: Some(format!(
                        "refresh failed ({error}); serving the credential that is still valid for {}",
                        format_duration(Duration::from_millis(stored.expires_ms - now))
                    )),
                }),
                Some(stored)
                    if failure.transient
                        && !stored.stale
                        && stored.created_ms <= now
                        && now < stale_until(stored) =>
                {
                    let answer = Ok(Answer {
                        credential: stored.credential.clone(),
                        warning: Some(format!(
                            "{error}; serving a credential that expired {} ago ([cache] stale_if_error)",
                            format_duration(Duration::from_secs(
                                now.saturating_sub(stored.expires_ms) / 1000
                            ))
                        )),
                    });
                    // Keep serving it until the stale window closes.
                    credential = Some(Stored {
                        expires_ms: stale_until(stored),
                        stale: true,
                        ..stored.clone()
                    });
                    answer
                }
                _ => Err(error),
            };
            let entry = Entry {
                version: ENTRY_VERSION,
                helper: policy.name.clone(),
                credential,
                failure: Some(failure),
            };
            (Some(entry), answer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::testing::{FRESH, fetched, fresh, policy};

    #[test]
    fn a_fresh_entry_is_served_until_the_refresh_window() {
        let entry = fresh("cred\n", 1_000);
        let stored = entry.credential.clone().unwrap();
        assert_eq!(stored.expires_ms - stored.created_ms, 300_000);
        assert_eq!(stored.expires_ms - stored.refresh_ms, 60_000);
        assert_eq!(
            decide(Some(&entry), 1_000),
            Decision::Serve("cred\n".into())
        );
        assert_eq!(
            decide(Some(&entry), stored.refresh_ms - 1),
            Decision::Serve("cred\n".into())
        );
        assert_eq!(
            decide(Some(&entry), stored.refresh_ms),
            Decision::ServeAndRefresh("cred\n".into())
        );
        assert_eq!(decide(Some(&entry), stored.expires_ms), Decision::Run);
        assert_eq!(decide(Some(&entry), stored.expires_ms + 1), Decision::Run);
        // A clock that went backwards does not extend a credential's life.
        assert_eq!(decide(Some(&entry), 999), Decision::Run);
    }

    #[test]
    fn a_failed_refresh_serves_the_still_valid_entry() {
        let entry = fresh("old\n", 0);
        let refresh_at = entry.credential.as_ref().unwrap().refresh_ms + 1;
        let (entry, answer) = settle(
            Some(entry),
            Err(Error::Unavailable("down".into())),
            &policy(),
            refresh_at,
        );
        let answer = answer.unwrap();
        assert_eq!(answer.output(), "old\n");
        assert!(answer.warning.unwrap().contains("refresh failed"));
        let entry = entry.unwrap();
        assert_eq!(entry.failure.as_ref().unwrap().count, 1);
        // Within the backoff the old entry keeps being served, no run.
        assert_eq!(
            decide(Some(&entry), refresh_at + 1),
            Decision::Serve("old\n".into())
        );
    }

    #[test]
    fn stale_if_error_is_bounded_and_only_for_transient_failures() {
        let mut p = policy();
        p.cache.stale_if_error = Duration::from_secs(60);
        let entry = settle(None, fetched("old\n", None), &p, 0).0.unwrap();
        let expired = entry.credential.as_ref().unwrap().expires_ms + 1_000;

        let (_, answer) = settle(
            Some(entry.clone()),
            Err(Error::Denied("no".into())),
            &p,
            expired,
        );
        assert!(
            matches!(answer, Err(Error::Denied(_))),
            "never stale for denied"
        );
        let (_, answer) = settle(
            Some(entry.clone()),
            Err(Error::Misconfigured("no".into())),
            &p,
            expired,
        );
        assert!(answer.is_err(), "never stale for misconfigured");

        let (stale, answer) = settle(
            Some(entry.clone()),
            Err(Error::Unavailable("vpn".into())),
            &p,
            expired,
        );
        let answer = answer.unwrap();
        assert_eq!(answer.output(), "old\n");
        assert!(answer.warning.unwrap().contains("expired 1s ago"));
        assert_eq!(
            decide(stale.as_ref(), expired + 1),
            Decision::Serve("old\n".into())
        );

        let too_late = entry.credential.as_ref().unwrap().expires_ms + 61_000;
        let (_, answer) = settle(
            Some(entry),
            Err(Error::Unavailable("vpn".into())),
            &p,
            too_late,
        );
        assert!(
            matches!(answer, Err(Error::Unavailable(_))),
            "stale window is bounded"
        );

        // Failing again and again does not chain windows: the one window
        // counts from the credential's own expiry.
        let stale = stale.unwrap();
        let window_end = stale.credential.as_ref().unwrap().expires_ms;
        assert_eq!(window_end, too_late - 1_000);
        let (again, answer) = settle(
            Some(stale),
            Err(Error::Unavailable("vpn".into())),
            &p,
            window_end + 1,
        );
        assert!(
            matches!(answer, Err(Error::Unavailable(_))),
            "a second window was granted: {answer:?}"
        );
        assert_eq!(
            again.unwrap().credential.unwrap().expires_ms,
            window_end,
            "the window moved"
        );
    }

    #[test]
    fn failures_back_off_exponentially_then_run_again() {
        let p = policy();
        let (entry, answer) = settle(None, Err(Error::Unavailable("down".into())), &p, 0);
        assert!(answer.is_err());
        let entry = entry.unwrap();
        match decide(Some(&entry), 4_999) {
            Decision::FailFast(f) => {
                assert_eq!(f.message, "unavailable: down");
                assert_eq!(f.exit_code, 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(decide(Some(&entry), 5_000), Decision::Run);
        let (entry, _) = settle(
            Some(entry),
            Err(Error::Unavailable("down".into())),
            &p,
            5_000,
        );
        let failure = entry.unwrap().failure.unwrap();
        assert_eq!((failure.count, failure.retry_ms), (2, 15_000));
        // A success clears the failure.
        let entry = fresh("ok\n", 20_000);
        assert!(entry.failure.is_none());
    }

    #[test]
    fn usage_errors_are_not_remembered_and_short_lifetimes_not_stored() {
        let (entry, answer) = settle(None, Err(Error::Usage("bad".into())), &policy(), 0);
        assert!(entry.is_none() && answer.is_err());
        let (entry, answer) = settle(
            None,
            Ok((
                Credential {
                    expires_at: Some(10),
                    ..Credential::from("x\n")
                },
                Some(10),
            )),
            &policy(),
            0,
        );
        assert!(entry.is_none(), "expires within the skew: not reusable");
        assert_eq!(answer.unwrap().output(), "x\n");
    }

    #[test]
    fn a_backward_clock_jump_never_extends_a_lifetime() {
        let entry = fresh(FRESH, 100_000);
        let stored = entry.credential.clone().unwrap();
        // The clock went back 50 s: nothing created "in the future" is
        // served, fresh or in its refresh window.
        assert_eq!(decide(Some(&entry), 50_000), Decision::Run);
        // A failed refresh then: the credential is not served as still
        // valid (that would add the jump to its life), nor as stale.
        let mut p = policy();
        p.cache.stale_if_error = Duration::from_secs(600);
        for error in [
            Error::Unavailable("down".into()),
            Error::Denied("no".into()),
        ] {
            let (after, answer) = settle(Some(entry.clone()), Err(error), &p, 50_000);
            assert!(answer.is_err(), "served after the clock went back");
            let after = after.unwrap();
            assert_eq!(
                after.credential.as_ref(),
                Some(&stored),
                "its times unchanged"
            );
            // Within the backoff, still not served.
            assert!(matches!(
                decide(Some(&after), 50_001),
                Decision::FailFast(_)
            ));
        }
        // Once the clock is past the creation again, the recorded times
        // hold, neither more nor less.
        assert_eq!(
            decide(Some(&entry), stored.expires_ms - 1),
            Decision::ServeAndRefresh(FRESH.into())
        );
        assert_eq!(decide(Some(&entry), stored.expires_ms), Decision::Run);
    }

    #[test]
    fn what_the_cache_settles_alone_is_answered_as_of_the_given_time() {
        let (entry, _) = settle(
            None,
            Err(Error::Unavailable("down".into())),
            &policy(),
            1_000,
        );
        let entry = entry.unwrap();
        match decision_result(decide(Some(&entry), 2_500), 2_500) {
            Some(Err(Error::CachedFailure {
                message,
                exit_code,
                retry_in,
                ..
            })) => {
                assert_eq!(message, "unavailable: down");
                assert_eq!(exit_code, 5);
                assert_eq!(retry_in, Duration::from_millis(3_500), "until 6 s");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(decide(Some(&entry), 6_000), Decision::Run);
        assert!(decision_result(Decision::Run, 6_000).is_none());
        let entry = fresh(FRESH, 0);
        for now in [0, entry.credential.as_ref().unwrap().refresh_ms] {
            assert_eq!(
                decision_result(decide(Some(&entry), now), now)
                    .unwrap()
                    .unwrap(),
                Answer {
                    credential: FRESH.into(),
                    warning: None
                }
            );
        }
    }

    #[test]
    fn lifetimes_saturate_instead_of_wrapping() {
        let mut p = policy();
        p.cache.ttl = Duration::MAX;
        let (entry, answer) = settle(None, fetched(FRESH, None), &p, u64::MAX - 5);
        assert_eq!(answer.unwrap().output(), FRESH);
        let stored = entry.unwrap().credential.unwrap();
        assert_eq!(stored.expires_ms, u64::MAX);
        assert!(stored.created_ms <= stored.refresh_ms && stored.refresh_ms <= stored.expires_ms);
        let (entry, _) = settle(None, Err(Error::Unavailable("x".into())), &p, u64::MAX - 5);
        assert_eq!(entry.unwrap().failure.unwrap().retry_ms, u64::MAX);
    }
}
