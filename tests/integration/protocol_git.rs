//! credbox as git's credential helper, under the real git (≥ 2.46, for
//! `authtype`): `git ls-remote` over HTTP from a loopback server that
//! demands auth and serves a bare repository through `git http-backend`
//! (CGI, one child per request). Plus `credbox git` fed by hand, for the
//! protocol's edges.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use credbox_test_artifacts::{ENV_BEARER, GUEST_ECHO_REQUEST};

use crate::support::clients::require;
use crate::support::crypto::base64;
use crate::support::routes::Routes;
use crate::support::servers::{Reply, Request, Server, refreshing_helper, token_helper};
use crate::support::util::{
    Cache, Outcome, error_kinds, eventually, example_manifest, manifest, outcome,
};

/// git ≥ 2.46 (`authtype` and `credential` in the helper protocol).
fn git() -> Option<PathBuf> {
    require("git", "the Debian package git", |version| {
        let numbers: Vec<u32> = version
            .trim()
            .trim_start_matches("git version ")
            .split('.')
            .take(2)
            .filter_map(|n| n.parse().ok())
            .collect();
        numbers.len() == 2 && (numbers[0], numbers[1]) >= (2, 46)
    })
}

/// A bare repository with one commit, under `root`: `root/repo.git`.
/// Returns the commit's id.
fn make_repository(git: &Path, root: &Path) -> String {
    let run = |args: &[&str]| {
        let out = Command::new(git)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let work = root.join("work");
    let work = work.to_str().unwrap();
    run(&["init", "-q", work]);
    run(&[
        "-C",
        work,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "one",
    ]);
    let bare = root.join("repos").join("repo.git");
    run(&["clone", "-q", "--bare", work, bare.to_str().unwrap()]);
    run(&["-C", work, "rev-parse", "HEAD"]).trim().to_owned()
}

/// Answers `request` through `git http-backend` (CGI) for the
/// repositories under `root`.
fn http_backend(git: &Path, root: &Path, request: &Request) -> Reply {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let header = |name| request.header(name).unwrap_or_default();
    let mut child = Command::new(git)
        .arg("http-backend")
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root)
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&request.body)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        });
    let Some((end, sep)) = split else {
        panic!("http-backend wrote no CGI head: {out:?}");
    };
    let head = String::from_utf8_lossy(&out.stdout[..end]).into_owned();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "status" => status = value[..3].parse().unwrap(),
            "content-type" => headers.push(("content-type", value)),
            "cache-control" => headers.push(("cache-control", value)),
            "expires" => headers.push(("expires", value)),
            "pragma" => headers.push(("pragma", value)),
            _ => {}
        }
    }
    Reply::Full {
        status,
        headers,
        body: out.stdout[end + sep..].to_vec(),
    }
}

/// A git server on 127.0.0.1 that serves `root`'s repositories to
/// requests whose `Authorization` header `authorized` accepts, and
/// answers the others 401 with `challenge`.
fn git_server(
    git: &Path,
    root: &Path,
    challenge: &'static str,
    authorized: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> Server {
    let (git, root) = (git.to_owned(), root.to_owned());
    Server::start(move |request| match request.header("authorization") {
        Some(auth) if authorized(auth) => http_backend(&git, &root, request),
        _ => Reply::Full {
            status: 401,
            headers: vec![("www-authenticate", challenge.to_owned())],
            body: b"unauthorized".to_vec(),
        },
    })
}

/// `git <config> ls-remote <url>` with credbox as the only credential
/// helper (`credbox git <helper_args>`), no prompt, no user or system
/// configuration, credbox's cache in `cache` and `env` on top.
fn ls_remote(
    git: &Path,
    cache: &Cache,
    helper_args: &str,
    config: &[&str],
    url: &str,
    env: &[(&str, &str)],
) -> Outcome {
    let home = tempfile::tempdir().unwrap();
    let helper = format!("!'{}' git {helper_args}", env!("CARGO_BIN_EXE_credbox"));
    let start = Instant::now();
    let out = Command::new(git)
        .args(["-c", "credential.helper=", "-c"])
        .arg(format!("credential.helper={helper}"))
        .args(config.iter().flat_map(|c| ["-c", c]))
        .args(["ls-remote", url])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("CREDBOX_CACHE_DIR", cache.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    outcome(out, start)
}

#[test]
fn git_ls_remote_with_basic_auth_gets_the_token_as_password() {
    let Some(git) = git() else { return };
    let root = tempfile::tempdir().unwrap();
    let commit = make_repository(&git, root.path());
    let expected = format!("Basic {}", base64(b"x-access-token:git-token-1"));
    let server = {
        let expected = expected.clone();
        git_server(
            &git,
            &root.path().join("repos"),
            "Basic realm=\"test\"",
            move |auth| auth == expected,
        )
    };
    let m = example_manifest("env-bearer", ENV_BEARER);
    let cache = Cache::warmed(m.arg());
    let url = format!("{}/repo.git", server.origin());
    let out = ls_remote(
        &git,
        &cache,
        m.arg(),
        &[],
        &url,
        &[("API_TOKEN", "git-token-1")],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains(&format!("{commit}\tHEAD")), "{out:#?}");
    let requests = server.stop();
    assert_eq!(requests[0].header("authorization"), None);
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.header("authorization") == Some(&expected))
    );
    assert!(!out.stderr.contains("git-token-1"), "{out:#?}");
}

#[test]
fn git_ls_remote_with_a_bearer_token_and_erase_after_a_401() {
    erase_after_a_401("Bearer realm=\"test\"", |token| format!("Bearer {token}"));
}

#[test]
fn git_ls_remote_with_basic_auth_and_erase_after_a_401() {
    // git's erase names the username credbox answered, which its get
    // did not have: the erase must still find the get's entry.
    erase_after_a_401("Basic realm=\"test\"", |token| {
        format!(
            "Basic {}",
            base64(format!("x-access-token:{token}").as_bytes())
        )
    });
}

/// A server demanding `challenge` refuses the helper's first token and
/// takes its second (`authorization` of it): git must erase the first,
/// so that its next call gets the second; the one after is cached.
fn erase_after_a_401(challenge: &'static str, authorization: fn(&str) -> String) {
    let Some(git) = git() else { return };
    let root = tempfile::tempdir().unwrap();
    let commit = make_repository(&git, root.path());
    // The helper's tokens count up; the git server takes the second only,
    // so the first call is refused and must make git erase it.
    let tokens = Server::numbered_tokens(|_| std::time::Duration::ZERO);
    let accepted = authorization("tok-2");
    let server = git_server(&git, &root.path().join("repos"), challenge, move |auth| {
        auth == accepted
    });
    let m = token_helper("token-server", &tokens, "");
    let url = format!("{}/repo.git", server.origin());
    // Through a route, not a manifest argument.
    let routes = Routes::new(&[(&url, m.arg())]);
    let env = [routes.env()];
    let cache = Cache::warmed(m.arg());
    // credential.useHttpPath: git sends the path, which the route names.
    let with_path = |cache: &Cache| {
        ls_remote(
            &git,
            cache,
            "",
            &["credential.useHttpPath=true"],
            &url,
            &env,
        )
    };

    let refused = with_path(&cache);
    assert_ne!(refused.code, 0, "tok-1 must be refused: {refused:#?}");
    assert!(
        refused.stderr.contains("Authentication failed"),
        "{refused:#?}"
    );
    let fresh = with_path(&cache);
    assert_eq!(
        fresh.code, 0,
        "the erase made the helper run again: {fresh:#?}"
    );
    assert!(
        fresh.stdout.contains(&format!("{commit}\tHEAD")),
        "{fresh:#?}"
    );
    // Cached now: no third token.
    let cached = with_path(&cache);
    assert_eq!(cached.code, 0, "{cached:#?}");
    assert_eq!(tokens.stop().len(), 2);
    let auths: Vec<_> = server
        .stop()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert!(auths.contains(&Some(authorization("tok-1"))), "{auths:?}");
    assert!(auths.contains(&Some(authorization("tok-2"))), "{auths:?}");
}

#[test]
fn a_failing_helper_tells_git_users_why_and_git_falls_through() {
    let Some(git) = git() else { return };
    let root = tempfile::tempdir().unwrap();
    make_repository(&git, root.path());
    let server = git_server(
        &git,
        &root.path().join("repos"),
        "Basic realm=\"test\"",
        |_| true,
    );
    // env-bearer without API_TOKEN: misconfigured.
    let m = example_manifest("env-bearer", ENV_BEARER);
    let cache = Cache::new();
    let url = format!("{}/repo.git", server.origin());
    let out = ls_remote(&git, &cache, m.arg(), &[], &url, &[]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout, "");
    let ours: Vec<_> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("credbox: "))
        .collect();
    assert_eq!(ours.len(), 1, "one line from credbox: {out:#?}");
    assert!(
        ours[0].starts_with("credbox: env-bearer: misconfigured: "),
        "{out:#?}"
    );
    // git went on to its prompt, which is off: its own message follows.
    assert!(out.stderr.contains("terminal prompts disabled"), "{out:#?}");
}

/// Runs `credbox git <args>` with `stdin`.
fn credbox_git(cache: &Cache, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Outcome {
    cache.feed(&[&["git"], args].concat(), env, stdin)
}

#[test]
fn credbox_git_answers_get_and_ignores_store_and_unknown_operations() {
    let m = example_manifest("env-bearer", ENV_BEARER);
    let cache = Cache::warmed(m.arg());
    let env = [("API_TOKEN", "tok-abc")];
    let get = "capability[]=authtype\nprotocol=https\nhost=git.example.com\n\n";
    let out = credbox_git(&cache, &[m.arg(), "get"], get, &env);
    assert_eq!(
        out.ok(),
        "capability[]=authtype\nauthtype=Bearer\ncredential=tok-abc\n"
    );
    let old_git = "protocol=https\nhost=git.example.com\nusername=me\n";
    let out = credbox_git(&cache, &[m.arg(), "get"], old_git, &env);
    assert_eq!(out.ok(), "username=me\npassword=tok-abc\n");
    for op in ["store", "capability", "future-op"] {
        let out = credbox_git(&cache, &[m.arg(), op], get, &env);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{op}"
        );
    }
}

#[test]
fn credbox_git_without_a_route_answers_nothing() {
    let cache = Cache::new();
    let routes = Routes::new(&[("https://other.example", "x.toml")]);
    let env = [routes.env()];
    for op in ["get", "erase"] {
        let out = credbox_git(
            &cache,
            &[op],
            "protocol=https\nhost=git.example.com\n",
            &env,
        );
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{op}"
        );
    }
    // No routes file at all: the same.
    let missing = Routes::missing();
    let out = credbox_git(
        &cache,
        &["get"],
        "protocol=https\nhost=git.example.com\n",
        &[missing.env()],
    );
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
}

#[test]
fn credbox_git_rejects_bad_input_and_bad_routes_in_one_line() {
    let cache = Cache::new();
    let m = example_manifest("env-bearer", ENV_BEARER);
    let out = credbox_git(&cache, &[m.arg(), "get"], "host=h\npassword hunter2\n", &[]);
    let line = out.fails(2, "line 2 of git's request has no `=`");
    assert!(!line.contains("hunter2"), "{line}");
    let routes = Routes::text("[[route]]\nurl = \"https://h\"\nmanfest = \"x\"\n");
    let out = credbox_git(
        &cache,
        &["get"],
        "protocol=https\nhost=h\n",
        &[routes.env()],
    );
    out.fails(2, "line 3: unknown field `manfest`");
    let big = "x".repeat(70_000);
    let out = credbox_git(&cache, &[m.arg(), "get"], &big, &[]);
    out.fails(2, "larger than");
}

#[test]
fn git_hands_the_helper_its_request_and_takes_its_user_secret() {
    let Some(git) = git() else { return };
    let root = tempfile::tempdir().unwrap();
    let commit = make_repository(&git, root.path());
    // echo-request answers the user `echo` with git's request as the
    // secret; the server takes any basic auth of user `echo`.
    let prefix = format!("Basic {}", &base64(b"echo:git;")[..8]);
    let server = git_server(
        &git,
        &root.path().join("repos"),
        "Basic realm=\"t 1\"",
        move |auth| auth.starts_with(&prefix),
    );
    let m = manifest("echo", GUEST_ECHO_REQUEST, "");
    let cache = Cache::warmed(m.arg());
    let url = format!("http://alice@127.0.0.1:{}/repo.git", server.port());
    let out = ls_remote(
        &git,
        &cache,
        m.arg(),
        &["credential.useHttpPath=true"],
        &url,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains(&format!("{commit}\tHEAD")), "{out:#?}");
    let word = format!(
        "git;protocol=http;host=127.0.0.1:{};path=repo.git;username=alice;wwwauth=Basic%20realm%3D%22t%201%22",
        server.port()
    );
    let expected = format!("Basic {}", base64(format!("echo:{word}").as_bytes()));
    // Before asking credbox, curl tries the URL's user with no password.
    let url_user = format!("Basic {}", base64(b"alice:"));
    let auths: Vec<_> = server
        .stop()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .filter(|auth| *auth != url_user)
        .collect();
    assert!(auths.len() >= 2, "{auths:?}");
    assert!(
        auths.iter().all(|auth| *auth == expected),
        "{expected}: {auths:?}"
    );
}

#[test]
fn the_helpers_not_found_is_gits_empty_answer() {
    let m = error_kinds("not-found");
    let cache = Cache::warmed(m.arg());
    let out = credbox_git(&cache, &[m.arg(), "get"], "protocol=https\nhost=h\n", &[]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out:#?}"
    );
}

#[test]
fn each_host_and_path_has_its_own_cached_credential() {
    let m = manifest("echo", GUEST_ECHO_REQUEST, "");
    let cache = Cache::warmed(m.arg());
    let get = |host: &str, path: &str| {
        let input = format!("protocol=https\nhost={host}\npath={path}\n\n");
        credbox_git(&cache, &[m.arg(), "get"], &input, &[])
            .ok()
            .to_owned()
    };
    let answer = |host: &str, path: &str| {
        format!("username=echo\npassword=git;protocol=https;host={host};path={path};username=-\n")
    };
    assert_eq!(get("a.example", "x.git"), answer("a.example", "x.git"));
    assert_eq!(get("b.example", "x.git"), answer("b.example", "x.git"));
    assert_eq!(get("a.example", "y.git"), answer("a.example", "y.git"));
    assert_eq!(get("a.example", "x.git"), answer("a.example", "x.git"));
}

#[test]
fn near_its_expiry_a_credential_is_answered_at_once_and_refreshed_in_the_background() {
    let (tokens, m) = refreshing_helper();
    let cache = Cache::warmed(m.arg());
    let get = || {
        let input = "protocol=https\nhost=h.example\n\n";
        let out = credbox_git(&cache, &[m.arg(), "get"], input, &[]);
        (out.ok().to_owned(), out.elapsed)
    };
    let fetched = Instant::now();
    assert_eq!(get().0, "username=x-access-token\npassword=tok-1\n");
    std::thread::sleep(std::time::Duration::from_millis(12_200).saturating_sub(fetched.elapsed()));
    // In the refresh window: the cached token at once (the token server
    // takes 1 s), while a detached credbox, which got the request in its
    // arguments, fetches the next: before the first expires, which a
    // caller fetching it after expiry could not do.
    let (answer, took) = get();
    assert_eq!(answer, "username=x-access-token\npassword=tok-1\n");
    assert!(took < std::time::Duration::from_millis(900), "{took:?}");
    assert!(eventually(
        || get().0,
        "username=x-access-token\npassword=tok-2\n",
        fetched + std::time::Duration::from_millis(14_800)
    ));
    assert_eq!(
        tokens.stop().len(),
        2,
        "one refresh, by the background child"
    );
}
