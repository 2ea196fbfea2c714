//! Kubernetes exec credential plugins (`client.authentication.k8s.io`):
//! `credbox k8s MANIFEST`.
//!
//! In a kubeconfig's `users[].user.exec`:
//!
//! ```yaml
//! apiVersion: client.authentication.k8s.io/v1
//! command: /usr/local/bin/credbox
//! args: [k8s, /path/to/credbox.toml]
//! interactiveMode: Never
//! provideClusterInfo: true
//! ```
//!
//! kubectl (client-go) sets `KUBERNETES_EXEC_INFO` to an `ExecCredential`
//! whose `apiVersion` is the one the kubeconfig names and, with
//! `provideClusterInfo: true`, whose `spec.cluster.server` is the API
//! server: that server goes in the request (and so in the cache key). The
//! answer is an `ExecCredential` of the same `apiVersion` with
//! `status.token` and, when known, `status.expirationTimestamp` (RFC 3339;
//! without it client-go keeps the token for the life of the process).
//!
//! On failure client-go shows the plugin's stderr and exit code, and reads
//! nothing from stdout: credbox's usual failure is its convention too.

use serde::Serialize;

use std::path::Path;

use super::rfc3339;
use crate::error::Error;
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::request::{Client, Request};
use crate::routes::RequestUrl;
use crate::serve::{Manner, NotMine, Out, Target, serve};
use crate::validation::Credential;

/// The environment variable client-go describes the request in.
pub const EXEC_INFO_VAR: &str = "KUBERNETES_EXEC_INFO";
/// `client.authentication.k8s.io/v1`: the default when client-go sets no
/// [`EXEC_INFO_VAR`].
pub const V1: &str = "client.authentication.k8s.io/v1";
/// `client.authentication.k8s.io/v1beta1`, the same shape for a token.
pub const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";
/// What to do about an unusable [`EXEC_INFO_VAR`]: it is kubectl's doing.
const EXEC_INFO_HINT: &str = "credbox k8s is run by kubectl as an exec credential plugin: check the kubeconfig user's exec apiVersion (client.authentication.k8s.io/v1)";

/// Longest `spec.cluster.server` taken, in bytes.
pub const MAX_SERVER_LEN: usize = 2048;

/// What `KUBERNETES_EXEC_INFO` says about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInfo {
    /// The `apiVersion` to answer in: [`V1`] or [`V1BETA1`].
    pub api_version: &'static str,
    /// `spec.cluster.server`, when client-go provides cluster info.
    pub server: Option<String>,
}

/// Reads the value of [`EXEC_INFO_VAR`] (`None` when unset: then [`V1`],
/// no server). Errors exit 2, as usage errors, with a hint for kubectl's
/// user; they name the variable and the field but never quote its values
/// (its `spec.cluster.config` is free form).
pub fn parse_exec_info(value: Option<&str>) -> Result<ExecInfo, Error> {
    let bad = |what: &str| Error::Environment {
        message: format!("{EXEC_INFO_VAR} {what}"),
        hint: EXEC_INFO_HINT.to_owned(),
    };
    let Some(value) = value else {
        return Ok(ExecInfo {
            api_version: V1,
            server: None,
        });
    };
    let json: serde_json::Value = serde_json::from_str(value).map_err(|e| {
        bad(&format!(
            "is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let info = json
        .as_object()
        .ok_or_else(|| bad("is not a JSON object"))?;
    match info.get("kind") {
        None => {}
        Some(kind) if kind == "ExecCredential" => {}
        Some(_) => return Err(bad("has a `kind` other than ExecCredential")),
    }
    let api_version = match info.get("apiVersion").and_then(|v| v.as_str()) {
        Some(V1) => V1,
        Some(V1BETA1) => V1BETA1,
        Some(_) => {
            return Err(bad(&format!(
                "names an `apiVersion` credbox does not speak (use {V1} in the kubeconfig)"
            )));
        }
        None => return Err(bad("has no `apiVersion`")),
    };
    let server = match json.pointer("/spec/cluster/server") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.is_empty() => None,
        Some(serde_json::Value::String(s)) if s.len() > MAX_SERVER_LEN => {
            return Err(bad(&format!(
                "has a `spec.cluster.server` longer than {MAX_SERVER_LEN} bytes"
            )));
        }
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("has a `spec.cluster.server` that is not a string")),
    };
    Ok(ExecInfo {
        api_version,
        server,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential<'a> {
    api_version: &'a str,
    kind: &'static str,
    status: Status<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<String>,
}

/// The `ExecCredential` to print: `token`, valid until `expires_at` (Unix
/// seconds) when known, in `api_version`. One line, newline included.
pub fn render(api_version: &str, token: &str, expires_at: Option<u64>) -> String {
    let credential = ExecCredential {
        api_version,
        kind: "ExecCredential",
        status: Status {
            token,
            expiration_timestamp: expires_at.map(rfc3339::format_utc),
        },
    };
    // Serializing borrowed strings into a String cannot fail.
    let mut text = serde_json::to_string(&credential).unwrap_or_default();
    text.push('\n');
    text
}

/// The `ExecCredential` for `credential`'s token, in `api_version`. A
/// credential without one (a shared cache entry from a helper that has
/// none) is an invalid output: nothing is printed.
pub fn answer(credential: &Credential, api_version: &str) -> Result<String, Error> {
    let token = credential.token.as_deref().ok_or_else(|| {
        Error::InvalidOutput(
            "no token for kubernetes (return Credential::bearer or Credential::token)".into(),
        )
    })?;
    Ok(render(api_version, token, credential.expires_at))
}

/// `credbox k8s [MANIFEST]`: an `ExecCredential` for kubectl on stdout,
/// from the helper `named`, else the user's route for the cluster's
/// server; `exec_info` is [`EXEC_INFO_VAR`]'s value as the environment
/// has it.
pub fn handle(
    named: Option<&Path>,
    exec_info: std::result::Result<String, std::env::VarError>,
    out: &mut Out,
) -> u8 {
    let subject = named.map_or("k8s".to_owned(), |t| t.display().to_string());
    let value = match exec_info {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            let error = Error::Environment {
                message: format!("{EXEC_INFO_VAR} is not UTF-8"),
                hint: "kubectl sets it to JSON: check the kubeconfig user's exec section".into(),
            };
            return out.fail(&subject, &error);
        }
    };
    let info = match parse_exec_info(value.as_deref()) {
        Ok(info) => info,
        Err(e) => return out.fail(&subject, &e),
    };
    // Without a manifest, the user's route for the cluster's server.
    let url = info
        .server
        .as_deref()
        .and_then(|server| RequestUrl::parse(server).ok());
    let no_route = match &info.server {
        Some(server) => format!("no route in credbox's config.toml covers {server}"),
        None => "no manifest named, and no cluster server to route by (set provideClusterInfo: true in the kubeconfig)".to_owned(),
    };
    let manner = Manner {
        not_mine: NotMine::Fail {
            subject: "k8s".into(),
            no_route,
        },
        failures_on_stdout: false,
    };
    let request = Request::new(Client::Kubernetes {
        server: info.server,
    });
    let api_version = info.api_version;
    serve(
        out,
        Target {
            named,
            url: url.as_ref(),
        },
        Overrides::default(),
        &request,
        &RunOptions::default(),
        |credential| answer(credential, api_version),
        &manner,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_exec_info_is_v1_without_a_server() {
        assert_eq!(
            parse_exec_info(None).unwrap(),
            ExecInfo {
                api_version: V1,
                server: None
            }
        );
    }

    #[test]
    fn the_server_comes_from_the_cluster_info() {
        // What kubectl 1.3x sets with provideClusterInfo: true.
        let info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://127.0.0.1:6443","certificate-authority-data":"LS0tLS1CRUdJTg==","config":{"anything":[1,2]}},"interactive":false}}"#;
        assert_eq!(
            parse_exec_info(Some(info)).unwrap(),
            ExecInfo {
                api_version: V1,
                server: Some("https://127.0.0.1:6443".into())
            }
        );
        let beta = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;
        assert_eq!(
            parse_exec_info(Some(beta)).unwrap(),
            ExecInfo {
                api_version: V1BETA1,
                server: None
            }
        );
    }

    #[test]
    fn bad_exec_info_is_a_usage_error_that_quotes_nothing() {
        for (info, needle) in [
            ("{not json s3cr3t", "is not JSON (line 1, column 2)"),
            ("[\"s3cr3t\"]", "is not a JSON object"),
            (
                r#"{"kind":"s3cr3t","apiVersion":"client.authentication.k8s.io/v1"}"#,
                "`kind` other than ExecCredential",
            ),
            (
                r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1-s3cr3t"}"#,
                "does not speak (use client.authentication.k8s.io/v1",
            ),
            (r#"{"kind":"ExecCredential"}"#, "has no `apiVersion`"),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":["s3cr3t"]}}}"#,
                "`spec.cluster.server` that is not a string",
            ),
        ] {
            let error = parse_exec_info(Some(info)).unwrap_err();
            let text = error.to_string();
            assert_eq!(error.exit_code(), 2, "{text}");
            assert!(error.hint().contains("kubeconfig"), "{text}");
            assert!(text.starts_with("KUBERNETES_EXEC_INFO "), "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            assert!(!text.contains("s3cr3t"), "{text}");
        }
        let long = format!(
            r#"{{"apiVersion":"{V1}","spec":{{"cluster":{{"server":"https://{}"}}}}}}"#,
            "a".repeat(MAX_SERVER_LEN)
        );
        assert!(
            parse_exec_info(Some(&long))
                .unwrap_err()
                .to_string()
                .contains("longer than 2048 bytes")
        );
    }

    #[test]
    fn the_answer_is_an_exec_credential_in_the_asked_version() {
        assert_eq!(
            render(V1, "tok\"en", Some(2_147_483_648)),
            "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok\\\"en\",\"expirationTimestamp\":\"2038-01-19T03:14:08Z\"}}\n"
        );
        assert_eq!(
            render(V1BETA1, "t", None),
            "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}\n"
        );
    }

    #[test]
    fn the_front_end_names_what_kubectl_must_fix() {
        use crate::serve::tests::written;
        let not_unicode = std::env::VarError::NotUnicode("\u{fffd}".into());
        let w = written(|out| handle(None, Err(not_unicode), out));
        assert_eq!((w.code, &w.stdout[..]), (2, ""));
        assert!(
            w.stderr
                .starts_with("credbox: k8s: KUBERNETES_EXEC_INFO is not UTF-8 ("),
            "{}",
            w.stderr
        );
        // No manifest, no server to route by: not found, about k8s.
        let w = written(|out| handle(None, Err(std::env::VarError::NotPresent), out));
        assert_eq!((w.code, &w.stdout[..]), (10, ""));
        assert!(
            w.stderr
                .starts_with("credbox: k8s: not found: no manifest named, and no cluster server"),
            "{}",
            w.stderr
        );
        let w = written(|out| handle(Some(Path::new("/nonexistent/m.toml")), Ok("{".into()), out));
        assert_eq!(w.code, 2);
        assert!(
            w.stderr.starts_with("credbox: /nonexistent/m.toml: "),
            "{}",
            w.stderr
        );
    }
}
