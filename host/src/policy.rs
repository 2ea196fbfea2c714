//! The policy: everything a run is allowed to do, decided before it starts.
//!
//! It merges, in order, credbox's defaults, the manifest and the command
//! line's flags. Each capability has its own module: [`limits`], [`env`],
//! [`config`], [`cache`], [`network`], [`keys`], [`state`].

pub mod cache;
pub mod config;
pub mod env;
pub mod keys;
pub mod limits;
pub mod network;
pub mod state;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::{Format, LoadedManifest};
use cache::CachePolicy;
use config::ConfigPolicy;
use env::EnvPolicy;
use keys::KeysPolicy;
use limits::Limits;
use network::NetworkPolicy;
use state::StatePolicy;

/// Settings from the command line that override the manifest.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Overrides {
    /// `--format`.
    pub format: Option<Format>,
    /// `--allow-env VAR`, repeatable: added to the manifest's list.
    pub allow_env: Vec<String>,
    /// `--config KEY=VALUE`, repeatable: wins over `[config]`.
    pub config: Vec<String>,
    /// `--fuel N`.
    pub fuel: Option<u64>,
    /// `--timeout DURATION`.
    pub timeout: Option<String>,
    /// `--memory SIZE`.
    pub memory: Option<String>,
    /// `--allow-url URL`, repeatable: added to `[network] allow`.
    pub allow_url: Vec<String>,
}

/// Everything one run may do.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The helper's name, used in every message.
    pub name: String,
    /// The component to run.
    pub component: PathBuf,
    /// What to print.
    pub format: Format,
    /// The pinned SHA-256 of the component, if any.
    pub sha256: Option<String>,
    /// Fuel, deadline and memory.
    pub limits: Limits,
    /// Which environment variables the helper sees.
    pub env: EnvPolicy,
    /// Values for `get-config`.
    pub config: ConfigPolicy,
    /// Credential caching.
    pub cache: CachePolicy,
    /// Which origins the helper may reach, and the extra TLS roots.
    pub network: NetworkPolicy,
    /// Whose state the helper reads and writes, and where it is kept.
    pub state: StatePolicy,
    /// The keys credbox signs with for the helper.
    pub keys: KeysPolicy,
}

impl Policy {
    /// The policy `loaded` describes (a bare component's is the defaults),
    /// with the command line's `overrides` applied.
    pub fn from_manifest(loaded: &LoadedManifest, overrides: &Overrides) -> Result<Policy> {
        let manifest = &loaded.manifest;
        let mut limits = Limits::default();
        limits.apply(&manifest.limits).map_err(Error::Usage)?;
        let mut cache = CachePolicy::default();
        cache.apply(&manifest.cache).map_err(Error::Usage)?;
        let network =
            NetworkPolicy::from_config(&manifest.network, &loaded.dir()).map_err(Error::Usage)?;
        let mut env = EnvPolicy::default();
        for name in &manifest.env.allow {
            env.allow(name)
                .map_err(|e| Error::Usage(format!("[env] allow: {e}")))?;
        }
        if let Some(pin) = &manifest.sha256
            && (pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::Usage(
                "sha256: expected 64 hex digits, as printed by `credbox build`".into(),
            ));
        }
        let keys =
            KeysPolicy::from_config(&manifest.keys, &loaded.dir(), |name| std::env::var_os(name))
                .map_err(Error::Usage)?;
        let mut policy = Policy {
            name: loaded.name(),
            component: loaded.component_path(),
            format: manifest.format.unwrap_or_default(),
            sha256: manifest.sha256.clone(),
            limits,
            env,
            config: ConfigPolicy::new(manifest.config.clone()),
            cache,
            network,
            state: StatePolicy::from_config(&manifest.state, loaded.path.as_deref())
                .map_err(Error::Usage)?,
            keys,
        };
        policy.apply(overrides)?;
        Ok(policy)
    }

    /// The defaults for a bare component (for unit tests).
    #[cfg(test)]
    pub(crate) fn for_component(path: &std::path::Path) -> Policy {
        Policy::from_manifest(&LoadedManifest::for_component(path), &Overrides::default())
            .expect("the defaults are valid")
    }

    /// Applies command-line overrides.
    pub fn apply(&mut self, o: &Overrides) -> Result<()> {
        if let Some(format) = o.format {
            self.format = format;
        }
        for name in &o.allow_env {
            self.env
                .allow(name)
                .map_err(|e| Error::Usage(format!("--allow-env: {e}")))?;
        }
        for url in &o.allow_url {
            self.network
                .allow(url)
                .map_err(|e| Error::Usage(format!("--allow-url: {e}")))?;
        }
        for flag in &o.config {
            self.config.set_from_flag(flag).map_err(Error::Usage)?;
        }
        if let Some(fuel) = o.fuel {
            self.limits
                .set_fuel(fuel)
                .map_err(|e| Error::Usage(format!("--fuel: {e}")))?;
        }
        if let Some(timeout) = &o.timeout {
            self.limits
                .set_timeout(timeout)
                .map_err(|e| Error::Usage(format!("--timeout: {e}")))?;
        }
        if let Some(memory) = &o.memory {
            self.limits
                .set_memory(memory)
                .map_err(|e| Error::Usage(format!("--memory: {e}")))?;
        }
        self.keys
            .check_not_exposed(self.env.names())
            .map_err(Error::Usage)?;
        Ok(())
    }
}

impl Fingerprint for Policy {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let Policy {
            name,
            // The path only locates the component; what identifies it is its
            // stamp (cache::component_stamp), which the cache key hashes.
            component: _,
            // How `credbox run` renders the credential, not what the helper
            // is asked: the request's client carries that (headers or
            // api-key, or `any` when the credential is shared).
            format: _,
            sha256,
            limits,
            env,
            config,
            cache,
            network,
            state,
            keys,
        } = self;
        f.field("name", name);
        f.field("sha256", sha256);
        f.field("limits", limits);
        f.field("env", env);
        f.field("config", config);
        f.field("cache", cache);
        f.field("network", network);
        f.field("state", state);
        f.field("keys", keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    fn loaded(text: &str) -> LoadedManifest {
        LoadedManifest {
            manifest: manifest::parse(text).unwrap(),
            path: Some(PathBuf::from("dir/credbox.toml")),
        }
    }

    fn from(text: &str) -> Result<Policy> {
        Policy::from_manifest(&loaded(text), &Overrides::default())
    }

    #[test]
    fn flags_override_the_manifest() {
        let mut policy = from(
            "component = \"a.wasm\"\n[limits]\ntimeout = \"2s\"\n[env]\nallow = [\"A\"]\n[config]\nK = \"m\"\n",
        )
        .unwrap();
        assert_eq!(policy.limits.timeout, std::time::Duration::from_secs(2));
        policy
            .apply(&Overrides {
                format: Some(Format::ApiKey),
                allow_env: vec!["B".into()],
                config: vec!["K=f".into()],
                timeout: Some("3s".into()),
                fuel: Some(7),
                memory: Some("8MiB".into()),
                allow_url: vec!["https://b.example".into()],
            })
            .unwrap();
        assert_eq!(policy.format, Format::ApiKey);
        assert_eq!(policy.env.names(), ["A", "B"]);
        assert_eq!(policy.config.get("K"), Some("f"));
        assert_eq!(policy.limits.timeout, std::time::Duration::from_secs(3));
        assert_eq!(policy.limits.fuel, 7);
        assert_eq!(policy.limits.memory, 8 << 20);
        assert_eq!(policy.name, "dir");
        assert!(policy.network.allows("https", "b.example", 443));
    }

    #[test]
    fn bad_values_name_their_source() {
        let err = from("component = \"a.wasm\"\n[limits]\ntimeout = \"forever\"\n").unwrap_err();
        assert!(err.to_string().contains("[limits] timeout"), "{err}");
        let err = from("component = \"a.wasm\"\n[env]\nallow = [\"A B\"]\n").unwrap_err();
        assert!(err.to_string().contains("[env] allow"), "{err}");
        let err = from("component = \"a.wasm\"\nsha256 = \"abc\"\n").unwrap_err();
        assert!(
            err.to_string().starts_with("sha256: expected 64 hex"),
            "{err}"
        );
        let mut policy = Policy::for_component(std::path::Path::new("x.wasm"));
        let err = policy
            .apply(&Overrides {
                memory: Some("lots".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().starts_with("--memory:"), "{err}");
        let err = policy
            .apply(&Overrides {
                allow_url: vec!["ftp://x".into()],
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            err.to_string().starts_with(r#"--allow-url: "ftp://x": "#),
            "{err}"
        );
        assert_eq!(policy.name, "x");
    }
}
