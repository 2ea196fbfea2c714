//! The manifest parser and its interpretation never panic, and a refusal
//! is one line.
#![no_main]

use credbox::manifest::{LoadedManifest, parse};
use credbox::{Overrides, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Err(message) => assert!(!message.contains('\n'), "{message}"),
        Ok(mut manifest) => {
            // Hermetic: no file is read.
            manifest.network.ca_bundle = None;
            let loaded = LoadedManifest {
                manifest,
                path: None,
            };
            if let Err(e) = Policy::from_manifest(&loaded, &Overrides::default()) {
                assert!(!e.to_string().contains('\n'), "{e}");
                assert_eq!(e.exit_code(), 2);
            }
        }
    }
});
