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
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files::{self, Links};
use crate::fingerprint::Fingerprinter;
use crate::platform;
use crate::policy::Policy;
use crate::private_dir::PrivateDir;
use crate::request::Request;
use crate::units::{format_duration, hex_sha256};
use crate::validation::Credential;

/// Version of the entry format; entries of another version are misses.
const ENTRY_VERSION: u32 = 3;
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

    /// A key read back from its hex form (an entry's file name), or
    /// `None` unless it is 64 lowercase hex digits.
    pub fn parse(hex: &str) -> Option<CacheKey> {
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| CacheKey(hex.to_owned()))
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
///
/// The file is never opened when it is not a regular file (a FIFO would
/// block the open), and never read past `cap` bytes.
pub fn component_stamp(path: &Path, cap: u64) -> Result<String> {
    component_stamp_at(path, cap, SystemTime::now())
}

fn component_stamp_at(path: &Path, cap: u64, now: SystemTime) -> Result<String> {
    let unreadable = |e: std::io::Error| {
        Error::Usage(format!(
            "cannot read component {}: {e}; build it first (see the README)",
            path.display()
        ))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "component {} is {}, not a regular file",
            path.display(),
            files::kind_name(&meta.file_type())
        )));
    }
    let stamp = platform::FileStamp::of(&meta);
    let settled = stamp
        .changed()
        .and_then(|changed| now.duration_since(changed).ok())
        .is_some_and(|age| age >= RACY_WINDOW);
    if !settled {
        let bytes = files::read_regular(path, cap, Links::Follow)
            .map_err(|e| Error::Usage(format!("cannot read component {}: {e}", path.display())))?;
        return Ok(format!("sha256:{}", hex_sha256(&bytes)));
    }
    Ok(format!("stat:{stamp}"))
}

/// A cached credential, validated, in the typed form every client renders
/// (so that one credential serves each client that can use it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    /// The credential, checked again on every hit.
    pub credential: Credential,
    /// When it was fetched (Unix ms).
    pub created_ms: u64,
    /// From when the helper is run again ahead of expiry (Unix ms).
    pub refresh_ms: u64,
    /// When it stops being served (Unix ms), stale-if-error aside.
    pub expires_ms: u64,
    /// Whether `expires_ms` was already moved to the end of a
    /// `stale_if_error` window: a window is granted once, counted from the
    /// credential's own expiry, never chained by later failures.
    #[serde(default)]
    pub stale: bool,
}

/// A remembered failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Start of every entry file: the format's name, then the hex SHA-256 of
/// the key and the JSON that follow the newline.
const ENTRY_MAGIC: &[u8] = b"credbox-entry-v3 ";
/// Largest entry file read: a credential is at most 16 KiB of headers,
/// JSON-escaped twice.
const MAX_ENTRY_SIZE: u64 = 1 << 20;
/// Longest span from a credential's creation to its expiry that an entry
/// may record: the longest TTL plus the longest stale window.
const MAX_SPAN: Duration = Duration::from_secs(
    crate::policy::cache::MAX_TTL.as_secs() + crate::policy::cache::MAX_STALE_IF_ERROR.as_secs(),
);

impl Entry {
    /// The file's bytes for the entry of `key`: a checksum over the key
    /// and the entry, then the entry as JSON. The key is in the checksum so
    /// that an entry copied under another key's name is refused.
    pub fn encode(&self, key: &CacheKey) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("an entry always encodes");
        let mut out = Vec::with_capacity(ENTRY_MAGIC.len() + 65 + json.len());
        out.extend_from_slice(ENTRY_MAGIC);
        out.extend_from_slice(entry_digest(key, &json).as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&json);
        out
    }

    /// The entry of `key` in a file's `bytes`, or `None` unless its
    /// checksum matches, it parses, and it passes [`Entry::is_sound`]:
    /// anything else was not stored by credbox for this key.
    pub fn decode(bytes: &[u8], key: &CacheKey) -> Option<Entry> {
        let rest = bytes.strip_prefix(ENTRY_MAGIC)?;
        let (digest, rest) = rest.split_at_checked(64)?;
        let json = rest.strip_prefix(b"\n")?;
        if digest != entry_digest(key, json).as_bytes() {
            return None;
        }
        let entry: Entry = serde_json::from_slice(json).ok()?;
        entry.is_sound().then_some(entry)
    }

    /// The invariants every entry credbox writes keeps: its version; a
    /// credential that is printable for its format, with `created <=
    /// refresh <= expires` over a bounded span; a failure with the exit
    /// code of a remembered failure (never 0), at least one failure, and a
    /// bounded backoff.
    pub fn is_sound(&self) -> bool {
        let helper_ok = !self.helper.is_empty()
            && self.helper.len() <= 1024
            && !self.helper.chars().any(char::is_control);
        let credential_ok = self.credential.as_ref().is_none_or(|c| {
            c.created_ms <= c.refresh_ms
                && c.refresh_ms <= c.expires_ms
                && c.expires_ms - c.created_ms <= ms(MAX_SPAN)
                && crate::validation::check(&c.credential).is_ok()
        });
        let failure_ok = self.failure.as_ref().is_none_or(|f| {
            (3..=10).contains(&f.exit_code)
                && (!f.transient || matches!(f.exit_code, 5 | 6))
                && f.count >= 1
                && f.at_ms <= f.retry_ms
                && f.retry_ms - f.at_ms <= ms(crate::policy::cache::MAX_BACKOFF)
                && !f.message.is_empty()
                && f.message.len() <= 4096
        });
        self.version == ENTRY_VERSION && helper_ok && credential_ok && failure_ok
    }
}

/// Lowercase hex SHA-256 of the key, a newline and the entry's JSON.
fn entry_digest(key: &CacheKey, json: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(json);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

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

/// Starts a refresh of an entry in the background, handing it the entry's
/// lock (held: the refresh keeps it until it is done).
pub type Background<'a> = &'a dyn Fn(&File) -> std::io::Result<()>;

/// How old a temporary file may grow before any sweep removes it, even if
/// the PID in its name is alive (another PID namespace, or a PID reused).
pub const TEMP_MAX_AGE: Duration = Duration::from_secs(300);

/// The credential cache directory.
#[derive(Debug, Clone)]
pub struct CredentialCache {
    dir: PrivateDir,
    root: PrivateDir,
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

fn decide(entry: Option<&Entry>, now: u64) -> Decision {
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

impl CredentialCache {
    /// Opens (creating) the cache under `root`.
    pub fn open(root: &PrivateDir) -> Result<CredentialCache> {
        Ok(CredentialCache {
            dir: root.subdir("credentials")?,
            root: root.clone(),
        })
    }

    /// The entry for `key`; a missing, unreadable, damaged, foreign or
    /// unsound file (see [`Entry::decode`]) reads as `None`, as does one in
    /// place of which stands a link, a FIFO or a device.
    pub fn entry(&self, key: &CacheKey) -> Option<Entry> {
        let bytes = self.dir.read(&entry_name(key), MAX_ENTRY_SIZE)?;
        Entry::decode(&bytes, key)
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
    ///
    /// Past a credential's refresh time, while it is still valid, no caller
    /// waits: with `background`, the first one to take the entry's lock
    /// hands it to `background` (which starts the refresh elsewhere, see
    /// [`CredentialCache::refresh`]) and every caller is served the cached
    /// credential. Without it, the refresh runs here, under the lock.
    ///
    /// A cache that cannot be written or cleaned costs the next call a run,
    /// never this call its credential: the answer carries a warning.
    pub fn get_or_run(
        &self,
        key: &CacheKey,
        policy: &Policy,
        wait: Duration,
        fetch: impl FnOnce() -> Fetched,
        background: Option<Background<'_>>,
    ) -> Result<Answer> {
        match (decide(self.entry(key).as_ref(), now_ms()), background) {
            (Decision::ServeAndRefresh(credential), Some(start)) => {
                let mut warning = None;
                // Another caller holding the lock is refreshing already.
                if let Some(lock) = self.try_lock(key)
                    && matches!(
                        decide(self.entry(key).as_ref(), now_ms()),
                        Decision::ServeAndRefresh(_)
                    )
                    && let Err(e) = start(&lock)
                {
                    warning = Some(format!("cannot start the background refresh: {e}"));
                }
                return Ok(Answer {
                    credential,
                    warning,
                });
            }
            // Refreshed here, below.
            (Decision::ServeAndRefresh(_), None) => {}
            (decision, _) => {
                if let Some(answer) = decision_result(decision) {
                    return answer;
                }
            }
        }
        // If the lock cannot be had in time (a stuck holder would have been
        // stopped by its own deadline, so this is rare), run unlocked:
        // writes are atomic, so the worst case is a duplicate run.
        let _lock = self.lock(key, wait);
        let entry = self.entry(key);
        match decide(entry.as_ref(), now_ms()) {
            Decision::ServeAndRefresh(_) | Decision::Run => {}
            decision => {
                if let Some(answer) = decision_result(decision) {
                    return answer;
                }
            }
        }
        let fetched = fetch();
        let (new_entry, result) = settle(entry, fetched, policy, now_ms());
        let not_cached = self.store(key, new_entry);
        self.sweep();
        result.map(|mut answer| {
            answer.warning = match (answer.warning.take(), not_cached) {
                (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                (a, b) => a.or(b),
            };
            answer
        })
    }

    /// The background refresh of `key` (see [`CredentialCache::get_or_run`]),
    /// run by whoever holds the entry's lock: runs `fetch` unless the entry
    /// no longer needs it, and stores the result. A failure leaves the
    /// credential as it was and is recorded for `credbox status`.
    pub fn refresh(&self, key: &CacheKey, policy: &Policy, fetch: impl FnOnce() -> Fetched) {
        let entry = self.entry(key);
        if !matches!(
            decide(entry.as_ref(), now_ms()),
            Decision::ServeAndRefresh(_) | Decision::Run
        ) {
            return;
        }
        let (entry, _) = settle(entry, fetch(), policy, now_ms());
        self.store(key, entry);
        self.sweep();
    }

    /// Removes the entry of `key` (its credential and any remembered
    /// failure), under the entry's lock so that no run in progress writes
    /// it back from before. Returns whether there was one.
    pub fn forget(&self, key: &CacheKey) -> Result<bool> {
        let _lock = self.lock(key, Duration::from_secs(10));
        let there = self.entry(key).is_some();
        match self.store(key, None) {
            None => Ok(there),
            Some(warning) => Err(Error::Environment {
                message: warning,
                hint: "check the cache directory's permissions".into(),
            }),
        }
    }

    /// Writes (or, for `None`, removes) the entry of `key`; a warning when
    /// that failed.
    fn store(&self, key: &CacheKey, entry: Option<Entry>) -> Option<String> {
        let name = entry_name(key);
        let done = match entry {
            Some(entry) => self.dir.write_atomic(&name, &entry.encode(key)),
            // Nothing to remove is nothing to fail at (unlink on a
            // read-only file system fails even for a missing file).
            None if std::fs::symlink_metadata(self.dir.path().join(&name)).is_err() => Ok(()),
            None => self.dir.remove(&name),
        };
        done.err().map(|e| {
            format!("the cache could not be updated ({e}); the next call will run the helper again")
        })
    }

    /// Removes what interrupted runs left behind: temporary files of
    /// writers that are gone or older than [`TEMP_MAX_AGE`] (here and in
    /// the compiled-component cache), and locks of absent entries that no
    /// one holds. Returns how many files were removed.
    pub fn sweep(&self) -> usize {
        let mut removed = self.dir.sweep_temps(TEMP_MAX_AGE);
        if let Some(compiled) = PrivateDir::open_existing(&self.root.path().join("compiled")) {
            removed += compiled.sweep_temps(TEMP_MAX_AGE);
        }
        let Ok(dir) = std::fs::read_dir(self.dir.path()) else {
            return removed;
        };
        for name in dir.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            let Some(key) = name.strip_suffix(".lock") else {
                continue;
            };
            let entry = self.dir.path().join(format!("{key}.json"));
            if std::fs::symlink_metadata(&entry).is_ok() {
                continue;
            }
            let path = self.dir.path().join(&name);
            let gone = match files::open_regular(&path, Links::Refuse) {
                // Locked by no one and its entry still absent: unlink it
                // while holding it (a waiter on it sees the path changed
                // and takes the new one, see `lock`).
                Ok((file, _)) => {
                    file.try_lock().is_ok()
                        && std::fs::symlink_metadata(&entry).is_err()
                        && std::fs::remove_file(&path).is_ok()
                }
                Err(files::ReadError::NotRegular(_)) => std::fs::remove_file(&path).is_ok(),
                Err(_) => false,
            };
            removed += usize::from(gone);
        }
        removed
    }

    /// Takes the entry's lock, polling until `wait` has passed.
    fn lock(&self, key: &CacheKey, wait: Duration) -> Option<File> {
        let start = Instant::now();
        loop {
            let file = self.dir.lock_file(&lock_name(key)).ok()?;
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                        std::thread::sleep(LOCK_POLL)
                    }
                    Err(_) => return None,
                }
            }
            if self.is_current_lock(key, &file) {
                return Some(file);
            }
            if start.elapsed() >= wait {
                return None;
            }
        }
    }

    /// Takes the entry's lock if it is free now.
    fn try_lock(&self, key: &CacheKey) -> Option<File> {
        let file = self.dir.lock_file(&lock_name(key)).ok()?;
        file.try_lock().ok()?;
        self.is_current_lock(key, &file).then_some(file)
    }

    /// Whether `file` is still the lock file of `key` (a sweep may have
    /// removed the one it was opened as).
    fn is_current_lock(&self, key: &CacheKey, file: &File) -> bool {
        let (Ok(held), Ok(named)) = (
            file.metadata(),
            std::fs::symlink_metadata(self.dir.path().join(lock_name(key))),
        ) else {
            return false;
        };
        platform::same_file(&held, &named)
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
                let entry = self.entry(&CacheKey::parse(&key)?)?;
                Some((key, entry))
            })
            .collect();
        entries.sort_by(|a, b| (&a.1.helper, &a.0).cmp(&(&b.1.helper, &b.0)));
        entries
    }

    /// Removes the entries of `helper` (all entries when `None`), then
    /// sweeps (see [`CredentialCache::sweep`]); returns how many entries
    /// were removed. Unreadable entries go too when clearing all.
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
                Some(helper) => CacheKey::parse(key)
                    .and_then(|key| self.entry(&key))
                    .is_some_and(|e| e.helper == helper),
            };
            if matches {
                self.dir.remove(&name).map_err(|e| Error::Environment {
                    message: e.to_string(),
                    hint: format!(
                        "check the permissions of {}, or remove it by hand",
                        self.dir.path().display()
                    ),
                })?;
                removed += 1;
            }
        }
        self.sweep();
        Ok(removed)
    }
}

fn entry_name(key: &CacheKey) -> String {
    format!("{}.json", key.as_str())
}

fn lock_name(key: &CacheKey) -> String {
    format!("{}.lock", key.as_str())
}

/// Turns a decision that needs no run into its answer.
fn decision_result(decision: Decision) -> Option<Result<Answer>> {
    match decision {
        Decision::Serve(credential) | Decision::ServeAndRefresh(credential) => Some(Ok(Answer {
            credential,
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
/// remove it) and the answer for this call. All arithmetic on times
/// saturates, and a credential counts as valid only from its creation on.
fn settle(
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
    use crate::manifest::{Format, NetworkTable};
    use crate::platform::testing::{make_fifo, set_mode, symlink};
    use crate::policy::network::NetworkPolicy;
    use std::path::Path;

    fn policy() -> Policy {
        Policy::for_component(Path::new("h.wasm"))
    }

    /// Test credentials stand for their text: one header carrying it.
    impl From<&str> for Credential {
        fn from(text: &str) -> Credential {
            Credential {
                headers: vec![("X-Text".into(), text.trim_end_matches('\n').into())],
                ..Credential::default()
            }
        }
    }

    impl Answer {
        /// The text a test credential stands for.
        fn output(&self) -> String {
            format!("{}\n", self.credential.headers[0].1)
        }
    }

    /// A fetched credential that stands for `text` and expires in
    /// `expires_in` seconds from the system clock.
    fn fetched(text: &str, expires_in: Option<u64>) -> Fetched {
        let mut credential = Credential::from(text);
        credential.expires_at = expires_in.map(|s| now_ms() / 1000 + s);
        Ok((credential, expires_in))
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
            ("sha256", Box::new(|p| p.sha256 = Some("0".repeat(64)))),
            ("limits.fuel", Box::new(|p| p.limits.fuel += 1)),
            (
                "limits.timeout",
                Box::new(|p| p.limits.timeout += Duration::from_millis(1)),
            ),
            ("limits.memory", Box::new(|p| p.limits.memory += 1 << 20)),
            (
                "limits.component_size",
                Box::new(|p| p.limits.component_size += 1),
            ),
            ("env", Box::new(|p| p.env.allow("API_TOKEN").unwrap())),
            (
                "config",
                Box::new(|p| p.config.set_from_flag("K=V").unwrap()),
            ),
            (
                "cache.ttl",
                Box::new(|p| p.cache.ttl += Duration::from_secs(1)),
            ),
            ("cache.share", Box::new(|p| p.cache.share = true)),
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
            (
                "network.client_cert",
                Box::new(move |p| {
                    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
                    let dir = tempfile::tempdir().unwrap();
                    std::fs::copy(tls.join("client.key"), dir.path().join("k")).unwrap();
                    set_mode(&dir.path().join("k"), 0o600);
                    let config = NetworkTable {
                        allow: vec!["https://a.example".into()],
                        client_cert: vec![crate::manifest::ClientCertTable {
                            origin: "https://a.example".into(),
                            cert: tls.join("client.pem"),
                            key: dir.path().join("k"),
                        }],
                        ..NetworkTable::default()
                    };
                    p.network = NetworkPolicy::from_config(&config, Path::new(".")).unwrap();
                }),
            ),
            (
                "keys",
                Box::new(|p| {
                    let table = crate::manifest::parse(
                        "component = \"a.wasm\"\n[keys.k]\nalgorithm = \"hmac-sha256\"\nenv = \"K\"\n",
                    )
                    .unwrap()
                    .keys;
                    p.keys = crate::policy::keys::KeysPolicy::from_config(
                        &table,
                        Path::new("."),
                        |_| Some("secret".into()),
                    )
                    .unwrap();
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
        // The output format only renders: the request says what the
        // helper is asked (see the request changes below).
        let mut rendered = p.clone();
        rendered.format = Format::ApiKey;
        assert_eq!(base, CacheKey::new(&rendered, "aa", &r, &[]));
        check("the component's stamp", CacheKey::new(&p, "ab", &r, &[]));
        // The request, field by field, and the environment's values.
        use crate::request::{CargoRequest, Client, GitRequest};
        let git = |f: fn(&mut GitRequest)| {
            let mut g = GitRequest::default();
            f(&mut g);
            Request::new(Client::Git(g))
        };
        let cargo = |f: fn(&mut CargoRequest)| {
            let mut c = CargoRequest::default();
            f(&mut c);
            Request::new(Client::Cargo(c))
        };
        let request_changes = [
            Request::new(Client::ApiKey),
            Request::new(Client::Headers {
                mcp_server_name: Some("github".into()),
                mcp_server_url: None,
            }),
            Request::new(Client::Headers {
                mcp_server_name: None,
                mcp_server_url: Some("https://mcp.example".into()),
            }),
            Request::new(Client::Aws),
            Request::new(Client::Any),
            Request::new(Client::Docker {
                server_url: String::new(),
            }),
            Request::new(Client::Docker {
                server_url: "ghcr.io".into(),
            }),
            Request::new(Client::Kubernetes { server: None }),
            Request::new(Client::Kubernetes {
                server: Some("https://k8s.example".into()),
            }),
            git(|_| {}),
            git(|g| g.protocol = Some("https".into())),
            git(|g| g.host = Some("example.com".into())),
            git(|g| g.path = Some("org/repo.git".into())),
            git(|g| g.username = Some("me".into())),
            git(|g| g.wwwauth = vec!["Bearer realm=x".into()]),
            cargo(|_| {}),
            cargo(|c| c.registry_name = Some("corp".into())),
            cargo(|c| c.index_url = "sparse+https://r.example/".into()),
            cargo(|c| c.operation = "publish".into()),
            cargo(|c| c.crate_name = Some("serde".into())),
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
        let answer = answer_of(&cache, &key, || fetched(FRESH, None), None);
        assert_eq!(answer.output(), FRESH);
        let answer = answer_of(&cache, &key, || panic!("must not run"), None);
        assert_eq!(answer.output(), FRESH);
        assert_eq!(cache.entries().len(), 1);
        assert_eq!(cache.clear(Some("other")).unwrap(), 0);
        assert_eq!(cache.clear(Some("h")).unwrap(), 1);
        assert!(cache.entries().is_empty());
    }

    #[test]
    fn the_component_stamp_follows_the_file_not_its_name() {
        const CAP: u64 = 1 << 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.wasm");
        std::fs::write(&path, b"one").unwrap();
        // Long after the last change: the metadata is the identity.
        let later = SystemTime::now() + Duration::from_secs(3600);
        let first = component_stamp_at(&path, CAP, later).unwrap();
        assert!(first.starts_with("stat:"), "{first}");
        assert_eq!(
            component_stamp_at(&path, CAP, later).unwrap(),
            first,
            "stable"
        );
        std::fs::write(&path, b"twotwo").unwrap();
        let second = component_stamp_at(&path, CAP, later).unwrap();
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
            component_stamp_at(&path, CAP, later).unwrap(),
            second,
            "rewritten in place, same size"
        );

        // Just changed: the contents are.
        std::fs::write(&path, b"one").unwrap();
        assert_eq!(
            component_stamp(&path, CAP).unwrap(),
            format!("sha256:{}", hex_sha256(b"one"))
        );

        let err = component_stamp(&dir.path().join("missing.wasm"), CAP).unwrap_err();
        assert!(
            matches!(err, Error::Usage(ref m) if m.contains("build it first")),
            "{err}"
        );
        let err = component_stamp(dir.path(), CAP).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a directory, not a regular file"),
            "{err}"
        );
    }

    const FRESH: &str = "{\"Authorization\":\"Bearer fresh\"}\n";

    /// The answer of `cache` for `key` under the default policy (waiting up
    /// to 5 s for the lock), which must not be an error.
    fn answer_of(
        cache: &CredentialCache,
        key: &CacheKey,
        fetch: impl FnOnce() -> Fetched,
        background: Option<Background<'_>>,
    ) -> Answer {
        cache
            .get_or_run(key, &policy(), Duration::from_secs(5), fetch, background)
            .unwrap()
    }

    fn cache_in(temp: &tempfile::TempDir) -> (PrivateDir, CredentialCache, CacheKey) {
        let root = PrivateDir::open(&temp.path().join("c")).unwrap();
        let cache = CredentialCache::open(&root).unwrap();
        let key = CacheKey::new(&policy(), "aa", &Request::default(), &[]);
        (root, cache, key)
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

    #[test]
    fn only_what_credbox_stored_for_the_key_is_read_back() {
        let key = CacheKey::new(&policy(), "aa", &Request::default(), &[]);
        let other = CacheKey::new(&policy(), "ab", &Request::default(), &[]);
        let entry = fresh(FRESH, 1_000);
        let bytes = entry.encode(&key);
        assert_eq!(Entry::decode(&bytes, &key), Some(entry.clone()));
        assert_eq!(Entry::decode(&bytes, &other), None, "another key's entry");
        for cut in [0, 1, 20, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(Entry::decode(&bytes[..cut], &key), None, "cut at {cut}");
        }
        for i in 0..bytes.len() {
            for bit in [0x01, 0x20, 0x80] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                assert_eq!(Entry::decode(&flipped, &key), None, "byte {i} ^ {bit:#x}");
            }
        }

        // Unsound entries, even with a right checksum.
        let failure = Failure {
            message: "unavailable: down".into(),
            exit_code: 5,
            transient: true,
            count: 1,
            at_ms: 1_000,
            retry_ms: 6_000,
        };
        let stored = entry.credential.clone().unwrap();
        let unsound: Vec<(&str, Entry)> = vec![
            (
                "a failure with exit 0",
                Entry {
                    failure: Some(Failure {
                        exit_code: 0,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "a usage error",
                Entry {
                    failure: Some(Failure {
                        exit_code: 2,
                        transient: false,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "transient denied",
                Entry {
                    failure: Some(Failure {
                        exit_code: 4,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "no failures",
                Entry {
                    failure: Some(Failure {
                        count: 0,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "retry before the failure",
                Entry {
                    failure: Some(Failure {
                        retry_ms: 999,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "endless backoff",
                Entry {
                    failure: Some(Failure {
                        retry_ms: u64::MAX,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "refresh after expiry",
                Entry {
                    credential: Some(Stored {
                        refresh_ms: stored.expires_ms + 1,
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "created after refresh",
                Entry {
                    credential: Some(Stored {
                        created_ms: stored.refresh_ms + 1,
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "endless life",
                Entry {
                    credential: Some(Stored {
                        expires_ms: u64::MAX,
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "an injected header",
                Entry {
                    credential: Some(Stored {
                        credential: Credential {
                            headers: vec![("A".into(), "x\r\nX-Injected: 1".into())],
                            ..Credential::default()
                        },
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "an empty credential",
                Entry {
                    credential: Some(Stored {
                        credential: Credential::default(),
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "a token with a newline",
                Entry {
                    credential: Some(Stored {
                        credential: Credential {
                            token: Some("abc\nprotocol=http".into()),
                            ..Credential::default()
                        },
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "another version",
                Entry {
                    version: 1,
                    ..entry.clone()
                },
            ),
            (
                "a control character in the name",
                Entry {
                    helper: "a\x1b[2J".into(),
                    ..entry.clone()
                },
            ),
        ];
        for (what, entry) in unsound {
            assert!(!entry.is_sound(), "{what}");
            assert_eq!(Entry::decode(&entry.encode(&key), &key), None, "{what}");
        }
        let with_failure = Entry {
            failure: Some(failure),
            ..entry
        };
        assert!(with_failure.is_sound());
    }

    #[test]
    fn links_fifos_and_planted_files_in_the_cache_are_misses() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        let dir = cache.dir.path().to_owned();
        let name = dir.join(entry_name(&key));
        // A sound entry elsewhere, linked in.
        let planted = temp.path().join("planted");
        std::fs::write(&planted, fresh(FRESH, now_ms()).encode(&key)).unwrap();
        set_mode(&planted, 0o600);
        symlink(&planted, &name);
        assert_eq!(cache.entry(&key), None);
        std::fs::remove_file(&name).unwrap();
        // A FIFO as the entry and as its lock.
        for path in [&name, &dir.join(lock_name(&key))] {
            make_fifo(path);
        }
        let start = Instant::now();
        assert_eq!(cache.entry(&key), None);
        let answer = answer_of(&cache, &key, || fetched(FRESH, None), None);
        assert_eq!(
            answer,
            Answer {
                credential: FRESH.into(),
                warning: None
            }
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert!(cache.entry(&key).is_some(), "replaced by a good entry");
    }

    #[test]
    fn a_cache_that_cannot_be_written_still_answers_with_one_warning() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        // An entry that is a directory: it can be neither replaced nor
        // removed.
        std::fs::create_dir(cache.dir.path().join(entry_name(&key))).unwrap();
        for expires_in in [None, Some(20)] {
            let answer = answer_of(&cache, &key, || fetched(FRESH, expires_in), None);
            assert_eq!(answer.output(), FRESH);
            let warning = answer.warning.unwrap();
            assert!(
                warning.contains("the cache could not be updated"),
                "{warning}"
            );
            assert!(!warning.contains('\n'));
        }
    }

    #[test]
    fn locks_of_absent_entries_are_swept_unless_held() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        let other = CacheKey::new(&policy(), "ab", &Request::default(), &[]);
        let third = CacheKey::new(&policy(), "ac", &Request::default(), &[]);
        answer_of(&cache, &key, || fetched(FRESH, None), None);
        let held = cache.try_lock(&other).unwrap();
        drop(cache.dir.lock_file(&lock_name(&third)).unwrap());
        cache.sweep();
        let dir = cache.dir.path();
        assert!(dir.join(lock_name(&key)).exists(), "its entry is there");
        assert!(dir.join(lock_name(&other)).exists(), "held");
        assert!(!dir.join(lock_name(&third)).exists(), "orphaned");
        // A holder whose lock file was swept notices and takes the new one.
        drop(held);
        cache.sweep();
        assert!(!dir.join(lock_name(&other)).exists());
        assert!(cache.lock(&other, Duration::from_millis(50)).is_some());
    }

    #[test]
    fn in_the_refresh_window_the_first_caller_starts_one_refresh_and_nobody_waits() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        // Created 250 s ago: 10 s into its refresh window.
        let entry = fresh(FRESH, now_ms() - 250_000);
        cache
            .dir
            .write_atomic(&entry_name(&key), &entry.encode(&key))
            .unwrap();
        let started = std::cell::RefCell::new(Vec::new());
        let start = |lock: &File| {
            started.borrow_mut().push(lock.try_clone()?);
            Ok(())
        };
        for _ in 0..3 {
            let answer = answer_of(&cache, &key, || panic!("no run here"), Some(&start));
            assert_eq!(answer.output(), FRESH);
        }
        assert_eq!(
            started.borrow().len(),
            1,
            "one refresh, while it holds the lock"
        );
        // The refresh: runs the helper and stores its answer.
        cache.refresh(&key, &policy(), || fetched("{\"A\":\"new\"}\n", None));
        started.borrow_mut().clear();
        let answer = answer_of(&cache, &key, || panic!("no run"), Some(&start));
        assert_eq!(answer.output(), "{\"A\":\"new\"}\n");
        // A refresh that finds the entry fresh does nothing.
        cache.refresh(&key, &policy(), || panic!("no run: fresh"));

        // A failed refresh leaves the credential and records the failure.
        let entry = fresh(FRESH, now_ms() - 250_000);
        cache
            .dir
            .write_atomic(&entry_name(&key), &entry.encode(&key))
            .unwrap();
        cache.refresh(&key, &policy(), || Err(Error::Unavailable("down".into())));
        let after = cache.entry(&key).unwrap();
        assert_eq!(after.credential, entry.credential);
        assert_eq!(after.failure.unwrap().message, "unavailable: down");
        let answer = answer_of(&cache, &key, || panic!("no run"), Some(&start));
        assert_eq!(answer.output(), FRESH);
        assert!(started.borrow().is_empty(), "no refresh within the backoff");
    }
}
