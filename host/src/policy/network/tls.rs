//! TLS trust: the CA bundle of `[network] ca_bundle` (extra roots, for
//! networks that intercept TLS with a private CA), the client certificates
//! of `[[network.client_cert]]` (mutual TLS) and the rustls client
//! configuration of the helper's `https` requests.
//!
//! A client certificate is tied to one origin (`https://host[:port]`, no
//! wildcard), which `[network] allow` must allow: credbox presents it on
//! connections to that origin only, and the helper never sees its key. The
//! key file is a [`KeyFile`], as a `[keys]` file is: refused when its
//! group or others may read it (one `stat` on every call), identified by
//! its stamp, and read only when it is used. The certificate is read with
//! the policy; the key is read, parsed and checked to match it on first
//! use ([`ClientCert::load`]), which a cache hit never makes: parsing a
//! private key (RSA's above all) costs more than the rest of a hit.
//!
//! A bundle's certificates become trust anchors once, when it is read
//! ([`CaBundle::read`] refuses one that cannot be an anchor);
//! [`client_config`] adds them to the system's roots. Loading the system's
//! roots costs milliseconds, so it waits for the first `https` request
//! instead of happening with the policy (which a cache hit also builds).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

use super::allow::{AllowEntry, HostPattern, PortRule, RequestHost, Scheme};
use crate::files::{self, Links};
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::policy::keys::KeyFile;
use crate::redact::clip;

/// Largest CA bundle read: a system's whole bundle of roots is about
/// 200 KiB.
pub const MAX_CA_BUNDLE_SIZE: u64 = 1 << 20;

/// Extra trusted CA certificates, read from `[network] ca_bundle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// Where they were read from.
    pub path: PathBuf,
    /// The certificates, DER-encoded, in file order.
    pub certificates: Vec<CertificateDer<'static>>,
    /// The certificates as trust anchors, in the same order.
    roots: Vec<TrustAnchor<'static>>,
}

impl CaBundle {
    /// Reads a PEM file of CA certificates; `Err` says what is wrong with
    /// it. Each certificate must be usable as a trust anchor.
    pub fn read(path: &Path) -> Result<CaBundle, String> {
        let bytes = files::read_regular(path, MAX_CA_BUNDLE_SIZE, Links::Follow)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certificates = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM file of certificates: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("no certificates in {}", path.display()));
        }
        let mut roots = RootCertStore::empty();
        for (i, certificate) in certificates.iter().enumerate() {
            roots.add(certificate.clone()).map_err(|e| {
                format!(
                    "certificate {} of {} is unusable: {e}",
                    i + 1,
                    path.display()
                )
            })?;
        }
        Ok(CaBundle {
            path: path.to_owned(),
            certificates,
            roots: roots.roots,
        })
    }

    /// The certificates as trust anchors, in file order.
    pub fn roots(&self) -> &[TrustAnchor<'static>] {
        &self.roots
    }
}

/// Largest client certificate chain or key file read.
pub const MAX_CLIENT_CERT_SIZE: u64 = 64 << 10;

/// A client certificate and its key, presented to one origin.
#[derive(Clone)]
pub struct ClientCert {
    /// The origin it is presented to: `https`, one host, one port.
    pub origin: AllowEntry,
    /// The certificate chain, leaf first (DER).
    pub chain: Vec<CertificateDer<'static>>,
    /// Where the chain was read from (named in errors).
    cert: PathBuf,
    /// Its private key's file: checked, not read.
    key_file: KeyFile,
    /// The chain with its key, loaded and checked to match on first use
    /// (`Err`: why not, said once and kept). Shared by the policy's
    /// clones.
    key: Arc<OnceLock<Result<Arc<CertifiedKey>, String>>>,
}

impl ClientCert {
    /// Reads `[[network.client_cert]]`'s `cert`, a PEM chain (leaf
    /// first), and checks `key`, its PEM private key (PKCS#8, SEC1 or
    /// PKCS#1), closed to group and others, without reading it (see
    /// [`ClientCert::load`]). `Err` names the field, never the key.
    pub fn read(origin: &str, cert: &Path, key: &Path) -> Result<ClientCert, String> {
        let origin = parse_origin(origin).map_err(|e| format!("origin: {e}"))?;
        let cert_bytes = files::read_regular(cert, MAX_CLIENT_CERT_SIZE, Links::Follow)
            .map_err(|e| format!("cert: cannot read {}: {e}", cert.display()))?;
        let chain = CertificateDer::pem_slice_iter(&cert_bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("cert: {} is not a PEM file of certificates", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("cert: no certificates in {}", cert.display()));
        }
        let key_file =
            KeyFile::check(key, MAX_CLIENT_CERT_SIZE).map_err(|e| format!("key: {e}"))?;
        Ok(ClientCert {
            origin,
            chain,
            cert: cert.to_owned(),
            key_file,
            key: Arc::default(),
        })
    }

    /// Reads and parses the key, and checks that it is the certificate's,
    /// once: a run does it before its helper starts, a connection to the
    /// origin when it first presents the certificate. `Err` names the
    /// field, never the key.
    pub fn load(&self) -> Result<(), String> {
        self.certified_key().map(drop)
    }

    /// The chain with its key (see [`ClientCert::load`]).
    fn certified_key(&self) -> Result<Arc<CertifiedKey>, String> {
        self.key
            .get_or_init(|| {
                let (cert, key) = (&self.cert, self.key_file.path());
                let key_bytes = self.key_file.read().map_err(|e| format!("key: {e}"))?;
                let der = PrivateKeyDer::from_pem_slice(&key_bytes)
                    .map_err(|_| format!("key: {} holds no PEM private key", key.display()))?;
                let provider = rustls::crypto::ring::default_provider();
                let certified = CertifiedKey::from_der(self.chain.clone(), der, &provider)
                    .map_err(|e| match e {
                        rustls::Error::InconsistentKeys(_) => format!(
                            "key: {} is not the key of the certificate in {}",
                            key.display(),
                            cert.display()
                        ),
                        _ => format!("key: {} is not a usable private key", key.display()),
                    })?;
                Ok(Arc::new(certified))
            })
            .clone()
    }

    /// Whether it is presented to `https://host:port` (`host` normalised).
    pub(super) fn is_for(&self, host: &RequestHost, port: u16) -> bool {
        self.origin.matches(Scheme::Https, host, port)
    }
}

/// Parses a client certificate's origin: `https://host[:port]`, one host
/// and one port.
fn parse_origin(text: &str) -> Result<AllowEntry, String> {
    let entry = AllowEntry::parse(text).map_err(|e| format!("\"{}\": {e}", clip(text)))?;
    if entry.scheme != Scheme::Https {
        return Err(format!(
            "\"{}\": a client certificate is for https",
            clip(text)
        ));
    }
    if matches!(entry.host, HostPattern::Subdomains(_)) || entry.port == PortRule::Any {
        return Err(format!(
            "\"{}\": one host and one port (no `*`): a client certificate goes to one origin",
            clip(text)
        ));
    }
    Ok(entry)
}

impl PartialEq for ClientCert {
    fn eq(&self, other: &Self) -> bool {
        // The loaded key is the key file's.
        self.origin == other.origin
            && self.chain == other.chain
            && self.cert == other.cert
            && self.key_file == other.key_file
    }
}

impl Eq for ClientCert {}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert")
            .field("origin", &self.origin.to_string())
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Fingerprint for ClientCert {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let ClientCert {
            origin,
            chain,
            // Where the chain was read from does not matter, what it holds
            // does.
            cert: _,
            key_file,
            // Read from the key file, which identifies it.
            key: _,
        } = self;
        f.field("origin", &origin.to_string());
        let chain: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
        f.field("chain", &chain);
        f.field("key_file", key_file);
    }
}

/// The trusted roots of the helper's `https` requests: the system's
/// (including `SSL_CERT_FILE`/`SSL_CERT_DIR` of credbox's own environment)
/// plus `bundle`'s. Loading the system's roots reads files, blocking for a
/// few milliseconds: call this once per run, on the first `https` request.
pub fn roots(bundle: Option<&CaBundle>) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(bundle) = bundle {
        roots.extend(bundle.roots.iter().cloned());
    }
    Arc::new(roots)
}

/// The TLS client configuration of the helper's `https` requests to one
/// origin: `roots` (see [`roots`]), and `client_cert` when one is
/// configured for the origin (loaded here if it was not yet: a key that
/// cannot be is [`rustls::Error::General`] with what is wrong).
pub fn client_config(
    roots: Arc<RootCertStore>,
    client_cert: Option<&ClientCert>,
) -> Result<ClientConfig, rustls::Error> {
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
    Ok(match client_cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let key = cert.certified_key().map_err(rustls::Error::General)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(
                CertifiedKey::clone(&key),
            )))
        }
    })
}

impl Fingerprint for CaBundle {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let CaBundle {
            // Where the file is does not matter, what it holds does.
            path: _,
            certificates,
            // Derived from the certificates.
            roots: _,
        } = self;
        let certificates: Vec<&[u8]> = certificates.iter().map(|c| c.as_ref()).collect();
        f.field("certificates", &certificates);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_ca() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls/ca.pem")
    }

    #[test]
    fn each_certificate_becomes_one_trust_root_when_read() {
        let bundle = CaBundle::read(&test_ca()).unwrap();
        assert_eq!(bundle.path, test_ca());
        assert_eq!(bundle.certificates.len(), 1);
        assert_eq!(bundle.roots().len(), 1);
        let mut expected = RootCertStore::empty();
        expected.add(bundle.certificates[0].clone()).unwrap();
        assert_eq!(bundle.roots(), &expected.roots[..]);
    }

    #[test]
    fn certificates_that_cannot_be_trust_roots_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.pem");
        let ca = std::fs::read_to_string(test_ca()).unwrap();
        // Valid PEM, but the DER inside ("hello") is no certificate.
        let junk = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        std::fs::write(&path, format!("{ca}{junk}")).unwrap();
        let err = CaBundle::read(&path).unwrap_err();
        let expected = format!("certificate 2 of {} is unusable: ", path.display());
        assert!(err.starts_with(&expected), "{err}");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.pem");
        let err = CaBundle::read(&path).unwrap_err();
        assert!(
            err.starts_with(&format!("cannot read {}: ", path.display())),
            "{err}"
        );
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = CaBundle::read(&path).unwrap_err();
        let expected = format!("{} is not a PEM file of certificates: ", path.display());
        assert!(err.starts_with(&expected), "{err}");
        std::fs::write(&path, "not a certificate\n").unwrap();
        assert_eq!(
            CaBundle::read(&path).unwrap_err(),
            format!("no certificates in {}", path.display())
        );
    }

    #[test]
    fn a_client_key_is_checked_and_identified_not_read_until_used() {
        let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        let of = |cert: &ClientCert| {
            let mut f = Fingerprinter::new("test");
            cert.fingerprint(&mut f);
            f.finish()
        };
        let read = || ClientCert::read("https://a.example", &tls.join("client.pem"), &key);
        std::fs::write(&key, "not a key\n").unwrap();
        crate::platform::testing::set_mode(&key, 0o600);
        // Garbage is not noticed until the key is loaded.
        let garbage = read().unwrap();
        let expected = format!("key: {} holds no PEM private key", key.display());
        assert_eq!(garbage.load().unwrap_err(), expected);
        let err = client_config(Arc::new(RootCertStore::empty()), Some(&garbage)).unwrap_err();
        assert_eq!(err, rustls::Error::General(expected));
        // The key file's contents are part of the fingerprint.
        std::fs::copy(tls.join("client.key"), &key).unwrap();
        crate::platform::testing::set_mode(&key, 0o600);
        let good = read().unwrap();
        assert_ne!(of(&good), of(&garbage));
        good.load().unwrap();
        client_config(Arc::new(RootCertStore::empty()), Some(&good)).unwrap();
        // Its permissions are checked when it is read, on every call.
        crate::platform::testing::set_mode(&key, 0o640);
        let err = read().unwrap_err();
        assert!(
            err.starts_with(&format!("key: {} is readable or writable", key.display())),
            "{err}"
        );
    }
}
