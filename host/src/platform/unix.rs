//! The Unix side of [`crate::platform`]: Linux and macOS (and the other
//! Unixes Rust's std supports), through std's Unix extensions and `libc`.

use std::fmt;
use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Exposure, Owners};

/// What identifies a file's content without reading it: device, inode,
/// size, and modification and status-change times to the nanosecond.
/// Replacing, rewriting, renaming over or touching the file changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of the file `meta` describes.
    pub fn of(meta: &Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// When the file last changed in any way (content, name, owner or
    /// access): its status-change time. `None` before 1970.
    pub fn changed(&self) -> Option<SystemTime> {
        let (secs, nanos) = self.ctime;
        let secs = u64::try_from(secs).ok()?;
        Some(UNIX_EPOCH + Duration::new(secs, nanos.clamp(0, 999_999_999) as u32))
    }
}

impl fmt::Display for FileStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}.{}:{}.{}",
            self.dev, self.ino, self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }
}

/// Whether a lock held by a process passes to the child it starts: on
/// Unix it does (the child inherits the open file description the lock
/// belongs to, see [`spawn_detached`]).
pub const LOCK_PASSES_TO_CHILD: bool = true;

/// The most bytes one OS keystore item holds, when values must be split
/// to fit: none on Unix (the Secret Service and the Keychain take a
/// value of [`crate::state::MAX_VALUE_LEN`] whole).
pub const KEYSTORE_ITEM_MAX: Option<usize> = None;

/// Whether the user's directories come from `$HOME` (which must then be
/// set and absolute): on Unix they do.
pub const HOME_REQUIRED: bool = true;

/// What the OS calls a file's access settings in credbox's messages
/// ("its mode is 755, not 700").
pub const ACCESS_NOUN: &str = "mode";

/// Whether the open file `held` is the file now at `named` (not a link to
/// it; not only equal contents).
pub fn same_file(held: &File, named: &Path) -> bool {
    match (held.metadata(), std::fs::symlink_metadata(named)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// How the file or directory at `_path` (which `meta` describes) is open
/// to others than the current user (owned by someone else, or with any
/// permission for group or others), or `None` when it is private.
pub fn exposure(_path: &Path, meta: &Metadata, owners: Owners) -> Option<Exposure> {
    let me = euid();
    let owner_ok = meta.uid() == me || (owners == Owners::MeOrAdmin && meta.uid() == 0);
    if !owner_ok {
        return Some(Exposure::OtherOwner {
            owner: format!("uid {}", meta.uid()),
            me: format!("uid {me}"),
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Some(Exposure::OpenToOthers {
            access: format!("{:03o}", meta.mode() & 0o777),
            private: if meta.is_dir() { "700" } else { "600" }.to_owned(),
        });
    }
    None
}

/// The command that makes `path` private to its owner (for a hint).
pub fn restrict_command(path: &Path, dir: bool) -> String {
    let mode = if dir { "700" } else { "600" };
    format!("chmod {mode} {}", path.display())
}

/// Creates the directory `path` and any missing parents, each private to
/// the current user (mode 0700, less the umask's bits).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Creates the new file `path` (an error if anything is there), private
/// to the current user: exactly mode 0600, whatever the umask.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The mode given at creation is filtered by the umask.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Opens `path` for reading without ever waiting (a FIFO with no writer
/// opens at once, a terminal does not become the controlling one);
/// without `follow`, a symbolic link as the last component fails (see
/// [`is_refused_link`]).
pub fn open_regular_nonblocking(path: &Path, follow: bool) -> io::Result<File> {
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    OpenOptions::new().read(true).custom_flags(flags).open(path)
}

/// A person's name for a kind of file that is neither a regular file, a
/// directory nor a symbolic link (`a FIFO`, `a socket`, `a device`), or
/// `None` for a kind this OS has no name for.
pub fn special_kind(kind: &std::fs::FileType) -> Option<&'static str> {
    if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else {
        None
    }
}

/// Whether an open without following links failed because the path is a
/// symbolic link.
pub fn is_refused_link(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Opens (creating it private if needed) the lock file `path`, without
/// following a link or waiting on a FIFO. The caller checks that it is a
/// regular file.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}

/// Whether a process `pid` exists (in this PID namespace).
pub fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 checks for existence and sends nothing.
    let sent = unsafe { libc::kill(pid, 0) };
    sent == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Starts `command` detached from its caller: in a session of its own (a
/// signal to the caller's process group, a closed terminal, does not
/// reach it), keeping `inherit` open across exec (the lock it takes over).
/// Does not wait for it; init reaps it if the caller exits first.
pub fn spawn_detached(mut command: Command, inherit: &File) -> io::Result<Child> {
    let fd = inherit.as_raw_fd();
    // SAFETY: runs in the forked child before exec and only calls
    // async-signal-safe functions (setsid, fcntl) on its own state.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // Keep the lock across exec: std opens files close-on-exec.
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Ends this process (`SIGALRM`, whose default action credbox keeps) once
/// `lifetime` has passed, rounded up to a whole second, whatever it is
/// doing then.
pub fn limit_lifetime(lifetime: Duration) {
    let secs = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
    let secs = libc::c_uint::try_from(secs.max(1)).unwrap_or(libc::c_uint::MAX);
    // SAFETY: alarm has no preconditions.
    unsafe {
        libc::alarm(secs);
    }
}

/// credbox's stderr as a file, written without std's lock on it: `main`
/// holds that lock for the whole process, and a last line written from
/// another thread (the [`crate::watchdog`]'s) must not wait for it.
pub fn stderr_unlocked() -> std::mem::ManuallyDrop<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 2 is open for the whole process (start_process
    // opens /dev/null there if it was closed); ManuallyDrop never closes it.
    std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(std::io::stderr().as_raw_fd()) })
}

/// The signals that ask a process to end and that credbox holds while a
/// helper's state may change ([`hold_end_signals`]).
const END_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The first end signal that arrived while held (0: none).
static HELD_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn note_signal(signal: libc::c_int) {
    // Async-signal-safe: one atomic store, nothing else.
    let _ = HELD_SIGNAL.compare_exchange(
        0,
        signal,
        std::sync::atomic::Ordering::SeqCst,
        std::sync::atomic::Ordering::SeqCst,
    );
}

/// SIGTERM, SIGINT and SIGHUP, held: one that arrives is noted, not acted
/// on, until [`EndSignalsHeld::release`] (or drop) acts on it with its
/// default action (the process ends, killed by that signal). A rotated
/// refresh token is then written before the process ends.
pub struct EndSignalsHeld {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl fmt::Debug for EndSignalsHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held: Vec<_> = self.previous.iter().map(|(signal, _)| signal).collect();
        f.debug_struct("EndSignalsHeld")
            .field("held", &held)
            .finish()
    }
}

/// Holds SIGTERM, SIGINT and SIGHUP from now until the returned value is
/// released or dropped. Handlers set to be ignored stay ignored (a caller
/// that ran credbox under `nohup` meant it).
pub fn hold_end_signals() -> EndSignalsHeld {
    let mut previous = Vec::new();
    for signal in END_SIGNALS {
        // SAFETY: a zeroed sigaction is a valid value to fill; the handler
        // only stores into an atomic, which is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            if libc::sigaction(signal, &new, std::ptr::null_mut()) == 0 {
                previous.push((signal, old));
            }
        }
    }
    EndSignalsHeld { previous }
}

impl EndSignalsHeld {
    /// Restores the handlers the process had, then acts on a signal that
    /// arrived meanwhile, as it would have at once: its default action
    /// ends the process.
    pub fn release(mut self) {
        self.restore();
    }

    fn restore(&mut self) {
        for (signal, old) in self.previous.drain(..) {
            // SAFETY: `old` is what sigaction returned for this signal.
            unsafe {
                libc::sigaction(signal, &old, std::ptr::null_mut());
            }
        }
        let signal = HELD_SIGNAL.swap(0, std::sync::atomic::Ordering::SeqCst);
        if signal != 0 {
            // SAFETY: raise has no preconditions; the handler restored is
            // the one the process had before the hold.
            unsafe {
                libc::raise(signal);
            }
        }
    }
}

impl Drop for EndSignalsHeld {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Makes `link` start `program` (a symbolic link), for clients that find
/// credbox under another name.
pub fn link_program(program: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(program, link)
}

/// Whether `link` is what [`link_program`] made for `program`: a symbolic
/// link to it.
pub fn is_program_link(link: &Path, program: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|target| target == program)
}

/// What Rust's start-up would have done that credbox needs (its `main`
/// skips std's, see main.rs): standard descriptors that are closed are
/// opened on `/dev/null` (else a file credbox opens could become its
/// stdout), and `SIGPIPE` is ignored (a closed pipe is an error to
/// report, not a kill).
///
/// Call it once, first thing, while the process has one thread.
pub fn start_process() {
    // SAFETY: called while credbox is single-threaded; `poll`, `open` and
    // `signal` have no other preconditions.
    unsafe {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        if libc::poll(fds.as_mut_ptr(), 3, 0) != -1 {
            for pollfd in fds {
                if pollfd.revents & libc::POLLNVAL != 0 {
                    libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                }
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// What tests need of the OS: set and read access bits, make FIFOs and
/// links.
#[cfg(test)]
pub mod testing {
    /// An argument that is not UTF-8 (a lone 0xff byte after `h`).
    pub fn not_utf8() -> std::ffi::OsString {
        use std::os::unix::ffi::OsStringExt;
        std::ffi::OsString::from_vec(b"h\xff".to_vec())
    }

    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    /// Sets `path`'s mode bits.
    pub fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// `path`'s mode bits (permissions only).
    pub fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    /// Makes a FIFO at `path`.
    pub fn make_fifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Makes a symbolic link at `link` to `target`.
    pub fn symlink(target: &Path, link: &Path) {
        std::os::unix::fs::symlink(target, link).unwrap();
    }
}
