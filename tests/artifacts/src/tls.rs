//! The test TLS material in `host/testdata/tls` (see its README): a
//! private "credbox test CA", which no system trusts, and a server
//! certificate it issued for `localhost` and `127.0.0.1`.
//!
//! Shared by the host's unit tests and the integration tests, which cannot
//! import each other's code.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test CA's certificate (PEM), the one to put in a `ca_bundle`.
pub const CA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../host/testdata/tls/ca.pem"
);

/// The server certificate for `localhost` and `127.0.0.1` (PEM).
pub const CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../host/testdata/tls/localhost.pem"
);

/// The server certificate's private key (PEM).
pub const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../host/testdata/tls/localhost.key"
);

/// A rustls server configuration that presents [`CERT`] with [`KEY`]:
/// trusted by a client given [`CA`], by no other.
pub fn server_config() -> Arc<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(CERT)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("{CERT}: {e}"));
    let key = PrivateKeyDer::from_pem_file(KEY).unwrap_or_else(|e| panic!("{KEY}: {e}"));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    Arc::new(config)
}

/// A second private CA, "credbox test client CA", that issued
/// [`CLIENT_CERT`]: what a server requiring client certificates trusts.
pub const CLIENT_CA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../host/testdata/tls/client-ca.pem"
);

/// A client certificate ("credbox test client", for client
/// authentication) issued by [`CLIENT_CA`] (PEM).
pub const CLIENT_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../host/testdata/tls/client.pem"
);

/// The client certificate's private key (PEM, EC P-256). git checks it
/// out readable by others: copy it to a file of mode 0600 before credbox
/// reads it.
pub const CLIENT_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../host/testdata/tls/client.key"
);

/// Like [`server_config`], but the handshake fails unless the client
/// presents a certificate issued by [`CLIENT_CA`].
pub fn mtls_server_config() -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(CERT)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("{CERT}: {e}"));
    let key = PrivateKeyDer::from_pem_file(KEY).unwrap_or_else(|e| panic!("{KEY}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(CLIENT_CA).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}
