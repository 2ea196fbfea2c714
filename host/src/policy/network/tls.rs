//! The CA bundle: extra trusted roots from `[network] ca_bundle`, for
//! networks that intercept TLS with a private CA.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Extra trusted CA certificates, read from `[network] ca_bundle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// Where they were read from.
    pub path: PathBuf,
    /// The certificates, DER-encoded, in file order.
    pub certificates: Vec<CertificateDer<'static>>,
}

impl CaBundle {
    /// Reads a PEM file of CA certificates; `Err` says what is wrong with
    /// it. Each certificate must be usable as a trust anchor.
    pub fn read(path: &Path) -> Result<CaBundle, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certificates = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM file of certificates: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("no certificates in {}", path.display()));
        }
        let mut roots = rustls::RootCertStore::empty();
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
        })
    }
}
