//! Reading a file without ever waiting on it: the one place credbox opens
//! a file to read it whole.
//!
//! Every file credbox reads (the manifest, the component, the CA bundle,
//! cache entries, compiled components) is opened non-blocking, checked with
//! `fstat` to be a regular file on the descriptor it opened (no
//! check-then-open race), and read up to a size cap. A FIFO, a device, a
//! socket or a directory where a file should be is refused at once: opening
//! a FIFO for reading blocks until a writer comes, and reading a device may
//! never end. Files in credbox's own cache are opened without following a
//! symbolic link; the files a manifest names may be links (users link their
//! manifests and components), but what the link leads to must be a regular
//! file too.
//!
//! Beside the flow: it imports only [`crate::units`] (to name a size) and
//! [`crate::platform`] (the opens that never block).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::path::Path;

use crate::platform;

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow it (files a manifest names).
    Follow,
    /// Refuse it (files in credbox's own cache).
    Refuse,
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// There is no such file.
    NotFound,
    /// It is not a regular file: the kind it is (`a FIFO`, `a directory`,
    /// `a symbolic link`...).
    NotRegular(&'static str),
    /// It is larger than the cap (in bytes).
    TooLarge(u64),
    /// Any other failure to open or read it.
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file"),
            ReadError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            ReadError::TooLarge(cap) => {
                write!(f, "it is larger than {}", crate::units::format_size(*cap))
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Opens `path` for reading without blocking, and checks on the opened
/// descriptor that it is a regular file; returns it with its metadata (the
/// one `fstat`, for the caller's own checks).
pub fn open_regular(path: &Path, links: Links) -> Result<(File, Metadata), ReadError> {
    let file =
        platform::open_regular_nonblocking(path, links == Links::Follow).map_err(|e| {
            match e.kind() {
                ErrorKind::NotFound => ReadError::NotFound,
                _ if links == Links::Refuse && platform::is_refused_link(&e) => {
                    ReadError::NotRegular("a symbolic link")
                }
                _ => ReadError::Io(e),
            }
        })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_name(&meta.file_type())));
    }
    Ok((file, meta))
}

/// Reads the regular file at `path` whole, refusing it (without reading
/// on) when it holds more than `cap` bytes.
pub fn read_regular(path: &Path, cap: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_regular(path, links)?;
    read_capped(file, &meta, cap)
}

/// Reads a file opened by [`open_regular`] (with its metadata `meta`)
/// whole, up to `cap` bytes.
pub fn read_capped(file: File, meta: &Metadata, cap: u64) -> Result<Vec<u8>, ReadError> {
    let len = meta.len();
    if len > cap {
        return Err(ReadError::TooLarge(cap));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte past the cap tells a file that grew since the fstat.
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(bytes)
}

/// A person's name for a kind of file.
pub fn kind_name(kind: &std::fs::FileType) -> &'static str {
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        platform::special_kind(kind).unwrap_or("not a regular file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    use crate::platform::testing::{make_fifo as mkfifo, symlink};

    #[test]
    fn non_regular_files_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let start = Instant::now();
        for links in [Links::Follow, Links::Refuse] {
            assert!(matches!(
                read_regular(&fifo, 10, links),
                Err(ReadError::NotRegular("a FIFO"))
            ));
            assert!(matches!(
                read_regular(dir.path(), 10, links),
                Err(ReadError::NotRegular("a directory"))
            ));
            assert!(matches!(
                read_regular(Path::new("/dev/zero"), 10, links),
                Err(ReadError::NotRegular("a device"))
            ));
            assert!(matches!(
                read_regular(&dir.path().join("missing"), 10, links),
                Err(ReadError::NotFound)
            ));
        }
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn links_are_followed_only_when_asked_and_sizes_capped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        let link = dir.path().join("l");
        symlink(&file, &link);
        assert_eq!(read_regular(&link, 5, Links::Follow).unwrap(), b"12345");
        assert!(matches!(
            read_regular(&link, 5, Links::Refuse),
            Err(ReadError::NotRegular("a symbolic link"))
        ));
        assert!(matches!(
            read_regular(&file, 4, Links::Refuse),
            Err(ReadError::TooLarge(4))
        ));
        // A link to a FIFO is still a FIFO.
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let to_fifo = dir.path().join("to-fifo");
        symlink(&fifo, &to_fifo);
        assert!(matches!(
            read_regular(&to_fifo, 5, Links::Follow),
            Err(ReadError::NotRegular("a FIFO"))
        ));
    }
}
