//! Allowlist entries: parsing never panics; a parsed entry's canonical form
//! parses back to the same entry; an error message is bounded whatever the
//! entry's length.
#![no_main]

use credbox::policy::network::allow::AllowEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: String| {
    match AllowEntry::parse(&text) {
        Ok(entry) => {
            let canonical = entry.to_string();
            assert_eq!(AllowEntry::parse(&canonical).as_ref(), Ok(&entry), "{canonical}");
        }
        Err(message) => {
            assert!(message.len() < 1024, "{} bytes", message.len());
            assert!(!message.contains('\n'));
        }
    }
});
