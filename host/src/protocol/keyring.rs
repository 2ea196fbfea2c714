//! The `keyring` command that pip and uv run for a package index's
//! password (`credbox keyring`, or credbox as `keyring` on PATH: a link
//! that `credbox install keyring` makes).
//!
//! With `--keyring-provider subprocess`, pip and uv find `keyring` on PATH
//! and run it with stdin from `/dev/null`, reading its stdout. Learned from
//! pip 23.2.1 (`pip/_internal/network/auth.py`, `KeyRingCliProvider`) and
//! uv 0.13.9 (`uv-auth`'s `keyring.rs`), each run against a logging script
//! and a loopback index that demands Basic auth:
//!
//! - `keyring get SERVICE USERNAME`: the password alone on stdout, then a
//!   newline (pip strips line ends, uv trims the end). pip asks only when
//!   the index URL carries a username (`http://USER@host/simple/`); uv does
//!   too, and asks up front, before any 401.
//! - `keyring get SERVICE --mode creds` (uv alone, with no username in the
//!   URL and the index's `authenticate = "always"`): the username on the
//!   first line, the password on the second.
//! - SERVICE is the index URL as configured, without its user
//!   (`http://127.0.0.1:8765/simple/`); when that has no password, both ask
//!   again for the host alone (`127.0.0.1:8765`, with the port when the URL
//!   has one).
//! - Any non-zero exit is "no password": pip and uv go on without (to the
//!   next source, or the 401). pip shows stderr as it comes; uv shows it in
//!   password mode, and in creds mode prints what it captured afterwards.
//!   An exit of 0 with an empty password is a password (pip sends it), so
//!   "not found" must be an exit code: 1, with nothing printed, as the real
//!   `keyring` does.
//!
//! credbox answers from the helper `--manifest` names (for a wrapper
//! script), else from the user's route for SERVICE (see
//! [`crate::routes`]). "Not mine" (no route, or the helper's `not-found`)
//! is silence and exit code 1. A helper's `user-secret` answers a request
//! whose username is its own, or that asks for none (creds mode); for
//! another username it is a failure, so that one user's secret never goes
//! out under another's name. A bare token is the password of whatever
//! username was asked, and goes out as `__token__` in creds mode (the
//! username PyPI and uv use for tokens). `set` and `del` are refused:
//! credbox fetches credentials, it keeps none typed in.
//!
//! SERVICE and USERNAME are refused when empty, too long, not UTF-8 or
//! holding a control character: the username is echoed in creds mode, and
//! neither ever appears in a message. Stdin is not part of the protocol
//! and is never read.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::request::{Client, PackageIndexRequest, Request};
use crate::routes::RequestUrl;
use crate::serve::{Helper, Manner, NotMine, Out, Reply, answer_by};
use crate::validation::Credential;

/// The name under which pip and uv run credbox.
pub const PROGRAM: &str = "keyring";
/// The username that goes with a bare token in creds mode.
pub const TOKEN_USERNAME: &str = "__token__";
/// The exit code of "no password", as the real `keyring`'s.
pub const NOT_FOUND_EXIT: u8 = 1;
/// Longest SERVICE (an index URL) accepted, in bytes.
pub const MAX_SERVICE: usize = 2048;
/// Longest USERNAME accepted, in bytes.
pub const MAX_USERNAME: usize = 256;

/// What to do about a command line credbox cannot use.
const USAGE_HINT: &str = "pip and uv run `keyring get SERVICE USERNAME` or `keyring get SERVICE --mode creds`; see `credbox keyring --help`";

/// The usage text of `--help`.
pub const USAGE: &str = "\
Usage: keyring [--mode password|creds] [--manifest MANIFEST] get SERVICE [USERNAME]

credbox answering pip's and uv's `--keyring-provider subprocess`:
prints the password of USERNAME at the package index SERVICE (with
--mode creds, the username and the password, one a line), from the helper
MANIFEST names, else from the route in credbox's config.toml for SERVICE.
Exit code 1 with nothing printed: no route, or the helper has none.
";

/// What is printed: the password alone, or username and password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--mode password` (the default): the password.
    Password,
    /// `--mode creds`: the username, then the password.
    Creds,
}

/// What the command line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `get SERVICE [USERNAME]`: a password.
    Get {
        /// The index URL (or host) the client names.
        service: String,
        /// The username, when the client has one.
        username: Option<String>,
    },
    /// `set` or `del`: refused, credbox keeps no passwords.
    Store,
    /// `--help`: the usage text.
    Help,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// What to print.
    pub mode: Mode,
    /// The helper's manifest, when named.
    pub manifest: Option<PathBuf>,
    /// What is asked.
    pub operation: Operation,
}

fn bad(message: impl Into<String>) -> Error {
    super::bad_request(message, USAGE_HINT)
}

/// Parses the arguments after the program name (or after `credbox
/// keyring`). Options may come anywhere (uv puts `--mode creds` after the
/// service), as with the real `keyring`'s argparse. Messages name what is
/// wrong, never a value.
pub fn parse(args: &[OsString]) -> Result<Invocation> {
    let mut mode = None;
    let mut manifest = None;
    let mut words: Vec<&OsString> = Vec::new();
    let mut args = args.iter();
    let mut only_words = false;
    while let Some(arg) = args.next() {
        let text = arg.to_str();
        if only_words || !text.is_some_and(|t| t.starts_with('-') && t.len() > 1) {
            words.push(arg);
            continue;
        }
        let text = text.unwrap_or_default();
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (text, None),
        };
        let mut value = |what: &str| -> Result<OsString> {
            match inline.clone() {
                Some(value) => Ok(value.into()),
                None => args
                    .next()
                    .cloned()
                    .ok_or_else(|| bad(format!("{what} needs a value"))),
            }
        };
        match name {
            "--" => only_words = true,
            "-h" | "--help" => {
                return Ok(Invocation {
                    mode: Mode::Password,
                    manifest: None,
                    operation: Operation::Help,
                });
            }
            "--mode" => {
                let chosen = match value("--mode")?.to_str() {
                    Some("password") => Mode::Password,
                    Some("creds") => Mode::Creds,
                    _ => return Err(bad("--mode must be password or creds")),
                };
                if mode.replace(chosen).is_some() {
                    return Err(bad("--mode is given twice"));
                }
            }
            "--manifest" => {
                if manifest
                    .replace(PathBuf::from(value("--manifest")?))
                    .is_some()
                {
                    return Err(bad("--manifest is given twice"));
                }
            }
            _ => {
                return Err(bad(format!(
                    "unknown option `{}`",
                    crate::redact::one_line(name, 32)
                )));
            }
        }
    }
    let mode = mode.unwrap_or(Mode::Password);
    let operation = match words.first().map(|w| w.to_str()) {
        None => return Err(bad("no operation")),
        Some(Some("get")) => {
            let (service, username) = match &words[1..] {
                [service] => (service, None),
                [service, username] => (service, Some(username)),
                [] => return Err(bad("`get` needs a SERVICE")),
                _ => return Err(bad("`get` takes SERVICE and USERNAME, no more")),
            };
            let service = value_of("SERVICE (the index URL)", service, MAX_SERVICE)?;
            let username = username
                .map(|u| value_of("USERNAME", u, MAX_USERNAME))
                .transpose()?;
            if username.is_none() && mode == Mode::Password {
                return Err(bad(
                    "`get` without a USERNAME needs --mode creds (put the username in the index URL: http://USER@host/simple/)",
                ));
            }
            Operation::Get { service, username }
        }
        Some(Some("set" | "del")) => Operation::Store,
        Some(_) => {
            return Err(bad(format!(
                "unknown operation `{}`",
                crate::redact::one_line(&words[0].to_string_lossy(), 32)
            )));
        }
    };
    Ok(Invocation {
        mode,
        manifest,
        operation,
    })
}

/// `arg` as text fit for a request and a line protocol: UTF-8, not empty,
/// at most `max` bytes, no control character. `what` names it in messages;
/// the value itself is never quoted.
fn value_of(what: &str, arg: &OsString, max: usize) -> Result<String> {
    let Some(text) = arg.to_str() else {
        return Err(bad(format!("{what} is not UTF-8 text")));
    };
    if text.is_empty() {
        return Err(bad(format!("{what} is empty")));
    }
    if text.len() > max {
        return Err(bad(format!("{what} is longer than {max} bytes")));
    }
    if text.chars().any(char::is_control) {
        return Err(bad(format!(
            "{what} contains a control character (CR, LF, NUL, ...)"
        )));
    }
    Ok(text.to_owned())
}

/// The request credbox hands to the helper (and keys its cache with).
pub fn request(service: &str, username: Option<&str>) -> Request {
    Request {
        client: Client::PackageIndex(PackageIndexRequest {
            url: service.to_owned(),
            username: username.map(str::to_owned),
        }),
    }
}

/// The URL a route is looked up for: SERVICE as given (the index URL, or
/// `host:port` without a scheme, which only routes without a scheme
/// match).
pub fn route_url(service: &str) -> Option<RequestUrl> {
    RequestUrl::parse(service).ok()
}

/// Why a user-secret is not given out for the username asked.
fn other_user() -> Error {
    super::bad_request(
        "the helper's user-secret belongs to another username than the one asked",
        "put the helper's username in the index URL (http://USER@host/simple/), or leave it out and use uv's `authenticate = \"always\"`",
    )
}

/// The answer to `get`, ending with a newline: the password, or in
/// [`Mode::Creds`] the username and the password.
pub fn answer(credential: &Credential, username: Option<&str>, mode: Mode) -> Result<String> {
    let (user, password) = match (&credential.user_secret, &credential.token) {
        (Some(secret), _) => {
            if username.is_some_and(|asked| asked != secret.username) {
                return Err(other_user());
            }
            (secret.username.as_str(), secret.secret.as_str())
        }
        (None, Some(token)) => (username.unwrap_or(TOKEN_USERNAME), token.as_str()),
        (None, None) => {
            return Err(Error::InvalidOutput(
                "the helper returned neither a user-secret nor a token, which a package index needs"
                    .into(),
            ));
        }
    };
    for (what, value) in [("username", user), ("password", password)] {
        if value.contains(['\n', '\r', '\0']) {
            return Err(Error::InvalidOutput(format!(
                "the credential's {what} contains a CR, LF or NUL, which the keyring protocol cannot carry"
            )));
        }
    }
    Ok(match mode {
        Mode::Password => format!("{password}\n"),
        Mode::Creds => format!("{user}\n{password}\n"),
    })
}

/// Why `set` and `del` are refused.
pub fn store_refused() -> Error {
    super::bad_request(
        "credbox is a read-only keyring: it fetches index passwords itself and keeps none typed in",
        "let pip or uv store passwords in another keyring, or in the helper's configuration",
    )
}

/// Makes `dir/keyring` start `exe` (credbox itself), as
/// [`super::install_program`] does; returns what it did, for the user.
pub fn install(dir: &Path, exe: &Path) -> Result<String> {
    let mut report = super::install_program(dir, exe, PROGRAM, "pip and uv")?;
    report += "pip skips a `keyring` in its own scripts folder (a virtualenv's bin): keep this one in another folder on PATH\n";
    report += "use it with: pip install --keyring-provider subprocess --index-url https://USER@index.example.com/simple/ ... (uv: uv pip install --keyring-provider subprocess ...)\n";
    Ok(report)
}

/// `keyring ARGS...` (or `credbox keyring ARGS...`): answers pip's or
/// uv's request for an index password. Nothing on stdout but the answer;
/// failures are one line on stderr and a non-zero exit, which pip and uv
/// take as "no password" and go on.
pub fn handle(args: &[OsString], out: &mut Out) -> u8 {
    let manner = Manner {
        not_mine: NotMine::Silent,
        failures_on_stdout: false,
    };
    let invocation = match parse(args) {
        Ok(invocation) => invocation,
        Err(e) => return out.fail(PROGRAM, &e),
    };
    let (service, username) = match invocation.operation {
        Operation::Help => return out.print(PROGRAM, USAGE),
        Operation::Store => return out.fail(PROGRAM, &store_refused()),
        Operation::Get { service, username } => (service, username),
    };
    let route = route_url(&service);
    let target = crate::serve::Target {
        named: invocation.manifest.as_deref(),
        url: route.as_ref(),
    };
    let helper = match Helper::resolve(target, Overrides::default()) {
        Ok(Some(helper)) => helper,
        Ok(None) => return NOT_FOUND_EXIT,
        Err(failure) => return out.fail(&failure.subject, &failure.error),
    };
    let request = request(&service, username.as_deref());
    let mode = invocation.mode;
    match answer_by(&helper, &request, &RunOptions::default(), |c| {
        answer(c, username.as_deref(), mode)
    }) {
        Reply::NotMine(_) => NOT_FOUND_EXIT,
        reply => reply.write(out, &manner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::UserSecret;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn get(service: &str, username: Option<&str>) -> Operation {
        Operation::Get {
            service: service.into(),
            username: username.map(Into::into),
        }
    }

    #[test]
    fn parses_what_pip_and_uv_run() {
        // pip 23.2.1 and uv 0.13.9 with a username in the index URL.
        let pip = parse(&args(&["get", "http://127.0.0.1:8765/simple/", "bob"])).unwrap();
        assert_eq!(
            pip,
            Invocation {
                mode: Mode::Password,
                manifest: None,
                operation: get("http://127.0.0.1:8765/simple/", Some("bob")),
            }
        );
        // uv without one: `--mode creds` after the service.
        let uv = parse(&args(&[
            "get",
            "http://127.0.0.1:8765/simple/",
            "--mode",
            "creds",
        ]))
        .unwrap();
        assert_eq!(uv.mode, Mode::Creds);
        assert_eq!(uv.operation, get("http://127.0.0.1:8765/simple/", None));
        // The real keyring's other spellings.
        let other = parse(&args(&[
            "--mode=creds",
            "--manifest",
            "m.toml",
            "get",
            "h",
            "u",
        ]))
        .unwrap();
        assert_eq!(other.mode, Mode::Creds);
        assert_eq!(other.manifest.as_deref(), Some(Path::new("m.toml")));
        assert_eq!(other.operation, get("h", Some("u")));
        let dashed = parse(&args(&["get", "--", "-h", "-u"])).unwrap();
        assert_eq!(dashed.operation, get("-h", Some("-u")));
        assert_eq!(
            parse(&args(&["set", "h", "u"])).unwrap().operation,
            Operation::Store
        );
        assert_eq!(
            parse(&args(&["del", "h", "u"])).unwrap().operation,
            Operation::Store
        );
        assert_eq!(
            parse(&args(&["get", "--help"])).unwrap().operation,
            Operation::Help
        );
    }

    #[test]
    fn bad_command_lines_are_refused_without_quoting_values() {
        for (words, what) in [
            (&[][..], "no operation"),
            (&["frob"][..], "unknown operation `frob`"),
            (&["get"][..], "needs a SERVICE"),
            (&["get", "h"][..], "needs --mode creds"),
            (&["get", "h", "u", "x"][..], "no more"),
            (&["--mode", "x", "get", "h", "u"][..], "password or creds"),
            (&["--mode"][..], "--mode needs a value"),
            (&["--mode=creds", "--mode=creds", "get", "h"][..], "twice"),
            (
                &["-b", "keyring.backends.fail.Keyring", "get", "h", "u"][..],
                "unknown option `-b`",
            ),
            (&["get", "", "u"][..], "SERVICE (the index URL) is empty"),
            (&["get", "h", ""][..], "USERNAME is empty"),
        ] {
            let err = parse(&args(words)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{words:?}");
            assert!(err.to_string().contains(what), "{words:?}: {err}");
        }
        let evil = "https://h/simple/\r\nX-Evil: 1";
        for words in [
            ["get", evil, "u"],
            ["get", "h", "bob\nsekrit"],
            ["get", "h", "bob\0"],
            ["get", "h", "\u{1b}[2J"],
        ] {
            let err = parse(&args(&words)).unwrap_err().to_string();
            assert!(err.contains("control character"), "{err}");
            assert!(!err.contains("Evil") && !err.contains("sekrit"), "{err}");
        }
        let huge = "h".repeat(MAX_SERVICE + 1);
        let err = parse(&args(&["get", &huge, "u"])).unwrap_err().to_string();
        assert!(err.contains("longer than 2048 bytes"), "{err}");
        let huge = "u".repeat(MAX_USERNAME + 1);
        let err = parse(&args(&["get", "h", &huge])).unwrap_err().to_string();
        assert!(err.contains("longer than 256 bytes"), "{err}");
        let not_utf8 = vec![
            OsString::from("get"),
            crate::platform::testing::not_utf8(),
            OsString::from("u"),
        ];
        let err = parse(&not_utf8).unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }

    fn user_secret(username: &str, secret: &str) -> Credential {
        Credential {
            user_secret: Some(UserSecret {
                username: username.into(),
                secret: secret.into(),
            }),
            token: Some("tok".into()),
            ..Credential::default()
        }
    }

    #[test]
    fn a_user_secret_answers_its_own_username_or_none() {
        let c = user_secret("bob", "s3cret");
        assert_eq!(answer(&c, Some("bob"), Mode::Password).unwrap(), "s3cret\n");
        assert_eq!(answer(&c, None, Mode::Creds).unwrap(), "bob\ns3cret\n");
        assert_eq!(
            answer(&c, Some("bob"), Mode::Creds).unwrap(),
            "bob\ns3cret\n"
        );
        let err = answer(&c, Some("alice"), Mode::Password).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("another username"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_token_is_the_password_of_any_username() {
        let c = Credential {
            token: Some("tok".into()),
            ..Credential::default()
        };
        assert_eq!(answer(&c, Some("ci"), Mode::Password).unwrap(), "tok\n");
        assert_eq!(answer(&c, Some("ci"), Mode::Creds).unwrap(), "ci\ntok\n");
        assert_eq!(answer(&c, None, Mode::Creds).unwrap(), "__token__\ntok\n");
        assert!(answer(&Credential::default(), None, Mode::Creds).is_err());
    }

    #[test]
    fn a_line_break_in_the_answer_is_refused_without_quoting_it() {
        for c in [
            user_secret("bob", "pw\nevil"),
            user_secret("bob\revil", "pw"),
            Credential {
                token: Some("tok\0evil".into()),
                ..Credential::default()
            },
        ] {
            let err = answer(&c, None, Mode::Creds).unwrap_err().to_string();
            assert!(err.contains("CR, LF or NUL"), "{err}");
            assert!(!err.contains("evil"), "{err}");
        }
    }

    #[test]
    fn routes_by_the_service_as_given() {
        let url = route_url("http://user@127.0.0.1:8765/simple/").unwrap();
        assert_eq!(
            (
                url.scheme.as_deref(),
                url.host.as_str(),
                url.port,
                url.path.as_str()
            ),
            (Some("http"), "127.0.0.1", Some(8765), "/simple/")
        );
        let host = route_url("127.0.0.1:8765").unwrap();
        assert_eq!((host.scheme, host.port), (None, Some(8765)));
    }

    #[test]
    fn the_front_end_answers_what_needs_no_helper() {
        use crate::serve::tests::written;
        let run = |words: &[&str]| written(|out| handle(&args(words), out));
        let w = run(&["--help"]);
        assert_eq!((w.code, &w.stdout[..], &w.stderr[..]), (0, USAGE, ""));
        for (words, what) in [
            (&["get", "h\nx", "u"][..], "control character"),
            (&["set", "h", "u"][..], "read-only"),
            (&["frob"][..], "unknown operation"),
        ] {
            let w = run(words);
            assert_eq!((w.code, &w.stdout[..]), (2, ""), "{words:?}");
            assert!(w.stderr.starts_with("credbox: keyring: "), "{}", w.stderr);
            assert!(w.stderr.contains(what), "{}", w.stderr);
            assert_eq!(w.stderr.lines().count(), 1, "{}", w.stderr);
        }
        let w = run(&["--manifest", "/nonexistent/m.toml", "get", "h", "u"]);
        assert_eq!((w.code, &w.stdout[..]), (2, ""));
        assert!(
            w.stderr.starts_with("credbox: /nonexistent/m.toml: "),
            "{}",
            w.stderr
        );
    }
}
