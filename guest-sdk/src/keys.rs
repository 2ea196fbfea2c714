//! Signatures made with keys that credbox holds: the manifest's `[keys]`
//! table names them, and the key's bytes never enter the sandbox.
//!
//! A helper builds what it needs signed (a JWT for a client assertion, a
//! request to sign with HMAC), has credbox [`sign`] it, and encodes the
//! signature with [`base64url`] (JWS) or [`hex`] (most HMAC schemes).
//! [`info`] and [`sign`] work only inside credbox (they panic elsewhere);
//! the encoders and [`Algorithm`] are plain code.
//!
//! ```no_run
//! use credbox_guest::keys::{self, Algorithm, base64url};
//!
//! # fn fetch() -> Result<String, credbox_guest::Error> {
//! let key = keys::info("assertion")?;
//! let header = format!(r#"{{"alg":"{}","typ":"JWT"}}"#, key.algorithm.jws_name());
//! let claims = r#"{"iss":"my-client","aud":"https://auth.example.com/token"}"#;
//! let input = format!("{}.{}", base64url(header.as_bytes()), base64url(claims.as_bytes()));
//! let signature = keys::sign("assertion", key.algorithm, input.as_bytes())?;
//! let jwt = format!("{input}.{}", base64url(&signature));
//! # Ok(jwt) }
//! ```

use crate::__bindings::credbox::helper::keys as wit;
use crate::__private::error_from_wit;
use crate::Error;

/// A signature algorithm.
///
/// ```
/// use credbox_guest::keys::Algorithm;
///
/// assert_eq!(Algorithm::Es256.jws_name(), "ES256");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256; the signature is the 32-byte MAC.
    HmacSha256,
    /// ECDSA on P-256 with SHA-256; the signature is the 64-byte `r || s`
    /// of JWS (RFC 7518).
    Es256,
    /// Ed25519; the 64-byte signature.
    Ed25519,
}

impl Algorithm {
    /// The algorithm's name in a JWS or JWT header's `alg` (RFC 7518,
    /// RFC 8037): `HS256`, `ES256` or `EdDSA`.
    ///
    /// ```
    /// use credbox_guest::keys::Algorithm;
    ///
    /// assert_eq!(Algorithm::HmacSha256.jws_name(), "HS256");
    /// assert_eq!(Algorithm::Ed25519.jws_name(), "EdDSA");
    /// ```
    pub fn jws_name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "HS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Ed25519 => "EdDSA",
        }
    }
}

/// What a helper may know about a key.
///
/// ```
/// use credbox_guest::keys::{Algorithm, KeyInfo};
///
/// let info = KeyInfo { algorithm: Algorithm::HmacSha256, key_id: None, public_key: None };
/// assert!(info.public_key.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's algorithm.
    pub algorithm: Algorithm,
    /// The key id the manifest gives it (a JWT `kid`), if any.
    pub key_id: Option<String>,
    /// The public key of an asymmetric key: the 65-byte uncompressed SEC1
    /// point for ES256, the 32 bytes for Ed25519. `None` for HMAC.
    pub public_key: Option<Vec<u8>>,
}

/// Describes the key `name`. An unknown name is
/// [`ErrorKind::Misconfigured`](crate::ErrorKind::Misconfigured).
///
/// ```no_run
/// let key = credbox_guest::keys::info("assertion")?;
/// let kid = key.key_id.unwrap_or_default();
/// # Ok::<(), credbox_guest::Error>(())
/// ```
pub fn info(name: &str) -> Result<KeyInfo, Error> {
    let info = wit::info(name).map_err(error_from_wit)?;
    Ok(KeyInfo {
        algorithm: algorithm_from_wit(info.algorithm),
        key_id: info.key_id,
        public_key: info.public_key,
    })
}

/// Signs `data` (at most 64 KiB) with the key `name`, with `algorithm`. An
/// unknown name, or an algorithm that is not the key's, is
/// [`ErrorKind::Misconfigured`](crate::ErrorKind::Misconfigured).
///
/// ```no_run
/// use credbox_guest::keys::{self, Algorithm, hex};
///
/// let mac = keys::sign("webhook", Algorithm::HmacSha256, b"1700000000.payload")?;
/// let header = format!("t=1700000000,v1={}", hex(&mac));
/// # Ok::<(), credbox_guest::Error>(())
/// ```
pub fn sign(name: &str, algorithm: Algorithm, data: &[u8]) -> Result<Vec<u8>, Error> {
    wit::sign(name, algorithm_to_wit(algorithm), data).map_err(error_from_wit)
}

fn algorithm_to_wit(algorithm: Algorithm) -> wit::Algorithm {
    match algorithm {
        Algorithm::HmacSha256 => wit::Algorithm::HmacSha256,
        Algorithm::Es256 => wit::Algorithm::Es256,
        Algorithm::Ed25519 => wit::Algorithm::Ed25519,
    }
}

fn algorithm_from_wit(algorithm: wit::Algorithm) -> Algorithm {
    match algorithm {
        wit::Algorithm::HmacSha256 => Algorithm::HmacSha256,
        wit::Algorithm::Es256 => Algorithm::Es256,
        wit::Algorithm::Ed25519 => Algorithm::Ed25519,
    }
}

/// `bytes` in base64url without padding (RFC 4648 §5), as JWS and JWT use.
///
/// ```
/// use credbox_guest::keys::base64url;
///
/// // The JOSE header of RFC 7515's example A.1.
/// let header = b"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
/// assert_eq!(base64url(header), "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
/// ```
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        // The chunk as a 24-bit number, missing bytes as zeros.
        let bits = chunk.iter().enumerate().fold(0u32, |bits, (i, &byte)| {
            bits | u32::from(byte) << (16 - 8 * i)
        });
        // n bytes need n + 1 six-bit digits; no padding for the rest.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(bits >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// `bytes` in lowercase hexadecimal, two digits a byte.
///
/// ```
/// assert_eq!(credbox_guest::keys::hex(&[0x00, 0x9f, 0xff]), "009fff");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_without_padding() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn base64url_uses_the_url_safe_alphabet() {
        // Standard base64 would be "+/8=".
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[0xff; 3]), "____");
        let all: Vec<u8> = (0..=255).collect();
        let encoded = base64url(&all);
        assert_eq!(encoded.len(), 342); // ceil(256 * 8 / 6)
        assert!(
            encoded
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(encoded.starts_with("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        let all: Vec<u8> = (0..=255).collect();
        let encoded = hex(&all);
        assert_eq!(encoded.len(), 512);
        assert_eq!(&encoded[..8], "00010203");
        assert_eq!(&encoded[504..], "fcfdfeff");
        assert_eq!(hex(&[0x0a, 0xb0]), "0ab0");
    }

    #[test]
    fn algorithms_round_trip_through_wit_and_name_their_jws_alg() {
        for (algorithm, alg) in [
            (Algorithm::HmacSha256, "HS256"),
            (Algorithm::Es256, "ES256"),
            (Algorithm::Ed25519, "EdDSA"),
        ] {
            assert_eq!(algorithm_from_wit(algorithm_to_wit(algorithm)), algorithm);
            assert_eq!(algorithm.jws_name(), alg);
        }
    }
}
