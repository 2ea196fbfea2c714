//! Fingerprints: a SHA-256 over everything that could change a helper's
//! answer, from which the credential cache derives its keys.
//!
//! Each policy part, and the request, implements [`Fingerprint`] in its own
//! module by destructuring itself without `..`: a field added to any of
//! them does not compile until its `fingerprint` says whether the field is
//! part of the key. A configuration therefore cannot be answered with a
//! credential fetched under another one because a field was forgotten.
//!
//! Every value is written with a label and its length, so that no two
//! different sequences of fields hash the same bytes.
//!
//! A file a hit must not read (a `[keys]` file, a client certificate's
//! key) is identified by its [`FileStamp`] once it has settled
//! ([`stamp_is_settled`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::platform::FileStamp;

/// How recently a file may have changed for its [`FileStamp`] not to be
/// trusted as its identity: two writes within one tick of the file
/// system's clock can leave the same times, so, as git does with its
/// index, a file changed this recently is identified by its contents.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Whether `stamp` identifies its file's contents at `now`: the file last
/// changed at least [`RACY_WINDOW`] before `now`.
pub fn stamp_is_settled(stamp: &FileStamp, now: SystemTime) -> bool {
    stamp
        .changed()
        .and_then(|changed| now.duration_since(changed).ok())
        .is_some_and(|age| age >= RACY_WINDOW)
}

/// Something that feeds its identity into a [`Fingerprinter`].
pub trait Fingerprint {
    /// Writes every part of `self` that could change a credential.
    fn fingerprint(&self, f: &mut Fingerprinter);
}

/// Accumulates labelled, length-prefixed fields into a SHA-256.
pub struct Fingerprinter {
    hasher: Sha256,
}

impl Fingerprinter {
    /// A fingerprint whose first field is `domain` (what it is for, and the
    /// version of its layout).
    pub fn new(domain: &str) -> Fingerprinter {
        let mut f = Fingerprinter {
            hasher: Sha256::new(),
        };
        f.bytes(domain.as_bytes());
        f
    }

    /// Writes one length-prefixed run of bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    /// Writes `label`, then `value`.
    pub fn field<T: Fingerprint + ?Sized>(&mut self, label: &str, value: &T) {
        self.bytes(label.as_bytes());
        value.fingerprint(self);
    }

    /// The fingerprint as lowercase hex.
    pub fn finish(self) -> String {
        format!("{:x}", self.hasher.finalize())
    }
}

impl<T: Fingerprint + ?Sized> Fingerprint for &T {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        (**self).fingerprint(f);
    }
}

impl Fingerprint for str {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(self.as_bytes());
    }
}

impl Fingerprint for String {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(self.as_bytes());
    }
}

impl Fingerprint for [u8] {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(self);
    }
}

impl Fingerprint for u64 {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(&self.to_le_bytes());
    }
}

impl Fingerprint for Duration {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(&self.as_nanos().to_le_bytes());
    }
}

impl Fingerprint for Path {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(self.as_os_str().as_encoded_bytes());
    }
}

impl Fingerprint for PathBuf {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        self.as_path().fingerprint(f);
    }
}

impl<T: Fingerprint> Fingerprint for Option<T> {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        match self {
            // A tag byte of its own, so `None` differs from `Some("")`.
            None => f.bytes(b"\0none"),
            Some(value) => {
                f.bytes(b"\0some");
                value.fingerprint(f);
            }
        }
    }
}

impl<T: Fingerprint> Fingerprint for [T] {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        (self.len() as u64).fingerprint(f);
        for item in self {
            item.fingerprint(f);
        }
    }
}

impl<T: Fingerprint> Fingerprint for Vec<T> {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        self.as_slice().fingerprint(f);
    }
}

impl<A: Fingerprint, B: Fingerprint> Fingerprint for (A, B) {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        self.0.fingerprint(f);
        self.1.fingerprint(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of<T: Fingerprint + ?Sized>(value: &T) -> String {
        let mut f = Fingerprinter::new("test");
        value.fingerprint(&mut f);
        f.finish()
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        assert_ne!(
            of(&("ab".to_owned(), "c".to_owned())),
            of(&("a".to_owned(), "bc".to_owned()))
        );
        assert_ne!(of(&None::<String>), of(&Some(String::new())));
        assert_ne!(
            of(&vec!["a".to_owned()]),
            of(&vec!["a".to_owned(), String::new()])
        );
        assert_eq!(of("same"), of("same"));
        assert_eq!(of("x").len(), 64);
    }

    #[test]
    fn a_stamp_settles_two_seconds_after_the_last_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let stamp = FileStamp::of(&std::fs::metadata(&path).unwrap());
        let changed = stamp.changed().unwrap();
        assert!(!stamp_is_settled(&stamp, changed));
        assert!(!stamp_is_settled(&stamp, changed + RACY_WINDOW / 2));
        assert!(stamp_is_settled(&stamp, changed + RACY_WINDOW));
        // A clock behind the file's change time trusts nothing.
        assert!(!stamp_is_settled(&stamp, changed - RACY_WINDOW));
    }
}
