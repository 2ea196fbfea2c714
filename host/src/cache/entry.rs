//! The stored entry: its file format (v3), its parts, and the invariants
//! every entry credbox writes keeps.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key::CacheKey;
use crate::validation::Credential;

/// Version of the entry format; entries of another version are misses.
pub(super) const ENTRY_VERSION: u32 = 3;

/// A cached credential, validated, in the typed form every client renders
/// (so that one credential serves each client that can use it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    /// The credential, checked again on every hit.
    pub credential: Credential,
    /// When it was fetched (Unix ms).
    pub created_ms: u64,
    /// From when the helper is run again ahead of expiry (Unix ms).
    pub refresh_ms: u64,
    /// When it stops being served (Unix ms), stale-if-error aside.
    pub expires_ms: u64,
    /// Whether `expires_ms` was already moved to the end of a
    /// `stale_if_error` window: a window is granted once, counted from the
    /// credential's own expiry, never chained by later failures.
    #[serde(default)]
    pub stale: bool,
}

/// A remembered failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The error's message, already redacted.
    pub message: String,
    /// The error's exit code.
    pub exit_code: u8,
    /// What the error said to do (its hint, already redacted), so that a
    /// remembered failure says it too; empty in records older than it.
    #[serde(default)]
    pub hint: String,
    /// Whether it was transient (`unavailable` or a deadline), so a stale
    /// credential may stand in.
    pub transient: bool,
    /// Failures in a row.
    pub count: u32,
    /// When the last one happened (Unix ms).
    pub at_ms: u64,
    /// Until when calls fail at once (Unix ms).
    pub retry_ms: u64,
}

/// One cache file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// [`ENTRY_VERSION`].
    pub version: u32,
    /// The helper's name, for `credbox status` and `credbox cache clear`.
    pub helper: String,
    /// The last good credential, if any.
    pub credential: Option<Stored>,
    /// The last failure since that credential, if any.
    pub failure: Option<Failure>,
}

/// Start of every entry file: the format's name, then the hex SHA-256 of
/// the key and the JSON that follow the newline.
const ENTRY_MAGIC: &[u8] = b"credbox-entry-v3 ";
/// Largest entry file read: a credential is at most 16 KiB of headers,
/// JSON-escaped twice.
pub(super) const MAX_ENTRY_SIZE: u64 = 1 << 20;
/// Longest span from a credential's creation to its expiry that an entry
/// may record: the longest TTL plus the longest stale window.
const MAX_SPAN: Duration = Duration::from_secs(
    crate::policy::cache::MAX_TTL.as_secs() + crate::policy::cache::MAX_STALE_IF_ERROR.as_secs(),
);

impl Entry {
    /// The file's bytes for the entry of `key`: a checksum over the key
    /// and the entry, then the entry as JSON. The key is in the checksum so
    /// that an entry copied under another key's name is refused.
    pub fn encode(&self, key: &CacheKey) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("an entry always encodes");
        let mut out = Vec::with_capacity(ENTRY_MAGIC.len() + 65 + json.len());
        out.extend_from_slice(ENTRY_MAGIC);
        out.extend_from_slice(entry_digest(key, &json).as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&json);
        out
    }

    /// The entry of `key` in a file's `bytes`, or `None` unless its
    /// checksum matches, it parses, and it passes [`Entry::is_sound`]:
    /// anything else was not stored by credbox for this key.
    pub fn decode(bytes: &[u8], key: &CacheKey) -> Option<Entry> {
        let rest = bytes.strip_prefix(ENTRY_MAGIC)?;
        let (digest, rest) = rest.split_at_checked(64)?;
        let json = rest.strip_prefix(b"\n")?;
        if digest != entry_digest(key, json).as_bytes() {
            return None;
        }
        let entry: Entry = serde_json::from_slice(json).ok()?;
        entry.is_sound().then_some(entry)
    }

    /// The invariants every entry credbox writes keeps: its version; a
    /// credential that is printable for its format, with `created <=
    /// refresh <= expires` over a bounded span; a failure with the exit
    /// code of a remembered failure (never 0), at least one failure, and a
    /// bounded backoff.
    pub fn is_sound(&self) -> bool {
        let helper_ok = !self.helper.is_empty()
            && self.helper.len() <= 1024
            && !self.helper.chars().any(char::is_control);
        let credential_ok = self.credential.as_ref().is_none_or(|c| {
            c.created_ms <= c.refresh_ms
                && c.refresh_ms <= c.expires_ms
                && c.expires_ms - c.created_ms <= ms(MAX_SPAN)
                && crate::validation::check(&c.credential).is_ok()
        });
        let failure_ok = self.failure.as_ref().is_none_or(|f| {
            (3..=10).contains(&f.exit_code)
                && (!f.transient || matches!(f.exit_code, 5 | 6))
                && f.count >= 1
                && f.at_ms <= f.retry_ms
                && f.retry_ms - f.at_ms <= ms(crate::policy::cache::MAX_BACKOFF)
                && !f.message.is_empty()
                && f.message.len() <= 4096
        });
        self.version == ENTRY_VERSION && helper_ok && credential_ok && failure_ok
    }
}

/// Lowercase hex SHA-256 of the key, a newline and the entry's JSON.
fn entry_digest(key: &CacheKey, json: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(json);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `d` in whole milliseconds, the unit of an entry's times (saturating).
pub(super) fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::testing::{FRESH, fresh, policy};
    use crate::request::Request;

    #[test]
    fn only_what_credbox_stored_for_the_key_is_read_back() {
        let key = CacheKey::new(&policy(), "aa", &Request::default(), &[]);
        let other = CacheKey::new(&policy(), "ab", &Request::default(), &[]);
        let entry = fresh(FRESH, 1_000);
        let bytes = entry.encode(&key);
        assert_eq!(Entry::decode(&bytes, &key), Some(entry.clone()));
        assert_eq!(Entry::decode(&bytes, &other), None, "another key's entry");
        for cut in [0, 1, 20, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(Entry::decode(&bytes[..cut], &key), None, "cut at {cut}");
        }
        for i in 0..bytes.len() {
            for bit in [0x01, 0x20, 0x80] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                assert_eq!(Entry::decode(&flipped, &key), None, "byte {i} ^ {bit:#x}");
            }
        }

        // Unsound entries, even with a right checksum.
        let failure = Failure {
            message: "unavailable: down".into(),
            exit_code: 5,
            hint: String::new(),
            transient: true,
            count: 1,
            at_ms: 1_000,
            retry_ms: 6_000,
        };
        let stored = entry.credential.clone().unwrap();
        let unsound: Vec<(&str, Entry)> = vec![
            (
                "a failure with exit 0",
                Entry {
                    failure: Some(Failure {
                        exit_code: 0,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "a usage error",
                Entry {
                    failure: Some(Failure {
                        exit_code: 2,
                        transient: false,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "transient denied",
                Entry {
                    failure: Some(Failure {
                        exit_code: 4,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "no failures",
                Entry {
                    failure: Some(Failure {
                        count: 0,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "retry before the failure",
                Entry {
                    failure: Some(Failure {
                        retry_ms: 999,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "endless backoff",
                Entry {
                    failure: Some(Failure {
                        retry_ms: u64::MAX,
                        ..failure.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "refresh after expiry",
                Entry {
                    credential: Some(Stored {
                        refresh_ms: stored.expires_ms + 1,
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "created after refresh",
                Entry {
                    credential: Some(Stored {
                        created_ms: stored.refresh_ms + 1,
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "endless life",
                Entry {
                    credential: Some(Stored {
                        expires_ms: u64::MAX,
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "an injected header",
                Entry {
                    credential: Some(Stored {
                        credential: Credential {
                            headers: vec![("A".into(), "x\r\nX-Injected: 1".into())],
                            ..Credential::default()
                        },
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "an empty credential",
                Entry {
                    credential: Some(Stored {
                        credential: Credential::default(),
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "a token with a newline",
                Entry {
                    credential: Some(Stored {
                        credential: Credential {
                            token: Some("abc\nprotocol=http".into()),
                            ..Credential::default()
                        },
                        ..stored.clone()
                    }),
                    ..entry.clone()
                },
            ),
            (
                "another version",
                Entry {
                    version: 1,
                    ..entry.clone()
                },
            ),
            (
                "a control character in the name",
                Entry {
                    helper: "a\x1b[2J".into(),
                    ..entry.clone()
                },
            ),
        ];
        for (what, entry) in unsound {
            assert!(!entry.is_sound(), "{what}");
            assert_eq!(Entry::decode(&entry.encode(&key), &key), None, "{what}");
        }
        let with_failure = Entry {
            failure: Some(failure),
            ..entry
        };
        assert!(with_failure.is_sound());
    }
}
