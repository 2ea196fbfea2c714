//! Parsing a key's secret and signing with it: HMAC-SHA256, ES256 (P-256)
//! and Ed25519, for [`KeysPolicy`](super::KeysPolicy), which decides
//! which key, from where, and when it is read.
//!
//! A secret is parsed from the bytes of its file or variable: for
//! `hmac-sha256` the bytes exactly; for `es256` a PEM P-256 private key,
//! PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`); for `ed25519` a
//! PKCS#8 PEM private key. Encrypted PEM is refused. An error says what
//! was expected, never what was found.
//!
//! The signing key (and the public key of an asymmetric key, a scalar
//! multiplication) is derived on the first call that needs it. Key
//! material is zeroized when dropped: the bytes read, the HMAC secret, the
//! P-256 scalar and the Ed25519 seed.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::Algorithm;
use crate::error::Error;

/// A key's secret as parsed, and the signer derived from it on first use.
/// Shared by the policy's clones, never copied.
pub(super) struct Secret {
    kind: SecretKind,
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

impl Secret {
    /// Parses the secret of an `algorithm` key from `bytes` (a file's or a
    /// variable's). `Err` says what was expected, never what was found.
    pub(super) fn parse(algorithm: Algorithm, bytes: Zeroizing<Vec<u8>>) -> Result<Secret, String> {
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
        Ok(Secret {
            kind,
            signer: OnceLock::new(),
        })
    }

    /// The public key of an asymmetric key: the 65-byte uncompressed SEC1
    /// point for ES256, the 32 bytes for Ed25519; `None` for HMAC.
    pub(super) fn public_key(&self) -> Option<Vec<u8>> {
        match self.signer() {
            Signer::Hmac(_) => None,
            Signer::Es256(_, public) | Signer::Ed25519(_, public) => Some(public.clone()),
        }
    }

    /// Signs `data`: the 32-byte HMAC-SHA256, the 64-byte ES256 `r || s`,
    /// or the 64-byte Ed25519 signature.
    pub(super) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(match self.signer() {
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

    /// The signer, derived on first use.
    fn signer(&self) -> &Signer {
        self.signer.get_or_init(|| self.kind.signer())
    }
}

impl SecretKind {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::tests::{ED25519_PUBLIC, ES256_PUBLIC, hex, key_dir, policy_with, testdata};
    use super::super::{Algorithm, KeyInfo};
    use crate::error::Error;

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
    fn unusable_keys_say_what_they_are_never_what_they_hold() {
        let dir = key_dir();
        // A key that cannot be parsed builds a policy (as a cache hit
        // builds it: nothing read or parsed) and fails where it is first
        // read, by a run before its helper starts or by a use.
        let unusable = |text: &str, env: &[(&str, &str)]| {
            let keys = policy_with(text, dir.path(), env).unwrap();
            let e = keys.load().unwrap_err();
            match keys.info("k") {
                Err(Error::Usage(m)) => assert_eq!(m, e),
                other => panic!("not a usage error: {other:?}"),
            }
            e
        };
        // A key of another kind: said what it is, not what it holds.
        let e = unusable(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"ed25519.pem\"\n",
            &[],
        );
        assert!(
            e.ends_with("ed25519.pem: not a PKCS#8 P-256 private key"),
            "{e}"
        );
        let e = unusable(
            "[keys.k]\nalgorithm = \"ed25519\"\nfile = \"es256-sec1.pem\"\n",
            &[],
        );
        assert!(
            e.ends_with("a PEM EC PRIVATE KEY block, expected PRIVATE KEY"),
            "{e}"
        );
        let e = unusable(
            "[keys.k]\nalgorithm = \"es256\"\nfile = \"hmac.key\"\n",
            &[],
        );
        assert!(
            e.ends_with("hmac.key: expected a PEM PRIVATE KEY or EC PRIVATE KEY block"),
            "{e}"
        );
        assert!(!e.contains("test-hmac-secret"), "{e}");
        let secret = "not-a-pem-S3CRET";
        let e = unusable(
            "[keys.k]\nalgorithm = \"es256\"\nenv = \"K\"\n",
            &[("K", secret)],
        );
        assert_eq!(
            e,
            "[keys.k] env: the variable K: expected a PEM PRIVATE KEY or EC PRIVATE KEY block"
        );
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = unusable(
            "[keys.k]\nalgorithm = \"ed25519\"\nenv = \"K\"\n",
            &[("K", encrypted)],
        );
        assert!(e.contains("an encrypted private key"), "{e}");
    }
}
