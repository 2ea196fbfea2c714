//! Configuration values handed to the helper through `get-config`.
//!
//! They come from the manifest's `[config]` table and `--config KEY=VALUE`
//! flags (flags win). A name missing there falls back to an allowlisted
//! environment variable (see [`super::env`]).

use std::collections::BTreeMap;

use crate::fingerprint::{Fingerprint, Fingerprinter};

/// The `[config]` values in force for one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfigPolicy {
    values: BTreeMap<String, String>,
}

impl ConfigPolicy {
    /// Builds the set from a manifest's `[config]` table.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        ConfigPolicy { values }
    }

    /// Sets one value from a `KEY=VALUE` flag. The error never repeats the
    /// value, which may be a secret.
    pub fn set_from_flag(&mut self, flag: &str) -> Result<(), String> {
        match flag.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                self.values.insert(key.to_owned(), value.to_owned());
                Ok(())
            }
            _ => Err("--config expects KEY=VALUE".into()),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// All names and values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// All values, for redaction.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(String::as_str)
    }
}

impl Fingerprint for ConfigPolicy {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let ConfigPolicy { values } = self;
        (values.len() as u64).fingerprint(f);
        for (name, value) in values {
            f.field(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_and_errors_hide_values() {
        let mut config =
            ConfigPolicy::new(BTreeMap::from([("URL".to_owned(), "https://a".to_owned())]));
        config.set_from_flag("URL=https://b=c").unwrap();
        assert_eq!(config.get("URL"), Some("https://b=c"));
        let err = config.set_from_flag("sekrit-value").unwrap_err();
        assert!(!err.contains("sekrit"), "{err}");
        assert!(config.set_from_flag("=x").is_err());
        assert_eq!(config.get("missing"), None);
    }
}
