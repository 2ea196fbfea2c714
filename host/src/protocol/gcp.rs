//! Google Cloud executable-sourced credentials (workload identity
//! federation): `credbox gcp MANIFEST`.
//!
//! In a credential configuration (`type: external_account`, as made by
//! `gcloud iam workload-identity-pools create-cred-config`):
//!
//! ```json
//! "credential_source": {
//!   "executable": {
//!     "command": "/usr/local/bin/credbox gcp /path/to/credbox.toml",
//!     "timeout_millis": 30000
//!   }
//! }
//! ```
//!
//! Google's auth libraries (google-auth for Python, google-auth-library for
//! Node, Go's `oauth2/google`, Java...) run the command only when
//! `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`, split on spaces without a
//! shell, with [`AUDIENCE_VAR`] (the workload identity provider),
//! [`TOKEN_TYPE_VAR`] (the subject token type the STS expects), and, when
//! the configuration names them, [`IMPERSONATED_EMAIL_VAR`] and
//! [`OUTPUT_FILE_VAR`]. The audience, token type and email go in the
//! request (and so in the cache key); the helper returns the third-party
//! token (`Credential::token`), which the library sends to Google's STS as
//! the subject token.
//!
//! The answer is the executable response, version 1, one line on stdout:
//! `{"version":1,"success":true,"token_type":…,"id_token":…,
//! "expiration_time":…}` (`saml_response` instead of `id_token` for SAML 2,
//! `expiration_time` in Unix seconds, left out when the helper gave no
//! expiry). The token must fit the type: a JWT (three base64url parts) for
//! the `jwt` and `id_token` types, base64 for `saml2`; a helper answering
//! something else is an invalid output, caught here rather than by the STS.
//!
//! Failures are the response the spec gives them, also one line on stdout,
//! with the failure's exit code: `{"version":1,"success":false,
//! "code":"denied","message":"credbox: NAME: denied: … (hint)"}`, the
//! `message` being credbox's usual redacted line. Nothing goes on stderr,
//! not even a cache warning or the helper's log lines (`credbox run -v
//! MANIFEST` shows those): Python's and Node's libraries read stdout and
//! stderr as one stream, parse it as JSON on exit code 0, and show it
//! whole in their error otherwise.
//!
//! With [`OUTPUT_FILE_VAR`] set (the configuration's `output_file`), the
//! libraries read that file first and use its response until its
//! `expiration_time`, without running credbox; credbox writes a successful
//! response there (mode 0600, replaced atomically), as the spec requires,
//! and refuses a credential without an expiry, which such a file must
//! have. The file holds the token in plain text: the configuration asks
//! for that, credbox's own cache needs no such file. In interactive mode
//! ([`INTERACTIVE_VAR`] `1`, where the library lets credbox's stdout go to
//! the terminal and reads the file instead) the token goes to the file
//! only. Revocation ([`REVOKE_VAR`] `1`) is not supported.

use serde::Serialize;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::guest::RunOptions;
use crate::guest::log::LogLevel;
use crate::policy::Overrides;
pub use crate::request::GcpRequest;
use crate::request::{Client, Request};
use crate::serve::{Out, Reply, Target, answer};
use crate::validation::Credential;

/// The workload identity provider, the STS audience.
pub const AUDIENCE_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE";
/// The subject token type the STS is told to expect.
pub const TOKEN_TYPE_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE";
/// The service account the access token will impersonate, when any.
pub const IMPERSONATED_EMAIL_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL";
/// The configuration's `output_file`, when it names one.
pub const OUTPUT_FILE_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE";
/// `1` in interactive mode (workforce pools, a user at a terminal).
pub const INTERACTIVE_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE";
/// `1` when the library asks to revoke rather than fetch.
pub const REVOKE_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_REVOKE";

/// An OIDC ID token.
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// A JWT.
pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// A SAML 2 assertion (base64).
pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";

/// Longest audience taken, in bytes (a provider's resource name is about
/// 150).
pub const MAX_AUDIENCE_LEN: usize = 1024;
/// Longest service account email taken, in bytes.
pub const MAX_EMAIL_LEN: usize = 320;
/// Longest output file path taken, in bytes.
pub const MAX_OUTPUT_FILE_LEN: usize = 4096;

/// What to do about unusable variables: they come from the credential
/// configuration, through the library.
const CONFIG_HINT: &str = "credbox gcp is run by Google's auth libraries as credential_source.executable.command: check the credential configuration's audience, subject_token_type and service_account_impersonation_url";

/// What the library asked, from its `GOOGLE_EXTERNAL_ACCOUNT_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The request for the helper.
    pub request: GcpRequest,
    /// Where to write the response too.
    pub output_file: Option<PathBuf>,
    /// Whether stdout is the user's terminal (the response goes to the
    /// output file only).
    pub interactive: bool,
}

/// Reads what the library asked through `var` (the environment, in
/// `main`). Errors exit 2, as usage errors; they name the variable but
/// never quote its value.
pub fn parse_env(var: impl Fn(&str) -> Result<String, std::env::VarError>) -> Result<Asked, Error> {
    let bad = |name: &str, what: &str| Error::Environment {
        message: format!("{name} {what}"),
        hint: CONFIG_HINT.to_owned(),
    };
    let get = |name: &str| match var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(bad(name, "is not UTF-8")),
    };
    let word = |name: &str, max: usize| -> Result<Option<String>, Error> {
        match get(name)? {
            Some(value) if value.len() > max => {
                Err(bad(name, &format!("is longer than {max} bytes")))
            }
            Some(value) if !value.bytes().all(|b| b.is_ascii_graphic()) => Err(bad(
                name,
                "must be one line of printable ASCII without spaces",
            )),
            other => Ok(other),
        }
    };
    if get(REVOKE_VAR)?.as_deref() == Some("1") {
        return Err(bad(
            REVOKE_VAR,
            "is 1: credbox does not revoke subject tokens (`credbox logout MANIFEST` forgets the helper's state)",
        ));
    }
    let audience =
        word(AUDIENCE_VAR, MAX_AUDIENCE_LEN)?.ok_or_else(|| bad(AUDIENCE_VAR, "is not set"))?;
    let token_type = match get(TOKEN_TYPE_VAR)?.as_deref() {
        Some(t @ (ID_TOKEN | JWT | SAML2)) => t.to_owned(),
        Some(_) => {
            return Err(bad(
                TOKEN_TYPE_VAR,
                &format!(
                    "is not a subject token type credbox answers ({ID_TOKEN}, {JWT} or {SAML2})"
                ),
            ));
        }
        None => return Err(bad(TOKEN_TYPE_VAR, "is not set")),
    };
    let impersonated_email = word(IMPERSONATED_EMAIL_VAR, MAX_EMAIL_LEN)?;
    let output_file = match get(OUTPUT_FILE_VAR)? {
        Some(path) if path.len() > MAX_OUTPUT_FILE_LEN => {
            return Err(bad(
                OUTPUT_FILE_VAR,
                &format!("is longer than {MAX_OUTPUT_FILE_LEN} bytes"),
            ));
        }
        Some(path) if path.chars().any(char::is_control) => {
            return Err(bad(OUTPUT_FILE_VAR, "holds a control character"));
        }
        Some(path) => Some(PathBuf::from(path)),
        None => None,
    };
    let interactive = get(INTERACTIVE_VAR)?.as_deref() == Some("1");
    if interactive && output_file.is_none() {
        return Err(bad(
            INTERACTIVE_VAR,
            "is 1 without an output_file: set credential_source.executable.output_file",
        ));
    }
    Ok(Asked {
        request: GcpRequest {
            audience,
            token_type,
            impersonated_email,
        },
        output_file,
        interactive,
    })
}

#[derive(Serialize)]
struct Success<'a> {
    version: u8,
    success: bool,
    token_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    saml_response: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_time: Option<u64>,
}

#[derive(Serialize)]
struct Failure<'a> {
    version: u8,
    success: bool,
    code: &'a str,
    message: &'a str,
}

fn one_line_json(value: &impl Serialize) -> String {
    // Serializing borrowed strings and numbers into a String cannot fail.
    let mut text = serde_json::to_string(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The successful response for `token` of `token_type`, valid until
/// `expires_at` (Unix seconds) when known: one line, newline included.
pub fn render(token_type: &str, token: &str, expires_at: Option<u64>) -> String {
    let saml = token_type == SAML2;
    one_line_json(&Success {
        version: 1,
        success: true,
        token_type,
        id_token: (!saml).then_some(token),
        saml_response: saml.then_some(token),
        expiration_time: expires_at,
    })
}

/// The failure response for `error` about `subject`: the `code` a word
/// for its class, the `message` credbox's one redacted line.
pub fn render_failure(subject: &str, error: &Error) -> String {
    let code = match error.exit_code() {
        2 => "usage",
        3 => "misconfigured",
        4 => "denied",
        5 => "unavailable",
        6 => "limit",
        7 => "invalid-output",
        8 => "helper-failed",
        9 => "request-denied",
        10 => "not-found",
        _ => "internal",
    };
    one_line_json(&Failure {
        version: 1,
        success: false,
        code,
        message: &error.report(subject),
    })
}

/// Whether `part` is non-empty base64url without padding.
fn is_base64url(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks that `token` fits `token_type`: a signed JWT (three base64url
/// parts) for [`JWT`] and [`ID_TOKEN`], base64 (either alphabet, padded or
/// not) for [`SAML2`]. The message never quotes the token.
pub fn check_token(token_type: &str, token: &str) -> Result<(), Error> {
    let fits = match token_type {
        SAML2 => {
            let body = token.trim_end_matches('=');
            is_base64url(&body.replace(['+', '/'], "_")) && token.len() - body.len() <= 2
        }
        _ => {
            let parts: Vec<&str> = token.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| is_base64url(p))
        }
    };
    match fits {
        true => Ok(()),
        false => Err(Error::InvalidOutput(match token_type {
            SAML2 => "the token is not a base64 SAML assertion, as the saml2 token type needs".into(),
            _ => "the token is not a JWT (three base64url parts), as the jwt and id_token token types need".into(),
        })),
    }
}

/// The response for `credential`'s token, as `asked`, written to the output
/// file when there is one: the text for stdout (empty in interactive
/// mode). A credential without a token, or whose token does not fit the
/// type, is an invalid output; one without an expiry cannot go in an output
/// file.
pub fn respond(credential: &Credential, asked: &Asked) -> Result<String, Error> {
    let token = credential.token.as_deref().ok_or_else(|| {
        Error::InvalidOutput(
            "no token for gcp (return Credential::token with the subject token)".into(),
        )
    })?;
    let token_type = &asked.request.token_type;
    check_token(token_type, token)?;
    let text = render(token_type, token, credential.expires_at);
    if let Some(path) = &asked.output_file {
        if credential.expires_at.is_none() {
            return Err(Error::InvalidOutput(
                "the helper gave no expiry, and an output_file needs the response's expiration_time (remove output_file from the credential configuration, or have the helper set expires-in)".into(),
            ));
        }
        write_output_file(path, &text)?;
    }
    Ok(match asked.interactive {
        true => String::new(),
        false => text,
    })
}

/// Writes `text` to `path`, mode 0600: to a new file beside it, then
/// renamed over it, so that a reader never sees half a response and a
/// link at `path` is replaced, not followed.
pub fn write_output_file(path: &Path, text: &str) -> Result<(), Error> {
    let failed = |e: std::io::Error| {
        Error::Environment {
        message: format!(
            "cannot write {OUTPUT_FILE_VAR} {}: {e}",
            crate::redact::one_line(&path.display().to_string(), 256)
        ),
        hint: "check credential_source.executable.output_file in the credential configuration: its folder must exist and be writable".into(),
    }
    };
    let name = path
        .file_name()
        .ok_or_else(|| failed(std::io::Error::other("no file name")))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".credbox-{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let write = || -> std::io::Result<()> {
        // Private to the user (0600, or an owner-only DACL on Windows).
        let mut file = crate::platform::create_private_file(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        failed(e)
    })
}

/// Writes the failure response for `error` about `subject` on stdout; the
/// error's exit code.
fn fail(out: &mut Out<'_>, subject: &str, error: &Error) -> u8 {
    let _ = out
        .stdout()
        .write_all(render_failure(subject, error).as_bytes());
    let _ = out.stdout().flush();
    error.exit_code()
}

/// `credbox gcp MANIFEST`: the executable response for the helper at
/// `target`, asked through `var` (the environment).
pub fn handle(
    target: &Path,
    var: impl Fn(&str) -> Result<String, std::env::VarError>,
    out: &mut Out,
) -> u8 {
    let asked = match parse_env(var) {
        Ok(asked) => asked,
        Err(e) => return fail(out, "gcp", &e),
    };
    let request = Request::new(Client::Gcp(asked.request.clone()));
    // The helper's log lines would be read as part of the response too.
    let options = RunOptions {
        log_level: LogLevel::Off,
        ..RunOptions::default()
    };
    let reply = answer(
        Target::named(target),
        Overrides::default(),
        &request,
        &options,
        |credential| respond(credential, &asked),
    );
    match reply {
        // A warning (about the cache) is dropped: on stderr it would be
        // parsed as part of the response.
        Reply::Answer { helper, text, .. } => out.answer(&helper, &text),
        Reply::NotMine(Some(failure)) | Reply::Failed(failure) => {
            fail(out, &failure.subject, &failure.error)
        }
        Reply::NotMine(None) => fail(out, "gcp", &Error::NotFound("no manifest named".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const AUDIENCE: &str = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/credbox";
    const A_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjcmVkYm94In0.c2lnbmF0dXJl";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, std::env::VarError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned().ok_or(std::env::VarError::NotPresent)
    }

    #[test]
    fn the_request_comes_from_the_librarys_variables() {
        let asked = parse_env(env(&[
            (AUDIENCE_VAR, AUDIENCE),
            (TOKEN_TYPE_VAR, ID_TOKEN),
            (IMPERSONATED_EMAIL_VAR, "sa@p.iam.gserviceaccount.com"),
            (INTERACTIVE_VAR, "0"),
            (REVOKE_VAR, "0"),
        ]))
        .unwrap();
        assert_eq!(
            asked,
            Asked {
                request: GcpRequest {
                    audience: AUDIENCE.into(),
                    token_type: ID_TOKEN.into(),
                    impersonated_email: Some("sa@p.iam.gserviceaccount.com".into()),
                },
                output_file: None,
                interactive: false,
            }
        );
        let asked = parse_env(env(&[
            (AUDIENCE_VAR, AUDIENCE),
            (TOKEN_TYPE_VAR, SAML2),
            (IMPERSONATED_EMAIL_VAR, ""),
            (OUTPUT_FILE_VAR, "/tmp/out.json"),
            (INTERACTIVE_VAR, "1"),
        ]))
        .unwrap();
        assert_eq!(asked.request.impersonated_email, None);
        assert_eq!(asked.output_file, Some(PathBuf::from("/tmp/out.json")));
        assert!(asked.interactive);
    }

    #[test]
    fn bad_variables_are_usage_errors_that_quote_nothing() {
        let long = "a".repeat(MAX_AUDIENCE_LEN + 1);
        let long_path = format!("/{}", "p".repeat(MAX_OUTPUT_FILE_LEN));
        for (vars, needle) in [
            (
                vec![(TOKEN_TYPE_VAR, JWT)],
                "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE is not set",
            ),
            (
                vec![(AUDIENCE_VAR, AUDIENCE)],
                "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE is not set",
            ),
            (
                vec![(AUDIENCE_VAR, "s3cr3t\r\nX: y"), (TOKEN_TYPE_VAR, JWT)],
                "AUDIENCE must be one line of printable ASCII",
            ),
            (
                vec![(AUDIENCE_VAR, "s3cr3t aud"), (TOKEN_TYPE_VAR, JWT)],
                "AUDIENCE must be one line of printable ASCII",
            ),
            (
                vec![(AUDIENCE_VAR, &long), (TOKEN_TYPE_VAR, JWT)],
                "AUDIENCE is longer than 1024 bytes",
            ),
            (
                vec![(AUDIENCE_VAR, AUDIENCE), (TOKEN_TYPE_VAR, "urn:s3cr3t")],
                "TOKEN_TYPE is not a subject token type credbox answers",
            ),
            (
                vec![
                    (AUDIENCE_VAR, AUDIENCE),
                    (TOKEN_TYPE_VAR, JWT),
                    (IMPERSONATED_EMAIL_VAR, "s3cr3t\u{0}@x"),
                ],
                "IMPERSONATED_EMAIL must be one line",
            ),
            (
                vec![
                    (AUDIENCE_VAR, AUDIENCE),
                    (TOKEN_TYPE_VAR, JWT),
                    (OUTPUT_FILE_VAR, "/tmp/s3cr3t\n"),
                ],
                "OUTPUT_FILE holds a control character",
            ),
            (
                vec![
                    (AUDIENCE_VAR, AUDIENCE),
                    (TOKEN_TYPE_VAR, JWT),
                    (OUTPUT_FILE_VAR, &long_path),
                ],
                "OUTPUT_FILE is longer than 4096 bytes",
            ),
            (
                vec![
                    (AUDIENCE_VAR, AUDIENCE),
                    (TOKEN_TYPE_VAR, JWT),
                    (INTERACTIVE_VAR, "1"),
                ],
                "INTERACTIVE is 1 without an output_file",
            ),
            (
                vec![
                    (AUDIENCE_VAR, AUDIENCE),
                    (TOKEN_TYPE_VAR, JWT),
                    (REVOKE_VAR, "1"),
                ],
                "does not revoke",
            ),
        ] {
            let error = parse_env(env(&vars)).unwrap_err();
            let text = error.to_string();
            assert_eq!(error.exit_code(), 2, "{text}");
            assert!(text.starts_with("GOOGLE_EXTERNAL_ACCOUNT_"), "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            assert!(!text.contains("s3cr3t"), "{text}");
        }
        let not_unicode = |_: &str| Err(std::env::VarError::NotUnicode("\u{fffd}".into()));
        let text = parse_env(not_unicode).unwrap_err().to_string();
        assert!(text.ends_with("is not UTF-8"), "{text}");
    }

    #[test]
    fn the_response_is_version_1_with_the_token_under_its_types_field() {
        assert_eq!(
            render(ID_TOKEN, A_JWT, Some(2_147_483_648)),
            format!(
                "{{\"version\":1,\"success\":true,\"token_type\":\"{ID_TOKEN}\",\"id_token\":\"{A_JWT}\",\"expiration_time\":2147483648}}\n"
            )
        );
        assert_eq!(
            render(SAML2, "PHNhbWw+", None),
            format!(
                "{{\"version\":1,\"success\":true,\"token_type\":\"{SAML2}\",\"saml_response\":\"PHNhbWw+\"}}\n"
            )
        );
    }

    #[test]
    fn a_failure_is_the_specs_failure_response_on_one_line() {
        let error = Error::Denied("no\n{\"success\":true}".into());
        let text = render_failure("h", &error);
        assert!(text.ends_with("}\n") && !text[..text.len() - 1].contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["success"], false);
        assert_eq!(value["code"], "denied");
        assert_eq!(value["message"], error.report("h"));
        assert!(
            value["message"]
                .as_str()
                .unwrap()
                .starts_with("credbox: h: denied: no\\n")
        );
    }

    #[test]
    fn the_token_must_fit_its_type() {
        for ok in [A_JWT, "a.b.c", "a-_.b.c"] {
            check_token(JWT, ok).unwrap();
            check_token(ID_TOKEN, ok).unwrap();
        }
        for bad in [
            "tok-ok",
            "a.b",
            "a.b.",
            "a..c",
            "a.b.c.d.e",
            "a.b=.c",
            "a.b+.c",
        ] {
            let text = check_token(ID_TOKEN, bad).unwrap_err().to_string();
            assert!(text.contains("is not a JWT"), "{bad}: {text}");
        }
        for ok in ["PHNhbWw+PC9zYW1sPg==", "PHNhbWw-PC9zYW1sPg", "YQ="] {
            check_token(SAML2, ok).unwrap();
        }
        for bad in ["", "===", "a===", "PHN=hbWw", "a.b.c", "<saml/>"] {
            let text = check_token(SAML2, bad).unwrap_err().to_string();
            assert!(text.contains("not a base64 SAML"), "{bad:?}: {text}");
        }
    }

    fn asked(output_file: Option<PathBuf>, interactive: bool) -> Asked {
        Asked {
            request: GcpRequest {
                audience: AUDIENCE.into(),
                token_type: JWT.into(),
                impersonated_email: None,
            },
            output_file,
            interactive,
        }
    }

    fn credential(token: &str, expires_at: Option<u64>) -> Credential {
        Credential {
            headers: Vec::new(),
            token: Some(token.into()),
            user_secret: None,
            aws: None,
            expires_at,
        }
    }

    #[test]
    fn the_output_file_gets_the_response_privately_and_needs_an_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let text = respond(
            &credential(A_JWT, Some(4_000_000_000)),
            &asked(Some(path.clone()), false),
        )
        .unwrap();
        assert_eq!(text, render(JWT, A_JWT, Some(4_000_000_000)));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        #[cfg(unix)]
        assert_eq!(crate::platform::testing::mode(&path) & 0o777, 0o600);
        // A link there is replaced, not followed.
        #[cfg(unix)]
        {
            let elsewhere = dir.path().join("elsewhere");
            std::fs::write(&elsewhere, "kept").unwrap();
            std::fs::remove_file(&path).unwrap();
            crate::platform::testing::symlink(&elsewhere, &path);
            respond(
                &credential(A_JWT, Some(4_000_000_000)),
                &asked(Some(path.clone()), false),
            )
            .unwrap();
            assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "kept");
            assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        }
        // Interactive: the file only, nothing for the terminal.
        let quiet = respond(
            &credential(A_JWT, Some(4_000_000_001)),
            &asked(Some(path.clone()), true),
        )
        .unwrap();
        assert_eq!(quiet, "");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("4000000001")
        );
        // No expiry: refused, the file untouched.
        let error =
            respond(&credential(A_JWT, None), &asked(Some(path.clone()), false)).unwrap_err();
        assert_eq!(error.exit_code(), 7);
        assert!(
            error
                .to_string()
                .contains("needs the response's expiration_time")
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("4000000001")
        );
        // A folder that does not exist: a usage error naming the variable.
        let error = respond(
            &credential(A_JWT, Some(4_000_000_000)),
            &asked(Some(dir.path().join("missing/out.json")), false),
        )
        .unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error
                .to_string()
                .starts_with("cannot write GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE ")
        );
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "out.json and elsewhere, no temporary file");
    }

    #[test]
    fn a_token_that_does_not_fit_is_refused_unquoted() {
        let error = respond(&credential("s3cr3t-api-key", None), &asked(None, false)).unwrap_err();
        assert_eq!(error.exit_code(), 7);
        assert!(!error.to_string().contains("s3cr3t"));
    }

    #[test]
    fn the_front_end_fails_in_the_specs_shape_on_stdout_only() {
        use crate::serve::tests::written;
        let w = written(|out| handle(Path::new("/nonexistent/m.toml"), env(&[]), out));
        assert_eq!((w.code, &w.stderr[..]), (2, ""));
        let value: serde_json::Value = serde_json::from_str(&w.stdout).unwrap();
        assert_eq!(value["code"], "usage");
        let message = value["message"].as_str().unwrap();
        assert!(
            message.starts_with("credbox: gcp: GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE is not set ("),
            "{message}"
        );
        let vars = [(AUDIENCE_VAR, AUDIENCE), (TOKEN_TYPE_VAR, JWT)];
        let w = written(|out| handle(Path::new("/nonexistent/m.toml"), env(&vars), out));
        assert_eq!((w.code, &w.stderr[..]), (2, ""));
        let value: serde_json::Value = serde_json::from_str(&w.stdout).unwrap();
        assert!(
            value["message"]
                .as_str()
                .unwrap()
                .starts_with("credbox: /nonexistent/m.toml: ")
        );
    }
}
