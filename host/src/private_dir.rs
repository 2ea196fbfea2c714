//! A directory only the current user can read or write, and atomic writes
//! into it.
//!
//! credbox keeps compiled components and credentials under the user's cache
//! directory. Both are trusted when read back (a compiled component is
//! native code; a credential is printed as is), so the directory must be
//! private: mode 0700, owned by the current user, and files 0600. A
//! directory that is group- or world-writable, or owned by someone else, is
//! refused rather than fixed: someone else may already have written to it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Environment variable that moves credbox's cache directory (tests and
/// benchmarks use it; so can users with an unusual `$HOME`).
pub const CACHE_DIR_ENV: &str = "CREDBOX_CACHE_DIR";

/// credbox's cache directory: `$CREDBOX_CACHE_DIR`, else the platform's
/// user cache directory (`~/.cache/credbox` on Linux).
pub fn cache_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "credbox")
        .map(|dirs| dirs.cache_dir().to_owned())
        .ok_or_else(|| {
            Error::Internal(format!(
                "no home directory to keep a cache in; set {CACHE_DIR_ENV}"
            ))
        })
}

/// A directory checked to be private to the current user.
#[derive(Debug, Clone)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Opens `path`, creating it (and its parents) with mode 0700 if
    /// needed, and checks that it is private.
    pub fn open(path: &Path) -> Result<PrivateDir> {
        // One lstat when the directory exists, which is every call but the
        // first: this is on the path of every cached answer.
        let meta = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(path)
                    .map_err(|e| {
                        Error::Internal(format!(
                            "cannot create cache directory {}: {e}",
                            path.display()
                        ))
                    })?;
                std::fs::symlink_metadata(path)
            }
            other => other,
        }
        .map_err(|e| {
            Error::Internal(format!(
                "cannot inspect cache directory {}: {e}",
                path.display()
            ))
        })?;
        let unsafe_dir = |why: &str| {
            Error::Usage(format!(
                "refusing cache directory {}: {why}; run `chmod 700` on it or remove it",
                path.display()
            ))
        };
        if !meta.is_dir() {
            return Err(unsafe_dir("it is not a directory"));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(unsafe_dir(&format!(
                "it belongs to uid {}, not to you (uid {me})",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(unsafe_dir(&format!(
                "its mode is {:o}, not 700",
                meta.mode() & 0o777
            )));
        }
        Ok(PrivateDir {
            path: path.to_owned(),
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A private subdirectory.
    pub fn subdir(&self, name: &str) -> Result<PrivateDir> {
        PrivateDir::open(&self.path.join(name))
    }

    /// Reads `name`, or `None` when it does not exist or is not a regular
    /// file private to this user.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.path.join(name);
        let mut file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.mode() & 0o077 != 0 {
            return None;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Writes `bytes` to `name` atomically: a reader sees the old file or
    /// the new one, never a mix or a partial file. The file is mode 0600.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let failed = |e: std::io::Error| {
            Error::Internal(format!(
                "cannot write {}: {e}",
                self.path.join(name).display()
            ))
        };
        let (temp_path, mut temp) = self.create_temp(name).map_err(failed)?;
        let written = temp
            .write_all(bytes)
            .and_then(|()| temp.sync_all())
            .and_then(|()| std::fs::rename(&temp_path, self.path.join(name)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp_path);
            return Err(failed(e));
        }
        Ok(())
    }

    /// Removes `name`; a missing file is not an error.
    pub fn remove(&self, name: &str) -> Result<()> {
        match std::fs::remove_file(self.path.join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Internal(format!(
                "cannot remove {}: {e}",
                self.path.join(name).display()
            ))),
        }
    }

    /// Opens (creating if needed) a 0600 file for locking.
    pub fn lock_file(&self, name: &str) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.path.join(name))
            .map_err(|e| {
                Error::Internal(format!(
                    "cannot open lock {}: {e}",
                    self.path.join(name).display()
                ))
            })
    }

    /// A new, exclusively created temporary file next to `name`.
    fn create_temp(&self, name: &str) -> std::io::Result<(PathBuf, File)> {
        let pid = std::process::id();
        for attempt in 0..100u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let temp_path = self
                .path
                .join(format!(".{name}.{pid}.{nanos}.{attempt}.tmp"));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp_path)
            {
                Ok(file) => {
                    // The mode given at creation is filtered by the umask;
                    // make sure it is exactly 0600.
                    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                    return Ok((temp_path, file));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::new(
            ErrorKind::AlreadyExists,
            "no free temporary file name",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_directory_and_private_files() {
        let temp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&temp.path().join("a/b")).unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        dir.write_atomic("x", b"hello").unwrap();
        let mode = std::fs::metadata(dir.path().join("x")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(dir.read("x").as_deref(), Some(&b"hello"[..]));
        dir.write_atomic("x", b"again").unwrap();
        assert_eq!(dir.read("x").as_deref(), Some(&b"again"[..]));
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        dir.remove("x").unwrap();
        dir.remove("x").unwrap();
        assert_eq!(dir.read("x"), None);
    }

    #[test]
    fn refuses_a_directory_others_can_write() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("shared");
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = PrivateDir::open(&path).unwrap_err();
        assert!(
            err.to_string().contains("its mode is 777, not 700"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(PrivateDir::open(&path).is_err());
    }

    #[test]
    fn ignores_files_others_could_have_written() {
        let temp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&temp.path().join("c")).unwrap();
        dir.write_atomic("x", b"v").unwrap();
        std::fs::set_permissions(dir.path().join("x"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        assert_eq!(dir.read("x"), None);
    }
}
