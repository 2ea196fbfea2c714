//! The file store (`[state] store = "file"`): one 0600 file per name in a
//! 0700 folder per helper, under credbox's private state directory.
//! NOT encrypted: for machines with no keystore, chosen explicitly.

use std::path::PathBuf;

use super::{Backend, HelperId, Key, state_root};
use crate::error::{Error, Result};
use crate::private_dir::{PrivateDir, Role};
use crate::units::hex_sha256;

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

    /// A value's file: `v_` and the name (`.` and `..` are valid names).
    fn file(key: Key<'_>) -> String {
        match key {
            Key::Index => "names".to_owned(),
            Key::Name(name) => format!("v_{name}"),
        }
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
        self.create()?
            .write_atomic(&FileStore::file(key), value)
            .map_err(|e| self.failed(e))
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
