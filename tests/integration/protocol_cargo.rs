//! `credbox cargo`: a Cargo credential provider under the real Cargo
//! (`cargo owner --list`) against a loopback sparse registry whose index
//! requires authentication (`auth-required: true`); and the protocol's
//! exchange itself, spoken to credbox directly.

use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use credbox_test_artifacts::{
    GUEST_ECHO_REQUEST, GUEST_STATE_PROBE, GUEST_UNIQUE, GUEST_V02_PARTS,
};
use serde_json::{Value, json};

use crate::support::clients::{CLIENT_DEADLINE, Finished, run};
use crate::support::routes::Routes;
use crate::support::servers::mock_apis::path;
use crate::support::servers::{Reply, Request, Server};
use crate::support::util::{Cache, Outcome, error_kinds, manifest};

/// The registry's name in Cargo's configuration.
const REGISTRY: &str = "credbox-test";

/// A sparse registry: `config.json` and the owners API, to requests whose
/// `Authorization` is the token `token` holds; `401` to the others, with
/// the `WWW-Authenticate: Cargo` a registry sends.
///
/// With `public_index`, `config.json` is served to anyone, with
/// `auth-required: false` (the API still requires the token): `cargo
/// login` reads it before it has a token.
fn registry(
    token: Arc<OnceLock<String>>,
    origin: Arc<OnceLock<String>>,
    public_index: bool,
) -> Server {
    Server::start(move |request: &Request| {
        let origin = origin.get().cloned().unwrap_or_default();
        if public_index && path(request) == "/index/config.json" {
            return Reply::json(
                &json!({"dl": format!("{origin}/dl"), "api": origin, "auth-required": false})
                    .to_string(),
            );
        }
        if request.header("authorization") != token.get().map(String::as_str) {
            return Reply::Full {
                status: 401,
                headers: vec![(
                    "www-authenticate",
                    format!("Cargo login_url=\"{origin}/me\""),
                )],
                body: br#"{"errors":[{"detail":"authentication required"}]}"#.to_vec(),
            };
        }
        match path(request) {
            "/index/config.json" => Reply::json(
                &json!({"dl": format!("{origin}/dl"), "api": origin, "auth-required": true})
                    .to_string(),
            ),
            "/api/v1/crates/foo/owners" => Reply::json(
                r#"{"users":[{"id":1,"login":"credbox-owner","name":"Credbox Owner"}]}"#,
            ),
            _ => Reply::status(
                404,
                "application/json",
                r#"{"errors":[{"detail":"not found"}]}"#,
            ),
        }
    })
}

/// The registry, with `token` as the one it accepts (a function of its
/// origin).
fn start_registry(token: impl FnOnce(&str) -> String) -> (Server, String) {
    start_registry_with(token, false)
}

/// [`start_registry`], its index public when `public_index` (see
/// [`registry`]).
fn start_registry_with(token: impl FnOnce(&str) -> String, public_index: bool) -> (Server, String) {
    let (expected, origin) = (Arc::new(OnceLock::new()), Arc::new(OnceLock::new()));
    let server = registry(expected.clone(), origin.clone(), public_index);
    origin.set(server.origin()).unwrap();
    let token = token(&server.origin());
    expected.set(token.clone()).unwrap();
    (server, token)
}

/// Runs `cargo <args> --registry credbox-test` with a `CARGO_HOME` whose
/// registry `credbox-test` is the loopback one, its provider
/// `credbox cargo <manifest>`.
fn cargo(cache: &Cache, manifest: &str, origin: &str, args: &[&str]) -> Finished {
    cargo_with(cache, Some(manifest), origin, args, &[])
}

/// [`cargo`], with `credbox cargo` alone as the provider when `manifest`
/// is `None` (a route chooses), and `env` on top.
fn cargo_with(
    cache: &Cache,
    manifest: Option<&str>,
    origin: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Finished {
    let home = tempfile::tempdir().unwrap();
    let provider = match manifest {
        Some(manifest) => format!(
            "[{:?}, \"cargo\", {manifest:?}]",
            env!("CARGO_BIN_EXE_credbox")
        ),
        None => format!("[{:?}, \"cargo\"]", env!("CARGO_BIN_EXE_credbox")),
    };
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[registries.{REGISTRY}]\nindex = \"sparse+{origin}/index/\"\ncredential-provider = {provider}\n"
        ),
    )
    .unwrap();
    // Cargo itself, not rustup's proxy (which needs a rustup home).
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args)
        .args(["--registry", REGISTRY])
        .current_dir(home.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CARGO_HOME", home.path())
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_NET_RETRY", "0")
        .env("CREDBOX_CACHE_DIR", cache.path())
        .envs(env.iter().copied());
    run(cmd, CLIENT_DEADLINE).unwrap()
}

#[test]
fn cargo_authenticates_with_the_token_and_the_helper_sees_the_registry() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    // echo-request's token is the request's context: the registry's name
    // and index URL, and the operation Cargo first asked a token for.
    let (server, token) = start_registry(|origin| {
        format!(
            "cargo;registry-name={REGISTRY};index-url=sparse+{origin}/index/;operation=read;crate-name=-"
        )
    });
    let finished = cargo(
        &Cache::new(),
        echo.arg(),
        &server.origin(),
        &["owner", "--list", "foo"],
    );
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    assert!(
        finished.stdout.contains("credbox-owner (Credbox Owner)"),
        "{finished:#?}"
    );
    let requests = server.stop();
    let authorized: Vec<&str> = requests
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .map(path)
        .collect();
    assert_eq!(
        authorized,
        ["/index/config.json", "/api/v1/crates/foo/owners"],
        "{requests:#?}"
    );
    for request in &requests {
        if let Some(sent) = request.header("authorization") {
            assert_eq!(sent, token);
        }
    }
}

#[test]
fn a_failing_helper_fails_cargo_with_credbox_s_message() {
    let denied = error_kinds("denied");
    let (server, _) = start_registry(|_| "unreachable".into());
    let finished = cargo(
        &Cache::new(),
        denied.arg(),
        &server.origin(),
        &["owner", "--list", "foo"],
    );
    assert_ne!(finished.code, Some(0), "{finished:#?}");
    // Cargo shows the message of credbox's `Err` answer.
    assert!(
        finished
            .stderr
            .contains("credbox: error-kinds: denied: kind test"),
        "{finished:#?}"
    );
    assert!(
        server
            .stop()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[test]
fn a_helper_without_a_token_for_cargo_is_cargo_s_not_found() {
    // v02-parts answers only the `aws` client: `not-found` for Cargo.
    let aws_only = manifest(
        "v02-parts",
        GUEST_V02_PARTS,
        "[config]\nCLIENT = \"aws\"\nTOKEN = \"never-sent\"\n",
    );
    let (server, _) = start_registry(|_| "unreachable".into());
    let finished = cargo(
        &Cache::new(),
        aws_only.arg(),
        &server.origin(),
        &["owner", "--list", "foo"],
    );
    assert_ne!(finished.code, Some(0), "{finished:#?}");
    // Cargo's own words for "no provider had a token", not a provider
    // failure.
    assert!(
        finished
            .stderr
            .contains("no token found for `credbox-test`"),
        "{finished:#?}"
    );
    assert!(!finished.stderr.contains("failed action"), "{finished:#?}");
    assert!(
        server
            .stop()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

/// Runs credbox with `input` on stdin (then end of file).
fn converse(cache: &Cache, args: &[&str], input: &str) -> Outcome {
    cache.feed(args, &[], input)
}

fn answers(outcome: &Outcome) -> Vec<Value> {
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    assert_eq!(outcome.stderr, "", "{outcome:#?}");
    let mut lines = outcome.stdout.lines();
    assert_eq!(lines.next(), Some(r#"{"v":[1]}"#), "{outcome:#?}");
    lines.map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_provider_speaks_cargo_s_protocol() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let cache = Cache::new();
    // As Cargo runs it: `credbox --cargo-plugin`, the manifest in `args`.
    let request = json!({
        "v": 1,
        "registry": {"index-url": "sparse+https://r.example/index/", "name": "r"},
        "kind": "get", "operation": "owners", "name": "foo",
        "args": ["cargo", echo.arg()],
    });
    let login = json!({
        "v": 1, "registry": {"index-url": "sparse+https://r.example/index/"},
        "kind": "login", "token": "s3cr3t-login", "args": ["cargo", echo.arg()],
    });
    let got = answers(&converse(
        &cache,
        &["--cargo-plugin"],
        &format!("{request}\n{login}\n"),
    ));
    assert_eq!(
        got[0],
        json!({"Ok": {"kind": "get",
            "token": "cargo;registry-name=r;index-url=sparse+https://r.example/index/;operation=owners;crate-name=foo",
            "cache": "session", "operation_independent": true}})
    );
    // echo-request has no login (the SDK's default: misconfigured).
    assert_eq!(got[1]["Err"]["kind"], "other", "{got:?}");
    assert!(!got[1].to_string().contains("s3cr3t-login"));
    assert_eq!(got.len(), 2);

    // Run by hand: the manifest on the command line.
    let read =
        r#"{"v":1,"registry":{"index-url":"https://r.example/"},"kind":"get","operation":"read"}"#;
    let got = answers(&converse(
        &cache,
        &["cargo", echo.arg()],
        &format!("{read}\n"),
    ));
    assert_eq!(
        got[0]["Ok"]["token"],
        "cargo;registry-name=-;index-url=https://r.example/;operation=read;crate-name=-"
    );
}

#[test]
fn provider_failures_are_err_answers_cargo_can_read() {
    let cache = Cache::new();
    let get = |args: Value| {
        json!({"v": 1, "registry": {"index-url": "https://r.example/"},
               "kind": "get", "operation": "read", "args": args})
        .to_string()
            + "\n"
    };
    // No manifest named.
    let got = answers(&converse(&cache, &["--cargo-plugin"], &get(json!([]))));
    assert_eq!(got[0]["Err"]["kind"], "other");
    assert!(
        got[0]["Err"]["message"]
            .as_str()
            .unwrap()
            .contains("credential-provider = ["),
        "{got:?}"
    );
    // The helper's not-found: Cargo may try its next provider.
    let not_found = error_kinds("not-found");
    let got = answers(&converse(
        &cache,
        &["--cargo-plugin"],
        &get(json!(["cargo", not_found.arg()])),
    ));
    assert_eq!(got[0]["Err"]["kind"], "not-found", "{got:?}");
    // Any other failure: `other`, with credbox's one line.
    let denied = error_kinds("denied");
    let got = answers(&converse(&cache, &["cargo", denied.arg()], &get(json!([]))));
    assert_eq!(got[0]["Err"]["kind"], "other");
    assert!(
        got[0]["Err"]["message"]
            .as_str()
            .unwrap()
            .starts_with("credbox: error-kinds: denied: kind test ("),
        "{got:?}"
    );
    // A missing manifest is `other` too, not a crash.
    let got = answers(&converse(
        &cache,
        &["--cargo-plugin"],
        &get(json!(["cargo", "/nonexistent/credbox.toml"])),
    ));
    assert_eq!(got[0]["Err"]["kind"], "other");
}

#[test]
fn a_refresh_ahead_of_expiry_runs_in_the_background_with_cargo_s_request() {
    // `unique` returns a new token each run. Lifetime 45 s less the 30 s
    // skew: cached 15 s, refreshed in the background from 12 s on.
    let unique = manifest("unique", GUEST_UNIQUE, "[config]\nEXPIRES_IN = \"45\"\n");
    let cache = Cache::warmed(unique.arg());
    let read = r#"{"v":1,"registry":{"index-url":"sparse+https://r.example/index/","name":"r"},"kind":"get","operation":"read"}"#;
    let token = |outcome: &Outcome| answers(outcome)[0]["Ok"]["token"].clone();
    let start = Instant::now();
    let first = token(&converse(
        &cache,
        &["cargo", unique.arg()],
        &format!("{read}\n"),
    ));
    assert!(first.is_string(), "{first}");
    std::thread::sleep(Duration::from_millis(12_300).saturating_sub(start.elapsed()));
    // In the window: answered from the cache at once, a refresh started.
    let second = converse(&cache, &["cargo", unique.arg()], &format!("{read}\n"));
    assert_eq!(token(&second), first);
    // The refresh (a detached credbox, handed the request on its command
    // line) lands before the cached token expires at 15 s.
    let landed = loop {
        let now = token(&converse(
            &cache,
            &["cargo", unique.arg()],
            &format!("{read}\n"),
        ));
        if now != first {
            break Some(now);
        }
        if start.elapsed() >= Duration::from_millis(14_500) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        landed.is_some(),
        "the background refresh never landed before expiry"
    );
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn each_registry_and_operation_has_its_own_cache_entry() {
    let unique = manifest("unique", GUEST_UNIQUE, "");
    let cache = Cache::warmed(unique.arg());
    let token = |index: &str, operation: &str| {
        let line = json!({"v": 1, "registry": {"index-url": index}, "kind": "get",
                          "operation": operation, "name": "foo"});
        let out = converse(&cache, &["cargo", unique.arg()], &format!("{line}\n"));
        answers(&out)[0]["Ok"]["token"].clone()
    };
    let read = token("https://a.example/", "read");
    assert!(read.is_string());
    assert_eq!(token("https://a.example/", "read"), read, "cached");
    assert_ne!(
        token("https://b.example/", "read"),
        read,
        "another registry"
    );
    assert_ne!(
        token("https://a.example/", "publish"),
        read,
        "another operation"
    );
}

#[test]
fn without_a_manifest_the_route_for_the_index_url_answers_cargo() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let (server, token) = start_registry(|origin| {
        format!(
            "cargo;registry-name={REGISTRY};index-url=sparse+{origin}/index/;operation=read;crate-name=-"
        )
    });
    // `sparse+http` is matched by its transport, `http`.
    let routes = Routes::new(&[(&format!("{}/index", server.origin()), echo.arg())]);
    let env = [routes.env()];
    let finished = cargo_with(
        &Cache::new(),
        None,
        &server.origin(),
        &["owner", "--list", "foo"],
        &env,
    );
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    assert!(finished.stdout.contains("credbox-owner"), "{finished:#?}");
    let requests = server.stop();
    assert!(
        requests
            .iter()
            .any(|r| r.header("authorization") == Some(token.as_str()))
    );

    // No route for another registry: url-not-supported, so Cargo may try
    // its next provider.
    let other = json!({"v": 1, "registry": {"index-url": "sparse+https://other.example/index/"},
                       "kind": "get", "operation": "read", "args": ["cargo"]});
    let got = answers(&Cache::new().feed(&["--cargo-plugin"], &env, &format!("{other}\n")));
    assert_eq!(got[0]["Err"]["kind"], "url-not-supported", "{got:?}");
    assert!(
        got[0]["Err"]["message"]
            .as_str()
            .unwrap()
            .contains("sparse+https://other.example/index/"),
        "{got:?}"
    );
}

#[test]
fn cargo_login_and_logout_run_the_helper_s_login_and_forget_it() {
    // state-probe's login stores a value (in a file store here); its fetch
    // answers `access-<length>` from it, or `misconfigured` without one.
    let login_value = "0123456789-cargo-login-value";
    let probe = manifest(
        "state-probe",
        GUEST_STATE_PROBE,
        &format!(
            "[state]\nstore = \"file\"\n[config]\nMODE = \"read\"\nLOGIN_VALUE = {login_value:?}\n"
        ),
    );
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("credbox-state");
    let env = [("CREDBOX_STATE_DIR", state_dir.to_str().unwrap())];
    // `cargo login` reads the index's config.json before it has a token.
    let (server, _) = start_registry_with(|_| format!("access-{}", login_value.len()), true);
    let cache = Cache::warmed(probe.arg());
    let owners = |cache: &Cache| {
        cargo_with(
            cache,
            Some(probe.arg()),
            &server.origin(),
            &["owner", "--list", "foo"],
            &env,
        )
    };

    let before = owners(&cache);
    assert_ne!(before.code, Some(0), "{before:#?}");
    assert!(before.stderr.contains("not logged in"), "{before:#?}");

    let login = cargo_with(
        &cache,
        Some(probe.arg()),
        &server.origin(),
        &["login"],
        &env,
    );
    assert_eq!(login.code, Some(0), "{login:#?}");
    assert!(
        login.stderr.contains("credbox: state-probe: logged in"),
        "{login:#?}"
    );
    let after = owners(&cache);
    assert_eq!(after.code, Some(0), "{after:#?}");
    assert!(after.stdout.contains("credbox-owner"), "{after:#?}");

    let logout = cargo_with(
        &cache,
        Some(probe.arg()),
        &server.origin(),
        &["logout"],
        &env,
    );
    assert_eq!(logout.code, Some(0), "{logout:#?}");
    let gone = owners(&cache);
    assert_ne!(gone.code, Some(0), "{gone:#?}");
    assert!(gone.stderr.contains("not logged in"), "{gone:#?}");
    let requests = server.stop();
    assert!(
        requests
            .iter()
            .any(|r| r.header("authorization").is_some() && path(r) == "/api/v1/crates/foo/owners")
    );
}
