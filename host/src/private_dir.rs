//! A directory only the current user can read or write, and atomic writes
//! into it.
//!
//! credbox keeps compiled components and credentials under the user's cache
//! directory. Both are trusted when read back (a compiled component is
//! native code; a credential is printed as is), so the directory must be
//! private: mode 0700, owned by the current user, and files 0600. A
//! directory with any permission for group or others, owned by someone
//! else, or a symbolic link, is refused rather than fixed: someone else may
//! already have written to it. Files are read without following links and
//! without waiting on a FIFO or device (see [`crate::files`]).

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::{self, Links};
use crate::platform::{self, Exposure, Owners};

/// Environment variable that moves credbox's cache directory (tests and
/// benchmarks use it; so can users with an unusual `$HOME`).
pub const CACHE_DIR_ENV: &str = "CREDBOX_CACHE_DIR";

/// Environment variable that moves credbox's state directory (the file
/// store's home, see [`crate::state`]; tests use it).
pub const STATE_DIR_ENV: &str = "CREDBOX_STATE_DIR";

/// credbox's cache directory: `$CREDBOX_CACHE_DIR`, else the platform's
/// user cache directory (`$XDG_CACHE_HOME/credbox` or
/// `~/.cache/credbox` on Linux).
///
/// Only absolute paths are used: a relative `CREDBOX_CACHE_DIR` or `HOME`
/// would put the cache under whatever directory credbox was started in.
/// No usable path is an [`Error::Environment`] that says what to set.
pub fn cache_root() -> Result<PathBuf> {
    cache_root_from(|name| std::env::var_os(name))
}

fn cache_root_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf> {
    if let Some(dir) = var(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            return Err(Error::Environment {
                message: format!("{CACHE_DIR_ENV} is a relative path ({})", dir.display()),
                hint: format!("set {CACHE_DIR_ENV} to an absolute path"),
            });
        }
        return Ok(dir);
    }
    let home = var("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let problem = match &home {
        None => "HOME is not set",
        Some(home) if !home.is_absolute() => "HOME is a relative path",
        Some(_) => "",
    };
    let no_home = |problem: &str| Error::Environment {
        message: format!("no directory to keep the cache in: {problem}"),
        hint: format!("set HOME, or {CACHE_DIR_ENV}, to an absolute path; or run with --no-cache"),
    };
    if !problem.is_empty() && platform::HOME_REQUIRED {
        return Err(no_home(problem));
    }
    directories::ProjectDirs::from("", "", "credbox")
        .map(|dirs| dirs.cache_dir().to_owned())
        .filter(|dir| dir.is_absolute())
        .ok_or_else(|| no_home("the platform has no user cache directory"))
}

/// What a private directory is for, as its messages name it: the cache
/// directory or the state directory, and the variable that moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// What the directory is, in messages: `cache directory`.
    pub what: &'static str,
    /// The environment variable that moves it: `CREDBOX_CACHE_DIR`.
    pub var: &'static str,
    /// Whether `--no-cache` does without it (the cache, not the state).
    pub no_cache_helps: bool,
}

impl Role {
    /// credbox's cache directory ([`cache_root`]).
    pub const CACHE: Role = Role {
        what: "cache directory",
        var: CACHE_DIR_ENV,
        no_cache_helps: true,
    };
    /// credbox's state directory ([`crate::state::state_root`]).
    pub const STATE: Role = Role {
        what: "state directory",
        var: STATE_DIR_ENV,
        no_cache_helps: false,
    };

    /// `, or run with --no-cache` where that helps.
    fn or_no_cache(self) -> &'static str {
        if self.no_cache_helps {
            ", or run with --no-cache"
        } else {
            ""
        }
    }
}

/// The directory could not be made: why, and what to do.
fn cannot_create(role: Role, path: &Path, e: &std::io::Error) -> Error {
    let (var, or_no_cache) = (role.var, role.or_no_cache());
    let hint = match e.kind() {
        ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied => {
            format!("point {var} at a directory you can write{or_no_cache}")
        }
        ErrorKind::NotADirectory | ErrorKind::AlreadyExists => {
            format!("a file stands where a directory should; remove it or set {var} elsewhere")
        }
        _ => format!("set {var} to a directory you can write{or_no_cache}"),
    };
    Error::Environment {
        message: format!("cannot create {} {}: {e}", role.what, path.display()),
        hint,
    }
}

/// Refuses a directory that is not private to the current user, with a
/// hint that fits the cause.
fn check_private(role: Role, path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let var = role.var;
    let refuse = |why: String, hint: String| Error::Environment {
        message: format!("refusing {} {}: {why}", role.what, path.display()),
        hint,
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(refuse(
            "it is a symbolic link".into(),
            format!(
                "credbox does not follow links in its {}; set {var} to the directory itself",
                role.what
            ),
        ));
    }
    if !kind.is_dir() {
        return Err(refuse(
            format!("it is {}", files::kind_name(&kind)),
            format!("remove it, or set {var} elsewhere"),
        ));
    }
    match platform::exposure(path, meta, Owners::Me) {
        None => {}
        Some(Exposure::OtherOwner { owner, me }) => {
            return Err(refuse(
                format!("it belongs to {owner}, not to you ({me})"),
                format!(
                    "someone else may have written to it; remove it, or set {var} to a directory of yours"
                ),
            ));
        }
        Some(Exposure::OpenToOthers { access, private }) => {
            return Err(refuse(
                format!("its {} is {access}, not {private}", platform::ACCESS_NOUN),
                format!(
                    "only its owner may have access: run `{}` if nobody else wrote to it, else remove it",
                    platform::restrict_command(path, true)
                ),
            ));
        }
    }
    Ok(())
}

/// The PID in a temporary file's name (`.{name}.{pid}.{nanos}.{n}.tmp`),
/// or `None` for any other name.
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(4, '.');
    let (_attempt, _nanos, pid) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    pid.parse().ok().filter(|&pid: &u32| pid > 0)
}

/// A directory checked to be private to the current user.
#[derive(Debug, Clone)]
pub struct PrivateDir {
    path: PathBuf,
    role: Role,
}

impl PrivateDir {
    /// Opens `path`, creating it (and its parents) with mode 0700 if
    /// needed, and checks that it is private: part of the cache directory
    /// (see [`PrivateDir::open_as`]).
    pub fn open(path: &Path) -> Result<PrivateDir> {
        PrivateDir::open_as(Role::CACHE, path)
    }

    /// [`PrivateDir::open`] for a directory of `role`, whose messages name
    /// it and the variable that moves it.
    pub fn open_as(role: Role, path: &Path) -> Result<PrivateDir> {
        // One lstat when the directory exists, which is every call but the
        // first: this is on the path of every cached answer.
        let meta = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                platform::create_private_dir(path).map_err(|e| cannot_create(role, path, &e))?;
                std::fs::symlink_metadata(path)
            }
            other => other,
        }
        .map_err(|e| cannot_create(role, path, &e))?;
        check_private(role, path, &meta)?;
        Ok(PrivateDir {
            path: path.to_owned(),
            role,
        })
    }

    /// Opens `path` if it already is a private directory; creates nothing.
    pub fn open_existing(path: &Path) -> Option<PrivateDir> {
        PrivateDir::check_existing(Role::CACHE, path).ok().flatten()
    }

    /// `path` as a private directory of `role` if it exists (`None` if
    /// not); one that exists but is not private (a link, another owner,
    /// open to others) is the error that says so and how to fix it.
    /// Creates nothing.
    pub fn check_existing(role: Role, path: &Path) -> Result<Option<PrivateDir>> {
        let meta = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            other => other.map_err(|e| cannot_create(role, path, &e))?,
        };
        check_private(role, path, &meta)?;
        Ok(Some(PrivateDir {
            path: path.to_owned(),
            role,
        }))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A private subdirectory (of the same role).
    pub fn subdir(&self, name: &str) -> Result<PrivateDir> {
        PrivateDir::open_as(self.role, &self.path.join(name))
    }

    /// Reads `name`, or `None` when it does not exist, is not a regular
    /// file private to this user (a symbolic link, a FIFO or a device is
    /// refused without waiting on it: see [`crate::files`]), or holds more
    /// than `cap` bytes.
    pub fn read(&self, name: &str, cap: u64) -> Option<Vec<u8>> {
        let path = self.path.join(name);
        let (file, meta) = files::open_regular(&path, Links::Refuse).ok()?;
        if platform::exposure(&path, &meta, Owners::Me).is_some() {
            return None;
        }
        files::read_capped(file, &meta, cap).ok()
    }

    /// Reads `name` as [`PrivateDir::read`] does, but a file that others
    /// may read or write, or that belongs to someone else, is the error
    /// that says so and how to fix it rather than none: for files whose
    /// absence means something to the user (a helper's state: "not logged
    /// in"). A missing file is `None`; one that is not a regular file or
    /// is over `cap` reads as none too (credbox did not write it).
    pub fn read_private(&self, name: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let path = self.path.join(name);
        let (file, meta) = match files::open_regular(&path, Links::Refuse) {
            Ok(opened) => opened,
            Err(files::ReadError::NotFound) => return Ok(None),
            Err(_) => return Ok(None),
        };
        let refuse = |why: String, hint: String| Error::Environment {
            message: format!("refusing {}: {why}", path.display()),
            hint,
        };
        match platform::exposure(&path, &meta, Owners::Me) {
            None => Ok(files::read_capped(file, &meta, cap).ok()),
            Some(Exposure::OtherOwner { owner, me }) => Err(refuse(
                format!("it belongs to {owner}, not to you ({me})"),
                "someone else may have written to it; remove it".into(),
            )),
            Some(Exposure::OpenToOthers { access, private }) => Err(refuse(
                format!("its {} is {access}, not {private}", platform::ACCESS_NOUN),
                format!(
                    "only its owner may have access: run `{}` if nobody else wrote to it, else remove it",
                    platform::restrict_command(&path, false)
                ),
            )),
        }
    }

    /// Writes `bytes` to `name` atomically: a reader sees the old file or
    /// the new one, never a mix or a partial file. The file is mode 0600.
    /// The error names the file.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path.join(name);
        let failed = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        };
        let (temp_path, mut temp) = self.create_temp(name).map_err(failed)?;
        let written = temp
            .write_all(bytes)
            .and_then(|()| temp.sync_all())
            .and_then(|()| std::fs::rename(&temp_path, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp_path);
            return Err(failed(e));
        }
        Ok(())
    }

    /// Keeps `len` bytes of disk space in `name` (a private file of zeros,
    /// written and synced, not sparse), for a write that must not fail for
    /// space later: [`PrivateDir::release`] gives the space back just
    /// before that write. A file already that long is left as it is. The
    /// error names the file.
    pub fn reserve(&self, name: &str, len: u64) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let path = self.path.join(name);
        let failed = |e: std::io::Error| {
            std::io::Error::new(
                e.kind(),
                format!("cannot reserve {len} bytes in {}: {e}", path.display()),
            )
        };
        let mut file = platform::open_lock_file(&path).map_err(failed)?;
        let meta = file.metadata().map_err(failed)?;
        if !meta.is_file() {
            return Err(failed(std::io::Error::new(
                ErrorKind::InvalidData,
                "not a regular file",
            )));
        }
        let have = meta.len();
        if have >= len {
            return Ok(());
        }
        let zeros = vec![0u8; usize::try_from(len - have).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::End(0))
            .and_then(|_| file.write_all(&zeros))
            .and_then(|()| file.sync_all())
            .map_err(failed)
    }

    /// Gives back the space [`PrivateDir::reserve`] kept in `name` (its
    /// length becomes 0). Nothing to give back is not an error.
    pub fn release(&self, name: &str) {
        let path = self.path.join(name);
        if let Ok(file) = platform::open_lock_file(&path) {
            let _ = file.set_len(0);
        }
    }

    /// Removes `name`; a missing file is not an error. The error names
    /// the file.
    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        let path = self.path.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!("cannot remove {}: {e}", path.display()),
            )),
        }
    }

    /// Opens (creating if needed) a 0600 regular file for locking. The
    /// open never blocks: a FIFO, device or link in its place is removed
    /// once and a file created instead.
    pub fn lock_file(&self, name: &str) -> Result<File> {
        let path = self.path.join(name);
        let open = || -> std::io::Result<File> {
            let file = platform::open_lock_file(&path)?;
            if !file.metadata()?.is_file() {
                return Err(std::io::Error::new(ErrorKind::InvalidData, "not a file"));
            }
            Ok(file)
        };
        open()
            .or_else(|_| {
                // Whatever is there is not a lock credbox made.
                let _ = std::fs::remove_file(&path);
                open()
            })
            .map_err(|e| Error::Environment {
                message: format!("cannot open lock {}: {e}", path.display()),
                hint: format!(
                    "credbox must write its {} {}: make it writable, or point {} at one you can write{}",
                    self.role.what,
                    self.path.display(),
                    self.role.var,
                    self.role.or_no_cache()
                ),
            })
    }

    /// Removes the temporary files that writes interrupted for good left
    /// behind: those of processes that no longer exist, and any older than
    /// `max_age` (a process of another PID namespace, or a PID reused).
    /// Returns how many were removed.
    pub fn sweep_temps(&self, max_age: std::time::Duration) -> usize {
        let Ok(dir) = std::fs::read_dir(&self.path) else {
            return 0;
        };
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(temp_pid) else {
                continue;
            };
            let old = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_none_or(|t| {
                    // A modification time in the future (the clock went back)
                    // counts from now.
                    now.duration_since(t).is_ok_and(|age| age > max_age)
                        || t.duration_since(now).is_ok_and(|ahead| ahead > max_age)
                });
            if (old || !platform::process_exists(pid)) && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        removed
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
            match platform::create_private_file(&temp_path) {
                Ok(file) => return Ok((temp_path, file)),
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
    use crate::platform::testing::{make_fifo, mode, set_mode, symlink};

    #[test]
    fn creates_a_private_directory_and_private_files() {
        let temp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&temp.path().join("a/b")).unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        dir.write_atomic("x", b"hello").unwrap();
        assert_eq!(mode(&dir.path().join("x")), 0o600);
        assert_eq!(dir.read("x", 1 << 20).as_deref(), Some(&b"hello"[..]));
        dir.write_atomic("x", b"again").unwrap();
        assert_eq!(dir.read("x", 1 << 20).as_deref(), Some(&b"again"[..]));
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        dir.remove("x").unwrap();
        dir.remove("x").unwrap();
        assert_eq!(dir.read("x", 1 << 20), None);
    }

    #[test]
    fn refuses_a_directory_others_can_write() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("shared");
        std::fs::create_dir(&path).unwrap();
        set_mode(&path, 0o777);
        let err = PrivateDir::open(&path).unwrap_err();
        assert!(
            err.to_string().contains("its mode is 777, not 700"),
            "{err}"
        );
        set_mode(&path, 0o750);
        assert!(PrivateDir::open(&path).is_err());
    }

    #[test]
    fn ignores_files_others_could_have_written() {
        let temp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&temp.path().join("c")).unwrap();
        dir.write_atomic("x", b"v").unwrap();
        set_mode(&dir.path().join("x"), 0o666);
        assert_eq!(dir.read("x", 1 << 20), None);
    }

    #[test]
    fn the_cache_root_is_absolute_or_refused_with_what_to_set() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert_eq!(
            cache_root_from(env(&[(CACHE_DIR_ENV, "/c"), ("HOME", "rel")])).unwrap(),
            PathBuf::from("/c")
        );
        for (pairs, what) in [
            (
                &[(CACHE_DIR_ENV, "rel/c")][..],
                "CREDBOX_CACHE_DIR is a relative path",
            ),
            (&[][..], "HOME is not set"),
            (&[("HOME", "")][..], "HOME is not set"),
            (&[("HOME", "home/me")][..], "HOME is a relative path"),
        ] {
            let err = cache_root_from(env(pairs)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains(what), "{err}");
            assert!(err.hint().contains("absolute path"), "{}", err.hint());
        }
    }

    #[test]
    fn each_refusal_has_the_hint_of_its_cause() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let err = PrivateDir::open(&file.join("under")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.hint().contains("a file stands where"), "{}", err.hint());
        let err = PrivateDir::open(&file).unwrap_err();
        assert!(err.to_string().contains("it is a regular file"), "{err}");

        let real = PrivateDir::open(&temp.path().join("real")).unwrap();
        let link = temp.path().join("link");
        symlink(real.path(), &link);
        let err = PrivateDir::open(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!err.hint().contains("chmod"), "{}", err.hint());

        set_mode(real.path(), 0o755);
        let err = PrivateDir::open(real.path()).unwrap_err();
        assert!(err.hint().contains("chmod 700"), "{}", err.hint());
    }

    #[test]
    fn a_fifo_in_place_of_a_lock_is_replaced_not_waited_on() {
        let temp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&temp.path().join("c")).unwrap();
        make_fifo(&dir.path().join("k.lock"));
        let file = dir.lock_file("k.lock").unwrap();
        assert!(file.metadata().unwrap().is_file());
    }

    #[test]
    fn temporary_files_of_dead_writers_and_old_ones_are_swept() {
        let temp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&temp.path().join("c")).unwrap();
        let mine = format!(".x.json.{}.1.0.tmp", std::process::id());
        // PIDs are below 2^22 on Linux: this one cannot exist.
        let dead = ".x.json.2147483647.1.0.tmp";
        for name in [mine.as_str(), dead, "x.json", ".x.json.tmp"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(dir.sweep_temps(std::time::Duration::from_secs(300)), 1);
        assert!(
            dir.path().join(&mine).exists(),
            "a live writer's file stays"
        );
        assert!(!dir.path().join(dead).exists());
        std::fs::File::options()
            .write(true)
            .open(dir.path().join(&mine))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(301))
            .unwrap();
        assert_eq!(dir.sweep_temps(std::time::Duration::from_secs(300)), 1);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".x.json.tmp", "x.json"]);
    }
}
