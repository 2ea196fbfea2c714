//! Every call that differs between operating systems, behind one
//! interface: the rest of credbox names no OS (no `std::os::unix`, no
//! `libc`, no `cfg(unix)` outside this module).
//!
//! What each OS must provide, and what the Unix side does today:
//!
//! - **Privacy** ([`exposure`], [`create_private_dir`],
//!   [`create_private_file`]): credbox's cache, state and compiled
//!   components are readable and writable by the current user alone, and
//!   a path owned by someone else, or open to others, is refused rather
//!   than fixed. Unix: the owner's uid and mode bits 0700/0600.
//! - **Opens that never block** ([`open_regular_nonblocking`],
//!   [`open_lock_file`]): a FIFO or device where a file should be is
//!   refused without waiting for a writer. Unix: `O_NONBLOCK`,
//!   `O_NOCTTY` and, for credbox's own files, `O_NOFOLLOW`.
//! - **File identity** ([`FileStamp`], [`same_file`]): what identifies a
//!   file's content cheaply (device, inode, size, modification and change
//!   times), so that a cache hit need not read it.
//! - **Processes** ([`process_exists`], [`spawn_detached`],
//!   [`limit_lifetime`], [`start_process`]): the background refresh
//!   outlives its caller, inherits the entry's lock and ends at its
//!   deadline.
//! - **Installing a client link** ([`link_program`]).
//!
//! Beside the flow: it imports nothing of credbox's.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

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
