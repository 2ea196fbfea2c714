//! The OS keystore (`[state] store = "keystore"`, the default), through
//! `keyring-core`: the Secret Service on Linux (spoken over zbus), the
//! Keychain on macOS, the Credential Manager on Windows.
//!
//! Keystore calls block (a D-Bus round trip; a locked keyring may wait
//! for a password prompt), so they run on a thread of their own and each
//! is waited for at most [`TIMEOUT`] (or until the store's deadline): a
//! keystore that does not answer is `unavailable`, never a hang. Errors
//! never quote what the keystore returned as a secret.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use keyring_core::{CredentialStore, Entry};

use super::{Backend, HelperId, INDEX_USER, Key};
use crate::error::{Error, Result};
use crate::units::{first_line, format_duration};

/// Longest wait for one keystore call.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What the keystore thread runs: a call on the connected store.
type Job = Box<dyn FnOnce(std::result::Result<&Arc<CredentialStore>, &str>) + Send>;

/// One helper's items in the OS keystore.
pub(super) struct Keystore {
    service: String,
    manifest: String,
    deadline: Option<Instant>,
    jobs: OnceLock<SyncSender<Job>>,
}

impl Keystore {
    pub(super) fn new(id: &HelperId, deadline: Option<Instant>) -> Keystore {
        Keystore {
            service: id.service(),
            manifest: id.manifest().to_owned(),
            deadline,
            jobs: OnceLock::new(),
        }
    }

    /// Runs `call` on the keystore thread (started, and connected to the
    /// keystore, on first use) and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Arc<CredentialStore>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let jobs = self.jobs.get_or_init(|| {
            let (sender, receiver) = mpsc::sync_channel::<Job>(1);
            // Detached: a call that never returns must not hold up
            // credbox's exit.
            let _ = std::thread::Builder::new()
                .name("credbox-keystore".into())
                .spawn(move || {
                    let store = connect();
                    for job in receiver {
                        job(store.as_ref().map_err(String::as_str));
                    }
                });
            sender
        });
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |store| {
            let result = match store {
                Ok(store) => call(store),
                Err(why) => Err(no_keystore(why)),
            };
            let _ = answer.send(result);
        });
        let mut wait = TIMEOUT;
        if let Some(deadline) = self.deadline {
            wait = wait.min(deadline.saturating_duration_since(Instant::now()));
        }
        // Said in tenths of a second: a wait cut by the deadline is not a
        // round number of milliseconds (1999ms reads as 2s).
        let said = Duration::from_millis(
            u64::try_from(wait.as_millis().div_ceil(100) * 100).unwrap_or(u64::MAX),
        );
        let late = || {
            Error::Unavailable(format!(
                "the OS keystore did not answer within {} (is it locked, waiting for a password?)",
                format_duration(said)
            ))
        };
        jobs.try_send(job).map_err(|_| late())?;
        match answered.recv_timeout(wait) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(late()),
            Err(RecvTimeoutError::Disconnected) => {
                Err(Error::Internal("the keystore thread stopped".into()))
            }
        }
    }

    fn entry(
        store: &Arc<CredentialStore>,
        service: &str,
        user: &str,
        label: &str,
    ) -> Result<Entry> {
        let modifiers = label_modifier(label);
        Entry::new_in_store_with_modifiers(store, service, user, &modifiers)
            .map_err(|e| failure("open an item in", &e))
    }

    fn user(key: Key<'_>) -> String {
        match key {
            Key::Index => INDEX_USER.to_owned(),
            Key::Name(name) => name.to_owned(),
            // A `:`, as in the index's user: no valid name has one.
            Key::Part {
                name,
                generation,
                index,
            } => format!("credbox:part:{name}:{generation}:{index}"),
        }
    }

    fn label(&self, key: Key<'_>) -> String {
        match key {
            Key::Index => format!("credbox state names of {}", self.manifest),
            Key::Name(name) => format!("credbox state {name} of {}", self.manifest),
            Key::Part { name, index, .. } => {
                format!("credbox state {name} (part {index}) of {}", self.manifest)
            }
        }
    }
}

/// The Secret Service store shows a label in keyring managers (Seahorse);
/// the other stores take no modifiers.
fn label_modifier(label: &str) -> HashMap<&str, &str> {
    if cfg!(target_os = "linux") {
        HashMap::from([("label", label)])
    } else {
        HashMap::new()
    }
}

/// Connects to the OS keystore; the error says why there is none.
fn connect() -> std::result::Result<Arc<CredentialStore>, String> {
    #[cfg(target_os = "linux")]
    let store = zbus_secret_service_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| describe(&e));
    #[cfg(target_os = "macos")]
    let store = apple_native_keyring_store::keychain::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| describe(&e));
    #[cfg(windows)]
    let store = windows_native_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| describe(&e));
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    let store = Err("credbox knows no keystore on this OS".to_owned());
    store
}

/// The refusal when there is no keystore: what, and the explicit way out.
fn no_keystore(why: &str) -> Error {
    Error::Environment {
        message: format!("no OS keystore to keep the helper's state in: {why}"),
        hint: "start a Secret Service (gnome-keyring, KeePassXC) and unlock it, or set \
               [state] store = \"file\" in the manifest to keep it in files that are NOT encrypted"
            .into(),
    }
}

/// A keyring error in words, never with the bytes some variants carry.
fn describe(e: &keyring_core::Error) -> String {
    use keyring_core::Error as K;
    let text = match e {
        K::PlatformFailure(err) => format!("platform failure: {}", first_line(err)),
        K::NoStorageAccess(err) => format!("no access (locked?): {}", first_line(err)),
        K::NoEntry => "no such item".into(),
        K::BadEncoding(_) | K::BadDataFormat(..) => "an item's data is malformed".into(),
        K::BadStoreFormat(_) => "the store is malformed".into(),
        K::TooLong(what, limit) => format!("{what} is longer than the store's limit of {limit}"),
        K::Invalid(what, why) => format!("invalid {what}: {why}"),
        K::Ambiguous(items) => format!("{} items match one name", items.len()),
        K::NoDefaultStore => "no store".into(),
        K::NotSupportedByStore(why) => format!("not supported: {why}"),
        _ => "unknown keystore error".into(),
    };
    crate::redact::one_line(&text, 300)
}

fn failure(what: &str, e: &keyring_core::Error) -> Error {
    match e {
        keyring_core::Error::NoStorageAccess(_) => {
            Error::Unavailable(format!("cannot {what} the OS keystore: {}", describe(e)))
        }
        _ => Error::Environment {
            message: format!("cannot {what} the OS keystore: {}", describe(e)),
            hint: "check that the keystore is running and unlocked; `credbox logout` then \
                   `credbox login` starts afresh"
                .into(),
        },
    }
}

impl Backend for Keystore {
    fn read(&self, key: Key<'_>, cap: usize) -> Result<Option<Vec<u8>>> {
        let (service, user, label) = (self.service.clone(), Keystore::user(key), self.label(key));
        self.call(move |store| {
            let entry = Keystore::entry(store, &service, &user, &label)?;
            match entry.get_secret() {
                Ok(bytes) if bytes.len() > cap => Err(Error::Misconfigured(format!(
                    "the keystore item {user} holds {} bytes, more than the {cap} allowed; \
                     run `credbox logout` and log in again",
                    bytes.len()
                ))),
                Ok(bytes) => Ok(Some(bytes)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(failure("read from", &e)),
            }
        })
    }

    fn write(&self, key: Key<'_>, value: &[u8]) -> Result<()> {
        let (service, user, label) = (self.service.clone(), Keystore::user(key), self.label(key));
        let value = value.to_vec();
        self.call(move |store| {
            Keystore::entry(store, &service, &user, &label)?
                .set_secret(&value)
                .map_err(|e| failure("write to", &e))
        })
    }

    fn remove(&self, key: Key<'_>) -> Result<()> {
        let (service, user, label) = (self.service.clone(), Keystore::user(key), self.label(key));
        self.call(move |store| {
            match Keystore::entry(store, &service, &user, &label)?.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(failure("delete from", &e)),
            }
        })
    }

    fn probe(&self) -> Result<()> {
        // Connecting is the test: the thread reports no keystore to the
        // first call.
        self.call(|_| Ok(()))
    }

    fn describe(&self) -> String {
        "the OS keystore".into()
    }

    fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_quote_the_bytes_a_keyring_error_carries() {
        let secret = b"s3cret-refresh-value".to_vec();
        let platform: keyring_core::error::PlatformError = "bad padding".into();
        for e in [
            keyring_core::Error::BadEncoding(secret.clone()),
            keyring_core::Error::BadDataFormat(secret.clone(), platform),
        ] {
            let text = describe(&e);
            assert_eq!(text, "an item's data is malformed");
            let error = failure("read from", &e);
            assert!(!error.to_string().contains("s3cret"), "{error}");
            assert!(!error.hint().contains("s3cret"));
        }
    }

    #[test]
    fn no_keystore_says_how_to_opt_into_files() {
        let error = no_keystore("no bus");
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().ends_with("state in: no bus"), "{error}");
        assert!(error.hint().contains("[state] store = \"file\""));
        assert!(error.hint().contains("NOT encrypted"));
    }
}
