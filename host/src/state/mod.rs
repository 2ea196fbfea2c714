//! Host-kept state: a few small named secrets of a helper's own (a refresh
//! token, say) that outlive a run, read and written through the WIT
//! `state` interface.
//!
//! # Whose state
//!
//! A helper is identified by **the canonical path of its manifest file**
//! ([`HelperId`]): `credbox.toml` resolved through every symbolic link and
//! `..`. Consequences, all deliberate:
//!
//! - One helper's state is invisible to every other helper: a helper
//!   cannot name the identity it reads, credbox supplies it.
//! - A bare component (`credbox run helper.wasm`, no manifest) has no
//!   identity and gets no state: its `state` calls fail as
//!   `misconfigured`.
//! - Moving or renaming the manifest starts from empty state (log in
//!   again); two paths to one manifest (a link) share its state.
//! - The component is not part of the identity: a helper updated in place
//!   reads the state its older build wrote. A manifest that pins `sha256`
//!   refuses to run any other file, so no other code can read that state.
//!
//! # Where it lives
//!
//! `[state] store = "keystore"` (the default): the OS keystore, through
//! `keyring-core` (the Secret Service on Linux, the Keychain on macOS, the
//! Credential Manager on Windows), one item per name: service
//! `credbox:<canonical manifest path>`, user the name. An index item
//! (user [`INDEX_USER`], which no valid name can equal) lists the names,
//! so that `credbox logout` can delete them all on every OS. No keystore
//! is an error that says to opt into the file store; credbox never falls
//! back to files by itself.
//!
//! `[state] store = "file"`: files of mode 0600 in a folder of mode 0700
//! under credbox's private state directory ([`state_root`]), **not
//! encrypted**: anyone who can read the user's files can read them.
//!
//! # Bounds
//!
//! Names are 1 to [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._-]`; a value is at
//! most [`MAX_VALUE_LEN`] bytes; a helper keeps at most [`MAX_NAMES`]
//! names. Breaking a bound is [`Error::Misconfigured`] and changes nothing.
//!
//! # Secrecy
//!
//! No error message from this module contains a value: messages name the
//! helper, the state name and the store, never what is stored. The guest
//! runner adds every value read or written to the run's redactor.

mod file;
mod keystore;
mod split;

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::manifest::StoreChoice;
use crate::policy::Policy;
use crate::private_dir::{PrivateDir, Role};

/// Longest state name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Largest state value, in bytes.
pub const MAX_VALUE_LEN: usize = 16 << 10;
/// Most names one helper keeps.
pub const MAX_NAMES: usize = 16;
/// The keystore user (and file) of a helper's index of names: it has a
/// `:`, which no valid name has.
pub const INDEX_USER: &str = "credbox:names";

/// Environment variable that moves credbox's state directory (the file
/// store's home; tests use it). Defined with the private directories'
/// roles, which name it in their messages.
pub use crate::private_dir::STATE_DIR_ENV;

/// Who a helper is, for its state: the canonical path of its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperId {
    manifest: String,
}

impl HelperId {
    /// The identity of the helper whose manifest is at `manifest`: its
    /// canonical path. A path that cannot be resolved, or that is not
    /// UTF-8 (the keystore keys items by text), is refused.
    pub fn of_manifest(manifest: &Path) -> Result<HelperId> {
        let canonical = std::fs::canonicalize(manifest).map_err(|e| {
            Error::Usage(format!(
                "cannot resolve the manifest {} to identify the helper's state: {e}",
                manifest.display()
            ))
        })?;
        let manifest = canonical.into_os_string().into_string().map_err(|p| {
            Error::Usage(format!(
                "the manifest's path {} is not UTF-8; host-kept state needs a UTF-8 path",
                PathBuf::from(p).display()
            ))
        })?;
        Ok(HelperId { manifest })
    }

    /// The canonical manifest path.
    pub fn manifest(&self) -> &str {
        &self.manifest
    }

    /// The keystore service of this helper's items:
    /// `credbox:<canonical manifest path>`.
    pub fn service(&self) -> String {
        format!("credbox:{}", self.manifest)
    }
}

/// Checks a state name: 1 to [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._-]`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Misconfigured(format!(
            "invalid state name (1 to {MAX_NAME_LEN} bytes of A-Z a-z 0-9 . _ -)"
        )))
    }
}

/// Checks a value's size: at most [`MAX_VALUE_LEN`] bytes.
pub fn check_value(name: &str, value: &str) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::Misconfigured(format!(
            "state value of {name} is {} bytes, more than the {MAX_VALUE_LEN} allowed",
            value.len()
        )));
    }
    Ok(())
}

/// What a store keeps: a helper's index of names, one name's value, or
/// one part of a value kept in parts (see `split.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key<'a> {
    Index,
    Name(&'a str),
    Part {
        name: &'a str,
        generation: u64,
        index: usize,
    },
}

/// A place to keep one helper's bytes under keys. Errors never contain a
/// value.
trait Backend: Send + Sync {
    /// The bytes under `key`, or `None`. Reads at most `cap` bytes: more
    /// is an error.
    fn read(&self, key: Key<'_>, cap: usize) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key`, replacing what was there.
    fn write(&self, key: Key<'_>, value: &[u8]) -> Result<()>;
    /// Forgets `key`; a missing key is not an error.
    fn remove(&self, key: Key<'_>) -> Result<()>;
    /// Checks that the store can be used at all (for `credbox login`).
    fn probe(&self) -> Result<()>;
    /// The store's name, for messages.
    fn describe(&self) -> String;
    /// Bounds every later call's wait by `deadline`.
    fn set_deadline(&mut self, _deadline: Instant) {}
    /// Readies the store for a run, at its first call (the helper's lock
    /// held): fails, before the helper's exchange, if a write after it
    /// could not be kept.
    fn prepare(&self) -> Result<()> {
        Ok(())
    }
    /// Removes what the store keeps beside the values, once every name is
    /// forgotten (`credbox logout`).
    fn cleared(&self) -> Result<()> {
        Ok(())
    }
}

/// Largest index: every name and its newline.
const MAX_INDEX_LEN: usize = MAX_NAMES * (MAX_NAME_LEN + 1);

/// One helper's state, in the store its manifest chose. Every operation
/// checks the bounds first; none blocks longer than the keystore's own
/// timeout ([`keystore::TIMEOUT`]).
pub struct StateStore {
    id: HelperId,
    helper: String,
    backend: Box<dyn Backend>,
    /// Until when a call may wait (for the helper's lock, the keystore).
    deadline: Option<Instant>,
    /// The helper's lock, taken by the first call and held until the
    /// store is dropped (the end of the run).
    lock: OnceLock<File>,
    /// Whether SIGTERM, SIGINT and SIGHUP are held from the first call to
    /// the end of the run (a fetch), or during each write alone (a login,
    /// which the user must be able to interrupt while it waits on them).
    hold_for_run: bool,
    /// The end signals held since the first call, acted on when the store
    /// is dropped, after every write.
    held: OnceLock<crate::platform::EndSignalsHeld>,
}

/// Longest wait for the helper's lock when no deadline is set.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting call tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(10);

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("id", &self.id)
            .field("store", &self.backend.describe())
            .finish()
    }
}

impl StateStore {
    /// The state of the helper `policy` describes, or `None` for a bare
    /// component (no manifest, no identity, no state). Resolves the
    /// manifest's path but does not touch the store yet: the keystore is
    /// connected to on the first operation.
    pub fn for_policy(policy: &Policy) -> Result<Option<StateStore>> {
        let Some(manifest) = &policy.state.manifest else {
            return Ok(None);
        };
        let id = HelperId::of_manifest(manifest)?;
        StateStore::open(id, policy.state.store, &policy.name).map(Some)
    }

    /// The state of helper `id` (called `helper` in messages) in `store`.
    pub fn open(id: HelperId, store: StoreChoice, helper: &str) -> Result<StateStore> {
        let backend: Box<dyn Backend> = match store {
            StoreChoice::Keystore => {
                let keystore = keystore::Keystore::new(&id, None);
                match crate::platform::KEYSTORE_ITEM_MAX {
                    Some(limit) => Box::new(split::Split::new(keystore, limit)),
                    None => Box::new(keystore),
                }
            }
            StoreChoice::File => Box::new(file::FileStore::open(&id)?),
        };
        Ok(StateStore {
            id,
            helper: helper.to_owned(),
            backend,
            deadline: None,
            lock: OnceLock::new(),
            hold_for_run: false,
            held: OnceLock::new(),
        })
    }

    /// The same store, holding SIGTERM, SIGINT and SIGHUP from its first
    /// call until it is dropped (the end of the run, bounded by the run's
    /// deadline): a signal that comes after the helper read a refresh
    /// token, while the token endpoint rotates it, ends credbox only once
    /// the new token is written. Without it, signals are held during each
    /// write alone.
    pub fn holding_end_signals(mut self) -> StateStore {
        self.hold_for_run = true;
        self
    }

    /// The same store, each call waiting at most until `deadline` (a
    /// run's): a keystore that does not answer by then is `unavailable`.
    pub fn with_deadline(mut self, deadline: Instant) -> StateStore {
        self.backend.set_deadline(deadline);
        self.deadline = Some(deadline);
        self
    }

    /// Takes the helper's lock (`<state dir>/locks/<sha256 of the
    /// identity>.lock`) if this store does not hold it yet. Runs of one
    /// helper that use its state are serialized from their first state
    /// call to their end: two runs never both trade the same refresh token
    /// (with rotation the second would be refused, and could log the user
    /// out). Waits until the deadline, then is `unavailable`.
    fn lock(&self) -> Result<()> {
        self.take_lock(true)
    }

    /// [`StateStore::lock`], readying the store for a run (`prepare`) or
    /// not (a logout, which must work on a full disk too).
    fn take_lock(&self, prepare: bool) -> Result<()> {
        if self.lock.get().is_some() {
            return Ok(());
        }
        if self.hold_for_run {
            let _ = self.held.set(crate::platform::hold_end_signals());
        }
        let name = format!(
            "{}.lock",
            crate::units::hex_sha256(self.id.manifest.as_bytes())
        );
        let file = PrivateDir::open_as(Role::STATE, &state_root()?)?
            .subdir("locks")?
            .lock_file(&name)?;
        let until = self.deadline.unwrap_or_else(|| Instant::now() + LOCK_WAIT);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < until => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Unavailable(format!(
                        "another run of {} held its state until the deadline",
                        self.helper
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::Internal(format!("cannot lock {name}: {e}")));
                }
            }
        }
        // A store that cannot be readied fails this call and every later
        // one (each tries again), so the helper never reaches its exchange.
        if prepare {
            self.backend.prepare()?;
        }
        let _ = self.lock.set(file);
        Ok(())
    }

    /// Whose state this is.
    pub fn id(&self) -> &HelperId {
        &self.id
    }

    /// The store's name, for messages: `the OS keystore (...)` or `the
    /// file store (...)`.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Checks that the store is usable: `credbox login` calls it before
    /// the helper runs, so that a login is not lost for want of a place to
    /// keep it.
    pub fn probe(&self) -> Result<()> {
        self.backend.probe()
    }

    /// The value stored under `name`, or `None`.
    pub fn get(&self, name: &str) -> Result<Option<String>> {
        check_name(name)?;
        self.lock()?;
        let Some(bytes) = self.backend.read(Key::Name(name), MAX_VALUE_LEN)? else {
            return Ok(None);
        };
        String::from_utf8(bytes).map(Some).map_err(|_| {
            Error::Misconfigured(format!(
                "state {name} of {} is damaged (not UTF-8); run `credbox logout` and log in again",
                self.helper
            ))
        })
    }

    /// Stores `value` under `name`, replacing any value there. A new name
    /// beyond the [`MAX_NAMES`] a helper may keep is refused.
    pub fn set(&self, name: &str, value: &str) -> Result<()> {
        check_name(name)?;
        check_value(name, value)?;
        self.lock()?;
        let mut names = self.names()?;
        if !names.iter().any(|n| n == name) {
            if names.len() >= MAX_NAMES {
                return Err(Error::Misconfigured(format!(
                    "cannot keep state {name}: a helper keeps at most {MAX_NAMES} names"
                )));
            }
            // The index first: a crash in between leaves a name without a
            // value (read as none), never a value nothing lists.
            let _held = self.hold_for_write();
            names.push(name.to_owned());
            self.write_index(&names)?;
        }
        let _held = self.hold_for_write();
        self.backend.write(Key::Name(name), value.as_bytes())
    }

    /// End signals held for one write, when they are not for the run.
    fn hold_for_write(&self) -> Option<crate::platform::EndSignalsHeld> {
        (!self.hold_for_run).then(crate::platform::hold_end_signals)
    }

    /// Forgets `name`; no error when it is not there.
    pub fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.lock()?;
        let _held = self.hold_for_write();
        self.backend.remove(Key::Name(name))?;
        let mut names = self.names()?;
        let before = names.len();
        names.retain(|n| n != name);
        if names.len() != before {
            self.write_index(&names)?;
        }
        Ok(())
    }

    /// The names this helper keeps, in the order they were first set.
    pub fn names(&self) -> Result<Vec<String>> {
        self.lock()?;
        let Some(bytes) = self.backend.read(Key::Index, MAX_INDEX_LEN)? else {
            return Ok(Vec::new());
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut names: Vec<String> = Vec::new();
        for name in text.lines() {
            if check_name(name).is_ok() && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// Forgets every name (`credbox logout`). Returns how many there were.
    pub fn clear(&self) -> Result<usize> {
        self.take_lock(false)?;
        let names = self.names()?;
        let _held = self.hold_for_write();
        for name in &names {
            self.backend.remove(Key::Name(name))?;
        }
        self.backend.remove(Key::Index)?;
        self.backend.cleared()?;
        Ok(names.len())
    }

    fn write_index(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return self.backend.remove(Key::Index);
        }
        let mut text = names.join("\n");
        text.push('\n');
        self.backend.write(Key::Index, text.as_bytes())
    }
}

impl Drop for StateStore {
    /// Acts on an end signal held for the run, now that every write is
    /// done (the process ends if one came).
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            held.release();
        }
    }
}

/// credbox's state directory, home of the helpers' locks and of the file
/// store: `$CREDBOX_STATE_DIR`,
/// else the platform's user state directory (`$XDG_STATE_HOME/credbox` or
/// `~/.local/state/credbox` on Linux), else its local data directory. It is
/// not the cache directory: clearing a cache must not log anyone out.
pub fn state_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            return Err(Error::Environment {
                message: format!("{STATE_DIR_ENV} is a relative path ({})", dir.display()),
                hint: format!("set {STATE_DIR_ENV} to an absolute path"),
            });
        }
        return Ok(dir);
    }
    let no_home = || Error::Environment {
        message: "no directory for credbox's state (the helper's lock, the file store)".into(),
        hint: format!("set HOME, or {STATE_DIR_ENV}, to an absolute path"),
    };
    if crate::platform::HOME_REQUIRED
        && std::env::var_os("HOME").is_none_or(|h| !Path::new(&h).is_absolute())
    {
        return Err(no_home());
    }
    directories::ProjectDirs::from("", "", "credbox")
        .map(|dirs| {
            dirs.state_dir()
                .unwrap_or_else(|| dirs.data_local_dir())
                .to_owned()
        })
        .filter(|dir| dir.is_absolute())
        .ok_or_else(no_home)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A backend in memory, to test the bounds, the index and values in
    /// parts on their own; its writes can be made to fail.
    #[derive(Default)]
    pub(super) struct Memory {
        items: Mutex<HashMap<String, Vec<u8>>>,
        /// How many more writes succeed, when limited.
        writes_left: Mutex<Option<usize>>,
    }

    fn key(k: Key<'_>) -> String {
        match k {
            Key::Index => INDEX_USER.to_owned(),
            Key::Name(n) => n.to_owned(),
            Key::Part {
                name,
                generation,
                index,
            } => format!("credbox:part:{name}:{generation}:{index}"),
        }
    }

    impl Memory {
        /// Every item, by key.
        pub(super) fn items(&self) -> HashMap<String, Vec<u8>> {
            self.items.lock().unwrap().clone()
        }

        /// Replaces one item's bytes.
        pub(super) fn put(&self, key: &str, value: &[u8]) {
            self.items
                .lock()
                .unwrap()
                .insert(key.to_owned(), value.to_vec());
        }

        /// Lets `n` more writes succeed, then fails every one (a full
        /// store).
        pub(super) fn fail_writes_after(&self, n: usize) {
            *self.writes_left.lock().unwrap() = Some(n);
        }
    }

    impl Backend for Memory {
        fn read(&self, k: Key<'_>, cap: usize) -> Result<Option<Vec<u8>>> {
            let map = self.items.lock().unwrap();
            match map.get(&key(k)) {
                Some(v) if v.len() > cap => Err(Error::Misconfigured("too big".into())),
                v => Ok(v.cloned()),
            }
        }
        fn write(&self, k: Key<'_>, value: &[u8]) -> Result<()> {
            if let Some(left) = self.writes_left.lock().unwrap().as_mut() {
                if *left == 0 {
                    return Err(Error::Unavailable("the store is full".into()));
                }
                *left -= 1;
            }
            self.items.lock().unwrap().insert(key(k), value.to_vec());
            Ok(())
        }
        fn remove(&self, k: Key<'_>) -> Result<()> {
            self.items.lock().unwrap().remove(&key(k));
            Ok(())
        }
        fn probe(&self) -> Result<()> {
            Ok(())
        }
        fn describe(&self) -> String {
            "memory".into()
        }
    }

    fn memory_store() -> StateStore {
        // The lock is held from the start: no lock file for these.
        let lock = OnceLock::new();
        lock.set(tempfile::tempfile().unwrap()).unwrap();
        StateStore {
            id: HelperId {
                manifest: "/h/credbox.toml".into(),
            },
            helper: "h".into(),
            backend: Box::<Memory>::default(),
            deadline: None,
            lock,
            hold_for_run: false,
            held: OnceLock::new(),
        }
    }

    #[test]
    fn names_follow_the_grammar() {
        for good in ["a", "refresh_token", "A.b-c_9", "..", &"x".repeat(64)] {
            check_name(good).unwrap();
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "a:b",
            "é",
            "a\n",
            &"x".repeat(65),
            INDEX_USER,
        ] {
            let err = check_name(bad).unwrap_err();
            assert_eq!(err.exit_code(), 3, "{err}");
        }
    }

    #[test]
    fn set_get_delete_and_the_index() {
        let store = memory_store();
        assert_eq!(store.get("t").unwrap(), None);
        store.set("t", "v1").unwrap();
        store.set("u", "").unwrap();
        store.set("t", "v2").unwrap();
        assert_eq!(store.get("t").unwrap().as_deref(), Some("v2"));
        assert_eq!(store.get("u").unwrap().as_deref(), Some(""));
        assert_eq!(store.names().unwrap(), ["t", "u"]);
        store.delete("t").unwrap();
        store.delete("t").unwrap();
        assert_eq!(store.get("t").unwrap(), None);
        assert_eq!(store.names().unwrap(), ["u"]);
        assert_eq!(store.clear().unwrap(), 1);
        assert_eq!(store.names().unwrap(), Vec::<String>::new());
        assert!(store.backend.read(Key::Index, 1 << 20).unwrap().is_none());
    }

    #[test]
    fn bounds_are_refused_and_change_nothing() {
        let store = memory_store();
        let big = "x".repeat(MAX_VALUE_LEN + 1);
        let err = store.set("t", &big).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(!err.to_string().contains("xxxx"), "{err}");
        store.set("t", &big[1..]).unwrap();
        assert!(store.set("bad name", "v").is_err());
        assert!(store.get("").is_err());
        assert!(store.delete(&"y".repeat(65)).is_err());
        for i in 1..MAX_NAMES {
            store.set(&format!("n{i}"), "v").unwrap();
        }
        let err = store.set("one-too-many", "v").unwrap_err();
        assert!(err.to_string().contains("at most 16 names"), "{err}");
        assert_eq!(store.get("one-too-many").unwrap(), None);
        // Replacing a kept name is still fine, and a freed slot is usable.
        store.set("n1", "w").unwrap();
        store.delete("n2").unwrap();
        store.set("one-too-many", "v").unwrap();
        assert_eq!(store.names().unwrap().len(), MAX_NAMES);
    }

    #[test]
    fn a_value_that_is_not_utf8_is_reported_without_its_bytes() {
        let store = memory_store();
        store.set("t", "v").unwrap();
        store
            .backend
            .write(Key::Name("t"), b"\xffsecret-bytes")
            .unwrap();
        let err = store.get("t").unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(!err.to_string().contains("secret-bytes"), "{err}");
    }

    #[test]
    fn identity_is_the_canonical_manifest_path() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("helper");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("credbox.toml"), "component = \"a.wasm\"\n").unwrap();
        crate::platform::testing::symlink(&dir, &temp.path().join("link"));
        let direct = HelperId::of_manifest(&dir.join("credbox.toml")).unwrap();
        let via_link =
            HelperId::of_manifest(&temp.path().join("link/../helper/credbox.toml")).unwrap();
        assert_eq!(direct, via_link);
        assert!(direct.manifest().starts_with('/'));
        assert_eq!(direct.service(), format!("credbox:{}", direct.manifest()));
        let err = HelperId::of_manifest(&temp.path().join("missing.toml")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
