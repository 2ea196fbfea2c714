//! The manifest: a helper's `credbox.toml`, parsed strictly.
//!
//! ```toml
//! name = "env-bearer"            # optional; default: the folder's name
//! component = "env_bearer.wasm"  # relative to this file
//! format = "headers"             # or "api-key"
//! sha256 = "9f86d0…"             # optional pin, from `credbox build`
//!
//! [limits]
//! timeout = "5s"
//! memory = "64MiB"
//! fuel = 1_000_000_000
//!
//! [env]
//! allow = ["API_TOKEN"]
//!
//! [cache]
//! ttl = "5m"
//!
//! [network]
//! allow = ["https://auth.example.com"]
//! ca_bundle = "corp-ca.pem"      # optional; relative to this file
//!
//! [[network.client_cert]]       # optional: mutual TLS with one origin
//! origin = "https://mtls.example.com"
//! cert = "client.pem"
//! key = "client.key"
//!
//! [config]
//! TOKEN_URL = "https://auth.example.com/token"
//!
//! [state]
//! store = "keystore"             # or "file" (NOT encrypted); see policy::state
//!
//! [keys.signer]                  # optional: a key credbox signs with
//! algorithm = "es256"
//! file = "signer.pem"
//! ```
//!
//! Unknown fields are errors that name the field and its line: a typo such
//! as `timout` must not silently fall back to a default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::files::{self, Links};
use crate::fingerprint::{Fingerprint, Fingerprinter};

/// Largest manifest read: a manifest is a few hundred bytes.
pub const MAX_MANIFEST_SIZE: u64 = 1 << 20;

/// What credbox prints: the manifest's `format`, `--format`, and the
/// purpose a helper is asked for.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A JSON object of HTTP headers, for `headersHelper`.
    #[default]
    Headers,
    /// A single API key, for `apiKeyHelper`.
    ApiKey,
    /// One `Proxy-Authorization` header value, for `proxyAuthHelper`.
    ProxyAuthorization,
}

impl Format {
    /// The name as written in a manifest and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Headers => "headers",
            Format::ApiKey => "api-key",
            Format::ProxyAuthorization => "proxy-authorization",
        }
    }
}

impl Fingerprint for Format {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        f.bytes(self.as_str().as_bytes());
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `credbox.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The helper's name in messages; defaults to the manifest's folder (or
    /// file stem when the file is not called `credbox.toml`).
    pub name: Option<String>,
    /// Path of the component, relative to the manifest.
    pub component: PathBuf,
    /// What to print: headers (default) or an API key.
    pub format: Option<Format>,
    /// The component's expected SHA-256 (lowercase hex); a component that
    /// differs is refused before it runs. `credbox build` prints it.
    pub sha256: Option<String>,
    /// `[limits]`: fuel, timeout, memory, component_size.
    #[serde(default)]
    pub limits: LimitsTable,
    /// `[env]`: which environment variables the helper may read.
    #[serde(default)]
    pub env: EnvTable,
    /// `[cache]`: how long credentials are reused and failures remembered.
    #[serde(default)]
    pub cache: CacheTable,
    /// `[network]`: which origins the helper may reach, and extra CA
    /// certificates to trust.
    #[serde(default)]
    pub network: NetworkTable,
    /// `[config]`: string values handed to the helper through `get-config`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// `[state]`: where credbox keeps the helper's own secrets (a refresh
    /// token) between runs.
    #[serde(default)]
    pub state: StateTable,
    /// `[keys.NAME]`: keys credbox holds and signs with for the helper.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyTable>,
}

/// One `[keys.NAME]` table, as written; interpreted by
/// [`crate::policy::keys`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyTable {
    /// `hmac-sha256`, `es256` or `ed25519`.
    pub algorithm: String,
    /// A file holding the key, relative to the manifest.
    pub file: Option<PathBuf>,
    /// An environment variable of credbox's holding the key.
    pub env: Option<String>,
    /// The key's id (a JWT `kid`), told to the helper.
    pub key_id: Option<String>,
}

// ---- [state] (issue #14: host-kept state) ----

/// The `[state]` table, as written; interpreted by [`crate::policy::state`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateTable {
    /// Where the helper's state is kept: `"keystore"` (the default: the
    /// OS keystore) or `"file"` (0600 files in credbox's private state
    /// directory, NOT encrypted).
    pub store: Option<StoreChoice>,
}

/// A `[state] store` value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreChoice {
    /// The OS keystore: the Secret Service on Linux, the Keychain on
    /// macOS, the Credential Manager on Windows.
    #[default]
    Keystore,
    /// Files readable by the user only, in plain text: for machines with
    /// no keystore, chosen explicitly.
    File,
}

// ---- end [state] ----

/// The `[limits]` table, as written; interpreted by [`crate::policy::limits`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsTable {
    /// Instruction budget (`fuel = 1_000_000_000`).
    pub fuel: Option<u64>,
    /// Wall-clock deadline (`timeout = "5s"`).
    pub timeout: Option<String>,
    /// Memory cap (`memory = "64MiB"`).
    pub memory: Option<String>,
    /// Largest component file credbox reads (`component_size = "32MiB"`).
    pub component_size: Option<String>,
    /// Deadline of `credbox login` (`login_timeout = "3m"`): the user's
    /// time to approve the login in a browser.
    pub login_timeout: Option<String>,
}

/// The `[env]` table, as written; interpreted by [`crate::policy::env`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvTable {
    /// Names of the variables the helper may read.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// The `[cache]` table, as written; interpreted by [`crate::policy::cache`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheTable {
    /// Longest time a credential is reused.
    pub ttl: Option<String>,
    /// How long past expiry an old credential may be served while the
    /// helper reports `unavailable` or times out.
    pub stale_if_error: Option<String>,
    /// First backoff after a failure.
    pub backoff: Option<String>,
    /// One credential for every client (`share = true`).
    pub share: Option<bool>,
}

/// The `[network]` table, as written; interpreted by [`crate::policy::network`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkTable {
    /// Origins the helper may reach, as `scheme://host[:port]`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// A PEM file of CA certificates trusted besides the system's roots
    /// (for networks that intercept TLS with a private CA), relative to the
    /// manifest.
    pub ca_bundle: Option<PathBuf>,
    /// CIDR ranges of private addresses that allowed names may resolve to
    /// (a VPN's internal network).
    #[serde(default)]
    pub private_ranges: Vec<String>,
    /// `[[network.client_cert]]`: a client certificate credbox presents
    /// to one origin (mutual TLS).
    #[serde(default)]
    pub client_cert: Vec<ClientCertTable>,
}

/// One `[[network.client_cert]]` entry, as written; interpreted by
/// [`crate::policy::network::tls`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertTable {
    /// The one origin it is presented to, `https://host[:port]`.
    pub origin: String,
    /// A PEM file of the certificate chain, leaf first, relative to the
    /// manifest.
    pub cert: PathBuf,
    /// A PEM file of the certificate's private key, relative to the
    /// manifest.
    pub key: PathBuf,
}

/// A manifest and where it was read from.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    /// The manifest's contents.
    pub manifest: Manifest,
    /// The manifest's own path; `None` for a bare component, which runs
    /// with the defaults.
    pub path: Option<PathBuf>,
}

impl LoadedManifest {
    /// Reads what the command line names: a manifest (`.toml`), or a bare
    /// component (`.wasm`, or a file that starts with wasm's magic bytes),
    /// which stands for a manifest of defaults naming it.
    pub fn from_target(target: &Path) -> Result<Self> {
        if is_component(target) {
            Ok(Self::for_component(target))
        } else {
            Self::load(target)
        }
    }

    /// Reads and parses the manifest at `path`: a regular file (or a link
    /// to one) of at most [`MAX_MANIFEST_SIZE`] bytes, read without ever
    /// waiting on a FIFO or device (see [`crate::files`]).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = files::read_regular(path, MAX_MANIFEST_SIZE, Links::Follow).map_err(|e| {
            Error::Usage(format!("cannot read the manifest {}: {e}", path.display()))
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::Usage(format!("the manifest {} is not UTF-8 text", path.display()))
        })?;
        let manifest = parse(&text).map_err(Error::Usage)?;
        Ok(LoadedManifest {
            manifest,
            path: Some(path.to_owned()),
        })
    }

    /// The manifest of defaults for a bare component.
    pub fn for_component(component: &Path) -> Self {
        LoadedManifest {
            manifest: Manifest {
                name: None,
                component: component.to_owned(),
                format: None,
                sha256: None,
                limits: LimitsTable::default(),
                env: EnvTable::default(),
                cache: CacheTable::default(),
                network: NetworkTable::default(),
                config: BTreeMap::new(),
                state: StateTable::default(),
                keys: BTreeMap::new(),
            },
            path: None,
        }
    }

    /// The helper's name: the `name` field, else the manifest's folder for a
    /// `credbox.toml`, else the file stem (of the component, when bare).
    pub fn name(&self) -> String {
        if let Some(name) = &self.manifest.name {
            return name.clone();
        }
        let stem = match &self.path {
            Some(path) if path.file_name() == Some("credbox.toml".as_ref()) => {
                std::path::absolute(path)
                    .ok()
                    .and_then(|p| p.parent()?.file_name().map(|n| n.to_owned()))
            }
            Some(path) => path.file_stem().map(|s| s.to_owned()),
            None => self.manifest.component.file_stem().map(|s| s.to_owned()),
        };
        stem.map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "helper".to_owned())
    }

    /// The component's path, resolved against the manifest's folder.
    pub fn component_path(&self) -> PathBuf {
        match &self.path {
            Some(_) => self.dir().join(&self.manifest.component),
            None => self.manifest.component.clone(),
        }
    }

    /// The manifest's folder, against which its relative paths resolve.
    pub fn dir(&self) -> PathBuf {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .to_owned()
    }
}

/// A `.wasm` path, or a file that starts with wasm's magic bytes, is a
/// component; a `.toml` path and anything else is read as a manifest.
fn is_component(path: &Path) -> bool {
    match path.extension() {
        Some(e) if e == "wasm" => return true,
        // No need to look inside: this is on every cached answer's path.
        Some(e) if e == "toml" => return false,
        _ => {}
    }
    let mut magic = [0u8; 4];
    // Not a regular file: read as a manifest, which says what it is.
    files::open_regular(path, Links::Follow)
        .ok()
        .and_then(|(mut f, _)| std::io::Read::read_exact(&mut f, &mut magic).ok())
        .is_some_and(|()| &magic == b"\0asm")
}

/// Parses manifest text. The error is one line: the problem and its line.
/// A value of the wrong type is not quoted (`[config]` may hold a secret
/// written without quotes).
pub fn parse(text: &str) -> std::result::Result<Manifest, String> {
    toml::from_str(text).map_err(|e| {
        let message = without_value(&e.message().trim_end().replace('\n', " "));
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {message}")
            }
            None => message,
        }
    })
}

/// serde's `invalid type: integer `5`, expected a string` (and `invalid
/// value: ...`) less the value itself: `invalid type: integer, expected a
/// string`.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((what, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            let kind = what.split([' ', '`', '"']).next().unwrap_or_default();
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_manifest_parses() {
        let m = parse(
            r#"
name = "x"
component = "a.wasm"
format = "api-key"
[limits]
timeout = "2s"
memory = "32MiB"
fuel = 5
[env]
allow = ["A"]
[network]
allow = ["https://example.com"]
[config]
URL = "https://example.com"
"#,
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("x"));
        assert_eq!(m.format, Some(Format::ApiKey));
        assert_eq!(m.limits.fuel, Some(5));
        assert_eq!(m.env.allow, ["A"]);
        assert_eq!(m.network.allow, ["https://example.com"]);
        assert_eq!(m.config["URL"], "https://example.com");
        assert_eq!(m.state.store, None);
    }

    #[test]
    fn the_state_table_is_strict() {
        let m = parse("component = \"a.wasm\"\n[state]\nstore = \"file\"\n").unwrap();
        assert_eq!(m.state.store, Some(StoreChoice::File));
        let err = parse("component = \"a.wasm\"\n[state]\nstore = \"plaintext\"\n").unwrap_err();
        assert!(
            err.starts_with("line 3: ") && err.contains("plaintext"),
            "{err}"
        );
        let err = parse("component = \"a.wasm\"\n[state]\nstorage = \"file\"\n").unwrap_err();
        assert!(err.contains("unknown field `storage`"), "{err}");
    }

    #[test]
    fn unknown_fields_name_the_field_and_line() {
        let err = parse("component = \"a.wasm\"\n[limits]\ntimout = \"5s\"\n").unwrap_err();
        assert!(err.starts_with("line 3: "), "{err}");
        assert!(err.contains("unknown field `timout`"), "{err}");
        assert!(!err.contains('\n'));

        let err = parse("component = \"a.wasm\"\ncolour = 1\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("`colour`"), "{err}");
    }

    #[test]
    fn wrong_types_and_missing_component_are_errors() {
        let err = parse("component = \"a.wasm\"\n[config]\nSECRET = 8675309\n").unwrap_err();
        assert_eq!(err, "line 3: invalid type: integer, expected a string");
        let err = parse("component = \"a.wasm\"\n[limits]\nfuel = \"s3cret\"\n").unwrap_err();
        assert!(
            err.starts_with("line 3: invalid type: string, expected "),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        let err = parse("format = \"headers\"\n").unwrap_err();
        assert!(err.contains("component"), "{err}");
        let err = parse("component = \"a.wasm\"\nformat = \"xml\"\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("xml"), "{err}");
    }

    #[test]
    fn names_and_paths_follow_the_manifest() {
        let loaded = LoadedManifest {
            manifest: parse("component = \"../out/a.wasm\"").unwrap(),
            path: Some(PathBuf::from("helpers/github/credbox.toml")),
        };
        assert_eq!(loaded.name(), "github");
        assert_eq!(
            loaded.component_path(),
            PathBuf::from("helpers/github/../out/a.wasm")
        );
        let loaded = LoadedManifest {
            path: Some(PathBuf::from("helpers/jira.toml")),
            ..loaded
        };
        assert_eq!(loaded.name(), "jira");
        let bare = LoadedManifest::for_component(Path::new("out/okta.wasm"));
        assert_eq!(bare.name(), "okta");
        assert_eq!(bare.component_path(), PathBuf::from("out/okta.wasm"));
    }
}
