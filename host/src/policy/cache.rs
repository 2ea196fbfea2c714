//! Credential caching: how long an answer is reused, and how failures are
//! remembered.
//!
//! ```toml
//! [cache]
//! ttl = "5m"             # longest a credential is reused (Claude Code's default TTL)
//! stale_if_error = "0s"  # after expiry, serve the old one this long while the provider is unavailable
//! backoff = "5s"         # after a failure, fail at once for this long, doubling per failure
//! share = false          # true: one credential for every client (the helper is not told who asks)
//! ```
//!
//! With `share = true` the request a helper sees is `client::any` whatever
//! client asks (Claude Code, git, kubectl, Cargo...), and the cache key
//! holds no client context, so one fetched credential answers every client
//! that can use it until it expires. The helper cannot answer differently
//! per client, because it is never told which one asks.

use std::time::Duration;

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::CacheTable;
use crate::units::parse_duration;

/// Default reuse time: Claude Code re-runs `apiKeyHelper` every 5 minutes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Default first backoff after a failure.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(5);
/// Longest backoff, however many failures in a row.
pub const MAX_BACKOFF: Duration = Duration::from_secs(120);
/// Safety margin taken off a credential's own `expires-in`, so it is
/// never handed out moments before the provider rejects it.
pub const EXPIRY_SKEW: Duration = Duration::from_secs(30);
/// Longest `ttl` accepted: a day. Longer ones are refused when the
/// manifest is read, so no lifetime can overflow the clock's arithmetic.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest `stale_if_error` accepted: a day.
pub const MAX_STALE_IF_ERROR: Duration = Duration::from_secs(24 * 3600);
/// Longest refresh-ahead window.
pub const MAX_REFRESH_WINDOW: Duration = Duration::from_secs(60);

/// Caching rules for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Longest reuse.
    pub ttl: Duration,
    /// Stale window after expiry, for transient failures only.
    pub stale_if_error: Duration,
    /// First backoff after a failure.
    pub backoff: Duration,
    /// One credential for every client: the helper is asked for
    /// `client::any`.
    pub share: bool,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            ttl: DEFAULT_TTL,
            stale_if_error: Duration::ZERO,
            backoff: DEFAULT_BACKOFF,
            share: false,
        }
    }
}

impl CachePolicy {
    /// Applies a manifest's `[cache]` table; `Err` names the field.
    pub fn apply(&mut self, config: &CacheTable) -> Result<(), String> {
        let field = |name: &str, text: &Option<String>| -> Result<Option<Duration>, String> {
            text.as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| format!("[cache] {name}: {e}"))
        };
        if let Some(ttl) = field("ttl", &config.ttl)? {
            if ttl > MAX_TTL {
                return Err(format!(
                    "[cache] ttl: at most {}m (a day)",
                    MAX_TTL.as_secs() / 60
                ));
            }
            self.ttl = ttl;
        }
        if let Some(stale) = field("stale_if_error", &config.stale_if_error)? {
            if stale > MAX_STALE_IF_ERROR {
                return Err(format!(
                    "[cache] stale_if_error: at most {}m (a day)",
                    MAX_STALE_IF_ERROR.as_secs() / 60
                ));
            }
            self.stale_if_error = stale;
        }
        if let Some(backoff) = field("backoff", &config.backoff)? {
            if backoff > MAX_BACKOFF {
                return Err(format!(
                    "[cache] backoff: at most {}s",
                    MAX_BACKOFF.as_secs()
                ));
            }
            self.backoff = backoff;
        }
        if let Some(share) = config.share {
            self.share = share;
        }
        Ok(())
    }

    /// How long a fresh credential is reused: its own lifetime less
    /// [`EXPIRY_SKEW`], capped by the TTL. Zero means "do not reuse".
    pub fn lifetime(&self, expires_in: Option<u64>) -> Duration {
        match expires_in {
            Some(secs) => Duration::from_secs(secs)
                .saturating_sub(EXPIRY_SKEW)
                .min(self.ttl),
            None => self.ttl,
        }
    }

    /// The window before expiry in which the helper is run again while the
    /// old credential is still served if that run fails: a fifth of the
    /// lifetime, at most [`MAX_REFRESH_WINDOW`].
    pub fn refresh_window(lifetime: Duration) -> Duration {
        (lifetime / 5).min(MAX_REFRESH_WINDOW)
    }

    /// Backoff after `failures` failures in a row: doubling from
    /// `backoff`, capped at [`MAX_BACKOFF`].
    pub fn backoff_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.backoff.saturating_mul(1 << doublings).min(MAX_BACKOFF)
    }
}

impl Fingerprint for CachePolicy {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let CachePolicy {
            ttl,
            stale_if_error,
            backoff,
            share,
        } = self;
        f.field("ttl", ttl);
        f.field("stale_if_error", stale_if_error);
        f.field("backoff", backoff);
        f.field("share", &u64::from(*share));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_follows_expiry_less_skew_capped_by_ttl() {
        let p = CachePolicy::default();
        assert_eq!(p.lifetime(None), DEFAULT_TTL);
        assert_eq!(p.lifetime(Some(3600)), DEFAULT_TTL);
        assert_eq!(p.lifetime(Some(90)), Duration::from_secs(60));
        assert_eq!(p.lifetime(Some(20)), Duration::ZERO);
    }

    #[test]
    fn refresh_window_is_a_fifth_capped() {
        assert_eq!(
            CachePolicy::refresh_window(Duration::from_secs(100)),
            Duration::from_secs(20)
        );
        assert_eq!(
            CachePolicy::refresh_window(Duration::from_secs(3600)),
            MAX_REFRESH_WINDOW
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = CachePolicy::default();
        assert_eq!(p.backoff_after(1), Duration::from_secs(5));
        assert_eq!(p.backoff_after(2), Duration::from_secs(10));
        assert_eq!(p.backoff_after(3), Duration::from_secs(20));
        assert_eq!(p.backoff_after(10), MAX_BACKOFF);
        assert_eq!(p.backoff_after(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn fields_are_named_in_errors() {
        let mut p = CachePolicy::default();
        let err = p
            .apply(&CacheTable {
                stale_if_error: Some("later".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.starts_with("[cache] stale_if_error:"), "{err}");
        let err = p
            .apply(&CacheTable {
                backoff: Some("10m".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.starts_with("[cache] backoff:"), "{err}");
        for (ttl, stale) in [
            ("18446744073709551s", "0s"),
            ("1441m", "0s"),
            ("1m", "1441m"),
        ] {
            let err = p
                .apply(&CacheTable {
                    ttl: Some(ttl.into()),
                    stale_if_error: Some(stale.into()),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(err.contains("at most 1440m (a day)"), "{err}");
        }
        p.apply(&CacheTable {
            ttl: Some("1m".into()),
            stale_if_error: Some("10m".into()),
            backoff: Some("1s".into()),
            share: Some(true),
        })
        .unwrap();
        assert_eq!(p.ttl, Duration::from_secs(60));
        assert_eq!(p.stale_if_error, Duration::from_secs(600));
        assert_eq!(p.backoff, Duration::from_secs(1));
        assert!(p.share);
    }
}
