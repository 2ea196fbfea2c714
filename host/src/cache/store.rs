//! The cache directory: entry files, their locks, the sweep, and the calls
//! that read the clock and the files and hand them to `decide.rs`.

use std::fs::{File, TryLockError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::decide::{Answer, Decision, Fetched, decide, decision_result, settle};
use super::entry::{Entry, MAX_ENTRY_SIZE};
use super::key::CacheKey;
use crate::error::{Error, Result};
use crate::files::{self, Links};
use crate::platform;
use crate::policy::Policy;
use crate::private_dir::PrivateDir;

/// How often a waiting process checks whether the lock is free.
const LOCK_POLL: Duration = Duration::from_millis(5);

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
        let entry = self.entry(key);
        let now = now_ms();
        decision_result(decide(entry.as_ref(), now), now)
    }

    /// Answers `key`: from the cache when it can, else by calling `fetch`
    /// once across all processes. The others wait, bounded by `wait`, and
    /// are answered together as soon as the entry can be served; one of
    /// them takes the lock and runs only if the holder let go of it with
    /// nothing to serve.
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
        let entry = self.entry(key);
        let now = now_ms();
        match (decide(entry.as_ref(), now), background) {
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
                if let Some(answer) = decision_result(decision, now) {
                    return answer;
                }
            }
        }
        // While another caller holds the lock, running the helper, watch
        // the entry without it (entries are replaced atomically, so an
        // unlocked read sees a whole one): every waiter is answered as soon
        // as the holder has stored what can be served, all together, not
        // each in turn taking the lock once the holder lets go. Only when
        // the holder lets go leaving nothing to serve (a failure that is not
        // remembered, or it died) does a waiter take the lock and run.
        let mut seen = None;
        let servable = || {
            let stamp = self.entry_stamp(key);
            if seen.as_ref() == Some(&stamp) {
                return None;
            }
            seen = Some(stamp);
            let now = now_ms();
            match decide(self.entry(key).as_ref(), now) {
                decision @ (Decision::Serve(_) | Decision::FailFast(_)) => {
                    decision_result(decision, now)
                }
                Decision::ServeAndRefresh(_) | Decision::Run => None,
            }
        };
        // If the lock cannot be had in time (a stuck holder would have been
        // stopped by its own deadline, so this is rare), run unlocked:
        // writes are atomic, so the worst case is a duplicate run.
        let _lock = match self.lock_or(key, wait, servable) {
            Waited::Answered(answer) => return answer,
            Waited::Locked(lock) => Some(lock),
            Waited::NotLocked => None,
        };
        let entry = self.entry(key);
        let now = now_ms();
        match decide(entry.as_ref(), now) {
            Decision::ServeAndRefresh(_) | Decision::Run => {}
            decision => {
                if let Some(answer) = decision_result(decision, now) {
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
    ///
    /// Where a lock cannot pass from caller to child
    /// ([`platform::LOCK_PASSES_TO_CHILD`] is false: Windows), the refresh
    /// takes the entry's lock here, waiting for its caller to let go; a
    /// refresh that another finished meanwhile finds the entry fresh and
    /// does nothing.
    pub fn refresh(&self, key: &CacheKey, policy: &Policy, fetch: impl FnOnce() -> Fetched) {
        let _lock = match platform::LOCK_PASSES_TO_CHILD {
            true => None,
            false => match self.lock(key, policy.limits.timeout) {
                Some(lock) => Some(lock),
                None => return,
            },
        };
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

    /// What records a run's failure in the entry of `key` when the run
    /// cannot (the [`crate::watchdog`] ends the process): the failure is
    /// settled into the entry as a run's would be. It takes no lock: the
    /// process that calls it holds the entry's lock already.
    pub fn failure_recorder(&self, key: &CacheKey, policy: &Policy) -> crate::watchdog::LastWords {
        let (cache, key, policy) = (self.clone(), key.clone(), policy.clone());
        Box::new(move |error| {
            let (entry, _) = settle(cache.entry(&key), Err(error), &policy, now_ms());
            cache.store(&key, entry);
        })
    }

    /// A server refused the cached credential of `key` (a proxy answered
    /// 407 with a challenge): the credential is dropped so that the next
    /// answer is fetched anew, and a remembered failure is kept with its
    /// backoff. A credential refused within the first backoff of its fetch
    /// is itself remembered as a failure, `refusal`: a client that asks
    /// again after every refusal then gets that failure at once, not a new
    /// run each time, and the provider is not hammered. Whether the entry
    /// held a credential.
    pub fn refused(&self, key: &CacheKey, policy: &Policy, refusal: Error) -> Result<bool> {
        let _lock = self.lock(key, Duration::from_secs(10));
        let Some(mut entry) = self.entry(key) else {
            return Ok(false);
        };
        let Some(stored) = entry.credential.take() else {
            return Ok(false);
        };
        let now = now_ms();
        let fresh = now.saturating_sub(stored.created_ms) < policy.cache.backoff.as_millis() as u64;
        let entry = match fresh {
            true => settle(Some(entry), Err(refusal), policy, now).0,
            false if entry.failure.is_none() => None,
            false => Some(entry),
        };
        written(self.store(key, entry)).map(|()| true)
    }

    /// Removes the entry of `key` (its credential and any remembered
    /// failure), under the entry's lock so that no run in progress writes
    /// it back from before. Returns whether there was one.
    pub fn forget(&self, key: &CacheKey) -> Result<bool> {
        let _lock = self.lock(key, Duration::from_secs(10));
        let there = self.entry(key).is_some();
        written(self.store(key, None)).map(|()| there)
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

    /// What identifies the entry file of `key` as it is now (`None`: there
    /// is none), to tell whether it changed without reading it.
    fn entry_stamp(&self, key: &CacheKey) -> Option<platform::FileStamp> {
        let meta = std::fs::symlink_metadata(self.dir.path().join(entry_name(key))).ok()?;
        Some(platform::FileStamp::of(&meta))
    }

    /// Takes the entry's lock, polling until `wait` has passed.
    fn lock(&self, key: &CacheKey, wait: Duration) -> Option<File> {
        match self.lock_or(key, wait, || None::<std::convert::Infallible>) {
            Waited::Locked(file) => Some(file),
            Waited::Answered(never) => match never {},
            Waited::NotLocked => None,
        }
    }

    /// Takes the entry's lock, polling until `wait` has passed; while
    /// another holds it, `meanwhile` is asked before each new try and may
    /// end the wait with its answer.
    fn lock_or<T>(
        &self,
        key: &CacheKey,
        wait: Duration,
        mut meanwhile: impl FnMut() -> Option<T>,
    ) -> Waited<T> {
        let start = Instant::now();
        loop {
            let Ok(file) = self.dir.lock_file(&lock_name(key)) else {
                return Waited::NotLocked;
            };
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                        std::thread::sleep(LOCK_POLL);
                        if let Some(answer) = meanwhile() {
                            return Waited::Answered(answer);
                        }
                    }
                    Err(_) => return Waited::NotLocked,
                }
            }
            if self.is_current_lock(key, &file) {
                return Waited::Locked(file);
            }
            if start.elapsed() >= wait {
                return Waited::NotLocked;
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
        platform::same_file(file, &self.dir.path().join(lock_name(key)))
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

/// What waiting for an entry's lock came to (see
/// [`CredentialCache::lock_or`]).
enum Waited<T> {
    /// The lock, held.
    Locked(File),
    /// What was answered while another held the lock.
    Answered(T),
    /// No lock: it cannot be opened or taken, or the wait is over.
    NotLocked,
}

fn entry_name(key: &CacheKey) -> String {
    format!("{}.json", key.as_str())
}

fn lock_name(key: &CacheKey) -> String {
    format!("{}.lock", key.as_str())
}

/// A change the caller asked for (`forget`, `refused`) as a result: the
/// store's warning, if it could not be written, is the error.
fn written(warning: Option<String>) -> Result<()> {
    match warning {
        None => Ok(()),
        Some(warning) => Err(Error::Environment {
            message: warning,
            hint: "check the cache directory's permissions".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::testing::{FRESH, fetched, fresh, policy};
    use crate::platform::testing::{make_fifo, set_mode, symlink};
    use crate::request::Request;

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

    /// `waiters` threads asking for `key` while the caller of this holds
    /// its lock: each one's answer, sent as it comes, with `fetch` as its
    /// run (should it run).
    fn waiters_on<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        cache: &'s CredentialCache,
        key: &'s CacheKey,
        waiters: usize,
        fetch: &'s (dyn Fn() -> Fetched + Sync),
    ) -> std::sync::mpsc::Receiver<Result<Answer>> {
        let (sender, answers) = std::sync::mpsc::channel();
        for _ in 0..waiters {
            let sender = sender.clone();
            scope.spawn(move || {
                let wait = Duration::from_secs(30);
                let _ = sender.send(cache.get_or_run(key, &policy(), wait, fetch, None));
            });
        }
        answers
    }

    /// The first `n` answers, each `None` if it did not come within
    /// `bound` from now.
    fn answered_within<T>(
        answers: &std::sync::mpsc::Receiver<T>,
        n: usize,
        bound: Duration,
    ) -> Vec<Option<T>> {
        let deadline = Instant::now() + bound;
        (0..n)
            .map(|_| {
                let left = deadline.saturating_duration_since(Instant::now());
                answers.recv_timeout(left).ok()
            })
            .collect()
    }

    #[test]
    fn waiters_are_answered_together_as_soon_as_the_holder_has_stored() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        // The holder: a caller running the helper.
        let holder = cache.lock(&key, Duration::ZERO).unwrap();
        std::thread::scope(|scope| {
            let answers = waiters_on(scope, &cache, &key, 16, &|| panic!("a waiter ran"));
            let early = answers.recv_timeout(Duration::from_millis(100));
            assert!(early.is_err(), "answered before the run: {early:?}");
            // Its run stores the credential; it still holds the lock (it
            // has more to do, or is descheduled): the waiters need not take
            // it, one after another, to read what is stored.
            assert_eq!(cache.store(&key, Some(fresh(FRESH, now_ms()))), None);
            let got = answered_within(&answers, 16, Duration::from_secs(10));
            drop(holder);
            for answer in got {
                let answer = answer.expect("answered while the holder held the lock");
                assert_eq!(answer.unwrap().output(), FRESH);
            }
        });
    }

    #[test]
    fn a_remembered_failure_answers_the_waiters_too() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        let holder = cache.lock(&key, Duration::ZERO).unwrap();
        std::thread::scope(|scope| {
            let answers = waiters_on(scope, &cache, &key, 4, &|| panic!("a waiter ran"));
            let (failed, _) = settle(
                None,
                Err(Error::Unavailable("down".into())),
                &policy(),
                now_ms(),
            );
            assert_eq!(cache.store(&key, failed), None);
            let got = answered_within(&answers, 4, Duration::from_secs(10));
            drop(holder);
            for answer in got {
                let answer = answer.expect("answered while the holder held the lock");
                let error = answer.unwrap_err().to_string();
                assert!(error.contains("down"), "{error}");
            }
        });
    }

    #[test]
    fn a_holder_that_leaves_nothing_to_serve_is_followed_by_one_run() {
        let temp = tempfile::tempdir().unwrap();
        let (_root, cache, key) = cache_in(&temp);
        let holder = cache.lock(&key, Duration::ZERO).unwrap();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let fetch = || {
            let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            fetched(&format!("run {run}"), None)
        };
        std::thread::scope(|scope| {
            let answers = waiters_on(scope, &cache, &key, 16, &fetch);
            std::thread::sleep(Duration::from_millis(100));
            // It died without storing anything.
            drop(holder);
            for _ in 0..16 {
                let answer = answers.recv_timeout(Duration::from_secs(20)).unwrap();
                assert_eq!(answer.unwrap().output(), "run 0\n");
            }
        });
        assert_eq!(runs.into_inner(), 1);
    }
}
