//! A private key file, identified without reading it: a `[keys]` file
//! (see [`super`]) or a client certificate's key (see
//! [`crate::policy::network::tls`]).
//!
//! [`KeyFile::check`] costs one `stat`, on every call, cache hits
//! included: like ssh with a private key, credbox refuses a key file that
//! its group or others may read or write (`chmod 600` it) or that another
//! user owns, and one that is not a regular file within its cap. The
//! file's identity for the cache key is its [`FileStamp`] (device, inode,
//! size, modification and change times, as the component is identified),
//! which any rewrite, replacement or `chmod` changes; for a file changed
//! in the last [`RACY_WINDOW`](crate::fingerprint::RACY_WINDOW), whose stamp may not have moved yet, the
//! file is read and its identity is a SHA-256 of its contents under a
//! domain-separation prefix. [`KeyFile::read`] reads it, as every file
//! credbox reads ([`crate::files`]), when its key is used.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::files::{self, Links, ReadError};
use crate::fingerprint::{Fingerprint, Fingerprinter, stamp_is_settled};
use crate::platform::{self, Exposure, FileStamp, Owners};
use crate::redact::clip;

/// A private key file, identified without reading it: a `[keys]` file or
/// a client certificate's key (see [`crate::policy::network::tls`]).
///
/// [`KeyFile::check`] costs one `stat`, on every call: the file must be a
/// regular file of at most its cap, owned by this user (or root) and
/// closed to group and others, as ssh demands of a private key. Its
/// identity for the cache key is its [`FileStamp`], which any rewrite,
/// replacement or `chmod` changes; for a file changed in the last
/// [`RACY_WINDOW`](crate::fingerprint::RACY_WINDOW), whose stamp may not have moved, the file is read and
/// its identity is a SHA-256 of its contents under a domain-separation
/// prefix. [`KeyFile::read`] reads it, when its key is used. `Debug`
/// shows the path and identity, never the contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    path: PathBuf,
    cap: u64,
    identity: FileIdentity,
}

/// What identifies a key file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileIdentity {
    /// Its stamp, settled.
    Stamp(FileStamp),
    /// SHA-256 of its contents under a prefix: the file changed too
    /// recently for its stamp to be trusted.
    Contents([u8; 32]),
}

impl KeyFile {
    /// Checks the private key file at `path`, of at most `cap` bytes.
    /// `Err` names the file and what is wrong, never its contents.
    pub fn check(path: &Path, cap: u64) -> Result<KeyFile, String> {
        KeyFile::check_at(path, cap, SystemTime::now())
    }

    /// [`KeyFile::check`] with the time it is now.
    pub(super) fn check_at(path: &Path, cap: u64, now: SystemTime) -> Result<KeyFile, String> {
        let shown = clip(&path.display().to_string());
        let cannot = |e: ReadError| format!("cannot read {shown}: {e}");
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => cannot(ReadError::NotFound),
            _ => cannot(ReadError::Io(e)),
        })?;
        if !meta.is_file() {
            return Err(cannot(ReadError::NotRegular(files::kind_name(
                &meta.file_type(),
            ))));
        }
        check_private(path, &meta, &shown)?;
        if meta.len() > cap {
            return Err(cannot(ReadError::TooLarge(cap)));
        }
        let stamp = FileStamp::of(&meta);
        let identity = match stamp_is_settled(&stamp, now) {
            true => FileIdentity::Stamp(stamp),
            false => {
                let mut hash = Sha256::new();
                hash.update(b"credbox key file v1\0");
                hash.update(read_private(path, cap)?.as_slice());
                FileIdentity::Contents(hash.finalize().into())
            }
        };
        Ok(KeyFile {
            path: path.to_owned(),
            cap,
            identity,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads it whole, checking again on the opened file that it is a
    /// private regular file within its cap. `Err` names the file, never
    /// its contents.
    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        read_private(&self.path, self.cap)
    }
}

/// Reads a private key file: a regular file of at most `cap` bytes, owned
/// by this user (or root) and closed to group and others, as ssh demands
/// of a private key. `Err` names the file, never its contents.
fn read_private(path: &Path, cap: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    let shown = clip(&path.display().to_string());
    let (file, meta) = files::open_regular(path, Links::Follow)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    check_private(path, &meta, &shown)?;
    files::read_capped(file, &meta, cap)
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot read {shown}: {e}"))
}

/// `Err` when the private key file at `path` (which `meta` describes,
/// `shown` as its name) is open to group or others, or belongs to another
/// user.
fn check_private(path: &Path, meta: &std::fs::Metadata, shown: &str) -> Result<(), String> {
    match platform::exposure(path, meta, Owners::MeOrAdmin) {
        None => Ok(()),
        Some(Exposure::OpenToOthers { access, .. }) => Err(format!(
            "{shown} is readable or writable by group or others ({} {access}): \
             a private key must not be; run `{}`",
            platform::ACCESS_NOUN,
            platform::restrict_command(Path::new(shown), false)
        )),
        Some(Exposure::OtherOwner { owner, .. }) => Err(format!(
            "{shown} belongs to another user ({owner}): a private key must be the user's own"
        )),
    }
}

impl Fingerprint for KeyFile {
    /// Its identity, not its place.
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let KeyFile {
            path: _,
            cap: _,
            identity,
        } = self;
        match identity {
            FileIdentity::Stamp(stamp) => f.field("stamp", &stamp.to_string()),
            FileIdentity::Contents(digest) => f.field("contents", digest.as_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::super::tests::{
        ES256_PUBLIC, hex, key_dir, later, of, policy_at, policy_with, testdata,
    };
    use super::super::{Algorithm, MAX_KEY_FILE_SIZE};
    use crate::error::Error;
    use crate::platform::testing::set_mode;

    #[test]
    fn key_files_open_to_others_are_refused_as_ssh_does() {
        let dir = key_dir();
        let path = dir.path().join("es256.pem");
        for mode in [0o640, 0o604, 0o620, 0o644] {
            set_mode(&path, mode);
            let err = policy_with(
                "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
                dir.path(),
                &[],
            )
            .unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "[keys.k] file: {} is readable or writable by group or others (mode {mode:03o})",
                    path.display()
                )),
                "{err}"
            );
            assert!(err.ends_with(&format!("run `chmod 600 {}`", path.display())));
            // Settled, as on a cache hit: the stat still refuses it.
            let settled = policy_at(
                "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
                dir.path(),
                &[],
                later(),
            )
            .unwrap_err();
            assert_eq!(settled, err);
        }
        set_mode(&path, 0o400);
        policy_with(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
            dir.path(),
            &[],
        )
        .unwrap();
    }

    #[test]
    fn key_files_are_regular_files_of_at_most_64_kib() {
        let dir = key_dir();
        let table =
            |file: &str| format!("[keys.k]\nalgorithm = \"hmac-sha256\"\nfile = \"{file}\"\n");
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        let err = policy_with(&table("folder"), dir.path(), &[]).unwrap_err();
        assert!(
            err.ends_with("it is a directory, not a regular file"),
            "{err}"
        );
        let big = dir.path().join("big.key");
        std::fs::write(&big, vec![b'k'; MAX_KEY_FILE_SIZE as usize + 1]).unwrap();
        set_mode(&big, 0o600);
        let err = policy_with(&table("big.key"), dir.path(), &[]).unwrap_err();
        assert!(err.ends_with("it is larger than 64 KiB"), "{err}");
        std::fs::write(&big, vec![b'k'; MAX_KEY_FILE_SIZE as usize]).unwrap();
        let keys = policy_with(&table("big.key"), dir.path(), &[]).unwrap();
        assert_eq!(
            keys.sign("k", Algorithm::HmacSha256, b"x").unwrap().len(),
            32
        );
        // A FIFO is refused without waiting for a writer.
        crate::platform::testing::make_fifo(&dir.path().join("fifo"));
        let err = policy_at(&table("fifo"), dir.path(), &[], later()).unwrap_err();
        assert!(err.ends_with("it is a FIFO, not a regular file"), "{err}");
    }

    #[test]
    fn a_key_file_is_identified_by_its_stamp_or_just_changed_by_its_contents() {
        let dir = key_dir();
        let path = dir.path().join("hmac.key");
        let text = "[keys.k]\nalgorithm = \"hmac-sha256\"\nfile = \"hmac.key\"\n";
        let at = |now| of(&policy_at(text, dir.path(), &[], now).unwrap());
        let first = at(later());
        assert_eq!(at(later()), first, "stable");
        // Rewritten in place with the same size, and its modification
        // time set back: the change time alone tells (the file system's
        // clock is coarse: let it tick first).
        let before = std::fs::read(&path).unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut after = before.clone();
        after[0] ^= 1;
        std::fs::write(&path, &after).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        let second = at(later());
        assert_ne!(second, first, "rewritten in place, same size");
        let keys = policy_at(text, dir.path(), &[], later()).unwrap();
        let mac = keys.sign("k", Algorithm::HmacSha256, b"x").unwrap();
        let expected = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&after)
            .unwrap()
            .chain_update(b"x")
            .finalize()
            .into_bytes();
        assert_eq!(
            mac,
            expected.to_vec(),
            "signed with what the file holds now"
        );

        // Just changed, the stamp is not trusted: the contents are the
        // identity, read (not parsed) and hashed.
        let now = SystemTime::now();
        std::fs::write(dir.path().join("copy.key"), &after).unwrap();
        set_mode(&dir.path().join("copy.key"), 0o600);
        let copy = "[keys.k]\nalgorithm = \"hmac-sha256\"\nfile = \"copy.key\"\n";
        let recent = at(now);
        assert_ne!(recent, second, "by contents, not by stamp");
        assert_eq!(
            of(&policy_at(copy, dir.path(), &[], now).unwrap()),
            recent,
            "the same contents in another file"
        );
        std::fs::write(&path, &before).unwrap();
        assert_ne!(at(SystemTime::now()), recent, "other contents");
        let garbage = dir.path().join("es.pem");
        std::fs::write(&garbage, "garbage").unwrap();
        set_mode(&garbage, 0o600);
        policy_at(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es.pem\"\n",
            dir.path(),
            &[],
            SystemTime::now(),
        )
        .unwrap();
    }

    #[test]
    fn a_cache_hit_neither_reads_nor_parses_a_key_file() {
        let dir = key_dir();
        let path = dir.path().join("assertion.pem");
        std::fs::write(&path, "not a key at all\n").unwrap();
        set_mode(&path, 0o600);
        let text = "[keys.k]\nalgorithm = \"es256\"\nfile = \"assertion.pem\"\n";
        // What a hit builds, the policy and its part of the cache key,
        // from the file's stamp: its garbage is not noticed.
        let keys = policy_at(text, dir.path(), &[], later()).unwrap();
        let garbage = of(&keys);
        assert_eq!(
            garbage,
            of(&policy_at(text, dir.path(), &[], later()).unwrap())
        );
        // The first use reads and parses it, and says what is wrong.
        let expected = format!(
            "[keys.k] file: {}: expected a PEM PRIVATE KEY or EC PRIVATE KEY block",
            path.display()
        );
        match keys.sign("k", Algorithm::Es256, b"header.claims") {
            Err(Error::Usage(message)) => assert_eq!(message, expected),
            other => panic!("not a usage error: {other:?}"),
        }
        assert_eq!(keys.load().unwrap_err(), expected);

        // A file its owner may not read (write-only): a hit does not open
        // it. (Root reads it all the same: nothing to show then.)
        set_mode(&path, 0o200);
        if std::fs::read(&path).is_err() {
            let keys = policy_at(text, dir.path(), &[], later()).unwrap();
            assert_ne!(of(&keys), garbage, "chmod changes the stamp");
            let e = keys.load().unwrap_err();
            assert!(
                e.starts_with(&format!("[keys.k] file: cannot read {}: ", path.display())),
                "{e}"
            );
        }
        set_mode(&path, 0o600);

        // A good key put in its place is another key: a miss, which reads
        // it.
        let new = dir.path().join("new.pem");
        std::fs::copy(testdata("es256.pem"), &new).unwrap();
        set_mode(&new, 0o600);
        std::fs::rename(&new, &path).unwrap();
        let fixed = policy_at(text, dir.path(), &[], later()).unwrap();
        assert_ne!(of(&fixed), garbage, "replaced");
        fixed.load().unwrap();
        assert_eq!(
            hex(&fixed.info("k").unwrap().public_key.unwrap()),
            ES256_PUBLIC
        );
        assert_eq!(
            fixed
                .sign("k", Algorithm::Es256, b"header.claims")
                .unwrap()
                .len(),
            64
        );
    }
}
