//! The cache-entry reader never panics, and reads back only sound entries:
//! any file decodes to nothing or to an entry that passes its invariants
//! and survives encoding and decoding again.
#![no_main]

use credbox::cache::{CacheKey, Entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = CacheKey::parse(&"ab".repeat(32)).unwrap();
    if let Some(entry) = Entry::decode(data, &key) {
        assert!(entry.is_sound());
        assert_eq!(Entry::decode(&entry.encode(&key), &key), Some(entry));
    }
    // The JSON behind a correct checksum: what a damaged entry that kept
    // (or a planted one that recomputed) its checksum would hold.
    if let Ok(entry) = serde_json::from_slice::<Entry>(data) {
        let decoded = Entry::decode(&entry.encode(&key), &key);
        assert_eq!(decoded.is_some(), entry.is_sound());
        if let Some(decoded) = decoded {
            assert_eq!(decoded, entry);
        }
    }
});
