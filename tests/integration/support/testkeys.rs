//! The test keys in `host/testdata/keys`, and their public halves as
//! openssl derives them (`openssl pkey -pubout`), to check signatures
//! independently of credbox.

use std::path::PathBuf;

/// The public key of `es256.pem` (SEC1, uncompressed, in hex).
pub const ES256_PUBLIC: &str = "04c2c4a73440299763c5a11f76aa93c5ebdafbfb29de22c0479b3e1548d4736aa89d28e438328e38f8747600c2db559a39519116870f28589fe13b25a973060672";

/// The public key of `ed25519.pem` (in hex).
pub const ED25519_PUBLIC: &str = "25f6083392bec7e77d958d9620bbd856d71207cbfd3a92b9d145060082a32313";

/// The path of the test key file `name` (`es256.pem`, `ed25519.pem`).
pub fn key_file(name: &str) -> PathBuf {
    super::util::root().join("host/testdata/keys").join(name)
}
