//! The credential cache: answers repeated calls without running the helper,
//! and ends retry loops.
//!
//! One entry per helper and request, keyed by a SHA-256 of everything that
//! could change the answer: the component file's identity
//! ([`component_stamp`]), the effective policy,
//! the values of the allowlisted environment variables and config (hashed,
//! never stored), the purpose and the MCP server. Entries live in a private
//! directory (see [`crate::private_dir`]) and are replaced atomically.
//!
//! - **Fresh**: served as is, without starting wasmtime.
//! - **Refresh ahead**: near expiry the helper runs again; if that run
//!   fails, the still-valid entry is served.
//! - **Stale if error**: past expiry, a transient failure (`unavailable`, a
//!   deadline) may serve the old entry for `[cache] stale_if_error`.
//! - **Negative cache**: a failure is remembered; calls within its backoff
//!   fail at once with the recorded reason, without running the guest.
//! - **Single flight**: an advisory lock per entry; while one process runs
//!   the helper, the others wait and then read its result. The lock dies
//!   with its process.

use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprinter;
use crate::policy::Policy;
use crate::private_dir::PrivateDir;
use crate::request::Request;
use crate::units::{format_duration, hex_sha256};

/// Version of the entry format; entries of another version are misses.
const ENTRY_VERSION: u32 = 1;
/// How often a waiting process checks whether the lock is free.
const LOCK_POLL: Duration = Duration::from_millis(5);

/// Identifies a cache entry: lowercase hex SHA-256 of the run's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key for running `policy`'s component (identified by
    /// `component`, its [`component_stamp`]) on `request`, with the
    /// allowlisted environment `env`. Every field of the policy and the
    /// request is part of it (see [`crate::fingerprint`]); the values of
    /// `env` are hashed, never stored.
    pub fn new(
        policy: &Policy,
        component: &str,
        request: &Request,
        env: &[(String, String)],
    ) -> CacheKey {
        let mut f = Fingerprinter::new("credbox-credential-cache-v3");
        f.field("component", component);
        f.field("policy", policy);
        f.field("request", request);
        f.field("env", env);
        CacheKey(f.finish())
    }

    /// The key as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How recently a component may have changed for its metadata not to be
/// trusted as its identity (see [`component_stamp`]).
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// The component file's identity for the cache key, from its metadata
/// alone: device, inode, size, and modification and change times in
/// nanoseconds.
///
/// A hit must not cost reading and hashing the whole component (that was
/// a third of a cached answer's time). Any rebuild, copy or edit changes
/// the change time at least, so it is a miss, and a miss reads the file,
/// checks its `sha256` pin and compiles by content digest as before.
///
/// Two writes within one tick of the file system's clock can leave the
/// same times, so, as git does with its index, metadata is not trusted for
/// a file changed in the last [`RACY_WINDOW`]: such a file is identified
/// by the SHA-256 of its contents instead.
pub fn component_stamp(path: &Path) -> Result<String> {
    component_stamp_at(path, SystemTime::now())
}

fn component_stamp_at(path: &Path, now: SystemTime) -> Result<String> {
    let unreadable = |e: std::io::Error| {
        Error::Usage(format!(
            "cannot read component {}: {e}; build it first (see the README)",
            path.display()
        ))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "component {} is not a file",
            path.display()
        )));
    }
    let changed = u64::try_from(meta.ctime()).ok().map(|secs| {
        UNIX_EPOCH + Duration::new(secs, meta.ctime_nsec().clamp(0, 999_999_999) as u32)
    });
    let settled = changed
        .and_then(|changed| now.duration_since(changed).ok())
        .is_some_and(|age| age >= RACY_WINDOW);
    if !settled {
        let bytes = std::fs::read(path).map_err(unreadable)?;
        return Ok(format!("sha256:{}", hex_sha256(&bytes)));
    }
    Ok(format!(
        "stat:{}:{}:{}:{}.{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

/// A cached credential: the exact text to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// What credbox printed (and prints again on a hit).
    pub output: String,
    /// When it was fetched (Unix ms).
    pub created_ms: u64,
    /// From when the helper is run again ahead of expiry (Unix ms).
    pub refresh_ms: u64,
    /// When it stops being served (Unix ms), stale-if-error aside.
    pub expires_ms: u64,
}

/// A remembered failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The error's message, already redacted.
    pub message: String,
    /// The error's exit code.
    pub exit_code: u8,
    /// Whether it was transient (`unavailable` or a deadline), so a stale
    /// credential may stand in.
    pub transient: bool,
    /// Failures in a row.
    pub count: u32,
    /// When the last one happened (Unix ms).
    pub at_ms: u64,
    /// Until when calls fail at once (Unix ms).
    pub retry_ms: u64,
}

/// One cache file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// [`ENTRY_VERSION`].
    pub version: u32,
    /// The helper's name, for `credbox status` and `credbox cache clear`.
    pub helper: String,
    /// The last good credential, if any.
    pub credential: Option<Stored>,
    /// The last failure since that credential, if any.
    pub failure: Option<Failure>,
}

/// What a run handed back: the text to print and, when an older
/// credential stood in for a failed run, a warning for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The exact text for stdout.
    pub output: String,
    /// A one-line warning, without secrets.
    pub warning: Option<String>,
}

/// What a fresh run of the helper produced: the text and the credential's
/// own lifetime in seconds, if it gave one.
pub type Fetched = Result<(String, Option<u64>)>;

/// The credential cache directory.
#[derive(Debug, Clone)]
pub struct CredentialCache {
    dir: PrivateDir,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// What to do with an entry at a given time, before running anything.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Print this; no run.
    Serve(String),
    /// Fail at once with the recorded failure.
    FailFast(Failure),
    /// Run the helper.
    Run,
}

fn decide(entry: Option<&Entry>, now: u64) -> Decision {
    let Some(entry) = entry else {
        return Decision::Run;
    };
    if let Some(stored) = &entry.credential
        && now >= stored.created_ms
        && now < stored.refresh_ms
    {
        return Decision::Serve(stored.output.clone());
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
            Some(stored) if now < stored.expires_ms => Decision::Serve(stored.output.clone()),
            _ => Decision::FailFast(failure.clone()),
        };
    }
    Decision::Run
}

impl CredentialCache {
    /// Opens (creating) the cache under `root`.
    pub fn open(root: &PrivateDir) -> Result<CredentialCache> {
        Ok(CredentialCache {
            dir: root.subdir("credentials")?,
        })
    }

    /// The entry for `key`; a missing, unreadable, corrupt or foreign-version
    /// file reads as `None`.
    pub fn entry(&self, key: &CacheKey) -> Option<Entry> {
        let bytes = self.dir.read(&entry_name(key))?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        (entry.version == ENTRY_VERSION).then_some(entry)
    }

    /// The fast path: the answer for `key` if the cache alone settles it
    /// (a fresh credential, or a failure inside its backoff), without
    /// locking or running anything.
    pub fn lookup(&self, key: &CacheKey) -> Option<Result<Answer>> {
        decision_result(decide(self.entry(key).as_ref(), now_ms()))
    }

    /// Answers `key`: from the cache when it can, else by calling `fetch`
    /// once across all processes (others wait for the lock, bounded by
    /// `wait`, then read the result).
    pub fn get_or_run(
        &self,
        key: &CacheKey,
        policy: &Policy,
        wait: Duration,
        fetch: impl FnOnce() -> Fetched,
    ) -> Result<Answer> {
        if let Some(answer) = self.lookup(key) {
            return answer;
        }
        // If the lock cannot be had in time (a stuck holder would have been
        // stopped by its own deadline, so this is rare), run unlocked:
        // writes are atomic, so the worst case is a duplicate run.
        let _lock = self.lock(key, wait);
        let entry = self.entry(key);
        if let Some(answer) = decision_result(decide(entry.as_ref(), now_ms())) {
            return answer;
        }
        let fetched = fetch();
        let (entry, result) = settle(entry, fetched, policy, now_ms());
        match entry {
            Some(entry) => {
                let json = serde_json::to_vec(&entry)
                    .map_err(|e| Error::Internal(format!("cannot encode cache entry: {e}")))?;
                // A cache that cannot be written costs the next call a run,
                // not this call its answer.
                let _ = self.dir.write_atomic(&entry_name(key), &json);
            }
            None => self.dir.remove(&entry_name(key))?,
        }
        result
    }

    /// Takes the entry's lock, polling until `wait` has passed.
    fn lock(&self, key: &CacheKey, wait: Duration) -> Option<File> {
        let file = self.dir.lock_file(&format!("{}.lock", key.as_str())).ok()?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(LOCK_POLL)
                }
                Err(_) => return None,
            }
        }
    }

    /// All entries with their keys, for `credbox status`.
    pub fn entries(&self) -> Vec<(String, Entry)> {
        let Ok(dir) = std::fs::read_dir(self.dir.path()) else {
            return Vec::new();
        };
        let mut entries: Vec<(String, Entry)> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
            .filter_map(|key| {
                let entry = self.entry(&CacheKey(key.clone()))?;
                Some((key, entry))
            })
            .collect();
        entries.sort_by(|a, b| (&a.1.helper, &a.0).cmp(&(&b.1.helper, &b.0)));
        entries
    }

    /// Removes the entries of `helper` (all entries when `None`); returns
    /// how many were removed. Unreadable entries go too when clearing all.
    pub fn clear(&self, helper: Option<&str>) -> Result<usize> {
        let Ok(dir) = std::fs::read_dir(self.dir.path()) else {
            return Ok(0);
        };
        let mut removed = 0;
        for name in dir.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            let Some(key) = name.strip_suffix(".json") else {
                continue;
            };
            let matches = match helper {
                None => true,
                Some(helper) => self
                    .entry(&CacheKey(key.to_owned()))
                    .is_some_and(|e| e.helper == helper),
            };
            if matches {
                self.dir.remove(&name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn entry_name(key: &CacheKey) -> String {
    format!("{}.json", key.as_str())
}

/// Turns a decision that needs no run into its answer.
fn decision_result(decision: Decision) -> Option<Result<Answer>> {
    match decision {
        Decision::Serve(output) => Some(Ok(Answer {
            output,
            warning: None,
        })),
        Decision::FailFast(failure) => Some(Err(Error::CachedFailure {
            message: failure.message,
            exit_code: failure.exit_code,
            retry_in: Duration::from_millis(failure.retry_ms.saturating_sub(now_ms())),
        })),
        Decision::Run => None,
    }
}

/// Folds a run's result into the entry: the new entry to store (`None`:
/// remove it) and the answer for this call.
fn settle(
    previous: Option<Entry>,
    fetched: Fetched,
    policy: &Policy,
    now: u64,
) -> (Option<Entry>, Result<Answer>) {
    let previous_credential = previous.as_ref().and_then(|e| e.credential.clone());
    match fetched {
        Ok((output, expires_in)) => {
            let lifetime = policy.cache.lifetime(expires_in);
            let answer = Ok(Answer {
                output: output.clone(),
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
                    output,
                    created_ms: now,
                    refresh_ms: now + ms(lifetime - window),
                    expires_ms: now + ms(lifetime),
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
                transient: error.is_transient(),
                count,
                at_ms: now,
                retry_ms: now + ms(policy.cache.backoff_after(count)),
            };
            let mut credential = previous_credential;
            let answer = match &credential {
                Some(stored) if now < stored.expires_ms => Ok(Answer {
                    output: stored.output.clone(),
                    warning: Some(format!(
                        "refresh failed ({error}); serving the credential that is still valid for {}",
                        format_duration(Duration::from_millis(stored.expires_ms - now))
                    )),
                }),
                Some(stored)
                    if failure.transient
                        && now
                            < stored
                                .expires_ms
                                .saturating_add(ms(policy.cache.stale_if_error)) =>
                {
                    let answer = Ok(Answer {
                        output: stored.output.clone(),
                        warning: Some(format!(
                            "{error}; serving a credential that expired {} ago ([cache] stale_if_error)",
                            format_duration(Duration::from_secs((now - stored.expires_ms) / 1000))
                        )),
                    });
                    // Keep serving it until the stale window closes.
                    credential = Some(Stored {
                        expires_ms: stored
                            .expires_ms
                            .saturating_add(ms(policy.cache.stale_if_error)),
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
    use crate::manifest::Format;
    use crate::manifest::NetworkTable;
    use crate::policy::network::NetworkPolicy;
    use std::path::Path;

    fn policy() -> Policy {
        Policy::for_component(Path::new("h.wasm"))
    }

    fn fresh(output: &str, now: u64) -> Entry {
        settle(None, Ok((output.into(), None)), &policy(), now)
            .0
            .unwrap()
    }

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
        assert_eq!(decide(Some(&entry), stored.refresh_ms), Decision::Run);
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
        assert_eq!(answer.output, "old\n");
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
        let entry = settle(None, Ok(("old\n".into(), None)), &p, 0).0.unwrap();
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
        assert_eq!(answer.output, "old\n");
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
        let (entry, answer) = settle(None, Ok(("x\n".into(), Some(10))), &policy(), 0);
        assert!(entry.is_none(), "expires within the skew: not reusable");
        assert_eq!(answer.unwrap().output, "x\n");
    }

    #[test]
    fn keys_change_with_every_input() {
        let p = policy();
        let r = Request::default();
        let base = CacheKey::new(&p, "aa", &r, &[]);
        assert_eq!(base, CacheKey::new(&p, "aa", &r, &[]), "stable");
        let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls/ca.pem");
        let network =
            |config: NetworkTable| NetworkPolicy::from_config(&config, Path::new(".")).unwrap();

        // One change to each field of the policy (see Policy's Fingerprint:
        // a field added there must be added here too).
        type Change = Box<dyn Fn(&mut Policy)>;
        let changes: Vec<(&str, Change)> = vec![
            ("name", Box::new(|p| p.name = "other".into())),
            ("format", Box::new(|p| p.format = Format::ApiKey)),
            ("sha256", Box::new(|p| p.sha256 = Some("0".repeat(64)))),
            ("limits.fuel", Box::new(|p| p.limits.fuel += 1)),
            (
                "limits.timeout",
                Box::new(|p| p.limits.timeout += Duration::from_millis(1)),
            ),
            ("limits.memory", Box::new(|p| p.limits.memory += 1 << 20)),
            ("env", Box::new(|p| p.env.allow("API_TOKEN").unwrap())),
            (
                "config",
                Box::new(|p| p.config.set_from_flag("K=V").unwrap()),
            ),
            (
                "cache.ttl",
                Box::new(|p| p.cache.ttl += Duration::from_secs(1)),
            ),
            (
                "cache.stale_if_error",
                Box::new(|p| p.cache.stale_if_error += Duration::from_secs(1)),
            ),
            (
                "cache.backoff",
                Box::new(|p| p.cache.backoff += Duration::from_secs(1)),
            ),
            (
                "network.allow",
                Box::new(|p| p.network.allow("https://a.example").unwrap()),
            ),
            (
                "network.ca_bundle",
                Box::new(move |p| {
                    p.network = network(NetworkTable {
                        ca_bundle: Some(bundle.clone()),
                        ..NetworkTable::default()
                    })
                }),
            ),
            (
                "network.private_ranges",
                Box::new(move |p| {
                    p.network = network(NetworkTable {
                        private_ranges: vec!["10.20.0.0/16".into()],
                        ..NetworkTable::default()
                    })
                }),
            ),
        ];
        let mut seen = vec![base.clone()];
        let mut check = |what: &str, key: CacheKey| {
            assert!(
                !seen.contains(&key),
                "changing {what} did not change the key"
            );
            seen.push(key);
        };
        for (what, change) in &changes {
            let mut changed = p.clone();
            change(&mut changed);
            check(what, CacheKey::new(&changed, "aa", &r, &[]));
        }
        // The component is identified by its stamp (component_stamp), not
        // its path.
        let mut moved = p.clone();
        moved.component = "elsewhere/h.wasm".into();
        assert_eq!(base, CacheKey::new(&moved, "aa", &r, &[]));
        check("the component's stamp", CacheKey::new(&p, "ab", &r, &[]));
        // The request, field by field, and the environment's values.
        let request_changes = [
            Request {
                purpose: Format::ApiKey,
                ..Request::default()
            },
            Request {
                mcp_server_name: Some("github".into()),
                ..Request::default()
            },
            Request {
                mcp_server_url: Some("https://mcp.example".into()),
                ..Request::default()
            },
        ];
        for (i, request) in request_changes.iter().enumerate() {
            check(
                &format!("request field {i}"),
                CacheKey::new(&p, "aa", request, &[]),
            );
        }
        check(
            "env",
            CacheKey::new(&p, "aa", &r, &[("T".into(), "1".into())]),
        );
        check(
            "env value",
            CacheKey::new(&p, "aa", &r, &[("T".into(), "2".into())]),
        );
    }

    #[test]
    fn corrupt_and_foreign_entries_are_misses() {
        let temp = tempfile::tempdir().unwrap();
        let root = PrivateDir::open(&temp.path().join("c")).unwrap();
        let cache = CredentialCache::open(&root).unwrap();
        let key = CacheKey::new(&policy(), "aa", &Request::default(), &[]);
        let dir = root.subdir("credentials").unwrap();
        for junk in [
            &b""[..],
            b"{",
            b"{\"version\":2,\"helper\":\"h\",\"credential\":null,\"failure\":null}",
            b"\xff\xfe",
        ] {
            dir.write_atomic(&entry_name(&key), junk).unwrap();
            assert_eq!(cache.entry(&key), None);
            assert!(cache.lookup(&key).is_none());
        }
        let answer = cache
            .get_or_run(&key, &policy(), Duration::from_secs(1), || {
                Ok(("fresh\n".into(), None))
            })
            .unwrap();
        assert_eq!(answer.output, "fresh\n");
        let answer = cache
            .get_or_run(&key, &policy(), Duration::from_secs(1), || {
                panic!("must not run")
            })
            .unwrap();
        assert_eq!(answer.output, "fresh\n");
        assert_eq!(cache.entries().len(), 1);
        assert_eq!(cache.clear(Some("other")).unwrap(), 0);
        assert_eq!(cache.clear(Some("h")).unwrap(), 1);
        assert!(cache.entries().is_empty());
    }

    #[test]
    fn the_component_stamp_follows_the_file_not_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.wasm");
        std::fs::write(&path, b"one").unwrap();
        // Long after the last change: the metadata is the identity.
        let later = SystemTime::now() + Duration::from_secs(3600);
        let first = component_stamp_at(&path, later).unwrap();
        assert!(first.starts_with("stat:"), "{first}");
        assert_eq!(component_stamp_at(&path, later).unwrap(), first, "stable");
        std::fs::write(&path, b"twotwo").unwrap();
        let second = component_stamp_at(&path, later).unwrap();
        assert_ne!(second, first, "rewritten in place");
        // Rewritten in place with the same size, and its modification time
        // set back: same device, inode, size and mtime, so the change time
        // alone tells (the file system's clock is coarse: let it tick
        // first).
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"TWOTWO").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_ne!(
            component_stamp_at(&path, later).unwrap(),
            second,
            "rewritten in place, same size"
        );

        // Just changed: the contents are.
        std::fs::write(&path, b"one").unwrap();
        assert_eq!(
            component_stamp(&path).unwrap(),
            format!("sha256:{}", hex_sha256(b"one"))
        );

        let err = component_stamp(&dir.path().join("missing.wasm")).unwrap_err();
        assert!(
            matches!(err, Error::Usage(ref m) if m.contains("build it first")),
            "{err}"
        );
        let err = component_stamp(dir.path()).unwrap_err();
        assert!(err.to_string().ends_with("is not a file"), "{err}");
    }
}
