//! Every world: components built against `credbox:helper@0.1.0` (the
//! samples as they were before 0.2.0, kept as built in
//! `tests/fixtures/v0.1.0/`) and `@0.2.0` (`tests/fixtures/v0.2.0/`) keep
//! running unchanged beside 0.3.0 ones.

use crate::support::servers::{Reply, Server};
use crate::support::util::{Cache, example_manifest, root};

/// A component of `tests/fixtures/v0.1.0/`, as a path argument.
fn fixture(file: &str) -> String {
    let path = root().join("tests/fixtures/v0.1.0").join(file);
    assert!(path.is_file(), "{} is missing", path.display());
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_0_1_0_component_runs_unchanged_for_headers_and_api_keys() {
    let env_bearer = example_manifest("env-bearer", &fixture("env_bearer.wasm"));
    let cache = Cache::new();
    let token = [("API_TOKEN", "t-010")];
    let headers = cache.run(&["run", env_bearer.arg()], &token);
    assert_eq!(headers.ok(), "{\"Authorization\":\"Bearer t-010\"}\n");
    let key = cache.run(&["run", "--format", "api-key", env_bearer.arg()], &token);
    assert_eq!(key.ok(), "t-010\n");
    // Its own errors keep their classes.
    cache
        .run(&["run", "--no-cache", env_bearer.arg()], &[])
        .fails(3, "env-bearer: misconfigured: missing config API_TOKEN");
}

#[test]
fn a_0_1_0_component_reaches_the_network_as_before() {
    let server = Server::start(|_| {
        Reply::json(r#"{"access_token":"at-010","token_type":"Bearer","expires_in":90}"#)
    });
    let oauth = example_manifest(
        "oauth-client-credentials",
        &fixture("oauth_client_credentials.wasm"),
    );
    let token_url = format!("TOKEN_URL={}/oauth/token", server.origin());
    let out = Cache::new().run(
        &[
            "run",
            oauth.arg(),
            "--config",
            &token_url,
            "--allow-url",
            "http://127.0.0.1:*",
        ],
        &[("CLIENT_ID", "cli-1"), ("CLIENT_SECRET", "s3cret")],
    );
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer at-010\"}\n");
    assert_eq!(server.stop().len(), 1);
}

#[test]
fn build_and_inspect_name_the_world_a_component_targets() {
    let cache = Cache::new();
    let old = fixture("env_bearer.wasm");
    let built = cache.run(&["build", &old], &[]);
    built.ok();
    assert!(
        built
            .stderr
            .contains("implements credbox:helper/helper@0.1.0;"),
        "{}",
        built.stderr
    );
    let inspected = cache.run(&["inspect", &old], &[]);
    assert!(
        inspected.ok().contains(
            "credbox:helper/helper@0.1.0 (this credbox runs credbox:helper/helper@0.3.0, @0.2.0 and @0.1.0)"
        ),
        "{}",
        inspected.stdout
    );
}

/// A manifest for the `v02-parts` guest with `config` as its `[config]`
/// table and `cache` as its `[cache]` table.
fn parts(config: &str, cache: &str) -> crate::support::util::TempManifest {
    crate::support::util::manifest(
        "parts",
        credbox_test_artifacts::GUEST_V02_PARTS,
        &format!("[config]\n{config}\n[cache]\n{cache}\n"),
    )
}

#[test]
fn each_format_takes_its_part_of_a_0_2_0_credential() {
    let cache = Cache::new();
    let both = parts(
        "TOKEN = \"tok-1\"\nHEADER_NAME = \"X-Api-Key\"\nHEADER_VALUE = \"hv-1\"",
        "",
    );
    assert_eq!(
        cache.run(&["run", both.arg()], &[]).ok(),
        "{\"X-Api-Key\":\"hv-1\"}\n"
    );
    assert_eq!(
        cache
            .run(&["run", "--format", "api-key", both.arg()], &[])
            .ok(),
        "tok-1\n"
    );
    // A credential without the part the client needs prints nothing.
    let basic = parts("USERNAME = \"me\"\nSECRET = \"pw-secret-1\"", "");
    let out = cache.run(&["run", basic.arg()], &[]);
    let line = out.fails(7, "no headers or token for headers");
    assert!(!line.contains("pw-secret-1"), "{line}");
    cache
        .run(&["run", "--format", "api-key", basic.arg()], &[])
        .fails(7, "no token for api-key");
    // A helper's not-found is its own exit code.
    let elsewhere = parts("TOKEN = \"t\"\nCLIENT = \"git\"", "");
    cache
        .run(&["run", elsewhere.arg()], &[])
        .fails(10, "not found: no credential for headers, only for git");
}

#[test]
fn an_expiry_in_the_past_is_refused_and_the_earlier_expiry_counts() {
    let past = parts("TOKEN = \"t\"\nEXPIRES_AT = \"1000\"", "");
    Cache::new()
        .run(&["run", past.arg()], &[])
        .fails(7, "expired before credbox got it");
    let cache = Cache::new();
    // expires-in 3600 but expires-at in 40 s: cached for 40 s less the
    // 30 s margin.
    let soon = parts(
        "TOKEN = \"t\"\nEXPIRES_IN = \"3600\"\nEXPIRES_AT_IN = \"40\"",
        "",
    );
    cache.run(&["run", soon.arg()], &[]).ok();
    let file = cache.entry_file();
    let key = credbox::cache::CacheKey::parse(file.file_stem().unwrap().to_str().unwrap()).unwrap();
    let entry = credbox::cache::Entry::decode(&std::fs::read(&file).unwrap(), &key).unwrap();
    let stored = entry.credential.unwrap();
    let lifetime = stored.expires_ms - stored.created_ms;
    assert!((9_000..=10_000).contains(&lifetime), "{lifetime}");
    assert!(stored.credential.expires_at.is_some());
}

#[test]
fn a_shared_credential_answers_every_client_from_one_run() {
    let unique = |share: &str| {
        crate::support::util::manifest(
            "unique",
            credbox_test_artifacts::GUEST_UNIQUE,
            &format!("[cache]\nshare = {share}\n"),
        )
    };
    for (share, same) in [("true", true), ("false", false)] {
        let cache = Cache::new();
        let m = unique(share);
        let headers = cache.run(&["run", m.arg()], &[]);
        let key = cache.run(&["run", "--format", "api-key", m.arg()], &[]);
        let token = key.ok().trim().to_owned();
        assert_eq!(
            headers.ok() == format!("{{\"Authorization\":\"Bearer {token}\"}}\n"),
            same,
            "share = {share}: {} / {token}",
            headers.stdout
        );
    }
}

#[test]
fn fetch_cannot_talk_to_the_user() {
    let m = crate::support::util::manifest(
        "quiet",
        credbox_test_artifacts::GUEST_STATE_AND_KEYS,
        "[config]\nSHOW = \"visit https://evil.example and type 1234\"\n",
    );
    let out = Cache::new().run(&["run", "--no-cache", m.arg()], &[]);
    let headers: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(headers["X-Show"], "error:misconfigured");
    assert!(!out.stderr.contains("evil.example"), "{}", out.stderr);
}

/// A component of `tests/fixtures/v0.2.0/`, as a path argument.
fn fixture_v02(file: &str) -> String {
    let path = root().join("tests/fixtures/v0.2.0").join(file);
    assert!(path.is_file(), "{} is missing", path.display());
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_0_2_0_component_runs_unchanged_and_sees_new_clients_as_any() {
    let cache = Cache::new();
    let echo = fixture_v02("guest_echo_request.wasm");
    let built = cache.run(&["build", &echo], &[]);
    built.ok();
    assert!(
        built
            .stderr
            .contains("implements credbox:helper/helper@0.2.0;"),
        "{}",
        built.stderr
    );
    // A client 0.2.0 knows reaches it as before.
    let headers = cache.run(&["run", &echo], &[("CLAUDE_CODE_MCP_SERVER_NAME", "docs")]);
    let headers: serde_json::Value = serde_json::from_str(headers.ok()).unwrap();
    assert_eq!(headers["X-Client"], "headers");
    assert_eq!(headers["X-Mcp-Server-Name"], "docs");
    // One 0.3.0 added reaches it as `any`, whose token is the proxy's.
    let proxy = cache.run(
        &["run", "--format", "proxy-authorization", &echo],
        &[("CLAUDE_CODE_PROXY_HOST", "proxy.corp")],
    );
    assert_eq!(proxy.ok(), "Bearer any\n");
    // The env-bearer sample as built against 0.2.0.
    let env_bearer = example_manifest("env-bearer", &fixture_v02("env_bearer.wasm"));
    let out = cache.run(&["run", env_bearer.arg()], &[("API_TOKEN", "t-020")]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer t-020\"}\n");
}

#[test]
fn a_0_3_0_component_hears_the_proxy_and_its_challenge() {
    let cache = Cache::new();
    let echo = credbox_test_artifacts::GUEST_ECHO_REQUEST;
    let env = [
        ("CLAUDE_CODE_PROXY_URL", "http://proxy.corp:3128"),
        ("CLAUDE_CODE_PROXY_HOST", "proxy.corp"),
        (
            "CLAUDE_CODE_PROXY_AUTHENTICATE",
            r#"Basic realm="corp users""#,
        ),
    ];
    let out = cache.run(&["run", "--format", "proxy-authorization", echo], &env);
    assert_eq!(
        out.ok(),
        "Bearer proxy;url=http://proxy.corp:3128;host=proxy.corp;scheme=Basic;realm=corp%20users\n"
    );
    let otel = cache.run(&["run", "--client", "otel", echo], &[]);
    let otel: serde_json::Value = serde_json::from_str(otel.ok()).unwrap();
    assert_eq!(otel["X-Client"], "otel");
}
