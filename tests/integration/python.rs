//! Helpers in Python, end to end: the Python samples
//! (`examples/python/*`), the projects `credbox new --lang python` writes,
//! and a hostile Python helper (`tests/python-guests/probe`), each built
//! from source with componentize-py and run through the real credbox, as
//! the Rust samples are in `network.rs`, `scaffold.rs` and `hostile.rs`.
//!
//! Without componentize-py each test prints a note and passes; under
//! `CI=true` it fails. Builds are kept and compiled once
//! (`support::componentize`): the runs timed here take milliseconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::componentize::{
    build, build_python_guest, build_python_sample, cache_for, componentize_py, files_under,
};
use crate::support::secrets::assert_no_secret;
use crate::support::servers::{Reply, Request, Server};
use crate::support::util::{Cache, Outcome, TempManifest, credbox, manifest, root, within};

/// Upper bound for a run that waits on nothing (a compiled helper,
/// loopback traffic).
const FAST: Duration = Duration::from_secs(2);

/// The deadline of the runs that wait for it, and credbox's network
/// deadline inside it (a tenth before its end).
const DEADLINE: Duration = Duration::from_secs(2);
const NETWORK_DEADLINE: Duration = Duration::from_millis(1800);

/// The secret the hostile helper is handed.
const SECRET: &str = "sk-py-0123456789";

/// A sample's `credbox.toml` beside `component`, in a folder named after
/// the sample (its helper's name), with each `(from, to)` of `replace`
/// applied.
fn sample_manifest(sample: &str, component: &Path, extra: &str) -> TempManifest {
    let text = std::fs::read_to_string(
        root()
            .join("examples/python")
            .join(sample)
            .join("credbox.toml"),
    )
    .unwrap();
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("component"))
        .map(|l| format!("{l}\n"))
        .collect();
    manifest(sample, component.to_str().unwrap(), &(body + extra))
}

/// A built sample, its manifest and a cache with it compiled. `None`
/// without componentize-py (outside CI).
struct Sample {
    _out: tempfile::TempDir,
    manifest: TempManifest,
    cache: Cache,
}

fn sample(name: &str) -> Option<Sample> {
    let tool = componentize_py()?;
    let out = tempfile::tempdir().unwrap();
    let wasm = build_python_sample(&tool, name, out.path());
    let cache = cache_for(&wasm);
    Some(Sample {
        manifest: sample_manifest(name, &wasm, ""),
        cache,
        _out: out,
    })
}

#[track_caller]
fn assert_fast(out: &Outcome) {
    assert!(out.elapsed < FAST, "took {:?}: {out:#?}", out.elapsed);
}

/// Runs the OAuth sample's manifest `m` against `server` with the
/// credentials in the environment.
fn oauth(cache: &Cache, m: &str, server: &Server, flags: &[&str]) -> Outcome {
    let token_url = format!("TOKEN_URL={}/oauth/token", server.origin());
    let mut args = vec![
        "run",
        m,
        "--config",
        &token_url,
        "--allow-url",
        "http://127.0.0.1:*",
    ];
    args.extend_from_slice(flags);
    cache.run(
        &args,
        &[("CLIENT_ID", "cli-1"), ("CLIENT_SECRET", "s3cret & co")],
    )
}

/// Asserts `request` is the OAuth sample's token request, its body sent
/// whole with a `content-length` (not chunked: token endpoints read
/// nothing of a chunked form).
#[track_caller]
fn assert_token_request(request: &Request) {
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/oauth/token")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = "grant_type=client_credentials&client_id=cli-1&client_secret=s3cret+%26+co&scope=mcp%3Atools";
    assert_eq!(request.body_text(), body);
    assert_eq!(
        request.header("content-length"),
        Some(body.len().to_string().as_str()),
        "{request:#?}"
    );
    assert_eq!(request.header("transfer-encoding"), None, "{request:#?}");
}

#[test]
fn env_bearer_prints_headers_and_an_api_key_then_answers_from_the_cache() {
    let Some(s) = sample("env-bearer") else {
        return;
    };
    let env = [("API_TOKEN", "abc")];
    let out = s.cache.run(&["run", s.manifest.arg()], &env);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer abc\"}\n");
    assert_fast(&out);
    let out = s
        .cache
        .run(&["run", "--format", "api-key", s.manifest.arg()], &env);
    assert_eq!(out.ok(), "abc\n");
    // A hit: the cached credential, with no token in the environment.
    std::fs::remove_dir_all(s.cache.path().join("compiled")).unwrap();
    let out = s.cache.run(&["run", s.manifest.arg()], &env);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer abc\"}\n");
    assert!(out.elapsed < Duration::from_millis(500), "{out:#?}");
    // The same error, class and hint as the Rust sample's.
    let out = cache_for_sample_again(&s).run(&["run", "--no-cache", s.manifest.arg()], &[]);
    out.fails(
        3,
        "env-bearer: misconfigured: missing config API_TOKEN (add it to the manifest's [config] or [env] allow",
    );
}

#[test]
fn a_never_compiled_python_component_answers_on_its_first_run() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let wasm = build_python_sample(&tool, "env-bearer", out.path());
    let m = sample_manifest("env-bearer", &wasm, "");
    let env = [("API_TOKEN", "abc")];
    let cache = Cache::new();
    // A client that gives up after 2 s (Claude Code gives a headersHelper
    // 10 s) cuts the first call short: the compile it started goes on.
    let mut cut = cache.command(&["run", m.arg()], &env).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    cut.kill().unwrap();
    cut.wait().unwrap();
    // The next call waits for that compile (the 19 MB component takes
    // longer than the 5 s deadline to compile here), says why it waits,
    // and prints the credential.
    let first = cache.run(&["run", m.arg()], &env);
    assert_eq!(first.ok(), "{\"Authorization\":\"Bearer abc\"}\n");
    assert!(
        first
            .stderr
            .starts_with("credbox: env-bearer: compiling the component ("),
        "{first:#?}"
    );
    assert!(
        first
            .stderr
            .ends_with(" MB) for this machine, once; later runs start at once\n"),
        "{first:#?}"
    );
    // Later runs (no cached credential: --no-cache) start at once.
    let later = cache.run(&["run", "--no-cache", m.arg()], &env);
    assert_eq!(later.ok(), "{\"Authorization\":\"Bearer abc\"}\n");
    assert_eq!(later.stderr, "", "{later:#?}");
    assert_fast(&later);
}

/// A fresh cache for the sample `s` was built from (its component
/// compiled, nothing else).
fn cache_for_sample_again(s: &Sample) -> Cache {
    let text = std::fs::read_to_string(&s.manifest.path).unwrap();
    let component = text
        .lines()
        .find_map(|l| l.strip_prefix("component = "))
        .unwrap();
    cache_for(Path::new(
        &serde_json::from_str::<String>(component).unwrap(),
    ))
}

#[test]
fn oauth_gets_a_token_with_its_form_sent_whole_and_caches_it() {
    let Some(s) = sample("oauth-client-credentials") else {
        return;
    };
    let server = Server::start(|_| {
        Reply::json(r#"{"access_token":"at-123","token_type":"Bearer","expires_in":90}"#)
    });
    let out = oauth(&s.cache, s.manifest.arg(), &server, &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer at-123\"}\n");
    assert_fast(&out);
    // Served from the cache the second time.
    assert_eq!(
        oauth(&s.cache, s.manifest.arg(), &server, &[]).ok(),
        out.stdout
    );
    let requests = server.stop();
    assert_eq!(requests.len(), 1);
    assert_token_request(&requests[0]);
    assert_eq!(
        requests[0].header("user-agent"),
        Some("credbox-helper-python/0.1.0")
    );
    // expires_in 90 s, less credbox's 30 s safety margin.
    let file = s.cache.entry_file();
    let key = credbox::cache::CacheKey::parse(file.file_stem().unwrap().to_str().unwrap()).unwrap();
    let entry = credbox::cache::Entry::decode(&std::fs::read(&file).unwrap(), &key).unwrap();
    let stored = entry.credential.as_ref().unwrap();
    assert_eq!(stored.expires_ms - stored.created_ms, 60_000, "{entry:?}");
}

#[test]
fn oauth_maps_provider_errors_as_the_rust_sample_does() {
    let Some(s) = sample("oauth-client-credentials") else {
        return;
    };
    let server = Server::start(|request: &Request| match request.body_text() {
        body if body.contains("scope=revoked") => {
            Reply::status(400, "application/json", r#"{"error":"invalid_client"}"#)
        }
        body if body.contains("scope=typo") => {
            Reply::status(400, "application/json", r#"{"error":"invalid_scope"}"#)
        }
        body if body.contains("scope=locked") => Reply::status(401, "text/plain", "no"),
        _ => Reply::status(503, "text/html", "<h1>maintenance</h1>"),
    });
    for (scope, code, needle) in [
        (
            "revoked",
            4,
            "denied: token endpoint refused the client: invalid_client",
        ),
        (
            "typo",
            3,
            "misconfigured: token endpoint answered invalid_scope",
        ),
        (
            "locked",
            4,
            &*format!("denied: {} answered 401", server.origin()),
        ),
        (
            "any",
            5,
            &*format!("unavailable: {} answered 503", server.origin()),
        ),
    ] {
        let scope = format!("SCOPE={scope}");
        let out = oauth(
            &s.cache,
            s.manifest.arg(),
            &server,
            &["--no-cache", "--config", &scope],
        );
        let line = out.fails(code, needle);
        assert!(!line.contains("s3cret"), "{line}");
        assert_fast(&out);
    }
    assert_eq!(server.stop().len(), 4);
}

#[test]
fn oauth_to_a_host_not_in_the_allowlist_is_denied_before_anything_is_sent() {
    let Some(s) = sample("oauth-client-credentials") else {
        return;
    };
    let server = Server::start(|_| Reply::json(r#"{"access_token":"never"}"#));
    let token_url = format!("TOKEN_URL={}/oauth/token", server.origin());
    // The manifest allows https://auth.example.com only.
    let out = s.cache.run(
        &["run", s.manifest.arg(), "--config", &token_url],
        &[("CLIENT_ID", "cli-1"), ("CLIENT_SECRET", "s3cret & co")],
    );
    let line = out.fails(
        9,
        &format!(
            "oauth-client-credentials: request to {} denied (not in [network] allow)",
            server.origin()
        ),
    );
    assert!(
        !line.contains("s3cret") && !line.contains("/oauth"),
        "{line}"
    );
    assert_fast(&out);
    assert!(server.stop().is_empty(), "nothing reached the server");
}

#[test]
fn oauth_against_a_hung_endpoint_fails_at_the_deadline() {
    let Some(s) = sample("oauth-client-credentials") else {
        return;
    };
    let server = Server::start(|_| Reply::Silent);
    let out = oauth(&s.cache, s.manifest.arg(), &server, &["--timeout", "2s"]);
    out.fails(
        5,
        &format!(
            "oauth-client-credentials: unavailable: {}: timed out waiting for the response",
            server.origin()
        ),
    );
    out.took(NETWORK_DEADLINE, within(DEADLINE));
    assert_eq!(server.stop().len(), 1);
}

/// `credbox new --lang python NAME --template T` in a folder outside the
/// workspace, built there with the one command its README gives.
struct Generated {
    _temp: tempfile::TempDir,
    dir: PathBuf,
    cache: Cache,
}

impl Generated {
    fn manifest(&self) -> String {
        self.dir.join("credbox.toml").display().to_string()
    }
}

fn generate_and_build(template: &str, name: &str) -> Option<Generated> {
    let tool = componentize_py()?;
    let temp = tempfile::tempdir().unwrap();
    let workspace = root().canonicalize().unwrap();
    assert!(!temp.path().starts_with(&workspace), "{:?}", temp.path());
    let dir = temp.path().join(name);
    let dir_arg = dir.to_str().unwrap();
    let out = credbox(
        &[
            "new",
            name,
            "--lang",
            "python",
            "--template",
            template,
            "--dir",
            dir_arg,
        ],
        &[],
    );
    let summary = out.ok();
    assert!(
        summary.starts_with(&format!(
            "Created {dir_arg} from the Python {template} template: "
        )),
        "{summary}"
    );
    // The README's command, word for word.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let command = credbox::scaffold::PYTHON_BUILD;
    assert!(readme.contains(&format!("\n$ {command}\n")), "{readme}");
    assert!(summary.contains(&format!("\n  {command}\n")), "{summary}");
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    let wasm = build(&tool, &dir, &args, &files_under(&dir), "helper.wasm");
    assert!(wasm.is_file());
    let cache = cache_for(&wasm);
    Some(Generated {
        _temp: temp,
        dir,
        cache,
    })
}

#[test]
fn env_bearer_template_builds_standalone_and_runs() {
    let Some(helper) = generate_and_build("env-bearer", "my-py-bearer") else {
        return;
    };
    let env = [("API_TOKEN", "abc")];
    let out = helper.cache.run(&["run", &helper.manifest()], &env);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer abc\"}\n");
    let out = helper
        .cache
        .run(&["run", "--format", "api-key", &helper.manifest()], &env);
    assert_eq!(out.ok(), "abc\n");
    let out = helper.cache.run(&["run", &helper.manifest()], &[]);
    out.fails(3, "my-py-bearer: misconfigured: missing config API_TOKEN");
}

#[test]
fn oauth_template_builds_standalone_and_gets_a_token() {
    let Some(helper) = generate_and_build("oauth-client-credentials", "my-py-oauth") else {
        return;
    };
    let server = Server::start(|_| {
        Reply::json(r#"{"access_token":"at-new","token_type":"Bearer","expires_in":90}"#)
    });
    let out = oauth(&helper.cache, &helper.manifest(), &server, &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer at-new\"}\n");
    let requests = server.stop();
    assert_eq!(requests.len(), 1);
    assert_token_request(&requests[0]);
    // The template's placeholder endpoint is not reachable from here.
    let out = helper.cache.run(
        &["run", &helper.manifest()],
        &[("CLIENT_ID", "x"), ("CLIENT_SECRET", "y")],
    );
    assert_eq!(out.code, 5, "{out:#?}");
}

/// The hostile helper, built, and a fresh cache with it compiled.
fn probe() -> Option<(tempfile::TempDir, PathBuf, Cache)> {
    let tool = componentize_py()?;
    let out = tempfile::tempdir().unwrap();
    let wasm = build_python_guest(&tool, "probe", out.path());
    let cache = cache_for(&wasm);
    Some((out, wasm, cache))
}

#[test]
fn an_endless_python_loop_runs_out_of_fuel_or_hits_the_deadline() {
    let Some((_out, wasm, cache)) = probe() else {
        return;
    };
    let wasm = wasm.to_str().unwrap();
    let out = cache.run(&["run", wasm, "--config", "MODE=loop"], &[]);
    out.fails(6, "probe: fuel exhausted after 1000000000 instructions");
    assert!(out.elapsed < within(Duration::from_secs(5)), "{out:#?}");
    let out = cache.run(
        &[
            "run",
            wasm,
            "--config",
            "MODE=loop",
            "--fuel",
            "18000000000000000000",
            "--timeout",
            "1s",
        ],
        &[],
    );
    out.fails(6, "probe: deadline of 1s exceeded");
    out.took(Duration::from_secs(1), within(Duration::from_secs(1)));
}

#[test]
fn a_secret_in_a_python_error_is_never_shown() {
    let Some((_out, wasm, cache)) = probe() else {
        return;
    };
    let wasm = wasm.to_str().unwrap();
    let env = [("API_TOKEN", SECRET)];
    for (mode, code, needle) in [
        ("leak", 4, "probe: denied: the provider refused [redacted]"),
        (
            "raise",
            8,
            "probe: failed: unexpected ValueError: cannot parse [redacted] (at app.py:",
        ),
    ] {
        for verbose in [&[][..], &["-v"][..]] {
            let mode = format!("MODE={mode}");
            let mut args = vec!["run", wasm, "--allow-env", "API_TOKEN", "--config", &mode];
            args.extend_from_slice(verbose);
            let out = cache.run(&args, &env);
            // Raw, in any case, hex, percent- or base64-encoded: nowhere.
            assert_no_secret(&mode, &[SECRET], &out.streams(), Some(&cache.path()));
            assert_eq!(out.code, code, "{out:#?}");
            assert!(out.stderr.contains(needle), "{out:#?}");
        }
    }
}

#[test]
fn python_state_outlives_a_run() {
    let Some((_out, wasm, cache)) = probe() else {
        return;
    };
    let m = manifest(
        "probe",
        wasm.to_str().unwrap(),
        "[config]\nMODE = \"count\"\n[state]\nstore = \"file\"\n",
    );
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("state");
    let env = [("CREDBOX_STATE_DIR", dir.to_str().unwrap())];
    for n in 1..=3 {
        let out = cache.run(&["run", "--no-cache", "--format", "api-key", m.arg()], &env);
        assert_eq!(out.ok(), format!("run-{n}\n"));
    }
}

#[test]
fn a_template_a_language_lacks_and_an_unknown_language_are_refused() {
    for (lang, template, name) in [
        ("python", "vpn-aware", "Python"),
        ("javascript", "jwt", "JavaScript"),
    ] {
        let out = credbox(&["new", "x", "--lang", lang, "--template", template], &[]);
        out.fails(
            2,
            &format!(
                "x: no {name} template `{template}` (--template with --lang {lang}); \
                 pick one of env-bearer, oauth-client-credentials"
            ),
        );
    }
    let out = credbox(&["new", "x", "--lang", "cobol"], &[]);
    out.fails(2, "invalid value 'cobol' for '--lang <LANG>'");
}

#[test]
fn the_library_gets_posts_json_and_keeps_its_own_timeout() {
    let Some((_out, wasm, cache)) = probe() else {
        return;
    };
    let wasm = wasm.to_str().unwrap();
    let server = Server::start(|request: &Request| match request.method.as_str() {
        "GET" => Reply::text("tok-get\n"),
        _ => Reply::json(r#"{"token":"tok-json"}"#),
    });
    let url = format!("URL={}/token?user=me", server.origin());
    let allow = ["--allow-url", "http://127.0.0.1:*", "--no-cache"];
    let run = |mode: &str| {
        let mode = format!("MODE={mode}");
        let mut args = vec!["run", wasm, "--config", &mode, "--config", &url];
        args.extend_from_slice(&allow);
        cache.run(&args, &[])
    };
    assert_eq!(run("get").ok(), "{\"Authorization\":\"Bearer tok-get\"}\n");
    assert_eq!(
        run("json").ok(),
        "{\"Authorization\":\"Bearer tok-json\"}\n"
    );
    let requests = server.stop();
    assert_eq!(requests.len(), 2);
    let (get, post) = (&requests[0], &requests[1]);
    assert_eq!(
        (get.method.as_str(), get.target.as_str()),
        ("GET", "/token?user=me")
    );
    assert!(get.body.is_empty(), "{get:#?}");
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("content-type"), Some("application/json"));
    let body = r#"{"grant":"x","n":1}"#;
    assert_eq!(post.body_text(), body);
    assert_eq!(
        post.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(post.header("transfer-encoding"), None, "{post:#?}");

    // Its own timeout, well inside credbox's 5 s deadline.
    let silent = Server::start(|_| Reply::Silent);
    let url = format!("URL={}/token", silent.origin());
    let out = cache.run(
        &[
            "run",
            wasm,
            "--config",
            "MODE=get",
            "--config",
            &url,
            "--config",
            "TIMEOUT=1",
            allow[0],
            allow[1],
        ],
        &[],
    );
    out.fails(
        5,
        &format!(
            "probe: unavailable: {}: no complete answer within 1s",
            silent.origin()
        ),
    );
    out.took(Duration::from_secs(1), Duration::from_secs(1) + FAST);
    assert_eq!(silent.stop().len(), 1);
}
