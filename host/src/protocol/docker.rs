//! The Docker credential helper protocol (`docker-credential-credbox`),
//! which Docker, Podman, skopeo, buildah and other OCI clients speak.
//!
//! A client runs `docker-credential-credbox <operation>` (credbox under
//! that name: a link that `credbox install docker` makes) when its
//! configuration names `credbox` in `credHelpers` (or `credsStore`):
//!
//! - `get`: the registry's server URL on stdin; credbox answers
//!   `{"ServerURL","Username","Secret"}`: the helper's `user-secret`, or
//!   its token with the username `<token>` (Docker's convention for an
//!   identity token, which the client trades at the registry's token
//!   service). "Not mine" is the exact text [`NOT_FOUND`] on stdout and
//!   exit code 1.
//! - `erase` (`docker logout`): drops the cached credential.
//! - `store` (`docker login`): refused; credbox fetches credentials, it
//!   does not keep the ones typed in.
//! - `list`: `{}`, since credbox keeps no logins to list.
//!
//! Failures follow the protocol: the client shows what the helper wrote on
//! stdout, so the one-line message goes there (and to stderr), with a
//! non-zero exit code.

use std::path::Path;

use serde::Serialize;

use std::io::BufRead;

use super::{MAX_STDIN, read_capped};
use crate::error::{Error, Result};
use crate::guest::RunOptions;
use crate::policy::Overrides;
use crate::request::{Client, Request};
use crate::routes::RequestUrl;
use crate::serve::{Helper, Manner, NotMine, Out, Target, answer_by};
use crate::validation::Credential;

/// The client's "not found", recognised by its exact text.
pub const NOT_FOUND: &str = "credentials not found in native keychain";
/// The name under which credbox speaks this protocol.
pub const PROGRAM: &str = "docker-credential-credbox";
/// The username that marks the secret as an identity token.
pub const TOKEN_USERNAME: &str = "<token>";

/// What a Docker client asks of a helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Answer the credential of a registry.
    Get,
    /// Keep one (refused: credbox is read-only).
    Store,
    /// Forget one.
    Erase,
    /// List the registries with credentials.
    List,
    /// Say which helper this is.
    Version,
    /// Anything else: an error, as in Docker's own helpers.
    Other(String),
}

impl Operation {
    /// The operation named on the command line.
    pub fn parse(name: &str) -> Operation {
        match name {
            "get" => Operation::Get,
            "store" => Operation::Store,
            "erase" => Operation::Erase,
            "list" => Operation::List,
            "version" => Operation::Version,
            other => Operation::Other(other.to_owned()),
        }
    }
}

/// The server URL a client wrote on stdin (surrounding white space
/// trimmed); empty is an error.
pub fn server_url(stdin: &str) -> Result<String> {
    let url = stdin.trim();
    if url.is_empty() {
        return Err(super::bad_request(
            "no server URL on stdin",
            "a Docker client writes the registry's server URL on stdin",
        ));
    }
    if url.contains(['\n', '\0']) {
        return Err(super::bad_request(
            "the server URL on stdin spans several lines",
            "a Docker client writes one server URL on stdin",
        ));
    }
    Ok(url.to_owned())
}

/// The request credbox hands to the helper (and keys its cache with).
pub fn request(server_url: &str) -> Request {
    Request {
        client: Client::Docker {
            server_url: server_url.to_owned(),
        },
    }
}

/// The URL a route is looked up for: a server URL without a scheme is
/// `https` (as registries are, unless configured as insecure).
pub fn route_url(server_url: &str) -> Option<RequestUrl> {
    let mut url = RequestUrl::parse(server_url).ok()?;
    if url.scheme.is_none() {
        url = RequestUrl::parse(&format!("https://{server_url}")).ok()?;
    }
    Some(url)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    username: &'a str,
    secret: &'a str,
}

/// The answer to `get`: one JSON object and a newline.
pub fn answer(credential: &Credential, server_url: &str) -> Result<String> {
    let (username, secret) = match (&credential.user_secret, &credential.token) {
        (Some(user), _) => (user.username.as_str(), user.secret.as_str()),
        (None, Some(token)) => (TOKEN_USERNAME, token.as_str()),
        (None, None) => {
            return Err(Error::InvalidOutput(
                "the helper returned neither a user-secret nor a token, which a registry needs"
                    .into(),
            ));
        }
    };
    let json = serde_json::to_string(&Answer {
        server_url,
        username,
        secret,
    })
    .map_err(|e| Error::Internal(format!("cannot write the answer as JSON: {e}")))?;
    Ok(json + "\n")
}

/// Why `store` is refused.
pub fn store_refused() -> Error {
    super::bad_request(
        "credbox is a read-only credential helper: it fetches registry credentials itself and keeps none typed in",
        "run `docker login` only for registries that credbox does not answer",
    )
}

/// Why an operation the protocol does not have is refused.
pub fn unknown_operation(operation: &str) -> Error {
    super::bad_request(
        format!(
            "unknown credential action `{}`",
            crate::redact::one_line(operation, 64)
        ),
        "expected get, store, erase, list or version",
    )
}

/// Makes `dir/docker-credential-credbox` start `exe` (credbox itself), as
/// [`super::install_program`] does; returns what it did, for the user.
pub fn install(dir: &Path, exe: &Path) -> Result<String> {
    let mut report = super::install_program(dir, exe, PROGRAM, "Docker clients")?;
    report += "use it per registry in ~/.docker/config.json (or containers-auth.json): {\"credHelpers\": {\"registry.example.com\": \"credbox\"}}\n";
    Ok(report)
}

/// How a Docker client hears credbox: failures on stdout too (clients
/// show stdout), "not mine" as the exact [`NOT_FOUND`] and exit code 1.
fn manner() -> Manner {
    Manner {
        not_mine: NotMine::Say {
            text: NOT_FOUND,
            code: 1,
        },
        failures_on_stdout: true,
    }
}

/// `docker-credential-credbox OPERATION` (or `credbox docker OPERATION
/// [--manifest M]`): answers a Docker or OCI client's request on `stdin`
/// for the helper `named`, else the user's route for the server URL.
pub fn handle(operation: &str, named: Option<&Path>, stdin: &mut dyn BufRead, out: &mut Out) -> u8 {
    let operation = Operation::parse(operation);
    let manner = manner();
    let fail = |out: &mut Out, subject: &str, error: &Error| manner.fail(out, subject, error);
    let url = match &operation {
        Operation::List => return out.print("docker", "{}\n"),
        Operation::Version => {
            let text = format!("{PROGRAM} (credbox) {}\n", crate::version::CREDBOX);
            return out.print("docker", &text);
        }
        Operation::Other(op) => return fail(out, "docker", &unknown_operation(op)),
        Operation::Store => {
            let _ = read_capped(stdin, MAX_STDIN, false);
            return fail(out, "docker", &store_refused());
        }
        Operation::Get | Operation::Erase => {
            read_capped(stdin, MAX_STDIN, false).and_then(|text| server_url(&text))
        }
    };
    let url = match url {
        Ok(url) => url,
        Err(e) => return fail(out, "docker", &e),
    };
    let route = route_url(&url);
    let target = Target {
        named,
        url: route.as_ref(),
    };
    let helper = match Helper::resolve(target, Overrides::default()) {
        Ok(Some(helper)) => helper,
        Ok(None) => return crate::serve::Reply::NotMine(None).write(out, &manner),
        Err(failure) => return fail(out, &failure.subject, &failure.error),
    };
    let request = request(&url);
    if operation == Operation::Erase {
        return match helper.forget(&request) {
            Ok(_) => 0,
            Err(e) => fail(out, helper.name(), &e),
        };
    }
    answer_by(&helper, &request, &RunOptions::default(), |c| {
        answer(c, &url)
    })
    .write(out, &manner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::UserSecret;

    #[test]
    fn answers_a_user_secret_or_a_token_as_an_identity_token() {
        let user = Credential {
            user_secret: Some(UserSecret {
                username: "robot$ci".into(),
                secret: "s3\"cret".into(),
            }),
            token: Some("ignored".into()),
            ..Credential::default()
        };
        assert_eq!(
            answer(&user, "https://registry.example.com").unwrap(),
            "{\"ServerURL\":\"https://registry.example.com\",\"Username\":\"robot$ci\",\"Secret\":\"s3\\\"cret\"}\n"
        );
        let token = Credential {
            token: Some("tok".into()),
            ..Credential::default()
        };
        assert_eq!(
            answer(&token, "127.0.0.1:5000").unwrap(),
            "{\"ServerURL\":\"127.0.0.1:5000\",\"Username\":\"<token>\",\"Secret\":\"tok\"}\n"
        );
        assert!(answer(&Credential::default(), "h").is_err());
    }

    #[test]
    fn the_server_url_is_trimmed_and_required() {
        assert_eq!(server_url("  127.0.0.1:5000\n").unwrap(), "127.0.0.1:5000");
        assert!(server_url("\n").is_err());
        assert!(server_url("a\nb").is_err());
    }

    #[test]
    fn a_server_url_without_a_scheme_routes_as_https() {
        let url = route_url("registry.example.com").unwrap();
        assert_eq!(url.scheme.as_deref(), Some("https"));
        let url = route_url("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            (url.scheme.as_deref(), url.port),
            (Some("http"), Some(5000))
        );
        let url = route_url("https://index.docker.io/v1/").unwrap();
        assert_eq!(url.path, "/v1/");
    }

    #[test]
    fn install_links_once_and_never_replaces_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let exe = dir.path().join("credbox");
        let report = install(&bin, &exe).unwrap();
        assert!(report.starts_with("linked "), "{report}");
        assert_eq!(std::fs::read_link(bin.join(PROGRAM)).unwrap(), exe);
        assert!(install(&bin, &exe).unwrap().contains("already links to"));
        let err = install(&bin, &dir.path().join("other")).unwrap_err();
        assert!(err.to_string().contains("remove it first"), "{err}");
        assert_eq!(std::fs::read_link(bin.join(PROGRAM)).unwrap(), exe);
    }

    #[test]
    fn operations() {
        assert_eq!(Operation::parse("get"), Operation::Get);
        assert_eq!(Operation::parse("list"), Operation::List);
        assert_eq!(Operation::parse("x"), Operation::Other("x".into()));
    }

    #[test]
    fn the_front_end_answers_what_needs_no_helper() {
        use crate::serve::tests::written;
        let handle = |op: &str, named: Option<&str>, stdin: &[u8]| {
            let mut stdin = stdin;
            written(|out| handle(op, named.map(Path::new), &mut stdin, out))
        };
        let w = handle("list", None, b"");
        assert_eq!((w.code, &w.stdout[..], &w.stderr[..]), (0, "{}\n", ""));
        let w = handle("version", None, b"");
        assert!(
            w.stdout.starts_with("docker-credential-credbox (credbox) "),
            "{}",
            w.stdout
        );
        // Failures go on stdout too, where Docker clients show them.
        for (op, stdin, what) in [
            ("frob", &b""[..], "frob"),
            (
                "store",
                &br#"{"ServerURL":"r","Username":"u","Secret":"s3cr3t"}"#[..],
                "read-only",
            ),
        ] {
            let w = handle(op, None, stdin);
            assert_ne!(w.code, 0, "{op}");
            assert!(w.stderr.starts_with("credbox: docker: "), "{}", w.stderr);
            assert!(w.stderr.contains(what), "{}", w.stderr);
            assert_eq!(w.stdout, w.stderr, "{op}");
            assert!(!w.stderr.contains("s3cr3t"), "{}", w.stderr);
        }
        let w = handle("get", Some("/nonexistent/m.toml"), b"registry.example\n");
        assert_eq!(w.code, 2);
        assert!(
            w.stdout.starts_with("credbox: /nonexistent/m.toml: "),
            "{}",
            w.stdout
        );
        assert_eq!(w.stdout, w.stderr);
    }
}
