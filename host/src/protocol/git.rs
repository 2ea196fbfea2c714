//! git's credential helper protocol (`credbox git`).
//!
//! Set as `credential.helper = "!credbox git /path/credbox.toml"` (or
//! without the manifest, to use the user's routes). git appends the
//! operation (`get`, `store`, `erase`) and writes `key=value` lines on
//! stdin, ending with a blank line or end of file:
//!
//! - `get`: credbox answers `username` and `password` (with
//!   `password_expiry_utc` when the credential's expiry is known); or, for
//!   a token when git announced `capability[]=authtype` and the server
//!   accepts a bearer token (one of its `wwwauth[]` challenges is `Bearer`,
//!   or git sent none), `authtype=Bearer` and `credential` (with
//!   `ephemeral=true` for a token that expires). A helper's `user-secret`
//!   comes first; a bare token for a server that wants basic auth goes as
//!   the password, with git's username or `x-access-token`.
//! - `erase` (git sends it after the server refused the credential): the
//!   cached credential is dropped, so that the next `get` runs the helper.
//! - `store`: accepted and ignored (credbox's cache is its own).
//! - anything else: ignored silently, as the protocol asks.
//!
//! "Not mine" (no route, or the helper's `not-found`) is an empty answer:
//! git goes on to its next helper or its prompt.

use std::io::BufRead;
use std::path::Path;

use super::{MAX_STDIN, read_capped};
use crate::error::{Error, Result};
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::request::{Client, GitRequest, Request};
use crate::routes::RequestUrl;
use crate::serve::{Helper, Manner, NotMine, Out, Target, answer_by};
use crate::validation::Credential;

/// The username that goes with a bare token as password, when git has
/// none: the one GitHub documents for tokens, accepted by most hosts that
/// take a token as password.
pub const TOKEN_USERNAME: &str = "x-access-token";

/// What to do about a request credbox cannot read.
const REQUEST_HINT: &str =
    "credbox git reads git's credential protocol on stdin: key=value lines, then a blank line";

/// What git asks of a helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Answer a credential.
    Get,
    /// Remember one (ignored).
    Store,
    /// Forget one: it was refused.
    Erase,
    /// Anything else (a later protocol's): ignored.
    Other,
}

impl Operation {
    /// The operation git named as the helper's last argument.
    pub fn parse(name: &str) -> Operation {
        match name {
            "get" => Operation::Get,
            "store" => Operation::Store,
            "erase" => Operation::Erase,
            _ => Operation::Other,
        }
    }
}

/// What git wrote on stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// The attributes credbox hands to the helper.
    pub request: GitRequest,
    /// Each `capability[]` git announced (`authtype`, `state`).
    pub capabilities: Vec<String>,
}

impl Input {
    /// Parses git's `key=value` lines, up to a blank line. Unknown keys
    /// are ignored (the protocol's rule); an empty value for an array key
    /// (`wwwauth[]=`) empties the array, as in git. A CR ending a line is
    /// dropped, as git does; a CR or NUL anywhere else is refused: credbox
    /// echoes some values back (`username`), and a CR there could pass a
    /// line of its own to git, which is why git's own
    /// `credential.protectProtocol` refuses it. Messages never quote a
    /// value: git sends passwords on `erase`.
    pub fn parse(text: &str) -> Result<Input> {
        let mut input = Input::default();
        for (n, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                break;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(super::bad_request(
                    format!("line {} of git's request has no `=`", n + 1),
                    REQUEST_HINT,
                ));
            };
            if line.contains(['\0', '\r']) {
                return Err(super::bad_request(
                    format!(
                        "line {} of git's request contains a NUL byte or a carriage return",
                        n + 1
                    ),
                    REQUEST_HINT,
                ));
            }
            let request = &mut input.request;
            let one = |field: &mut Option<String>| *field = Some(value.to_owned());
            let array = |field: &mut Vec<String>| {
                if value.is_empty() {
                    field.clear();
                } else {
                    field.push(value.to_owned());
                }
            };
            match key {
                "protocol" => one(&mut request.protocol),
                "host" => one(&mut request.host),
                "path" => one(&mut request.path),
                "username" => one(&mut request.username),
                "wwwauth[]" => array(&mut request.wwwauth),
                "capability[]" => array(&mut input.capabilities),
                _ => {}
            }
        }
        Ok(input)
    }

    /// The request credbox hands to the helper (and keys its cache with).
    pub fn request(&self) -> Request {
        Request {
            client: Client::Git(self.request.clone()),
        }
    }

    /// The URL a route is looked up for: `protocol://host/path`; `None`
    /// without a host.
    pub fn url(&self) -> Option<RequestUrl> {
        let r = &self.request;
        RequestUrl::new(r.protocol.as_deref(), r.host.as_deref()?, r.path.as_deref()).ok()
    }

    /// Whether git announced `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Whether a bearer token may go as `authtype=Bearer`: git can send it,
    /// and the server takes it (a `Bearer` challenge, or no challenge
    /// known).
    fn bearer_accepted(&self) -> bool {
        let wwwauth = &self.request.wwwauth;
        self.has_capability("authtype")
            && (wwwauth.is_empty() || wwwauth.iter().any(|h| offers_bearer(h)))
    }

    /// The requests whose cached credentials an `erase` drops. git's
    /// `erase` carries the username credbox answered (which its `get` may
    /// not have had) and the server's latest challenges (which a `get` from
    /// `git credential` lacks), so each is tried with and without those;
    /// dropping a neighbour costs one run of the helper at most.
    pub fn erase_requests(&self) -> Vec<Request> {
        let mut requests: Vec<Request> = Vec::with_capacity(4);
        for username in [self.request.username.clone(), None] {
            for wwwauth in [self.request.wwwauth.clone(), Vec::new()] {
                let request = Request {
                    client: Client::Git(GitRequest {
                        username: username.clone(),
                        wwwauth,
                        ..self.request.clone()
                    }),
                };
                if !requests.contains(&request) {
                    requests.push(request);
                }
            }
        }
        requests
    }
}

/// Whether a `WWW-Authenticate` value offers the `Bearer` scheme (one
/// header may hold several challenges, separated by commas).
fn offers_bearer(header: &str) -> bool {
    header.split(',').any(|part| {
        part.split_whitespace()
            .next()
            .is_some_and(|scheme| !scheme.contains('=') && scheme.eq_ignore_ascii_case("bearer"))
    })
}

/// The answer to `get`: the lines git reads, ending with a newline.
pub fn answer(credential: &Credential, input: &Input) -> Result<String> {
    let mut out = String::new();
    let mut line = |key: &str, value: &str| -> Result<()> {
        if value.contains(['\n', '\r', '\0']) {
            return Err(Error::InvalidOutput(format!(
                "the credential's {key} contains a CR, LF or NUL, which git's protocol cannot carry"
            )));
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        out.push('\n');
        Ok(())
    };
    let expiry = credential.expires_at.map(|at| at.to_string());
    match (&credential.user_secret, &credential.token) {
        (Some(user), _) => {
            line("username", &user.username)?;
            line("password", &user.secret)?;
        }
        (None, Some(token)) if input.bearer_accepted() => {
            line("capability[]", "authtype")?;
            line("authtype", "Bearer")?;
            line("credential", token)?;
            if expiry.is_some() {
                line("ephemeral", "true")?;
            }
        }
        (None, Some(token)) => {
            let username = input.request.username.as_deref().unwrap_or(TOKEN_USERNAME);
            line("username", username)?;
            line("password", token)?;
        }
        (None, None) => {
            return Err(Error::InvalidOutput(
                "the helper returned neither a user-secret nor a token, which git needs".into(),
            ));
        }
    }
    if let Some(expiry) = &expiry {
        line("password_expiry_utc", expiry)?;
    }
    Ok(out)
}

/// `credbox git [MANIFEST] OPERATION`: answers git's request on `stdin`
/// for the helper `named`, else the user's route for the request's URL.
/// Failures are one stderr line and a non-zero exit, as for `run`: git
/// shows the line, ignores the exit code and goes on to its next helper or
/// its prompt, which is what its users expect when a helper cannot answer.
/// "Not mine" is silence and 0.
pub fn handle(named: Option<&Path>, operation: &str, stdin: &mut dyn BufRead, out: &mut Out) -> u8 {
    let operation = Operation::parse(operation);
    if operation == Operation::Other {
        return 0;
    }
    let input = match read_capped(stdin, MAX_STDIN, true).and_then(|text| Input::parse(&text)) {
        Ok(input) => input,
        Err(e) => return out.fail("git", &e),
    };
    if operation == Operation::Store {
        return 0;
    }
    let url = input.url();
    let target = Target {
        named,
        url: url.as_ref(),
    };
    let helper = match Helper::resolve(target, Overrides::default()) {
        Ok(Some(helper)) => helper,
        Ok(None) => return 0,
        Err(failure) => return out.fail(&failure.subject, &failure.error),
    };
    if operation == Operation::Erase {
        for request in input.erase_requests() {
            if let Err(e) = helper.forget(&request) {
                return out.fail(helper.name(), &e);
            }
        }
        return 0;
    }
    let manner = Manner {
        not_mine: NotMine::Silent,
        failures_on_stdout: false,
    };
    answer_by(&helper, &input.request(), &RunOptions::default(), |c| {
        answer(c, &input)
    })
    .write(out, &manner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::UserSecret;

    const GET_FROM_GIT_2_47: &str = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com:8443\npath=team/repo.git\nwwwauth[]=Bearer realm=\"x\"\nwwwauth[]=Basic realm=\"y\"\n\n";

    fn token(token: &str, expires_at: Option<u64>) -> Credential {
        Credential {
            token: Some(token.into()),
            expires_at,
            ..Credential::default()
        }
    }

    #[test]
    fn parses_what_git_sends() {
        let input = Input::parse(GET_FROM_GIT_2_47).unwrap();
        assert_eq!(input.capabilities, ["authtype", "state"]);
        assert_eq!(
            input.request,
            GitRequest {
                protocol: Some("https".into()),
                host: Some("git.example.com:8443".into()),
                path: Some("team/repo.git".into()),
                username: None,
                wwwauth: vec!["Bearer realm=\"x\"".into(), "Basic realm=\"y\"".into()],
            }
        );
        let url = input.url().unwrap();
        assert_eq!(
            (
                url.scheme.as_deref(),
                url.host.as_str(),
                url.port,
                url.path.as_str()
            ),
            (
                Some("https"),
                "git.example.com",
                Some(8443),
                "team/repo.git"
            )
        );
    }

    #[test]
    fn unknown_keys_are_ignored_empty_array_values_reset_and_the_blank_line_ends() {
        let input = Input::parse(
            "wwwauth[]=Basic a\nwwwauth[]=\nwwwauth[]=Bearer b\nfuture=1\nhost=h\npassword=p\n\nhost=after\n",
        )
        .unwrap();
        assert_eq!(input.request.wwwauth, ["Bearer b"]);
        assert_eq!(input.request.host.as_deref(), Some("h"));
        // EOF without a blank line is the end too.
        assert_eq!(
            Input::parse("host=h").unwrap().request.host.as_deref(),
            Some("h")
        );
    }

    #[test]
    fn bad_lines_are_errors_that_never_quote_the_value() {
        let err = Input::parse("host=h\nhunter2-password\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2 of git's request has no `=`");
        let err = Input::parse("password=hunter2\0\n").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_token_goes_as_bearer_when_git_and_the_server_can_use_it() {
        let input = Input::parse(GET_FROM_GIT_2_47).unwrap();
        assert_eq!(
            answer(&token("tok", Some(1_900_000_000)), &input).unwrap(),
            "capability[]=authtype\nauthtype=Bearer\ncredential=tok\nephemeral=true\npassword_expiry_utc=1900000000\n"
        );
        assert_eq!(
            answer(&token("tok", None), &input).unwrap(),
            "capability[]=authtype\nauthtype=Bearer\ncredential=tok\n"
        );
        // No challenge known (`git credential fill`): bearer too.
        let input = Input::parse("capability[]=authtype\nprotocol=https\nhost=h\n").unwrap();
        assert!(
            answer(&token("tok", None), &input)
                .unwrap()
                .contains("authtype=Bearer")
        );
    }

    #[test]
    fn a_token_goes_as_password_for_basic_only_servers_and_older_gits() {
        // A server that offers Basic alone (GitHub does): the token as password.
        let basic_only = Input::parse(
            "capability[]=authtype\nprotocol=https\nhost=h\nwwwauth[]=Basic realm=\"GitHub\"\n",
        )
        .unwrap();
        assert_eq!(
            answer(&token("tok", Some(5)), &basic_only).unwrap(),
            "username=x-access-token\npassword=tok\npassword_expiry_utc=5\n"
        );
        // git without authtype, with a username in the URL.
        let old = Input::parse("protocol=https\nhost=h\nusername=me\n").unwrap();
        assert_eq!(
            answer(&token("tok", None), &old).unwrap(),
            "username=me\npassword=tok\n"
        );
        // `Bearer` inside a list of challenges counts; a parameter named
        // bearer does not.
        assert!(offers_bearer("Basic realm=\"a\", Bearer realm=\"b\""));
        assert!(offers_bearer("bearer"));
        assert!(!offers_bearer("Basic realm=bearer"));
        assert!(!offers_bearer("Bearerish realm=x"));
    }

    #[test]
    fn a_user_secret_comes_before_a_token() {
        let input = Input::parse(GET_FROM_GIT_2_47).unwrap();
        let credential = Credential {
            user_secret: Some(UserSecret {
                username: "alice".into(),
                secret: "s3cret".into(),
            }),
            token: Some("tok".into()),
            ..Credential::default()
        };
        assert_eq!(
            answer(&credential, &input).unwrap(),
            "username=alice\npassword=s3cret\n"
        );
    }

    #[test]
    fn a_cr_from_git_is_dropped_at_a_line_end_and_refused_inside() {
        // git's own reader drops a CR ending a line.
        let input = Input::parse("protocol=https\r\nhost=h\r\nusername=me\r\n\r\n").unwrap();
        assert_eq!(input.request.username.as_deref(), Some("me"));
        assert_eq!(input.request.host.as_deref(), Some("h"));
        // Inside a value it would reach git's answer as a line of its own.
        for text in [
            "protocol=https\nhost=h\nusername=me\rpassword=evil\n\n",
            "host=h\rx\n\n",
            "host\r=h\n\n",
        ] {
            let err = Input::parse(text).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains("carriage return"), "{err}");
            assert!(!err.to_string().contains("evil"), "{err}");
        }
        // And whatever the request held, the answer never carries a CR.
        let mut input = Input::parse("protocol=https\nhost=h\n\n").unwrap();
        input.request.username = Some("me\rpassword=evil".into());
        let err = answer(&token("t0k3n", None), &input).unwrap_err();
        assert!(err.to_string().contains("CR, LF or NUL"), "{err}");
    }

    #[test]
    fn a_newline_in_a_value_is_refused_without_quoting_it() {
        let input = Input::parse("protocol=https\nhost=h\n").unwrap();
        let err = answer(&token("tok\nhost=evil", None), &input).unwrap_err();
        assert!(!err.to_string().contains("evil"), "{err}");
        assert!(answer(&Credential::default(), &input).is_err());
    }

    #[test]
    fn erase_drops_the_get_with_or_without_the_answered_username_and_challenges() {
        let erase = Input::parse(
            "protocol=https\nhost=h\nusername=x-access-token\npassword=tok\nwwwauth[]=Basic realm=\"a\"\n",
        )
        .unwrap();
        let get = Input::parse("protocol=https\nhost=h\nwwwauth[]=Basic realm=\"a\"\n").unwrap();
        let fill = Input::parse("protocol=https\nhost=h\n").unwrap();
        let dropped = erase.erase_requests();
        assert_eq!(dropped.len(), 4);
        assert!(dropped.contains(&get.request()));
        assert!(dropped.contains(&fill.request()));
        assert!(
            dropped.contains(
                &Input::parse("protocol=https\nhost=h\nusername=x-access-token\n")
                    .unwrap()
                    .request()
            )
        );
        // Never another host's.
        assert!(
            dropped
                .iter()
                .all(|r| matches!(&r.client, Client::Git(g) if g.host.as_deref() == Some("h")))
        );
        assert_eq!(fill.erase_requests(), vec![fill.request()]);
    }

    #[test]
    fn operations() {
        assert_eq!(Operation::parse("get"), Operation::Get);
        assert_eq!(Operation::parse("store"), Operation::Store);
        assert_eq!(Operation::parse("erase"), Operation::Erase);
        assert_eq!(Operation::parse("capability"), Operation::Other);
    }

    #[test]
    fn the_front_end_answers_what_needs_no_helper() {
        use crate::serve::tests::written;
        let handle = |named: Option<&str>, op: &str, stdin: &[u8]| {
            let mut stdin = stdin;
            written(|out| handle(named.map(Path::new), op, &mut stdin, out))
        };
        // Unknown operations and store are silent, whatever the input.
        for (op, stdin) in [("frob", &b"\xff"[..]), ("store", b"host=h\npassword=p\n\n")] {
            let w = handle(None, op, stdin);
            assert_eq!((w.code, &w.stdout[..], &w.stderr[..]), (0, "", ""), "{op}");
        }
        // A request that is not text: one line, exit 2, nothing on stdout.
        let w = handle(None, "get", b"host=\xff\n\n");
        assert_eq!((w.code, &w.stdout[..]), (2, ""));
        assert!(w.stderr.starts_with("credbox: git: "), "{}", w.stderr);
        assert_eq!(w.stderr.lines().count(), 1);
        // No host to route by, no manifest: not mine, silence.
        let w = handle(None, "get", b"protocol=https\n\n");
        assert_eq!((w.code, &w.stdout[..], &w.stderr[..]), (0, "", ""));
        // A named manifest that is not there is named.
        let w = handle(
            Some("/nonexistent/m.toml"),
            "get",
            b"protocol=https\nhost=h\n\n",
        );
        assert_eq!((w.code, &w.stdout[..]), (2, ""));
        assert!(
            w.stderr.starts_with("credbox: /nonexistent/m.toml: "),
            "{}",
            w.stderr
        );
    }
}
