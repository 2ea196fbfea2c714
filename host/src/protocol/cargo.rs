//! Cargo credential providers (RFC 2730; Cargo's credential provider
//! protocol, version 1): `credbox cargo MANIFEST`.
//!
//! In Cargo's configuration:
//!
//! ```toml
//! [registries.my-registry]
//! index = "sparse+https://registry.example/index/"
//! credential-provider = ["/usr/local/bin/credbox", "cargo", "/path/to/credbox.toml"]
//! ```
//!
//! Cargo runs the program alone with [`PLUGIN_FLAG`] (`credbox
//! --cargo-plugin`) and passes the words after it in each request's `args`
//! field, so the manifest comes from there ([`manifest`]); run by hand or
//! from a wrapper, `credbox cargo MANIFEST [--cargo-plugin]` names it on the
//! command line instead.
//!
//! The exchange is lines of JSON: credbox says [`HELLO`] (`{"v":[1]}`),
//! Cargo sends a request (`{"v":1,"registry":{"index-url":…,"name":…},
//! "kind":"get","operation":"read",…}`), credbox answers one line, and so on
//! until Cargo closes stdin. Every answer, failures included, is a line on
//! stdout and the exit code is 0: Cargo ignores the answer of a provider
//! that exits non-zero, and shows the `message` of an `Err` answer itself.
//! `not-found` (the helper's `not-found`) lets Cargo try its next provider.
//!
//! `cargo login` runs the helper's login as `credbox login` does, and
//! `cargo logout` forgets its stored state and cached credentials, as
//! `credbox logout` does (see [`Account`]).

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::redact::{MAX_LINE as MAX_MESSAGE, one_line};
pub use crate::request::CargoRequest;
use crate::validation::Credential;

/// What credbox says first: the protocol versions it speaks.
pub const HELLO: &str = r#"{"v":[1]}"#;
/// The flag Cargo always runs a provider with.
pub const PLUGIN_FLAG: &str = "--cargo-plugin";
/// Longest request line read, in bytes.
pub const MAX_LINE: usize = 64 * 1024;
/// Most requests answered in one run (Cargo sends one).
pub const MAX_REQUESTS: usize = 16;
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

/// Reads one request line. The error says what is wrong without quoting
/// any value (a `login` request may carry a token).
pub fn parse_request(line: &str) -> Result<Message, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        format!(
            "Cargo's request is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let request = value
        .as_object()
        .ok_or("Cargo's request is not a JSON object")?;
    if request.get("v").and_then(Value::as_u64) != Some(1) {
        return Err("Cargo's request is not version 1 of the protocol".into());
    }
    let args = match request.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(args)) => args
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("Cargo's request has an `args` entry that is not a string")?,
        Some(_) => return Err("Cargo's request has `args` that is not a list".into()),
    };
    let action = match request.get("kind").and_then(Value::as_str) {
        Some("get") => Action::Get(get_request(request)?),
        Some("login") => Action::Login(index_url(request)?),
        Some("logout") => Action::Logout(index_url(request)?),
        Some(_) => Action::Unknown,
        None => return Err("Cargo's request has no `kind`".into()),
    };
    Ok(Message { action, args })
}

/// A request's `registry.index-url`.
fn index_url(request: &serde_json::Map<String, Value>) -> Result<String, String> {
    match request.pointer_get("registry", "index-url") {
        Some(Value::String(s)) if s.len() > MAX_FIELD => Err(format!(
            "Cargo's request has a `registry.index-url` longer than {MAX_FIELD} bytes"
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err("Cargo's request has a `registry.index-url` that is not a string".into()),
        None => Err("Cargo's request has no `registry.index-url`".into()),
    }
}

/// `map[first][second]`, when both are there.
trait PointerGet {
    fn pointer_get(&self, first: &str, second: &str) -> Option<&Value>;
}

impl PointerGet for serde_json::Map<String, Value> {
    fn pointer_get(&self, first: &str, second: &str) -> Option<&Value> {
        self.get(first)?.as_object()?.get(second)
    }
}

/// The fields of a `get` request.
fn get_request(request: &serde_json::Map<String, Value>) -> Result<CargoRequest, String> {
    let field = |value: Option<&Value>, name: &str| -> Result<Option<String>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() > MAX_FIELD => Err(format!(
                "Cargo's request has a `{name}` longer than {MAX_FIELD} bytes"
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!(
                "Cargo's request has a `{name}` that is not a string"
            )),
        }
    };
    let registry = request
        .get("registry")
        .and_then(Value::as_object)
        .ok_or("Cargo's request has no `registry` object")?;
    let index_url = field(registry.get("index-url"), "registry.index-url")?
        .ok_or("Cargo's request has no `registry.index-url`")?;
    let operation = field(request.get("operation"), "operation")?
        .ok_or("Cargo's request has no `operation`")?;
    Ok(CargoRequest {
        registry_name: field(registry.get("name"), "registry.name")?,
        index_url,
        crate_name: match operation.as_str() {
            "read" => None,
            _ => field(request.get("name"), "name")?,
        },
        operation,
    })
}

/// A `get` request for `request` as one line of JSON, that
/// [`parse_request`] reads back as `request` (a background refresh is
/// handed its request this way).
pub fn request_line(request: &CargoRequest) -> String {
    let mut registry = serde_json::Map::new();
    registry.insert("index-url".into(), request.index_url.clone().into());
    if let Some(name) = &request.registry_name {
        registry.insert("name".into(), name.clone().into());
    }
    let mut line = serde_json::Map::new();
    line.insert("v".into(), 1.into());
    line.insert("registry".into(), registry.into());
    line.insert("kind".into(), "get".into());
    line.insert("operation".into(), request.operation.clone().into());
    if let Some(name) = &request.crate_name {
        line.insert("name".into(), name.clone().into());
    }
    Value::Object(line).to_string()
}

/// Where the manifest is: `cli`, the one on the command line, else the
/// request's `args`, the words after the program in `credential-provider`:
/// `["cargo", MANIFEST]` names it; `["cargo"]` alone gives `None`, so that
/// the user's routes choose by the index URL ([`crate::routes`]).
pub fn manifest(cli: Option<PathBuf>, args: &[String]) -> Result<Option<PathBuf>, String> {
    if let Some(path) = cli {
        return Ok(Some(path));
    }
    match args {
        [cargo] if cargo == "cargo" => Ok(None),
        [cargo, path] if cargo == "cargo" && !path.is_empty() => Ok(Some(PathBuf::from(path))),
        _ => Err(
            "no manifest: set credential-provider = [\"/path/to/credbox\", \"cargo\", \"/path/to/credbox.toml\"] in Cargo's configuration (or [\"/path/to/credbox\", \"cargo\"] with a route for the registry)"
                .into(),
        ),
    }
}

/// The answer when no route covers the registry: `url-not-supported`, so
/// Cargo tries its next provider.
pub fn no_route(index_url: &str) -> Response {
    Response::error(
        ErrorKind::UrlNotSupported,
        format!(
            "credbox: no route in credbox's config.toml covers {}",
            one_line(index_url, 256)
        ),
    )
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

#[derive(Serialize)]
enum Line<'a> {
    Ok(Get<'a>),
    Err(Failure<'a>),
}

#[derive(Serialize)]
struct Get<'a> {
    kind: &'static str,
    token: &'a str,
    cache: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<u64>,
    operation_independent: bool,
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
            Response::Token { token, expires_at } => Line::Ok(Get {
                kind: "get",
                token,
                cache: if expires_at.is_some() {
                    "expires"
                } else {
                    "session"
                },
                // Cargo reads a timestamp no later than year 9999.
                expiration: expires_at.map(|at| at.min(super::rfc3339::MAX_UNIX)),
                operation_independent: true,
            }),
            Response::LoggedIn => return "{\"Ok\":{\"kind\":\"login\"}}\n".to_owned(),
            Response::LoggedOut => return "{\"Ok\":{\"kind\":\"logout\"}}\n".to_owned(),
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

/// The answer that hands Cargo `credential`'s token. A credential without
/// one (a shared cache entry from a helper that has none) is an `other`
/// failure, as any invalid output.
pub fn response(helper: &str, credential: &Credential) -> Response {
    match &credential.token {
        Some(token) => Response::Token {
            token: token.clone(),
            expires_at: credential.expires_at,
        },
        None => failure(
            helper,
            &Error::InvalidOutput(
                "no token for cargo (return Credential::bearer or Credential::token)".into(),
            ),
        ),
    }
}

/// The answer for a failed run: `not-found` for the helper's `not-found`
/// (remembered ones too: Cargo then tries its next provider), `other` for
/// the rest. The message is credbox's usual one line, `credbox: <helper>:
/// <what happened> (<what to do>)`: the error's text is redacted already,
/// and the line is cut and escaped here.
pub fn failure(helper: &str, error: &Error) -> Response {
    let kind = if error.exit_code() == Error::NotFound(String::new()).exit_code() {
        ErrorKind::NotFound
    } else {
        ErrorKind::Other
    };
    let message = format!("{error} ({})", error.hint());
    Response::error(
        kind,
        format!(
            "credbox: {}: {}",
            one_line(helper, 128),
            one_line(&message, MAX_MESSAGE)
        ),
    )
}

/// What `cargo login` and `cargo logout` ask of a helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// Run its login (`credbox login`).
    Login,
    /// Forget its state and cached credentials (`credbox logout`).
    Logout,
}

/// Speaks the protocol on `input` and `output`: the hello, then an answer
/// to each request (at most [`MAX_REQUESTS`]) until `input` ends. `get`
/// answers a `get` request, given the request's `args`; `account` a
/// `login` or `logout`, given the args and the registry's index URL. An
/// unreadable
/// request (not UTF-8, longer than [`MAX_LINE`]) is answered `other` and
/// ends the exchange. Errors are those of writing `output`.
pub fn serve(
    mut input: impl BufRead,
    mut output: impl Write,
    mut get: impl FnMut(&[String], CargoRequest) -> Response,
    mut account: impl FnMut(&[String], Account, String) -> Response,
) -> std::io::Result<()> {
    output.write_all(HELLO.as_bytes())?;
    output.write_all(b"\n")?;
    output.flush()?;
    for _ in 0..MAX_REQUESTS {
        let mut bytes = Vec::new();
        (&mut input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut bytes)?;
        if bytes.is_empty() {
            return Ok(());
        }
        let (response, stop) = match std::str::from_utf8(&bytes) {
            Ok(line) if line.ends_with('\n') || bytes.len() <= MAX_LINE => {
                let response = match parse_request(line) {
                    Err(message) => Response::error(ErrorKind::Other, message),
                    Ok(Message {
                        action: Action::Get(request),
                        args,
                    }) => get(&args, request),
                    Ok(Message {
                        action: Action::Login(index_url),
                        args,
                    }) => account(&args, Account::Login, index_url),
                    Ok(Message {
                        action: Action::Logout(index_url),
                        args,
                    }) => account(&args, Account::Logout, index_url),
                    Ok(Message {
                        action: Action::Unknown,
                        ..
                    }) => Response::error(
                        ErrorKind::OperationNotSupported,
                        "credbox answers Cargo's `get`, `login` and `logout` requests only",
                    ),
                };
                (response, false)
            }
            Ok(_) => (
                Response::error(
                    ErrorKind::Other,
                    format!("Cargo's request is longer than {MAX_LINE} bytes"),
                ),
                true,
            ),
            Err(_) => (
                Response::error(ErrorKind::Other, "Cargo's request is not UTF-8"),
                true,
            ),
        };
        output.write_all(response.line().as_bytes())?;
        output.flush()?;
        if stop {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Cargo 1.95 sent a provider configured as
    /// `["/path/provider", "cargo", "/some/manifest.toml"]` for
    /// `cargo owner --list` (recorded from a real run).
    const CARGO_READ: &str = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:18765/index/","name":"myreg","headers":["Server: BaseHTTP/0.6 Python/3.11.7","WWW-Authenticate: Cargo login_url=\"http://127.0.0.1/me\""]},"kind":"get","operation":"read","args":["cargo","/some/manifest.toml"]}"#;

    fn get(operation: &str, crate_name: Option<&str>) -> CargoRequest {
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
    fn a_request_line_reads_back_as_the_request() {
        for request in [
            get("read", None),
            get("yank", Some("pkg")),
            CargoRequest {
                registry_name: None,
                index_url: "https://x/\"quoted\"".into(),
                operation: "publish".into(),
                crate_name: Some("c".into()),
            },
        ] {
            let line = request_line(&request);
            assert!(!line.contains('\n'));
            assert_eq!(
                parse_request(&line).unwrap(),
                Message {
                    action: Action::Get(request),
                    args: vec![]
                }
            );
        }
    }

    #[test]
    fn the_manifest_comes_from_the_command_line_or_the_args() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            manifest(None, &args(&["cargo", "/m/credbox.toml"])).unwrap(),
            Some(PathBuf::from("/m/credbox.toml"))
        );
        assert_eq!(
            manifest(Some("/cli.toml".into()), &args(&["whatever"])).unwrap(),
            Some(PathBuf::from("/cli.toml"))
        );
        assert_eq!(manifest(None, &args(&["cargo"])).unwrap(), None);
        for bad in [
            &[][..],
            &["docker", "/m"],
            &["cargo", "/m", "x"],
            &["cargo", ""],
        ] {
            let error = manifest(None, &args(bad)).unwrap_err();
            assert!(error.contains("credential-provider = ["), "{error}");
        }
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

    #[test]
    fn failures_keep_cargo_s_not_found_and_credbox_s_one_line() {
        let not_found = failure("h", &Error::NotFound("no token for r".into()));
        let Response::Error { kind, message } = &not_found else {
            panic!("{not_found:?}")
        };
        assert_eq!(*kind, ErrorKind::NotFound);
        assert!(
            message.starts_with("credbox: h: not found: no token for r ("),
            "{message}"
        );
        // A remembered not-found keeps its class through its exit code.
        let cached = Error::CachedFailure {
            message: "not found: x".into(),
            exit_code: Error::NotFound(String::new()).exit_code(),
            retry_in: std::time::Duration::from_secs(5),
        };
        assert!(matches!(
            failure("h", &cached),
            Response::Error {
                kind: ErrorKind::NotFound,
                ..
            }
        ));
        let denied = failure("h\nx", &Error::Denied("no".into()));
        let Response::Error { kind, message } = &denied else {
            panic!("{denied:?}")
        };
        assert_eq!(*kind, ErrorKind::Other);
        assert!(!message.contains('\n'), "{message}");
        let token_less = response("h", &Credential::default());
        assert!(
            matches!(&token_less, Response::Error { kind: ErrorKind::Other, message } if message.contains("no token for cargo")),
            "{token_less:?}"
        );
        let credential = Credential {
            token: Some("t".into()),
            expires_at: Some(7),
            ..Credential::default()
        };
        assert_eq!(
            response("h", &credential),
            Response::Token {
                token: "t".into(),
                expires_at: Some(7)
            }
        );
    }

    fn exchange(input: &[u8]) -> (Vec<String>, Vec<(Vec<String>, CargoRequest)>) {
        let mut asked = Vec::new();
        let mut output = Vec::new();
        serve(
            input,
            &mut output,
            |args, request| {
                asked.push((args.to_vec(), request));
                Response::Token {
                    token: format!("tok-{}", asked.len()),
                    expires_at: None,
                }
            },
            |_, account, index_url| {
                assert_eq!(index_url, "u");
                match account {
                    Account::Login => Response::LoggedIn,
                    Account::Logout => Response::LoggedOut,
                }
            },
        )
        .unwrap();
        let lines = String::from_utf8(output)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        (lines, asked)
    }

    #[test]
    fn the_exchange_is_hello_then_one_answer_per_request() {
        let input = format!(
            "{CARGO_READ}\n{}\n",
            r#"{"v":1,"registry":{"index-url":"u"},"kind":"login","args":[]}"#
        );
        let (lines, asked) = exchange(input.as_bytes());
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], HELLO);
        assert!(lines[1].starts_with(r#"{"Ok":{"kind":"get","token":"tok-1""#));
        assert_eq!(lines[2], r#"{"Ok":{"kind":"login"}}"#);
        assert_eq!(
            asked,
            vec![(
                vec!["cargo".to_string(), "/some/manifest.toml".to_string()],
                get("read", None)
            )]
        );
        // Nothing to read: the hello alone.
        assert_eq!(exchange(b"").0, vec![HELLO.to_string()]);
    }

    #[test]
    fn unreadable_requests_are_answered_and_end_the_exchange() {
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.extend_from_slice(format!("\n{CARGO_READ}\n").as_bytes());
        let (lines, asked) = exchange(&long);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("longer than 65536 bytes"), "{}", lines[1]);
        assert!(asked.is_empty());
        let (lines, asked) = exchange(b"{\"v\":1,\xff}\n");
        assert!(lines[1].contains("not UTF-8"), "{}", lines[1]);
        assert!(asked.is_empty());
        // A bad line that is readable is answered, and the next one too.
        let (lines, asked) = exchange(format!("garbage\n{CARGO_READ}\n").as_bytes());
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with(r#"{"Err":{"kind":"other""#));
        assert_eq!(asked.len(), 1);
    }

    #[test]
    fn at_most_max_requests_are_answered() {
        let input = format!("{CARGO_READ}\n").repeat(MAX_REQUESTS + 3);
        let (lines, asked) = exchange(input.as_bytes());
        assert_eq!(asked.len(), MAX_REQUESTS);
        assert_eq!(lines.len(), MAX_REQUESTS + 1);
    }
}
