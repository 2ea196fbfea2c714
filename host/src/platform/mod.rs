//! Every call that differs between operating systems, behind one
//! interface: the rest of credbox names no OS (no `std::os::unix`, no
//! `libc`, no `cfg(unix)` outside this module).
//!
//! What each OS must provide, and what the Unix side (`unix.rs`: Linux,
//! macOS) and the Windows side (`windows.rs`) do:
//!
//! - **Privacy** ([`exposure`], [`create_private_dir`],
//!   [`create_private_file`], [`restrict_command`], [`ACCESS_NOUN`]):
//!   credbox's cache, state and compiled components are readable and
//!   writable by the current user alone, and a path owned by someone else,
//!   or open to others, is refused rather than fixed. Unix: the owner's
//!   uid and mode bits 0700/0600. Windows: the owner's SID and a protected
//!   DACL that grants the user alone full control, set at creation; on use,
//!   any ACE that lets another SID than the user, SYSTEM or Administrators
//!   read or write refuses the path (ssh's rule for key files).
//! - **Opens that never block** ([`open_regular_nonblocking`],
//!   [`open_lock_file`]): a FIFO or device where a file should be is
//!   refused without waiting for a writer. Unix: `O_NONBLOCK`,
//!   `O_NOCTTY` and, for credbox's own files, `O_NOFOLLOW`. Windows: DOS
//!   device names (`CON`, `NUL.txt`, `COM1`) and `\\.\` / `\\?\`
//!   device paths are refused before any open; credbox's own files are
//!   opened as the link itself (`FILE_FLAG_OPEN_REPARSE_POINT`).
//! - **File identity** ([`FileStamp`], [`same_file`]): what identifies a
//!   file's content cheaply, so that a cache hit need not read it. Unix:
//!   device, inode, size, modification and change times. Windows: size,
//!   creation and last-write times (std has no stable file index from a
//!   path's metadata); [`same_file`] compares volume and file index.
//! - **Processes** ([`process_exists`], [`spawn_detached`],
//!   [`limit_lifetime`], [`start_process`]): the background refresh
//!   outlives its caller, holds the entry's lock and ends at its deadline.
//!   Unix: a session of its own (`setsid`), the lock's descriptor
//!   inherited across exec, `alarm`. Windows: `DETACHED_PROCESS |
//!   CREATE_NEW_PROCESS_GROUP`, no handle inherited but the standard
//!   ones, and a thread that terminates the process at its deadline. A
//!   Windows lock belongs to the process that took it and cannot be
//!   inherited, so there the child takes the entry's lock itself once the
//!   caller has let go ([`LOCK_PASSES_TO_CHILD`] is false): in the moment
//!   between, another caller may start a second refresh, which finds the
//!   entry fresh once it has the lock and does nothing.
//! - **End signals held** ([`hold_end_signals`]): from a run's first state
//!   call to its end, a SIGTERM, SIGINT or SIGHUP is noted and acted on
//!   (by its default action) only once the state is written, so that a
//!   rotated refresh token is never lost to a signal. Unix: handlers that
//!   store the signal, restored and re-raised at release. Windows: nothing
//!   to hold (`TerminateProcess` cannot be caught).
//! - **Keystore items** ([`KEYSTORE_ITEM_MAX`]): Windows' Credential
//!   Manager keeps at most 2,560 bytes a credential, so longer state
//!   values are kept in parts there; the other keystores take them whole.
//! - **Installing a client link** ([`link_program`]): a symbolic link on
//!   Unix; a hard link (no privilege needed), else a copy, on Windows.
//!
//! Beside the flow: it imports nothing of credbox's.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// How a file or directory is open to others than the current user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// It belongs to another user: `owner` and `me` as the OS names them
    /// (`uid 1000`).
    OtherOwner {
        /// Its owner.
        owner: String,
        /// The current user.
        me: String,
    },
    /// Others than its owner may read or write it.
    OpenToOthers {
        /// Its access, as the OS shows it (`755`).
        access: String,
        /// The access it should have, in the same terms (`700`).
        private: String,
    },
}

/// Who may own a file that must be private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// The current user alone.
    Me,
    /// The current user or the system's administrator (a private key
    /// installed by root, as ssh accepts).
    MeOrAdmin,
}
