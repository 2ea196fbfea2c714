//! Keys: signatures made with keys that credbox holds and the helper never
//! sees (the WIT `keys` interface). This module interprets the `[keys]`
//! tables into a [`KeysPolicy`]; beside it, [`mod@file`] checks and
//! identifies a key file without reading it, and [`sign`] parses a secret
//! and signs with it.
//!
//! ```toml
//! [keys.api]
//! algorithm = "hmac-sha256"        # or "es256", "ed25519"
//! env = "API_SIGNING_SECRET"       # or: file = "api.key" (relative to the manifest)
//!
//! [keys.assertion]
//! algorithm = "es256"
//! file = "client-assertion.pem"    # PKCS#8 or SEC1 ("EC PRIVATE KEY") PEM
//! key_id = "2024-05"               # optional: a JWT `kid`, told to the helper
//! ```
//!
//! A key comes from exactly one source:
//!
//! - `file`: a [`KeyFile`], refused (as ssh refuses a private key) when
//!   its group or others may read or write it (`chmod 600` it) or another
//!   user owns it, and unless it is a regular file of at most
//!   [`MAX_KEY_FILE_SIZE`]: one `stat` on every call, cache hits included.
//! - `env`: credbox's own environment variable (never the helper's: a
//!   variable also in `[env] allow` is refused). An unset or empty
//!   variable is not an error until the helper uses the key: then the
//!   helper's call fails as `misconfigured`, and a helper that fails after
//!   it is reported as [`Error::Environment`] (exit 2), which says to set
//!   the variable.
//!
//! Either holds the HMAC secret's bytes exactly (a trailing newline is
//! part of it), or a PEM private key (see [`sign`]).
//!
//! The helper calls [`KeysPolicy::info`] (algorithm, key id, public key)
//! and [`KeysPolicy::sign`]; it never receives the key's bytes, and no
//! error message contains them. An error is [`Error::Misconfigured`] with
//! what to fix (an unknown name, an algorithm that is not the key's, more
//! than [`MAX_SIGN_DATA`] bytes to sign), [`Error::Environment`] for an
//! unset variable, or [`Error::Usage`] for a key that cannot be read or
//! parsed.
//!
//! A cache hit neither reads nor parses a key. A key's identity, never its
//! bytes, is part of the cache key: a file's stamp (see [`mod@file`]); a
//! variable's SHA-256 of its value under a domain-separation prefix (not
//! any other hash of the secret). The secret is read and parsed on first
//! use ([`KeysPolicy::info`], [`KeysPolicy::sign`]) or by
//! [`KeysPolicy::load`], with which a run checks every key before its
//! helper starts. Key material is zeroized when dropped. (The process
//! environment itself cannot be wiped.)
//!
//! RS256 is not offered: the one pure-Rust RSA crate, `rsa`, has an
//! unfixed timing side channel in its private-key operations
//! (RUSTSEC-2023-0071, "Marvin"), which a signing oracle exposes.

pub mod file;
pub mod sign;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::KeyTable;
use crate::redact::clip;
pub use file::KeyFile;
use sign::Secret;

/// Largest key file read: a PEM private key is a few hundred bytes.
pub const MAX_KEY_FILE_SIZE: u64 = 64 << 10;

/// Most bytes one [`KeysPolicy::sign`] call signs: a JWT's header and
/// claims, or a request's canonical string, are a few KiB at most.
pub const MAX_SIGN_DATA: usize = 64 << 10;

/// Longest key name: 1 to 64 ASCII letters, digits, `.`, `_` and `-`.
pub const MAX_KEY_NAME: usize = 64;

/// Longest `key_id`.
pub const MAX_KEY_ID: usize = 256;

/// A signature algorithm (the WIT `keys.algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC with SHA-256: a 32-byte MAC.
    HmacSha256,
    /// ECDSA on P-256 with SHA-256: the 64-byte `r || s` of JWS.
    Es256,
    /// Ed25519: a 64-byte signature.
    Ed25519,
}

impl Algorithm {
    /// The name as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::Es256 => "es256",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The algorithm a manifest names; `Err` says what is offered.
    pub fn parse(text: &str) -> Result<Algorithm, String> {
        match text {
            "hmac-sha256" => Ok(Algorithm::HmacSha256),
            "es256" => Ok(Algorithm::Es256),
            "ed25519" => Ok(Algorithm::Ed25519),
            "rs256" | "RS256" => Err(
                "RS256 is not supported (the `rsa` crate has an unfixed timing side channel, \
                 RUSTSEC-2023-0071); use \"es256\" or \"ed25519\""
                    .into(),
            ),
            other => Err(format!(
                "unknown algorithm \"{}\": expected \"hmac-sha256\", \"es256\" or \"ed25519\"",
                clip(other)
            )),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a helper may know about a key (the WIT `key-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's algorithm.
    pub algorithm: Algorithm,
    /// The manifest's `key_id`, if any.
    pub key_id: Option<String>,
    /// The public key of an asymmetric key: the 65-byte uncompressed SEC1
    /// point for ES256, the 32 bytes for Ed25519; `None` for HMAC.
    pub public_key: Option<Vec<u8>>,
}

/// The keys of one run, by name. `Debug` shows names, algorithms and key
/// ids, never key material.
#[derive(Clone, Default)]
pub struct KeysPolicy {
    keys: BTreeMap<String, Key>,
}

/// One named key.
#[derive(Clone)]
struct Key {
    algorithm: Algorithm,
    key_id: Option<String>,
    source: Source,
    /// The secret, read and parsed on first use (`Err`: why it could not
    /// be, said once and kept). Shared by the policy's clones.
    secret: Arc<OnceLock<Result<Secret, String>>>,
}

/// Where a key is read from, and what identifies it.
#[derive(Clone)]
enum Source {
    /// A file (resolved against the manifest's folder).
    File(KeyFile),
    /// credbox's environment variable, and its value when the policy was
    /// built (`None`: unset or empty).
    Env {
        variable: String,
        value: Option<Arc<EnvValue>>,
    },
}

/// A key variable's value: its bytes, parsed on first use, and their
/// identity.
struct EnvValue {
    bytes: Zeroizing<Vec<u8>>,
    /// SHA-256 of the value under a domain-separation prefix.
    identity: [u8; 32],
}

impl KeysPolicy {
    /// The keys of a manifest's `[keys]` table. A relative `file` is
    /// checked (not read) from `base`, the manifest's folder; an `env`
    /// source is read through `lookup` (normally [`std::env::var_os`]).
    /// `Err` names the key and the field, never a key's bytes.
    pub fn from_config(
        table: &BTreeMap<String, KeyTable>,
        base: &Path,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<KeysPolicy, String> {
        KeysPolicy::from_config_at(table, base, lookup, SystemTime::now())
    }

    /// [`KeysPolicy::from_config`] with the time it is now (which decides
    /// whether a file's stamp has settled).
    fn from_config_at(
        table: &BTreeMap<String, KeyTable>,
        base: &Path,
        lookup: impl Fn(&str) -> Option<OsString>,
        now: SystemTime,
    ) -> Result<KeysPolicy, String> {
        let mut keys = BTreeMap::new();
        for (name, config) in table {
            let at = format!("[keys.{}]", clip(name));
            check_key_name(name).map_err(|e| format!("{at}: {e}"))?;
            let algorithm =
                Algorithm::parse(&config.algorithm).map_err(|e| format!("{at} algorithm: {e}"))?;
            if let Some(id) = &config.key_id
                && (id.is_empty() || id.len() > MAX_KEY_ID || id.chars().any(char::is_control))
            {
                return Err(format!(
                    "{at} key_id: expected 1 to {MAX_KEY_ID} bytes without control characters"
                ));
            }
            let source = match (&config.file, &config.env) {
                (Some(file), None) => {
                    let file = KeyFile::check_at(&base.join(file), MAX_KEY_FILE_SIZE, now)
                        .map_err(|e| format!("{at} file: {e}"))?;
                    Source::File(file)
                }
                (None, Some(variable)) => {
                    check_variable(variable).map_err(|e| format!("{at} env: {e}"))?;
                    let value = lookup(variable)
                        .map(|v| Zeroizing::new(v.into_encoded_bytes()))
                        .filter(|bytes| !bytes.is_empty())
                        .map(|bytes| {
                            let identity = env_identity(algorithm, &bytes);
                            Arc::new(EnvValue { bytes, identity })
                        });
                    Source::Env {
                        variable: variable.clone(),
                        value,
                    }
                }
                (Some(_), Some(_)) => {
                    return Err(format!("{at}: give `file` or `env`, not both"));
                }
                (None, None) => {
                    return Err(format!(
                        "{at}: missing `file` or `env`: where the key is read from"
                    ));
                }
            };
            keys.insert(
                name.clone(),
                Key {
                    algorithm,
                    key_id: config.key_id.clone(),
                    source,
                    secret: Arc::default(),
                },
            );
        }
        Ok(KeysPolicy { keys })
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// `Err` when a key is read from a variable that `allowed` (the
    /// `[env] allow` list, with `--allow-env`) hands to the helper, which
    /// would then read the key itself.
    pub fn check_not_exposed(&self, allowed: &[String]) -> Result<(), String> {
        for (name, key) in &self.keys {
            if let Source::Env { variable, .. } = &key.source
                && allowed.contains(variable)
            {
                return Err(format!(
                    "[keys.{name}] env: {variable} is also in [env] allow (or --allow-env), \
                     which would hand the key to the helper; keep it out of the allowlist"
                ));
            }
        }
        Ok(())
    }

    /// Reads and parses every key now, as a run does before its helper
    /// starts (a cache hit never does): a key that cannot be read or
    /// parsed fails the run at once, whether or not the helper would have
    /// used it. An unset variable is not an error until the helper uses
    /// its key. `Err` names the key and the field, never a key's bytes.
    pub fn load(&self) -> Result<(), String> {
        for (name, key) in &self.keys {
            if let Some(Err(e)) = key.loaded(name) {
                return Err(e.clone());
            }
        }
        Ok(())
    }

    /// Describes the key `name`.
    pub fn info(&self, name: &str) -> Result<KeyInfo, Error> {
        let (key, secret) = self.secret(name)?;
        Ok(KeyInfo {
            algorithm: key.algorithm,
            key_id: key.key_id.clone(),
            public_key: secret.public_key(),
        })
    }

    /// Signs `data` with the key `name`, which must be an `algorithm` key:
    /// the 32-byte HMAC-SHA256, the 64-byte ES256 `r || s`, or the 64-byte
    /// Ed25519 signature.
    pub fn sign(&self, name: &str, algorithm: Algorithm, data: &[u8]) -> Result<Vec<u8>, Error> {
        let key = self.key(name)?;
        if key.algorithm != algorithm {
            return Err(Error::Misconfigured(format!(
                "key `{name}` is an {} key, not {algorithm}: sign with {}, or change [keys.{name}] algorithm",
                key.algorithm, key.algorithm
            )));
        }
        if data.len() > MAX_SIGN_DATA {
            return Err(Error::Misconfigured(format!(
                "{} bytes to sign with key `{name}`: at most {} KiB",
                data.len(),
                MAX_SIGN_DATA >> 10
            )));
        }
        let (_, secret) = self.secret(name)?;
        secret.sign(data)
    }

    /// The key called `name` (quoted clipped: it comes from the helper).
    fn key(&self, name: &str) -> Result<&Key, Error> {
        self.keys.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            let hint = match known.is_empty() {
                true => "the manifest has no [keys] table".to_owned(),
                false => format!("the manifest's [keys] names {}", known.join(", ")),
            };
            Error::Misconfigured(format!("no key `{}`: {hint}", clip(name)))
        })
    }

    /// The key `name` and its secret, read and parsed on first use.
    fn secret(&self, name: &str) -> Result<(&Key, &Secret), Error> {
        let key = self.key(name)?;
        match key.loaded(name) {
            Some(Ok(secret)) => Ok((key, secret)),
            Some(Err(e)) => Err(Error::Usage(e.clone())),
            None => {
                let Source::Env { variable, .. } = &key.source else {
                    return Err(Error::Internal(format!("key `{name}` was not read")));
                };
                Err(Error::Environment {
                    message: format!(
                        "the environment variable {variable}, which [keys.{name}] reads, is not set"
                    ),
                    hint: format!(
                        "set {variable} in credbox's environment; not in [env] allow: \
                         the helper must not read it"
                    ),
                })
            }
        }
    }
}

impl Key {
    /// The secret of the key called `name`, read and parsed on the first
    /// call; `None` when its variable was unset or empty.
    fn loaded(&self, name: &str) -> Option<&Result<Secret, String>> {
        let at = || format!("[keys.{}]", clip(name));
        match &self.source {
            Source::File(file) => Some(self.secret.get_or_init(|| {
                let bytes = file.read().map_err(|e| format!("{} file: {e}", at()))?;
                Secret::parse(self.algorithm, bytes).map_err(|e| {
                    let shown = clip(&file.path().display().to_string());
                    format!("{} file: {shown}: {e}", at())
                })
            })),
            Source::Env { variable, value } => {
                let value = value.as_ref()?;
                Some(self.secret.get_or_init(|| {
                    Secret::parse(self.algorithm, value.bytes.clone())
                        .map_err(|e| format!("{} env: the variable {variable}: {e}", at()))
                }))
            }
        }
    }
}

/// SHA-256 of an `algorithm` key variable's value under a prefix naming
/// what it is: unrelated to any other hash of the secret.
fn env_identity(algorithm: Algorithm, value: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"credbox key variable v1\0");
    hash.update(algorithm.as_str().as_bytes());
    hash.update(b"\0");
    hash.update(value);
    hash.finalize().into()
}

/// A key name: 1 to [`MAX_KEY_NAME`] ASCII letters, digits, `.`, `_`, `-`.
fn check_key_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "a key name is 1 to {MAX_KEY_NAME} ASCII letters, digits, `.`, `_` and `-`"
        )),
    }
}

/// An environment variable's name: letters, digits and `_`, not starting
/// with a digit.
fn check_variable(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match ok {
        true => Ok(()),
        false => Err(format!(
            "\"{}\" is not a variable name (letters, digits and _)",
            clip(name)
        )),
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(file) => f.debug_tuple("File").field(&file.path()).finish(),
            Source::Env { variable, .. } => f.debug_tuple("Env").field(variable).finish(),
        }
    }
}

impl fmt::Debug for KeysPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, key) in &self.keys {
            let unset = matches!(key.source, Source::Env { value: None, .. });
            map.entry(
                name,
                &format_args!(
                    "{} key_id={:?} from {:?}{}",
                    key.algorithm,
                    key.key_id,
                    key.source,
                    if unset { " (unset)" } else { "" }
                ),
            );
        }
        map.finish()
    }
}

impl Fingerprint for KeysPolicy {
    /// Each key's name, algorithm, key id and identity (a file's stamp or
    /// a hash, never the secret); not where it was read from.
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let KeysPolicy { keys } = self;
        (keys.len() as u64).fingerprint(f);
        for (name, key) in keys {
            let Key {
                algorithm,
                key_id,
                source,
                // Read from the source, which identifies it.
                secret: _,
            } = key;
            f.field("name", name);
            f.field("algorithm", algorithm.as_str());
            f.field("key_id", key_id);
            match source {
                Source::File(file) => f.field("file", file),
                Source::Env { variable: _, value } => {
                    let identity = value.as_ref().map(|v| v.identity.as_slice());
                    f.field("env", &identity);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::platform::testing::set_mode;

    /// RFC 8032 §7.1, test 1: the Ed25519 seed as PKCS#8 PEM.
    const RFC8032_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

    /// The public key of `testdata/keys/es256.pem`, as `openssl pkey
    /// -pubout` prints it (the last 65 bytes of its DER).
    pub(crate) const ES256_PUBLIC: &str = "04c2c4a73440299763c5a11f76aa93c5ebdafbfb29de22c0479b3e1548d4736aa89d28e438328e38f8747600c2db559a39519116870f28589fe13b25a973060672";

    /// The public key of `testdata/keys/ed25519.pem`, from openssl.
    pub(crate) const ED25519_PUBLIC: &str =
        "25f6083392bec7e77d958d9620bbd856d71207cbfd3a92b9d145060082a32313";

    pub(crate) fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/keys")
            .join(name)
    }

    /// A folder holding copies of the test keys, mode 0600 (git keeps
    /// files 0644).
    pub(crate) fn key_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["es256.pem", "es256-sec1.pem", "ed25519.pem", "hmac.key"] {
            let to = dir.path().join(name);
            std::fs::copy(testdata(name), &to).unwrap();
            set_mode(&to, 0o600);
        }
        std::fs::write(dir.path().join("rfc8032.pem"), RFC8032_PEM).unwrap();
        set_mode(&dir.path().join("rfc8032.pem"), 0o600);
        dir
    }

    fn table(text: &str) -> BTreeMap<String, KeyTable> {
        let manifest = crate::manifest::parse(&format!("component = \"a.wasm\"\n{text}")).unwrap();
        manifest.keys
    }

    /// The keys of `text` (a `[keys]` table), built at `now`, with the
    /// environment `env`.
    pub(crate) fn policy_at(
        text: &str,
        base: &Path,
        env: &[(&str, &str)],
        now: SystemTime,
    ) -> Result<KeysPolicy, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let lookup = |name: &str| {
            env.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| OsString::from(v))
        };
        KeysPolicy::from_config_at(&table(text), base, lookup, now)
    }

    pub(crate) fn policy_with(
        text: &str,
        base: &Path,
        env: &[(&str, &str)],
    ) -> Result<KeysPolicy, String> {
        policy_at(text, base, env, SystemTime::now())
    }

    /// An hour from now: every file's stamp has settled.
    pub(crate) fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    pub(crate) fn of(keys: &KeysPolicy) -> String {
        let mut f = Fingerprinter::new("test");
        keys.fingerprint(&mut f);
        f.finish()
    }

    #[test]
    fn misuse_is_misconfigured_with_a_hint() {
        let dir = key_dir();
        let keys = policy_with(
            "[keys.a]\nalgorithm = \"hmac-sha256\"\nfile = \"hmac.key\"\n\
             [keys.b]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n\
             [keys.c]\nalgorithm = \"hmac-sha256\"\nenv = \"UNSET_SECRET\"\n",
            dir.path(),
            &[],
        )
        .unwrap();
        let message = |e: Error| match e {
            Error::Misconfigured(m) => m,
            other => panic!("not misconfigured: {other:?}"),
        };
        assert_eq!(
            message(keys.sign("z", Algorithm::HmacSha256, b"x").unwrap_err()),
            "no key `z`: the manifest's [keys] names a, b, c"
        );
        assert_eq!(
            message(keys.info("z\nq").unwrap_err()),
            "no key `z\\nq`: the manifest's [keys] names a, b, c"
        );
        assert_eq!(
            message(KeysPolicy::default().info("z").unwrap_err()),
            "no key `z`: the manifest has no [keys] table"
        );
        let wrong = message(keys.sign("b", Algorithm::HmacSha256, b"x").unwrap_err());
        assert!(
            wrong.starts_with("key `b` is an es256 key, not hmac-sha256"),
            "{wrong}"
        );
        let big = vec![0u8; MAX_SIGN_DATA + 1];
        let too_big = message(keys.sign("a", Algorithm::HmacSha256, &big).unwrap_err());
        assert_eq!(too_big, "65537 bytes to sign with key `a`: at most 64 KiB");
        assert_eq!(
            keys.sign("a", Algorithm::HmacSha256, &big[1..])
                .unwrap()
                .len(),
            32
        );
        match keys.info("c").unwrap_err() {
            Error::Environment { message, hint } => {
                assert_eq!(
                    message,
                    "the environment variable UNSET_SECRET, which [keys.c] reads, is not set"
                );
                assert!(hint.contains("not in [env] allow"), "{hint}");
            }
            other => panic!("not an environment error: {other:?}"),
        }
        // Not an error until it is used.
        keys.load().unwrap();
    }

    #[test]
    fn bad_tables_name_the_key_and_field_and_never_quote_the_key() {
        let dir = key_dir();
        let err = |text: &str| policy_with(text, dir.path(), &[]).unwrap_err();
        assert_eq!(
            err("[keys.k]\nalgorithm = \"rs256\"\nfile = \"x\"\n"),
            "[keys.k] algorithm: RS256 is not supported (the `rsa` crate has an unfixed timing \
             side channel, RUSTSEC-2023-0071); use \"es256\" or \"ed25519\""
        );
        assert!(
            err("[keys.k]\nalgorithm = \"hs256\"\nenv = \"X\"\n")
                .starts_with("[keys.k] algorithm: unknown algorithm \"hs256\"")
        );
        assert_eq!(
            err("[keys.k]\nalgorithm = \"es256\"\nfile = \"a\"\nenv = \"B\"\n"),
            "[keys.k]: give `file` or `env`, not both"
        );
        assert_eq!(
            err("[keys.k]\nalgorithm = \"es256\"\n"),
            "[keys.k]: missing `file` or `env`: where the key is read from"
        );
        assert!(
            err("[keys.\"a b\"]\nalgorithm = \"es256\"\nenv = \"B\"\n")
                .starts_with("[keys.a b]: a key name is 1 to 64")
        );
        assert!(
            err("[keys.k]\nalgorithm = \"es256\"\nenv = \"A-B\"\n")
                .starts_with("[keys.k] env: \"A-B\" is not a variable name")
        );
        assert!(
            err("[keys.k]\nalgorithm = \"es256\"\nenv = \"B\"\nkey_id = \"\"\n")
                .starts_with("[keys.k] key_id: expected 1 to 256 bytes")
        );
        assert!(
            err("[keys.k]\nalgorithm = \"es256\"\nfile = \"missing.pem\"\n")
                .starts_with("[keys.k] file: cannot read ")
        );
        // Strict fields.
        let e = crate::manifest::parse(
            "component = \"a.wasm\"\n[keys.k]\nalgorithm = \"es256\"\npath = \"k.pem\"\n",
        )
        .unwrap_err();
        assert!(e.starts_with("line 4: unknown field `path`"), "{e}");
    }

    #[test]
    fn a_key_variable_the_helper_may_read_is_refused() {
        let keys = policy_with(
            "[keys.k]\nalgorithm = \"hmac-sha256\"\nenv = \"SIGNING_SECRET\"\n",
            Path::new("."),
            &[("SIGNING_SECRET", "s")],
        )
        .unwrap();
        keys.check_not_exposed(&["API_KEY".into()]).unwrap();
        let err = keys
            .check_not_exposed(&["API_KEY".into(), "SIGNING_SECRET".into()])
            .unwrap_err();
        assert!(
            err.starts_with("[keys.k] env: SIGNING_SECRET is also in [env] allow"),
            "{err}"
        );
    }

    #[test]
    fn the_fingerprint_holds_the_keys_identity_not_its_bytes_or_place() {
        let dir = key_dir();
        // Another name for es256.pem, made before any policy reads its
        // stamp (a link changes the file's change time).
        std::fs::hard_link(dir.path().join("es256.pem"), dir.path().join("linked.pem")).unwrap();
        let load =
            |text: &str, env: &[(&str, &str)]| policy_at(text, dir.path(), env, later()).unwrap();
        let pkcs8 = load(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
            &[],
        );
        let linked = load(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"linked.pem\"\n",
            &[],
        );
        assert_eq!(of(&pkcs8), of(&linked), "the same file, another name");
        // A file is identified by its stamp, not by the key it holds,
        // which a hit does not read: the same key in another file is
        // another entry.
        let sec1 = load(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256-sec1.pem\"\n",
            &[],
        );
        assert_ne!(of(&pkcs8), of(&sec1), "another file holding the same key");
        let other = load(
            "[keys.k]\nalgorithm = \"ed25519\"\nfile = \"ed25519.pem\"\n",
            &[],
        );
        let renamed = load(
            "[keys.j]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
            &[],
        );
        let with_id = load(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\nkey_id = \"1\"\n",
            &[],
        );
        let hmac = |v| {
            load(
                "[keys.k]\nalgorithm = \"hmac-sha256\"\nenv = \"S\"\n",
                &[("S", v)],
            )
        };
        let fingerprints = [
            of(&KeysPolicy::default()),
            of(&pkcs8),
            of(&other),
            of(&renamed),
            of(&with_id),
            of(&hmac("one")),
            of(&hmac("two")),
            of(&load(
                "[keys.k]\nalgorithm = \"hmac-sha256\"\nenv = \"S\"\n",
                &[],
            )),
        ];
        for (i, a) in fingerprints.iter().enumerate() {
            for b in &fingerprints[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // The identity is not a bare hash of the secret.
        let secret = hmac("one");
        let Source::Env {
            value: Some(value), ..
        } = &secret.keys["k"].source
        else {
            panic!("the variable is set");
        };
        assert_ne!(value.identity, <[u8; 32]>::from(Sha256::digest(b"one")));
        // Debug shows no key material.
        let debug = format!("{:?}{:?}", hmac("S3CRET-VALUE"), pkcs8);
        assert!(!debug.contains("S3CRET"), "{debug}");
        assert!(
            debug.contains("hmac-sha256") && debug.contains("es256.pem"),
            "{debug}"
        );
    }
}
