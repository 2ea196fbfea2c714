//! AWS credentials, in the two shapes AWS clients read.
//!
//! - `credbox aws MANIFEST` is a profile's `credential_process` (AWS CLI and
//!   SDKs): `{"Version":1,"AccessKeyId":…,"SecretAccessKey":…,
//!   "SessionToken":…,"Expiration":…}` on stdout, `Expiration` in RFC 3339
//!   (UTC). The SDK runs it without a shell, so in `~/.aws/config`:
//!   `credential_process = /usr/local/bin/credbox aws /path/to/credbox.toml`.
//! - `credbox aws --claude-export MANIFEST` is Claude Code's
//!   `awsCredentialExport` setting: `{"Credentials":{"AccessKeyId":…,
//!   "SecretAccessKey":…,"SessionToken":…}}`, the shape of
//!   `aws sts assume-role`'s output that Claude Code's documentation gives.
//!
//! Both clients read stdout only on exit code 0, and show stderr when the
//! command fails: credbox's usual failure (one redacted line on stderr,
//! nothing on stdout, the failure's exit code) is their convention too.
//!
//! Absent parts are left out, never written as `null`: no `SessionToken`
//! for long-term keys, no `Expiration` when the helper did not say (the SDK
//! then treats the keys as never expiring and never runs credbox again in
//! that process; credbox's own cache still bounds them).

use serde::Serialize;

use std::path::Path;

use super::rfc3339;
use crate::error::Error;
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::request::{Client, Request};
use crate::serve::{Manner, Out, Target, serve};
use crate::validation::Credential;

/// Which client reads the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An AWS profile's `credential_process`.
    CredentialProcess,
    /// Claude Code's `awsCredentialExport`.
    ClaudeExport,
}

/// The AWS part of a credential, borrowed for rendering.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// `AccessKeyId`.
    pub access_key_id: &'a str,
    /// `SecretAccessKey`.
    pub secret_access_key: &'a str,
    /// `SessionToken`, for temporary credentials.
    pub session_token: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Process<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Export<'a> {
    credentials: ExportCredentials<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExportCredentials<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
}

/// The text to print for `keys`, valid until `expires_at` (Unix seconds)
/// when known: one line of JSON in `shape`, newline included. Values are
/// escaped by `serde_json`, never spliced in by hand.
pub fn render(keys: Keys<'_>, expires_at: Option<u64>, shape: Shape) -> String {
    let json = match shape {
        Shape::CredentialProcess => serde_json::to_string(&Process {
            version: 1,
            access_key_id: keys.access_key_id,
            secret_access_key: keys.secret_access_key,
            session_token: keys.session_token,
            expiration: expires_at.map(rfc3339::format_utc),
        }),
        Shape::ClaudeExport => serde_json::to_string(&Export {
            credentials: ExportCredentials {
                access_key_id: keys.access_key_id,
                secret_access_key: keys.secret_access_key,
                session_token: keys.session_token,
            },
        }),
    };
    // Serializing borrowed strings into a String cannot fail.
    let mut text = json.unwrap_or_default();
    text.push('\n');
    text
}

/// The text to print for `credential`'s AWS part, in `shape`. A
/// credential without one (a shared cache entry from a helper that has
/// none) is an invalid output: nothing is printed.
pub fn answer(credential: &Credential, shape: Shape) -> Result<String, Error> {
    let aws = credential.aws.as_ref().ok_or_else(|| {
        Error::InvalidOutput("no AWS credentials for aws (return Credential::aws)".into())
    })?;
    let keys = Keys {
        access_key_id: &aws.access_key_id,
        secret_access_key: &aws.secret_access_key,
        session_token: aws.session_token.as_deref(),
    };
    Ok(render(keys, credential.expires_at, shape))
}

/// `credbox aws MANIFEST [--claude-export]`: the credentials of the helper
/// at `target` in `shape` on stdout, or the one-line failure.
pub fn handle(target: &Path, shape: Shape, out: &mut Out) -> u8 {
    serve(
        out,
        Target::named(target),
        Overrides::default(),
        &Request::new(Client::Aws),
        &RunOptions::default(),
        |credential| answer(credential, shape),
        &Manner::plain(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPORARY: Keys<'static> = Keys {
        access_key_id: "ASIAEXAMPLE",
        secret_access_key: "wJalr/K7MDENG+bPxRfiCY",
        session_token: Some("FwoGZXIvYXdzE\"quoted\\"),
    };

    #[test]
    fn credential_process_has_version_1_and_an_rfc3339_expiration() {
        assert_eq!(
            render(TEMPORARY, Some(2_147_483_648), Shape::CredentialProcess),
            concat!(
                r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"wJalr/K7MDENG+bPxRfiCY","#,
                r#""SessionToken":"FwoGZXIvYXdzE\"quoted\\","Expiration":"2038-01-19T03:14:08Z"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn long_term_keys_have_no_session_token_and_no_expiration() {
        let keys = Keys {
            session_token: None,
            ..TEMPORARY
        };
        let text = render(keys, None, Shape::CredentialProcess);
        assert_eq!(
            text,
            "{\"Version\":1,\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"wJalr/K7MDENG+bPxRfiCY\"}\n"
        );
        assert!(!text.contains("null"));
    }

    #[test]
    fn claude_export_nests_the_keys_under_credentials() {
        let text = render(TEMPORARY, Some(2_147_483_648), Shape::ClaudeExport);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"Credentials": {
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "wJalr/K7MDENG+bPxRfiCY",
                "SessionToken": "FwoGZXIvYXdzE\"quoted\\",
            }})
        );
        assert!(text.ends_with("}}\n") && !text[..text.len() - 1].contains('\n'));
        let keys = Keys {
            session_token: None,
            ..TEMPORARY
        };
        assert_eq!(
            render(keys, None, Shape::ClaudeExport),
            "{\"Credentials\":{\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"wJalr/K7MDENG+bPxRfiCY\"}}\n"
        );
    }
}
