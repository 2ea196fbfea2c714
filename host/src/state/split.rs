//! Values longer than one keystore item may hold, kept in parts.
//!
//! The Windows Credential Manager keeps at most 2,560 bytes in a
//! credential ([`crate::platform::KEYSTORE_ITEM_MAX`]), and a refresh
//! token (a JWT with its claims) can be longer; a helper's value may be up
//! to [`super::MAX_VALUE_LEN`]. [`Split`] wraps such a store: a value that
//! fits is one item, as on every other store; a longer one is written as
//! parts of at most the limit (`Key::Part`: name, generation, index),
//! then a **head** in the name's own item that says which generation, how
//! many parts, how long the value is and its SHA-256.
//!
//! The head is written last and is the commit: a write cut short (a full
//! store, a killed process) leaves the head of the previous generation,
//! whose parts are still there, so the value read is the old one whole,
//! never a mix. The parts of the previous generation are removed after
//! the new head is written; parts that do not match their head (changed
//! by hand) are reported as damaged, never returned.
//!
//! A head begins with a byte that is not UTF-8 ([`HEAD`]): no value a
//! helper stores (always UTF-8) can be taken for one.

use super::{Backend, Key};
use crate::error::{Error, Result};
use crate::units::hex_sha256;

/// How a head begins: `0xFF` (never in UTF-8) and a name.
const HEAD: &[u8] = b"\xffcredbox-parts ";

/// Longest head: [`HEAD`], four numbers and a SHA-256 in hex.
const MAX_HEAD_LEN: usize = 160;

/// A store whose items hold at most `limit` bytes, made to keep values up
/// to any length in parts.
pub(super) struct Split<B> {
    inner: B,
    limit: usize,
}

/// What a head says.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    generation: u64,
    parts: usize,
    len: usize,
    sha256: String,
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = HEAD.to_vec();
        bytes.extend_from_slice(
            format!(
                "{} {} {} {}",
                self.generation, self.parts, self.len, self.sha256
            )
            .as_bytes(),
        );
        bytes
    }

    /// The head in `bytes`, `None` when they are a value of their own, an
    /// error when they begin as a head but are not one.
    fn decode(bytes: &[u8], name: &str) -> Result<Option<Head>> {
        let Some(rest) = bytes.strip_prefix(HEAD) else {
            return Ok(None);
        };
        let fields: Vec<&str> = std::str::from_utf8(rest)
            .map_err(|_| damaged(name))?
            .split(' ')
            .collect();
        let [generation, parts, len, sha256] = fields[..] else {
            return Err(damaged(name));
        };
        let number = |text: &str| text.parse::<u64>().map_err(|_| damaged(name));
        let sha256 = sha256.to_owned();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(damaged(name));
        }
        Ok(Some(Head {
            generation: number(generation)?,
            parts: usize::try_from(number(parts)?).map_err(|_| damaged(name))?,
            len: usize::try_from(number(len)?).map_err(|_| damaged(name))?,
            sha256,
        }))
    }
}

/// A value whose parts do not match its head: not returned, and the way
/// out named.
fn damaged(name: &str) -> Error {
    Error::Misconfigured(format!(
        "the keystore item {name} is damaged (its parts do not match); \
         run `credbox logout` and log in again"
    ))
}

impl<B: Backend> Split<B> {
    /// `inner`, whose items hold at most `limit` bytes (more than a head).
    pub(super) fn new(inner: B, limit: usize) -> Split<B> {
        assert!(
            limit > MAX_HEAD_LEN,
            "a limit of {limit} cannot hold a head"
        );
        Split { inner, limit }
    }

    /// The head kept under `name`, if its value is in parts.
    fn head(&self, name: &str, cap: usize) -> Result<Option<Head>> {
        match self.inner.read(Key::Name(name), cap.max(MAX_HEAD_LEN))? {
            Some(bytes) => Head::decode(&bytes, name),
            None => Ok(None),
        }
    }

    /// Removes the parts `head` names; what cannot be removed stays
    /// behind, unread (a later head names other parts).
    fn remove_parts(&self, name: &str, head: &Head) {
        for index in 0..head.parts {
            let _ = self.inner.remove(Key::Part {
                name,
                generation: head.generation,
                index,
            });
        }
    }
}

impl<B: Backend> Backend for Split<B> {
    fn read(&self, key: Key<'_>, cap: usize) -> Result<Option<Vec<u8>>> {
        let Key::Name(name) = key else {
            return self.inner.read(key, cap);
        };
        let Some(bytes) = self.inner.read(key, cap.max(MAX_HEAD_LEN))? else {
            return Ok(None);
        };
        let Some(head) = Head::decode(&bytes, name)? else {
            return match bytes.len() > cap {
                true => self.inner.read(key, cap),
                false => Ok(Some(bytes)),
            };
        };
        if head.len > cap {
            return Err(Error::Misconfigured(format!(
                "the keystore item {name} holds {} bytes, more than the {cap} allowed; \
                 run `credbox logout` and log in again",
                head.len
            )));
        }
        if head.parts != head.len.div_ceil(self.limit) {
            return Err(damaged(name));
        }
        let mut value = Vec::with_capacity(head.len);
        for index in 0..head.parts {
            let part = Key::Part {
                name,
                generation: head.generation,
                index,
            };
            match self.inner.read(part, self.limit)? {
                Some(bytes) => value.extend_from_slice(&bytes),
                None => return Err(damaged(name)),
            }
        }
        if value.len() != head.len || hex_sha256(&value) != head.sha256 {
            return Err(damaged(name));
        }
        Ok(Some(value))
    }

    fn write(&self, key: Key<'_>, value: &[u8]) -> Result<()> {
        let Key::Name(name) = key else {
            return self.inner.write(key, value);
        };
        // A head that cannot be read (damaged) is replaced: its parts are
        // unreadable anyway.
        let old = self.head(name, super::MAX_VALUE_LEN).ok().flatten();
        if value.len() <= self.limit && !value.starts_with(HEAD) {
            self.inner.write(key, value)?;
        } else {
            let head = Head {
                generation: old.as_ref().map_or(1, |h| h.generation.wrapping_add(1)),
                parts: value.len().div_ceil(self.limit),
                len: value.len(),
                sha256: hex_sha256(value),
            };
            for (index, chunk) in value.chunks(self.limit).enumerate() {
                let part = Key::Part {
                    name,
                    generation: head.generation,
                    index,
                };
                self.inner.write(part, chunk)?;
            }
            self.inner.write(key, &head.encode())?;
        }
        if let Some(old) = old {
            self.remove_parts(name, &old);
        }
        Ok(())
    }

    fn remove(&self, key: Key<'_>) -> Result<()> {
        let Key::Name(name) = key else {
            return self.inner.remove(key);
        };
        let old = self.head(name, super::MAX_VALUE_LEN).ok().flatten();
        // The head first: a removal cut short leaves unread parts, never a
        // head without its parts.
        self.inner.remove(key)?;
        if let Some(old) = old {
            self.remove_parts(name, &old);
        }
        Ok(())
    }

    fn probe(&self) -> Result<()> {
        self.inner.probe()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn set_deadline(&mut self, deadline: std::time::Instant) {
        self.inner.set_deadline(deadline);
    }

    fn prepare(&self) -> Result<()> {
        self.inner.prepare()
    }

    fn cleared(&self) -> Result<()> {
        self.inner.cleared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::Memory;

    const LIMIT: usize = 2560;

    fn split() -> Split<Memory> {
        Split::new(Memory::default(), LIMIT)
    }

    fn value(len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (i % 26) as u8).collect()
    }

    #[test]
    fn values_over_the_limit_are_kept_in_parts_and_read_back_whole() {
        let store = split();
        for len in [0, 1, LIMIT, LIMIT + 1, 2 * LIMIT, 16 << 10] {
            let v = value(len);
            store.write(Key::Name("token"), &v).unwrap();
            assert_eq!(store.read(Key::Name("token"), 16 << 10).unwrap(), Some(v));
            // No item holds more than the store's limit.
            let items = store.inner.items();
            assert!(items.values().all(|i| i.len() <= LIMIT), "{len}");
            // Parts of earlier generations are gone: a head and its parts.
            let parts = items.keys().filter(|k| k.contains("part")).count();
            assert_eq!(parts, if len > LIMIT { len.div_ceil(LIMIT) } else { 0 });
        }
    }

    #[test]
    fn removing_a_value_in_parts_removes_its_parts() {
        let store = split();
        store.write(Key::Name("token"), &value(3 * LIMIT)).unwrap();
        store.remove(Key::Name("token")).unwrap();
        assert!(store.inner.items().is_empty(), "{:?}", store.inner.items());
        assert_eq!(store.read(Key::Name("token"), 16 << 10).unwrap(), None);
    }

    #[test]
    fn a_write_cut_short_leaves_the_previous_value_whole() {
        let store = split();
        let old = value(2 * LIMIT + 7);
        store.write(Key::Name("token"), &old).unwrap();
        // The store fills up after the first part of the new value.
        store.inner.fail_writes_after(1);
        let new: Vec<u8> = value(3 * LIMIT).iter().map(|b| b ^ 0x20).collect();
        assert!(store.write(Key::Name("token"), &new).is_err());
        assert_eq!(store.read(Key::Name("token"), 16 << 10).unwrap(), Some(old));
    }

    #[test]
    fn parts_that_do_not_match_their_head_are_damaged_not_returned() {
        let store = split();
        store.write(Key::Name("token"), &value(2 * LIMIT)).unwrap();
        let part = store
            .inner
            .items()
            .into_keys()
            .find(|k| k.contains("part"))
            .unwrap();
        store.inner.put(&part, b"tampered");
        let err = store.read(Key::Name("token"), 16 << 10).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("token is damaged"), "{err}");
        assert!(!err.to_string().contains("abcdef"), "{err}");
    }

    #[test]
    fn a_value_that_looks_like_a_head_is_kept_in_parts_not_taken_for_one() {
        let store = split();
        let mut v = HEAD.to_vec();
        v.extend_from_slice(b"1 1 3 abc");
        store.write(Key::Name("token"), &v).unwrap();
        assert_eq!(store.read(Key::Name("token"), 16 << 10).unwrap(), Some(v));
    }

    #[test]
    fn the_cap_holds_for_values_in_parts() {
        let store = split();
        store.write(Key::Name("token"), &value(3 * LIMIT)).unwrap();
        let err = store.read(Key::Name("token"), 2 * LIMIT).unwrap_err();
        assert!(
            err.to_string().contains("more than the 5120 allowed"),
            "{err}"
        );
    }
}
