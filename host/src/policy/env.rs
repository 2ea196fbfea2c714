//! Environment variables: only the allowlisted ones reach the helper.
//!
//! `[env] allow = ["API_TOKEN"]` (or `--allow-env API_TOKEN`) lets the
//! helper see that variable, both through WASI's environment and through
//! `get-config`. Nothing else of credbox's environment is visible.

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::redact::clip;

/// The allowlist in force for one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvPolicy {
    allow: Vec<String>,
}

impl EnvPolicy {
    /// Adds `name` to the allowlist; `Err` says why the name is unusable.
    pub fn allow(&mut self, name: &str) -> Result<(), String> {
        check_name(name)?;
        if !self.allow.iter().any(|n| n == name) {
            self.allow.push(name.to_owned());
        }
        Ok(())
    }

    /// The allowlisted names, in the order they were added.
    pub fn names(&self) -> &[String] {
        &self.allow
    }

    /// The allowlisted variables that are set, read through `lookup`
    /// (normally [`std::env::var`]). Unset, empty and non-UTF-8 ones are
    /// skipped: `API_TOKEN= credbox run …` means "no token", and the helper
    /// should say so rather than send an empty credential.
    pub fn resolve(&self, lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        self.allow
            .iter()
            .filter_map(|name| {
                lookup(name)
                    .filter(|value| !value.is_empty())
                    .map(|value| (name.clone(), value))
            })
            .collect()
    }
}

impl Fingerprint for EnvPolicy {
    /// The names only: the values are read at run time and are part of the
    /// key separately (hashed, never stored).
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let EnvPolicy { allow } = self;
        f.field("allow", allow);
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an environment variable name (letters, digits and _)",
            clip(name)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_and_set_variables_resolve() {
        let mut policy = EnvPolicy::default();
        policy.allow("API_TOKEN").unwrap();
        policy.allow("UNSET").unwrap();
        policy.allow("EMPTY").unwrap();
        policy.allow("API_TOKEN").unwrap();
        let env = |name: &str| match name {
            "API_TOKEN" => Some("abc".to_owned()),
            "EMPTY" => Some(String::new()),
            "HOME" => Some("/root".to_owned()),
            _ => None,
        };
        assert_eq!(
            policy.resolve(env),
            vec![("API_TOKEN".to_owned(), "abc".to_owned())]
        );
        assert_eq!(policy.names(), ["API_TOKEN", "UNSET", "EMPTY"]);
    }

    #[test]
    fn odd_names_are_refused() {
        let mut policy = EnvPolicy::default();
        for bad in ["", "A=B", "1ABC", "A B", "*"] {
            assert!(policy.allow(bad).is_err(), "{bad:?} accepted");
        }
        assert!(policy.names().is_empty());
    }
}
