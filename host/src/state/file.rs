//! The file store (`[state] store = "file"`): one 0600 file per name in a
//! 0700 folder per helper, under credbox's private state directory.
//! NOT encrypted: for machines with no keystore, chosen explicitly.
//!
//! # A full disk never costs a login
//!
//! A provider that rotates refresh tokens spends the old one as it hands
//! out the new one: a write that then fails for space loses the login. So
//! the folder keeps [`RESERVE_LEN`] bytes of zeros in [`RESERVE`], made at
//! the first write (the login) and checked at the first state call of
//! every run, before the helper's exchange: a run that cannot have it
//! fails then, with the token unspent. Each write gives the reserve back
//! just before it writes, and takes it again after.
//!
//! The temporary files of writes that a kill interrupted are removed at
//! each run's first state call (the helper's lock is held: no write of
//! this helper is under way) and at logout.

use std::path::PathBuf;
use std::time::Duration;

use super::{Backend, HelperId, Key, state_root};
use crate::error::{Error, Result};
use crate::private_dir::{PrivateDir, Role};
use crate::units::hex_sha256;

/// The file that keeps disk space for the next write.
pub const RESERVE: &str = ".reserve";

/// The space kept: a value and the index, each written beside the file it
/// replaces, with room for the file system's blocks and the folder.
pub const RESERVE_LEN: u64 = 2 * (super::MAX_VALUE_LEN + super::MAX_INDEX_LEN) as u64 + 16 * 1024;

/// One helper's folder: `<state root>/files/<sha256 of the canonical
/// manifest path>`. Nothing is created until the first write.
pub(super) struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub(super) fn open(id: &HelperId) -> Result<FileStore> {
        Ok(FileStore {
            dir: state_root()?
                .join("files")
                .join(hex_sha256(id.manifest().as_bytes())),
        })
    }

    /// The folder, created private if needed (each level checked).
    fn create(&self) -> Result<PrivateDir> {
        let files = self.dir.parent().expect("the folder has a parent");
        PrivateDir::open_as(Role::STATE, files.parent().expect("files has a parent"))?
            .subdir("files")?
            .subdir(self.dir.file_name().and_then(|n| n.to_str()).unwrap_or("-"))
    }

    /// A value's file: `v_` and the name (`.` and `..` are valid names);
    /// a part's, `p_` (files are never split, but every key has a file).
    fn file(key: Key<'_>) -> String {
        match key {
            Key::Index => "names".to_owned(),
            Key::Name(name) => format!("v_{name}"),
            Key::Part {
                name,
                generation,
                index,
            } => format!("p_{name}.{generation}.{index}"),
        }
    }

    /// Takes the reserve again after a write, if there is room: when there
    /// is not, the next run's first state call says so.
    fn take_reserve(dir: &PrivateDir) {
        let _ = dir.reserve(RESERVE, RESERVE_LEN);
    }

    fn failed(&self, e: std::io::Error) -> Error {
        Error::Environment {
            message: format!("the state file store failed: {e}"),
            hint: format!("check the permissions of {}", self.dir.display()),
        }
    }
}

impl Backend for FileStore {
    fn read(&self, key: Key<'_>, cap: usize) -> Result<Option<Vec<u8>>> {
        // A folder or file others may read (0755, 0644) is not "not logged
        // in": it is the error that names it and says how to fix it.
        let Some(dir) = PrivateDir::check_existing(Role::STATE, &self.dir)? else {
            return Ok(None);
        };
        // Not a regular file, or too large, reads as none: credbox did not
        // write it.
        dir.read_private(&FileStore::file(key), cap as u64)
    }

    fn write(&self, key: Key<'_>, value: &[u8]) -> Result<()> {
        let dir = self.create()?;
        dir.release(RESERVE);
        let written = dir.write_atomic(&FileStore::file(key), value);
        FileStore::take_reserve(&dir);
        written.map_err(|e| self.failed(e))
    }

    fn prepare(&self) -> Result<()> {
        // Never written: nothing to keep, and nothing made on a read.
        let Some(dir) = PrivateDir::check_existing(Role::STATE, &self.dir)? else {
            return Ok(());
        };
        dir.sweep_temps(Duration::ZERO);
        // Nothing kept (a login that stored nothing): no token to lose.
        if !dir.path().join(FileStore::file(Key::Index)).exists() {
            return Ok(());
        }
        dir.reserve(RESERVE, RESERVE_LEN)
            .map_err(|e| Error::Environment {
                message: format!(
                    "the state file store has no room to keep a new token before the helper runs its exchange: {e}"
                ),
                hint: format!(
                    "free some space on the file system of {} (the stored token is untouched)",
                    self.dir.display()
                ),
            })
    }

    fn cleared(&self) -> Result<()> {
        let Some(dir) = PrivateDir::check_existing(Role::STATE, &self.dir)? else {
            return Ok(());
        };
        dir.sweep_temps(Duration::ZERO);
        dir.remove(RESERVE).map_err(|e| self.failed(e))
    }

    fn remove(&self, key: Key<'_>) -> Result<()> {
        let Some(dir) = PrivateDir::check_existing(Role::STATE, &self.dir)? else {
            return Ok(());
        };
        dir.remove(&FileStore::file(key))
            .map_err(|e| self.failed(e))
    }

    fn probe(&self) -> Result<()> {
        self.create().map(drop)
    }

    fn describe(&self) -> String {
        format!("the file store {} (not encrypted)", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::{mode, set_mode};

    #[test]
    fn values_are_private_files_and_nothing_is_made_before_a_write() {
        let temp = tempfile::tempdir().unwrap();
        let store = FileStore {
            dir: temp.path().join("state/files/abc"),
        };
        assert_eq!(store.read(Key::Name("t"), 100).unwrap(), None);
        store.remove(Key::Name("t")).unwrap();
        assert!(!temp.path().join("state").exists());
        store.write(Key::Name(".."), b"v").unwrap();
        store.write(Key::Index, b"..\n").unwrap();
        for dir in ["state", "state/files", "state/files/abc"] {
            assert_eq!(mode(&temp.path().join(dir)), 0o700, "{dir}");
        }
        let file = temp.path().join("state/files/abc/v_..");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(store.read(Key::Name(".."), 100).unwrap().unwrap(), b"v");
        assert_eq!(store.read(Key::Name(".."), 0).unwrap(), None);
        // A file others could have read or written is not trusted, and
        // the error says how to fix it (not "none": not logged in).
        set_mode(&file, 0o644);
        let err = store.read(Key::Name(".."), 100).unwrap_err().to_string();
        assert!(err.contains("its mode is 644, not 600"), "{err}");
        set_mode(&temp.path().join("state/files/abc"), 0o755);
        let err = store.read(Key::Name(".."), 100).unwrap_err();
        assert!(
            err.to_string().contains("refusing state directory"),
            "{err}"
        );
        assert!(err.hint().contains("chmod 700"), "{}", err.hint());
        set_mode(&temp.path().join("state/files/abc"), 0o700);
        store.remove(Key::Name("..")).unwrap();
        assert!(!file.exists());
    }
}
