//! What the line-protocol targets (`git`, `docker`, `keyring`) share: the
//! shape of their input and the credential a hostile helper returns.

use credbox::validation::{Credential, UserSecret};

/// The input's two sections, split at the first 0x1E: the client's bytes,
/// and the helper's values (split by 0x1F, read as UTF-8 lossily).
pub fn client_and_values(data: &[u8]) -> (&[u8], Vec<String>) {
    let mut sections = data.splitn(2, |&b| b == 0x1e);
    let client = sections.next().unwrap_or_default();
    let values = sections
        .next()
        .map(|s| {
            s.split(|&b| b == 0x1f)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
        .unwrap_or_default();
    (client, values)
}

/// The helper's credential from its values: token, username, secret (a
/// user-secret only with both); any left out is absent.
pub fn credential(values: &[String]) -> Credential {
    Credential {
        token: values.first().cloned(),
        user_secret: match (values.get(1), values.get(2)) {
            (Some(username), Some(secret)) => Some(UserSecret {
                username: username.clone(),
                secret: secret.clone(),
            }),
            _ => None,
        },
        ..Credential::default()
    }
}
