//! Host-kept state: which helper it belongs to, and where it is kept.
//!
//! The manifest's `[state]` table chooses the store; the helper's identity
//! is its manifest file (see [`crate::state`] for what that means). A bare
//! component, run without a manifest, has no identity and so no state.

use std::path::{Path, PathBuf};

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::{StateTable, StoreChoice};

/// Where a helper's state lives, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePolicy {
    /// The manifest's path, made absolute (not yet canonical: that is done
    /// when the state is opened, see [`crate::state::HelperId`]). `None`
    /// for a bare component, which gets no state.
    pub manifest: Option<PathBuf>,
    /// The store the manifest chose.
    pub store: StoreChoice,
}

impl StatePolicy {
    /// The policy of a manifest at `manifest` (`None`: a bare component)
    /// with this `[state]` table.
    pub fn from_config(table: &StateTable, manifest: Option<&Path>) -> Result<StatePolicy, String> {
        let manifest = manifest
            .map(|path| {
                std::path::absolute(path)
                    .map_err(|e| format!("[state]: cannot make {} absolute: {e}", path.display()))
            })
            .transpose()?;
        Ok(StatePolicy {
            manifest,
            store: table.store.unwrap_or_default(),
        })
    }
}

impl Fingerprint for StatePolicy {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let StatePolicy { manifest, store } = self;
        // Two manifests with the same name and settings may be logged in
        // as different users: their credentials must not share a cache
        // entry. The absolute path costs no system call; two paths to one
        // manifest only miss each other's entries.
        f.field("manifest", manifest);
        f.field(
            "store",
            match store {
                StoreChoice::Keystore => "keystore",
                StoreChoice::File => "file",
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_gets_an_absolute_identity_and_a_bare_component_none() {
        let p = StatePolicy::from_config(&StateTable::default(), Some(Path::new("h/credbox.toml")))
            .unwrap();
        let manifest = p.manifest.unwrap();
        assert!(manifest.is_absolute(), "{}", manifest.display());
        assert!(manifest.ends_with("h/credbox.toml"));
        assert_eq!(p.store, StoreChoice::Keystore);
        let bare = StatePolicy::from_config(
            &StateTable {
                store: Some(StoreChoice::File),
            },
            None,
        )
        .unwrap();
        assert_eq!(bare.manifest, None);
        assert_eq!(bare.store, StoreChoice::File);
    }
}
