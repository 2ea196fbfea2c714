//! The `keys` interface (0.2.0 and 0.3.0): the helper signs with keys the manifest
//! names and never sees their bytes (see [`KeysPolicy`]).
//!
//! [`KeysPolicy`]: crate::policy::keys::KeysPolicy

use super::HostState;
use super::bindings::{v2, v2_keys, v3, v3_error, v3_keys};
use crate::error::Error;
use crate::policy::keys::Algorithm;

impl v2_keys::Host for HostState {
    fn info(&mut self, name: String) -> std::result::Result<v2_keys::KeyInfo, v2::Error> {
        let info = self.keys.info(&name).map_err(|e| self.key_error(e))?;
        Ok(v2_keys::KeyInfo {
            algorithm: algorithm_to_wit(info.algorithm),
            key_id: info.key_id,
            public_key: info.public_key,
        })
    }

    fn sign(
        &mut self,
        name: String,
        algorithm: v2_keys::Algorithm,
        data: Vec<u8>,
    ) -> std::result::Result<Vec<u8>, v2::Error> {
        let algorithm = match algorithm {
            v2_keys::Algorithm::HmacSha256 => Algorithm::HmacSha256,
            v2_keys::Algorithm::Es256 => Algorithm::Es256,
            v2_keys::Algorithm::Ed25519 => Algorithm::Ed25519,
        };
        self.keys
            .sign(&name, algorithm, &data)
            .map_err(|e| self.key_error(e))
    }
}

impl v3_keys::Host for HostState {
    fn info(&mut self, name: String) -> std::result::Result<v3_keys::KeyInfo, v3::Error> {
        let info = v2_keys::Host::info(self, name).map_err(v3_error)?;
        Ok(v3_keys::KeyInfo {
            algorithm: match info.algorithm {
                v2_keys::Algorithm::HmacSha256 => v3_keys::Algorithm::HmacSha256,
                v2_keys::Algorithm::Es256 => v3_keys::Algorithm::Es256,
                v2_keys::Algorithm::Ed25519 => v3_keys::Algorithm::Ed25519,
            },
            key_id: info.key_id,
            public_key: info.public_key,
        })
    }

    fn sign(
        &mut self,
        name: String,
        algorithm: v3_keys::Algorithm,
        data: Vec<u8>,
    ) -> std::result::Result<Vec<u8>, v3::Error> {
        let algorithm = match algorithm {
            v3_keys::Algorithm::HmacSha256 => v2_keys::Algorithm::HmacSha256,
            v3_keys::Algorithm::Es256 => v2_keys::Algorithm::Es256,
            v3_keys::Algorithm::Ed25519 => v2_keys::Algorithm::Ed25519,
        };
        v2_keys::Host::sign(self, name, algorithm, data).map_err(v3_error)
    }
}

impl HostState {
    /// A [`KeysPolicy`] error as the guest's: `misconfigured` with the
    /// message (which names keys and variables, never key bytes). An
    /// unset variable is also kept, to be reported if the helper fails.
    ///
    /// [`KeysPolicy`]: crate::policy::keys::KeysPolicy
    fn key_error(&mut self, error: Error) -> v2::Error {
        let guest = match &error {
            Error::Misconfigured(message) => v2::Error::Misconfigured(message.clone()),
            Error::Environment { message, .. } => v2::Error::Misconfigured(message.clone()),
            other => v2::Error::Other(other.to_string()),
        };
        if matches!(error, Error::Environment { .. }) {
            self.key_failure.get_or_insert(error);
        }
        guest
    }
}

fn algorithm_to_wit(algorithm: Algorithm) -> v2_keys::Algorithm {
    match algorithm {
        Algorithm::HmacSha256 => v2_keys::Algorithm::HmacSha256,
        Algorithm::Es256 => v2_keys::Algorithm::Es256,
        Algorithm::Ed25519 => v2_keys::Algorithm::Ed25519,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_has_its_wit_name() {
        assert!(matches!(
            algorithm_to_wit(Algorithm::HmacSha256),
            v2_keys::Algorithm::HmacSha256
        ));
        assert!(matches!(
            algorithm_to_wit(Algorithm::Es256),
            v2_keys::Algorithm::Es256
        ));
        assert!(matches!(
            algorithm_to_wit(Algorithm::Ed25519),
            v2_keys::Algorithm::Ed25519
        ));
    }
}
