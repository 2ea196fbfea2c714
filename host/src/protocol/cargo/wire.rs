//! Cargo's provider protocol on the wire: the requests Cargo writes and
//! the answers it reads, as serde-derived types shaped like those of
//! Cargo's own `cargo-credential` crate (only the fields credbox uses).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::CargoRequest;

/// Longest index URL, registry name, operation or crate name taken.
pub const MAX_FIELD: usize = 2048;

/// What a request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `"kind":"get"`: a token.
    Get(CargoRequest),
    /// `"kind":"login"` (`cargo login`), for the registry of this index URL.
    Login(String),
    /// `"kind":"logout"` (`cargo logout`), for the registry of this index
    /// URL.
    Logout(String),
    /// Any other kind, from a later Cargo.
    Unknown,
}

/// One request from Cargo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What it asks.
    pub action: Action,
    /// `args`: the words after the program in `credential-provider`, then
    /// those after `cargo login --`.
    pub args: Vec<String>,
}

/// A request as Cargo writes it (cargo-credential's `CredentialRequest`):
/// only the fields credbox reads; the rest (`headers`, `vers`, `cksum`,
/// `token`, …) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireRequest {
    registry: WireRegistry,
    #[serde(flatten)]
    kind: WireKind,
    #[serde(default)]
    args: Option<Vec<String>>,
}

/// A request's `registry` (cargo-credential's `RegistryInfo`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireRegistry {
    index_url: String,
    #[serde(default)]
    name: Option<String>,
}

/// A request's `kind`, with the fields of a `get` (cargo-credential's
/// `Action` and `Operation`).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum WireKind {
    Get {
        operation: String,
        #[serde(default)]
        name: Option<String>,
    },
    Login,
    Logout,
    #[serde(other)]
    Unknown,
}

/// Reads one request line. The error says what is wrong without quoting
/// any value (a `login` request may carry a token): it names the field,
/// from serde's path to it, and never repeats serde's own message, which
/// may quote what it got.
pub fn parse_request(line: &str) -> Result<Message, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        format!(
            "Cargo's request is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err("Cargo's request is not a JSON object".into());
    };
    if object.get("v").and_then(Value::as_u64) != Some(1) {
        return Err("Cargo's request is not version 1 of the protocol".into());
    }
    let wire: WireRequest = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let missing = e.inner().to_string();
        let missing = missing
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        match missing {
            Some("registry") => "Cargo's request has no `registry` object".to_owned(),
            Some(field) if path == "." => format!("Cargo's request has no `{field}`"),
            Some(field) => format!("Cargo's request has no `{path}.{field}`"),
            None if path.starts_with("args[") => {
                "Cargo's request has an `args` entry that is not a string".to_owned()
            }
            None if path == "args" => "Cargo's request has `args` that is not a list".to_owned(),
            None if path == "registry" => "Cargo's request has no `registry` object".to_owned(),
            // The fields of `kind` (flattened into the request) lose their
            // path: the error is at the root.
            None if path == "." => {
                "Cargo's request has a `kind`, `operation` or `name` that is not a string"
                    .to_owned()
            }
            None => format!("Cargo's request has a `{path}` that is not a string"),
        }
    })?;
    let long = |name: &str, value: &str| {
        (value.len() > MAX_FIELD)
            .then(|| format!("Cargo's request has a `{name}` longer than {MAX_FIELD} bytes"))
    };
    let registry = wire.registry;
    let index_url = registry.index_url;
    let fields = [
        ("registry.index-url", Some(&index_url)),
        ("registry.name", registry.name.as_ref()),
    ];
    if let Some(error) = fields
        .iter()
        .find_map(|(name, value)| value.and_then(|v| long(name, v)))
    {
        return Err(error);
    }
    let action = match wire.kind {
        WireKind::Get { operation, name } => {
            let crate_name = if operation == "read" { None } else { name };
            let fields = [
                ("operation", Some(&operation)),
                ("name", crate_name.as_ref()),
            ];
            if let Some(error) = fields
                .iter()
                .find_map(|(name, value)| value.and_then(|v| long(name, v)))
            {
                return Err(error);
            }
            Action::Get(CargoRequest {
                registry_name: registry.name,
                index_url,
                operation,
                crate_name,
            })
        }
        WireKind::Login => Action::Login(index_url),
        WireKind::Logout => Action::Logout(index_url),
        WireKind::Unknown => Action::Unknown,
    };
    Ok(Message {
        action,
        args: wire.args.unwrap_or_default(),
    })
}

/// Why a request failed, as Cargo classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// This provider does not serve the registry: Cargo tries the next.
    UrlNotSupported,
    /// No credential for it: Cargo tries the next provider.
    NotFound,
    /// A kind of request credbox does not know.
    OperationNotSupported,
    /// Anything else: Cargo stops and shows the message.
    Other,
}

/// credbox's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A token, valid until `expires_at` (Unix seconds) when known.
    Token {
        /// Sent as the registry's `Authorization` header.
        token: String,
        /// When Cargo must stop using it.
        expires_at: Option<u64>,
    },
    /// `cargo login` succeeded.
    LoggedIn,
    /// `cargo logout` succeeded.
    LoggedOut,
    /// A failure.
    Error {
        /// Its class.
        kind: ErrorKind,
        /// One line that Cargo shows (redacted by whoever made it).
        message: String,
    },
}

/// An answer as Cargo reads it (cargo-credential's `Result<
/// CredentialResponse, Error>`).
#[derive(Serialize)]
enum Line<'a> {
    Ok(Done<'a>),
    Err(Failure<'a>),
}

/// cargo-credential's `CredentialResponse`.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Done<'a> {
    Get {
        token: &'a str,
        #[serde(flatten)]
        cache: Cache,
        operation_independent: bool,
    },
    Login,
    Logout,
}

/// cargo-credential's `CacheControl`: how long Cargo may keep a token.
#[derive(Serialize)]
#[serde(tag = "cache", rename_all = "kebab-case")]
enum Cache {
    Expires { expiration: u64 },
    Session,
}

#[derive(Serialize)]
struct Failure<'a> {
    kind: ErrorKind,
    message: &'a str,
}

impl Response {
    /// A failure of `kind`.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error {
            kind,
            message: message.into(),
        }
    }

    /// The answer as Cargo reads it: one line of JSON, newline included.
    ///
    /// A token is `"cache":"expires"` with its expiry when known (Cargo
    /// asks again a minute before it), else `"cache":"session"` (kept for
    /// this Cargo command: credbox's own cache bounds it across commands).
    /// It is `operation_independent`: a helper's credential is the
    /// registry's, whatever the operation.
    pub fn line(&self) -> String {
        let line = match self {
            Response::Token { token, expires_at } => Line::Ok(Done::Get {
                token,
                cache: match expires_at {
                    // Cargo reads a timestamp no later than year 9999.
                    Some(at) => Cache::Expires {
                        expiration: (*at).min(crate::protocol::rfc3339::MAX_UNIX),
                    },
                    None => Cache::Session,
                },
                operation_independent: true,
            }),
            Response::LoggedIn => Line::Ok(Done::Login),
            Response::LoggedOut => Line::Ok(Done::Logout),
            Response::Error { kind, message } => Line::Err(Failure {
                kind: *kind,
                message,
            }),
        };
        // Serializing strings and numbers into a String cannot fail.
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// What Cargo 1.95 sent a provider configured as
    /// `["/path/provider", "cargo", "/some/manifest.toml"]` for
    /// `cargo owner --list` (recorded from a real run).
    pub(in crate::protocol::cargo) const CARGO_READ: &str = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:18765/index/","name":"myreg","headers":["Server: BaseHTTP/0.6 Python/3.11.7","WWW-Authenticate: Cargo login_url=\"http://127.0.0.1/me\""]},"kind":"get","operation":"read","args":["cargo","/some/manifest.toml"]}"#;

    pub(in crate::protocol::cargo) fn get(
        operation: &str,
        crate_name: Option<&str>,
    ) -> CargoRequest {
        CargoRequest {
            registry_name: Some("myreg".into()),
            index_url: "sparse+http://127.0.0.1:18765/index/".into(),
            operation: operation.into(),
            crate_name: crate_name.map(Into::into),
        }
    }

    #[test]
    fn a_real_read_request_is_understood() {
        assert_eq!(
            parse_request(CARGO_READ).unwrap(),
            Message {
                action: Action::Get(get("read", None)),
                args: vec!["cargo".into(), "/some/manifest.toml".into()],
            }
        );
    }

    #[test]
    fn operations_on_a_crate_name_it() {
        // The shapes of cargo-credential's own tests.
        let owners = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:18765/index/","name":"myreg"},"kind":"get","operation":"owners","name":"pkg"}"#;
        assert_eq!(
            parse_request(owners).unwrap().action,
            Action::Get(get("owners", Some("pkg")))
        );
        let publish = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:18765/index/","name":"myreg"},"kind":"get","operation":"publish","name":"sample","vers":"0.1.0","cksum":"abc","args":[]}"#;
        assert_eq!(
            parse_request(publish).unwrap().action,
            Action::Get(get("publish", Some("sample")))
        );
        let logout = r#"{"v":1,"registry":{"index-url":"url"},"kind":"logout","args":[]}"#;
        assert_eq!(
            parse_request(logout).unwrap().action,
            Action::Logout("url".into())
        );
        let login = r#"{"v":1,"registry":{"index-url":"url"},"kind":"login","token":"s3cr3t"}"#;
        assert_eq!(
            parse_request(login).unwrap().action,
            Action::Login("url".into())
        );
        let later = r#"{"v":1,"registry":{"index-url":"url"},"kind":"frobnicate"}"#;
        assert_eq!(parse_request(later).unwrap().action, Action::Unknown);
    }

    #[test]
    fn bad_requests_say_what_is_wrong_and_quote_nothing() {
        for (line, needle) in [
            ("s3cr3t", "not JSON (line 1, column 1)"),
            ("[\"s3cr3t\"]", "not a JSON object"),
            (r#"{"v":2,"kind":"s3cr3t"}"#, "not version 1"),
            (r#"{"v":1,"registry":{"index-url":"u"}}"#, "no `kind`"),
            (
                r#"{"v":1,"kind":"get","operation":"read"}"#,
                "no `registry` object",
            ),
            (
                r#"{"v":1,"kind":"get","registry":{"index-url":["s3cr3t"]},"operation":"read"}"#,
                "`registry.index-url` that is not a string",
            ),
            (
                r#"{"v":1,"kind":"get","registry":{"index-url":"u"}}"#,
                "no `operation`",
            ),
            (
                r#"{"v":1,"kind":"login","registry":{"index-url":"u"},"args":[1]}"#,
                "`args` entry that is not a string",
            ),
            // Found by the `cargo` fuzz target: these said "a `.` that is
            // not a string".
            (
                r#"{"v":1,"registry":{"index-url":"u"},"kind":["s3cr3t"]}"#,
                "a `kind`, `operation` or `name` that is not a string",
            ),
            (
                r#"{"v":1,"registry":{"index-url":"u"},"kind":"get","operation":["s3cr3t"]}"#,
                "a `kind`, `operation` or `name` that is not a string",
            ),
            (
                r#"{"v":1,"registry":{"index-url":"u"},"kind":"get","operation":"x","name":7}"#,
                "a `kind`, `operation` or `name` that is not a string",
            ),
        ] {
            let error = parse_request(line).unwrap_err();
            assert!(error.contains(needle), "{error:?} lacks {needle:?}");
            assert!(!error.contains("s3cr3t"), "{error}");
        }
        let long = format!(
            r#"{{"v":1,"kind":"get","registry":{{"index-url":"{}"}},"operation":"read"}}"#,
            "u".repeat(MAX_FIELD + 1)
        );
        assert!(
            parse_request(&long)
                .unwrap_err()
                .contains("longer than 2048")
        );
    }

    #[test]
    fn answers_are_the_lines_cargo_reads() {
        assert_eq!(
            Response::Token {
                token: "tok\"1".into(),
                expires_at: Some(1_693_942_857)
            }
            .line(),
            "{\"Ok\":{\"kind\":\"get\",\"token\":\"tok\\\"1\",\"cache\":\"expires\",\"expiration\":1693942857,\"operation_independent\":true}}\n"
        );
        assert_eq!(
            Response::Token {
                token: "t".into(),
                expires_at: None
            }
            .line(),
            "{\"Ok\":{\"kind\":\"get\",\"token\":\"t\",\"cache\":\"session\",\"operation_independent\":true}}\n"
        );
        assert_eq!(
            Response::Token {
                token: "t".into(),
                expires_at: Some(u64::MAX)
            }
            .line(),
            "{\"Ok\":{\"kind\":\"get\",\"token\":\"t\",\"cache\":\"expires\",\"expiration\":253402300799,\"operation_independent\":true}}\n"
        );
        for (kind, text) in [
            (ErrorKind::UrlNotSupported, "url-not-supported"),
            (ErrorKind::NotFound, "not-found"),
            (ErrorKind::OperationNotSupported, "operation-not-supported"),
            (ErrorKind::Other, "other"),
        ] {
            assert_eq!(
                Response::error(kind, "a \"b\"").line(),
                format!("{{\"Err\":{{\"kind\":\"{text}\",\"message\":\"a \\\"b\\\"\"}}}}\n")
            );
        }
        assert_eq!(Response::LoggedIn.line(), "{\"Ok\":{\"kind\":\"login\"}}\n");
        assert_eq!(
            Response::LoggedOut.line(),
            "{\"Ok\":{\"kind\":\"logout\"}}\n"
        );
    }
}
