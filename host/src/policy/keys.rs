//! Keys: signatures made with keys that credbox holds and the helper never
//! sees (the WIT `keys` interface).
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
//! - `file`: read when the policy is built, as every file credbox reads
//!   ([`crate::files`]: a regular file, at most [`MAX_KEY_FILE_SIZE`]).
//!   Like ssh with a private key, credbox refuses a key file that its
//!   group or others may read or write (`chmod 600` it) or that another
//!   user owns. For `hmac-sha256` the secret is the file's bytes exactly
//!   (a trailing newline is part of it); for `es256` a PEM P-256 private
//!   key, PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`); for `ed25519`
//!   a PKCS#8 PEM private key. Encrypted PEM is refused.
//! - `env`: credbox's own environment variable (never the helper's: a
//!   variable also in `[env] allow` is refused): the HMAC secret's bytes,
//!   or PEM text. An unset or empty variable is not an error until the
//!   helper uses the key: then the helper's call fails as `misconfigured`,
//!   and a helper that fails after it is reported as
//!   [`Error::Environment`] (exit 2), which says to set the variable.
//!
//! The helper calls [`KeysPolicy::info`] (algorithm, key id, public key)
//! and [`KeysPolicy::sign`]; it never receives the key's bytes, and no
//! error message contains them. An error is [`Error::Misconfigured`] with
//! what to fix (an unknown name, an algorithm that is not the key's, more
//! than [`MAX_SIGN_DATA`] bytes to sign), or [`Error::Environment`] for an
//! unset variable.
//!
//! A key's identity, not its bytes, is part of the cache key: SHA-256 of
//! its secret under a domain-separation prefix (a configuration with
//! another key is another credential). The secret is hashed rather than
//! the public key so that a cached answer does not pay for deriving the
//! public key (a scalar multiplication); the signing key is derived on the
//! first call that needs it.
//!
//! Key material is zeroized when dropped: the bytes read from the file or
//! variable, the HMAC secret, the P-256 scalar and the Ed25519 seed. (The
//! process environment itself cannot be wiped.)
//!
//! RS256 is not offered: the one pure-Rust RSA crate, `rsa`, has an
//! unfixed timing side channel in its private-key operations
//! (RUSTSEC-2023-0071, "Marvin"), which a signing oracle exposes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::files::{self, Links};
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::KeyTable;
use crate::platform::{self, Exposure, Owners};
use crate::redact::clip;

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
    /// `None`: its variable was unset or empty when the policy was built.
    secret: Option<Arc<Secret>>,
}

/// Where a key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A file (resolved against the manifest's folder).
    File(std::path::PathBuf),
    /// credbox's environment variable.
    Env(String),
}

/// A key's secret, its identity, and the signer derived from it on first
/// use. Shared by the policy's clones, never copied.
struct Secret {
    kind: SecretKind,
    /// SHA-256 of the secret under a domain-separation prefix.
    identity: [u8; 32],
    signer: OnceLock<Signer>,
}

/// The secret as parsed. Each zeroizes itself on drop.
enum SecretKind {
    Hmac(Zeroizing<Vec<u8>>),
    Es256(p256::SecretKey),
    Ed25519(Zeroizing<[u8; 32]>),
}

/// What signs, derived from a [`SecretKind`], with the public key of an
/// asymmetric key. The signing keys zeroize themselves on drop.
enum Signer {
    Hmac(Zeroizing<Vec<u8>>),
    Es256(p256::ecdsa::SigningKey, Vec<u8>),
    Ed25519(ed25519_dalek::SigningKey, Vec<u8>),
}

impl KeysPolicy {
    /// The keys of a manifest's `[keys]` table. A relative `file` is read
    /// from `base`, the manifest's folder; an `env` source is read through
    /// `lookup` (normally [`std::env::var_os`]). `Err` names the key and
    /// the field, never a key's bytes.
    pub fn from_config(
        table: &BTreeMap<String, KeyTable>,
        base: &Path,
        lookup: impl Fn(&str) -> Option<OsString>,
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
            let (source, secret) = match (&config.file, &config.env) {
                (Some(file), None) => {
                    let path = base.join(file);
                    let shown = clip(&path.display().to_string());
                    let bytes = read_private_file(&path, MAX_KEY_FILE_SIZE)
                        .map_err(|e| format!("{at} file: {e}"))?;
                    let secret = Secret::parse(algorithm, bytes)
                        .map_err(|e| format!("{at} file: {shown}: {e}"))?;
                    (Source::File(path), Some(Arc::new(secret)))
                }
                (None, Some(variable)) => {
                    check_variable(variable).map_err(|e| format!("{at} env: {e}"))?;
                    let bytes = lookup(variable).map(|v| Zeroizing::new(v.into_encoded_bytes()));
                    let secret = match bytes {
                        Some(bytes) if !bytes.is_empty() => {
                            let secret = Secret::parse(algorithm, bytes)
                                .map_err(|e| format!("{at} env: the variable {variable}: {e}"))?;
                            Some(Arc::new(secret))
                        }
                        _ => None,
                    };
                    (Source::Env(variable.clone()), secret)
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
                    secret,
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
            if let Source::Env(variable) = &key.source
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

    /// Describes the key `name`.
    pub fn info(&self, name: &str) -> Result<KeyInfo, Error> {
        let (key, signer) = self.signer(name)?;
        let public_key = match signer {
            Signer::Hmac(_) => None,
            Signer::Es256(_, public) | Signer::Ed25519(_, public) => Some(public.clone()),
        };
        Ok(KeyInfo {
            algorithm: key.algorithm,
            key_id: key.key_id.clone(),
            public_key,
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
        let (_, signer) = self.signer(name)?;
        Ok(match signer {
            Signer::Hmac(secret) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                    .map_err(|_| Error::Internal("HMAC refused its key".into()))?;
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Signer::Es256(key, _) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = key.sign(data);
                signature.to_bytes().to_vec()
            }
            Signer::Ed25519(key, _) => {
                use ed25519_dalek::Signer as _;
                key.sign(data).to_bytes().to_vec()
            }
        })
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

    /// The key `name` and its signer, derived on first use.
    fn signer(&self, name: &str) -> Result<(&Key, &Signer), Error> {
        let key = self.key(name)?;
        let secret = match (&key.secret, &key.source) {
            (Some(secret), _) => secret,
            (None, Source::Env(variable)) => {
                return Err(Error::Environment {
                    message: format!(
                        "the environment variable {variable}, which [keys.{name}] reads, is not set"
                    ),
                    hint: format!(
                        "set {variable} in credbox's environment; not in [env] allow: \
                         the helper must not read it"
                    ),
                });
            }
            (None, Source::File(_)) => {
                return Err(Error::Internal(format!("key `{name}` was not read")));
            }
        };
        Ok((key, secret.signer.get_or_init(|| secret.kind.signer())))
    }
}

impl Secret {
    /// Parses the secret of an `algorithm` key from `bytes` (a file's or a
    /// variable's). `Err` says what was expected, never what was found.
    fn parse(algorithm: Algorithm, bytes: Zeroizing<Vec<u8>>) -> Result<Secret, String> {
        let kind = match algorithm {
            Algorithm::HmacSha256 => {
                if bytes.is_empty() {
                    return Err("an empty HMAC secret".into());
                }
                SecretKind::Hmac(bytes)
            }
            Algorithm::Es256 => {
                let pem = pem_text(&bytes)?;
                let key = match pem_label(pem) {
                    Some("PRIVATE KEY") => {
                        use p256::pkcs8::DecodePrivateKey as _;
                        p256::SecretKey::from_pkcs8_pem(pem)
                            .map_err(|_| "not a PKCS#8 P-256 private key".to_owned())?
                    }
                    Some("EC PRIVATE KEY") => p256::SecretKey::from_sec1_pem(pem)
                        .map_err(|_| "not a SEC1 P-256 private key".to_owned())?,
                    other => return Err(unexpected_pem(other, "PRIVATE KEY or EC PRIVATE KEY")),
                };
                SecretKind::Es256(key)
            }
            Algorithm::Ed25519 => {
                let pem = pem_text(&bytes)?;
                match pem_label(pem) {
                    Some("PRIVATE KEY") => {}
                    other => return Err(unexpected_pem(other, "PRIVATE KEY")),
                }
                use ed25519_dalek::pkcs8::DecodePrivateKey as _;
                let pair = ed25519_dalek::pkcs8::KeypairBytes::from_pkcs8_pem(pem)
                    .map_err(|_| "not a PKCS#8 Ed25519 private key".to_owned())?;
                SecretKind::Ed25519(Zeroizing::new(pair.secret_key))
            }
        };
        let identity = kind.identity(algorithm);
        Ok(Secret {
            kind,
            identity,
            signer: OnceLock::new(),
        })
    }
}

impl SecretKind {
    /// SHA-256 of the secret under a prefix naming what it is: equal for
    /// the same key (whatever file or encoding held it), unrelated to any
    /// other hash of the secret.
    fn identity(&self, algorithm: Algorithm) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(b"credbox key identity v1\0");
        hash.update(algorithm.as_str().as_bytes());
        hash.update(b"\0");
        match self {
            SecretKind::Hmac(secret) => hash.update(secret.as_slice()),
            SecretKind::Es256(key) => hash.update(Zeroizing::new(key.to_bytes()).as_slice()),
            SecretKind::Ed25519(seed) => hash.update(seed.as_slice()),
        }
        hash.finalize().into()
    }

    /// The signer, with the public key of an asymmetric key.
    fn signer(&self) -> Signer {
        match self {
            SecretKind::Hmac(secret) => Signer::Hmac(secret.clone()),
            SecretKind::Es256(key) => {
                let signing = p256::ecdsa::SigningKey::from(key);
                let public = signing
                    .verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                Signer::Es256(signing, public)
            }
            SecretKind::Ed25519(seed) => {
                let signing = ed25519_dalek::SigningKey::from_bytes(seed);
                let public = signing.verifying_key().to_bytes().to_vec();
                Signer::Ed25519(signing, public)
            }
        }
    }
}

/// The bytes as PEM text.
fn pem_text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "expected PEM text".to_owned())
}

/// The label of the first PEM block (`PRIVATE KEY` in `-----BEGIN
/// PRIVATE KEY-----`), if any.
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

/// What to say about a PEM block of the wrong kind.
fn unexpected_pem(label: Option<&str>, expected: &str) -> String {
    match label {
        Some("ENCRYPTED PRIVATE KEY") => {
            "an encrypted private key: credbox reads unencrypted keys (protect the file with \
             chmod 600), e.g. `openssl pkey -in KEY -out KEY.pem`"
                .into()
        }
        Some(label)
            if label.len() <= 32 && label.bytes().all(|b| b.is_ascii_uppercase() || b == b' ') =>
        {
            format!("a PEM {label} block, expected {expected}")
        }
        _ => format!("expected a PEM {expected} block"),
    }
}

/// Reads a private key file: a regular file of at most `cap` bytes, owned
/// by this user (or root) and closed to group and others, as ssh demands
/// of a private key. `Err` names the file, never its contents.
pub(crate) fn read_private_file(path: &Path, cap: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    let shown = clip(&path.display().to_string());
    let (file, meta) = files::open_regular(path, Links::Follow)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    match platform::exposure(&meta, Owners::MeOrAdmin) {
        None => {}
        Some(Exposure::OpenToOthers { access, .. }) => {
            return Err(format!(
                "{shown} is readable or writable by group or others (mode {access}): \
                 a private key must not be; run `{}`",
                platform::restrict_command(Path::new(&shown), false)
            ));
        }
        Some(Exposure::OtherOwner { owner, .. }) => {
            return Err(format!(
                "{shown} belongs to another user ({owner}): a private key must be the user's own"
            ));
        }
    }
    files::read_capped(file, &meta, cap)
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot read {shown}: {e}"))
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

impl fmt::Debug for KeysPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, key) in &self.keys {
            map.entry(
                name,
                &format_args!(
                    "{} key_id={:?} from {:?}{}",
                    key.algorithm,
                    key.key_id,
                    key.source,
                    if key.secret.is_some() { "" } else { " (unset)" }
                ),
            );
        }
        map.finish()
    }
}

impl Fingerprint for KeysPolicy {
    /// Each key's name, algorithm, key id and identity (a hash of the
    /// secret, never the secret); not where it was read from.
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let KeysPolicy { keys } = self;
        (keys.len() as u64).fingerprint(f);
        for (name, key) in keys {
            let Key {
                algorithm,
                key_id,
                source: _,
                secret,
            } = key;
            f.field("name", name);
            f.field("algorithm", algorithm.as_str());
            f.field("key_id", key_id);
            let identity = secret.as_ref().map(|s| s.identity.as_slice());
            f.field("identity", &identity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// RFC 8032 §7.1, test 1: the Ed25519 seed as PKCS#8 PEM.
    const RFC8032_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

    /// The public key of `testdata/keys/es256.pem`, as `openssl pkey
    /// -pubout` prints it (the last 65 bytes of its DER).
    const ES256_PUBLIC: &str = "04c2c4a73440299763c5a11f76aa93c5ebdafbfb29de22c0479b3e1548d4736aa89d28e438328e38f8747600c2db559a39519116870f28589fe13b25a973060672";

    /// The public key of `testdata/keys/ed25519.pem`, from openssl.
    const ED25519_PUBLIC: &str = "25f6083392bec7e77d958d9620bbd856d71207cbfd3a92b9d145060082a32313";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/keys")
            .join(name)
    }

    /// A folder holding copies of the test keys, mode 0600 (git keeps
    /// files 0644).
    fn key_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["es256.pem", "es256-sec1.pem", "ed25519.pem", "hmac.key"] {
            let to = dir.path().join(name);
            std::fs::copy(testdata(name), &to).unwrap();
            crate::platform::testing::set_mode(&to, 0o600);
        }
        std::fs::write(dir.path().join("rfc8032.pem"), RFC8032_PEM).unwrap();
        crate::platform::testing::set_mode(&dir.path().join("rfc8032.pem"), 0o600);
        dir
    }

    fn table(text: &str) -> BTreeMap<String, KeyTable> {
        let manifest = crate::manifest::parse(&format!("component = \"a.wasm\"\n{text}")).unwrap();
        manifest.keys
    }

    fn policy_with(text: &str, base: &Path, env: &[(&str, &str)]) -> Result<KeysPolicy, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        KeysPolicy::from_config(&table(text), base, |name| {
            env.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2: key "Jefe".
        let keys = policy_with(
            "[keys.jefe]\nalgorithm = \"hmac-sha256\"\nenv = \"JEFE\"\n",
            Path::new("."),
            &[("JEFE", "Jefe")],
        )
        .unwrap();
        let mac = keys
            .sign(
                "jefe",
                Algorithm::HmacSha256,
                b"what do ya want for nothing?",
            )
            .unwrap();
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let info = keys.info("jefe").unwrap();
        assert_eq!(
            info,
            KeyInfo {
                algorithm: Algorithm::HmacSha256,
                key_id: None,
                public_key: None
            }
        );
    }

    #[test]
    fn ed25519_matches_rfc_8032() {
        let dir = key_dir();
        let keys = policy_with(
            "[keys.ed]\nalgorithm = \"ed25519\"\nfile = \"rfc8032.pem\"\nkey_id = \"k1\"\n",
            dir.path(),
            &[],
        )
        .unwrap();
        let info = keys.info("ed").unwrap();
        assert_eq!(info.key_id.as_deref(), Some("k1"));
        assert_eq!(
            hex(info.public_key.as_deref().unwrap()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex(&keys.sign("ed", Algorithm::Ed25519, b"").unwrap()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065\
             224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn es256_signatures_verify_with_the_public_key_openssl_derives() {
        use p256::ecdsa::signature::Verifier as _;
        let dir = key_dir();
        for file in ["es256.pem", "es256-sec1.pem"] {
            let keys = policy_with(
                &format!("[keys.jwt]\nalgorithm = \"es256\"\nfile = \"{file}\"\n"),
                dir.path(),
                &[],
            )
            .unwrap();
            let public = keys.info("jwt").unwrap().public_key.unwrap();
            assert_eq!(hex(&public), ES256_PUBLIC, "{file}");
            let signature = keys
                .sign("jwt", Algorithm::Es256, b"header.claims")
                .unwrap();
            assert_eq!(signature.len(), 64, "JWS r || s");
            let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public).unwrap();
            let parsed = p256::ecdsa::Signature::from_slice(&signature).unwrap();
            verifying.verify(b"header.claims", &parsed).unwrap();
            assert!(verifying.verify(b"header.claimz", &parsed).is_err());
        }
        // The same key from PEM text in a variable.
        let pem = std::fs::read_to_string(testdata("ed25519.pem")).unwrap();
        let keys = policy_with(
            "[keys.e]\nalgorithm = \"ed25519\"\nenv = \"PEM\"\n",
            Path::new("."),
            &[("PEM", &pem)],
        )
        .unwrap();
        let public = keys.info("e").unwrap().public_key.unwrap();
        assert_eq!(hex(&public), ED25519_PUBLIC);
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
    }

    #[test]
    fn key_files_open_to_others_are_refused_as_ssh_does() {
        let dir = key_dir();
        let path = dir.path().join("es256.pem");
        for mode in [0o640, 0o604, 0o620, 0o644] {
            crate::platform::testing::set_mode(&path, mode);
            let err = policy_with(
                "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
                dir.path(),
                &[],
            )
            .unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "[keys.k] file: {} is readable or writable by group or others (mode {mode:03o})",
                    path.display()
                )),
                "{err}"
            );
            assert!(err.ends_with(&format!("run `chmod 600 {}`", path.display())));
        }
        crate::platform::testing::set_mode(&path, 0o400);
        policy_with(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
            dir.path(),
            &[],
        )
        .unwrap();
    }

    #[test]
    fn key_files_are_regular_files_of_at_most_64_kib() {
        let dir = key_dir();
        let table =
            |file: &str| format!("[keys.k]\nalgorithm = \"hmac-sha256\"\nfile = \"{file}\"\n");
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        let err = policy_with(&table("folder"), dir.path(), &[]).unwrap_err();
        assert!(
            err.ends_with("it is a directory, not a regular file"),
            "{err}"
        );
        let big = dir.path().join("big.key");
        std::fs::write(&big, vec![b'k'; MAX_KEY_FILE_SIZE as usize + 1]).unwrap();
        crate::platform::testing::set_mode(&big, 0o600);
        let err = policy_with(&table("big.key"), dir.path(), &[]).unwrap_err();
        assert!(err.ends_with("it is larger than 64 KiB"), "{err}");
        std::fs::write(&big, vec![b'k'; MAX_KEY_FILE_SIZE as usize]).unwrap();
        let keys = policy_with(&table("big.key"), dir.path(), &[]).unwrap();
        assert_eq!(
            keys.sign("k", Algorithm::HmacSha256, b"x").unwrap().len(),
            32
        );
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
        // A key of another kind: said what it is, not what it holds.
        let e = err("[keys.k]\nalgorithm = \"es256\"\nfile = \"ed25519.pem\"\n");
        assert!(
            e.ends_with("ed25519.pem: not a PKCS#8 P-256 private key"),
            "{e}"
        );
        let e = err("[keys.k]\nalgorithm = \"ed25519\"\nfile = \"es256-sec1.pem\"\n");
        assert!(
            e.ends_with("a PEM EC PRIVATE KEY block, expected PRIVATE KEY"),
            "{e}"
        );
        let e = err("[keys.k]\nalgorithm = \"es256\"\nfile = \"hmac.key\"\n");
        assert!(
            e.ends_with("hmac.key: expected a PEM PRIVATE KEY or EC PRIVATE KEY block"),
            "{e}"
        );
        assert!(!e.contains("test-hmac-secret"), "{e}");
        let secret = "not-a-pem-S3CRET";
        let e = policy_with(
            "[keys.k]\nalgorithm = \"es256\"\nenv = \"K\"\n",
            dir.path(),
            &[("K", secret)],
        )
        .unwrap_err();
        assert_eq!(
            e,
            "[keys.k] env: the variable K: expected a PEM PRIVATE KEY or EC PRIVATE KEY block"
        );
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = policy_with(
            "[keys.k]\nalgorithm = \"ed25519\"\nenv = \"K\"\n",
            dir.path(),
            &[("K", encrypted)],
        )
        .unwrap_err();
        assert!(e.contains("an encrypted private key"), "{e}");
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
        let of = |keys: &KeysPolicy| {
            let mut f = Fingerprinter::new("test");
            keys.fingerprint(&mut f);
            f.finish()
        };
        let load = |text: &str, env: &[(&str, &str)]| policy_with(text, dir.path(), env).unwrap();
        let pkcs8 = load(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n",
            &[],
        );
        let sec1 = load(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"es256-sec1.pem\"\n",
            &[],
        );
        assert_eq!(of(&pkcs8), of(&sec1), "the same key, another encoding");
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
        let identity = secret.keys["k"].secret.as_ref().unwrap().identity;
        assert_ne!(identity, <[u8; 32]>::from(Sha256::digest(b"one")));
        // Debug shows no key material.
        let debug = format!("{:?}{:?}", hmac("S3CRET-VALUE"), pkcs8);
        assert!(!debug.contains("S3CRET"), "{debug}");
        assert!(
            debug.contains("hmac-sha256") && debug.contains("es256.pem"),
            "{debug}"
        );
    }
}
