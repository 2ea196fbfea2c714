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
mod wire;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::redact::one_line;
pub use crate::request::CargoRequest;
use crate::request::{Client, Request};
use crate::routes::RequestUrl;
use crate::serve::{Helper, Out, Reply, Target, answer_by};
use crate::validation::Credential;
pub use wire::{Action, ErrorKind, MAX_FIELD, Message, Response, parse_request};

/// What credbox says first: the protocol versions it speaks.
pub const HELLO: &str = r#"{"v":[1]}"#;
/// The flag Cargo always runs a provider with.
pub const PLUGIN_FLAG: &str = "--cargo-plugin";
/// Longest request line read, in bytes.
pub const MAX_LINE: usize = 64 * 1024;
/// Most requests answered in one run (Cargo sends one).
pub const MAX_REQUESTS: usize = 16;

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

/// The answer that hands Cargo `credential`'s token. A credential without
/// one (a shared cache entry from a helper that has none) is an `other`
/// failure, as any invalid output.
pub fn response(helper: &str, credential: &Credential) -> Response {
    token(credential).unwrap_or_else(|e| failure(helper, &e))
}

/// `credential`'s token as Cargo's answer, or the invalid output that
/// its absence is.
fn token(credential: &Credential) -> Result<Response, Error> {
    match &credential.token {
        Some(token) => Ok(Response::Token {
            token: token.clone(),
            expires_at: credential.expires_at,
        }),
        None => Err(Error::InvalidOutput(
            "no token for cargo (return Credential::bearer or Credential::token)".into(),
        )),
    }
}

/// The answer for a failed run: `not-found` for the helper's `not-found`
/// (remembered ones too: Cargo then tries its next provider), `other` for
/// the rest. The message is credbox's usual one line, `credbox: <helper>:
/// <what happened> (<what to do>)`: the error's text is redacted already,
/// and the line is cut and escaped here.
pub fn failure(helper: &str, error: &Error) -> Response {
    let kind = if error.is_not_found() {
        ErrorKind::NotFound
    } else {
        ErrorKind::Other
    };
    Response::error(kind, error.report(helper))
}

/// What `cargo login` and `cargo logout` ask of a helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// Run its login (`credbox login`).
    Login,
    /// Forget its state and cached credentials (`credbox logout`).
    Logout,
}

/// Speaks the protocol on `input` and `out`'s stdout: the hello, then an
/// answer to each request (at most [`MAX_REQUESTS`]) until `input` ends.
/// `get` answers a `get` request, given the request's `args`; `account` a
/// `login` or `logout`, given the args and the registry's index URL; both
/// may write on `out`'s stderr (Cargo shows its provider's stderr). An
/// unreadable request (not UTF-8, longer than [`MAX_LINE`]) is answered
/// `other` and ends the exchange. Errors are those of writing stdout.
pub fn exchange(
    mut input: impl BufRead,
    out: &mut Out,
    mut get: impl FnMut(&mut Out, &[String], CargoRequest) -> Response,
    mut account: impl FnMut(&mut Out, &[String], Account, String) -> Response,
) -> std::io::Result<()> {
    let output = out.stdout();
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
                    }) => get(out, &args, request),
                    Ok(Message {
                        action: Action::Login(index_url),
                        args,
                    }) => account(out, &args, Account::Login, index_url),
                    Ok(Message {
                        action: Action::Logout(index_url),
                        args,
                    }) => account(out, &args, Account::Logout, index_url),
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
        let output = out.stdout();
        output.write_all(response.line().as_bytes())?;
        output.flush()?;
        if stop {
            return Ok(());
        }
    }
    Ok(())
}

/// `credbox cargo [MANIFEST]` and `credbox --cargo-plugin`: Cargo's
/// provider protocol on `stdin` and `out`, for the manifest on the command
/// line (`cli`) or in each request's `args`, else the user's route for the
/// registry's index URL. Every answer, failures included, is a line on
/// stdout and the exit code is 0, as Cargo expects; only losing stdout
/// fails.
pub fn handle(cli: Option<&Path>, stdin: impl BufRead, out: &mut Out) -> u8 {
    let exchanged = exchange(
        stdin,
        out,
        |out, args, request| get(out, cli, args, request),
        |out, args, account, index_url| account_for(out, cli, args, account, &index_url),
    );
    match exchanged {
        Ok(()) => 0,
        Err(e) => {
            out.line(&format!(
                "credbox: cargo: cannot answer Cargo on stdout: {e} (Cargo stopped reading; nothing to fix here unless it keeps happening)"
            ));
            1
        }
    }
}

/// The helper that answers Cargo about the registry of `index_url`: the
/// manifest on the command line (`cli`) or in the request's `args`, else
/// the user's route; `Err` is the answer to give instead.
fn helper_for(cli: Option<&Path>, args: &[String], index_url: &str) -> Result<Helper, Response> {
    let named = manifest(cli.map(Path::to_owned), args)
        .map_err(|message| Response::error(ErrorKind::Other, format!("credbox: {message}")))?;
    let url = RequestUrl::parse(index_url).ok();
    let target = Target {
        named: named.as_deref(),
        url: url.as_ref(),
    };
    match Helper::resolve(target, Overrides::default()) {
        Ok(Some(helper)) => Ok(helper),
        Ok(None) => Err(no_route(index_url)),
        Err(f) => Err(failure(&f.subject, &f.error)),
    }
}

/// Answers one `get` request (`url-not-supported` when no route covers
/// the registry).
fn get(out: &mut Out, cli: Option<&Path>, args: &[String], request: CargoRequest) -> Response {
    let helper = match helper_for(cli, args, &request.index_url) {
        Ok(helper) => helper,
        Err(response) => return response,
    };
    let index_url = request.index_url.clone();
    let asked = Request::new(Client::Cargo(request));
    match answer_by(&helper, &asked, &RunOptions::default(), token) {
        Reply::Answer {
            helper,
            text,
            warning,
        } => {
            // Cargo passes its provider's stderr through.
            out.warn(&helper, warning.as_deref());
            text
        }
        Reply::NotMine(None) => no_route(&index_url),
        Reply::NotMine(Some(f)) | Reply::Failed(f) => failure(&f.subject, &f.error),
    }
}
/// `cargo login` and `cargo logout`: the helper's login, as `credbox
/// login` runs it (its messages on stderr, which Cargo shows), or
/// forgetting its state and cached credentials, as `credbox logout`.
fn account_for(
    out: &mut Out,
    cli: Option<&Path>,
    args: &[String],
    account: Account,
    index_url: &str,
) -> Response {
    let helper = match helper_for(cli, args, index_url) {
        Ok(helper) => helper,
        Err(response) => return response,
    };
    let done = match account {
        Account::Login => crate::login::login(&helper.policy, &RunOptions::default())
            .map(|_| (Response::LoggedIn, "logged in")),
        Account::Logout => {
            crate::login::logout(&helper.policy).map(|_| (Response::LoggedOut, "logged out"))
        }
    };
    match done {
        Ok((response, what)) => {
            out.say(helper.name(), what);
            response
        }
        Err(e) => failure(helper.name(), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::wire::tests::{CARGO_READ, get};

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
            hint: String::new(),
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

    #[test]
    fn the_front_end_says_hello_and_what_it_cannot_serve() {
        use crate::serve::tests::written;
        let input = concat!(
            r#"{"v":1,"registry":{"index-url":"not a url"},"kind":"get","operation":"read","args":["cargo"]}"#,
            "\n",
            r#"{"v":1,"registry":{"index-url":"u"},"kind":"get","operation":"read","args":["npm"]}"#,
            "\n",
            r#"{"v":1,"registry":{"index-url":"u"},"kind":"get","operation":"read","args":["cargo","/nonexistent/m.toml"]}"#,
            "\n",
        );
        let w = written(|out| handle(None, input.as_bytes(), out));
        assert_eq!(w.code, 0);
        let lines: Vec<&str> = w.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0], HELLO);
        assert!(
            lines[1]
                .starts_with(r#"{"Err":{"kind":"url-not-supported","message":"credbox: no route"#),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains(r#""kind":"other","message":"credbox: no manifest"#),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].contains(r#""message":"credbox: /nonexistent/m.toml: "#),
            "{}",
            lines[3]
        );
    }

    fn exchange(input: &[u8]) -> (Vec<String>, Vec<(Vec<String>, CargoRequest)>) {
        let mut asked = Vec::new();
        let mut output = Vec::new();
        let mut errors = Vec::new();
        super::exchange(
            input,
            &mut Out::new(&mut output, &mut errors),
            |_, args, request| {
                asked.push((args.to_vec(), request));
                Response::Token {
                    token: format!("tok-{}", asked.len()),
                    expires_at: None,
                }
            },
            |_, _, account, index_url| {
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
}
