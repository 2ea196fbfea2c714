//! TLS trust: the CA bundle of `[network] ca_bundle` (extra roots, for
//! networks that intercept TLS with a private CA) and the rustls client
//! configuration of the helper's `https` requests.
//!
//! A bundle's certificates become trust anchors once, when it is read
//! ([`CaBundle::read`] refuses one that cannot be an anchor);
//! [`client_config`] adds them to the system's roots. Loading the system's
//! roots costs milliseconds, so it waits for the first `https` request
//! instead of happening with the policy (which a cache hit also builds).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::files::{self, Links};
use crate::fingerprint::{Fingerprint, Fingerprinter};

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

/// The TLS client configuration of the helper's `https` requests: the
/// system's roots (including `SSL_CERT_FILE`/`SSL_CERT_DIR` of credbox's
/// own environment) plus `bundle`'s, no client certificate. Loading the
/// system's roots reads files, blocking for a few milliseconds: call this
/// once per run, on the first `https` request.
pub fn client_config(bundle: Option<&CaBundle>) -> Result<ClientConfig, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(bundle) = bundle {
        roots.extend(bundle.roots.iter().cloned());
    }
    Ok(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
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
}
