//! credbox under the real Claude Code client (`claude -p`, the version
//! pinned in `claude_client`), as its `apiKeyHelper` and as an MCP server's
//! `headersHelper`, against loopback stand-ins for the Anthropic Messages
//! API and MCP servers (`mock_apis`).
//!
//! Each run gets a fresh `HOME` (no user configuration), a working folder
//! of its own, and its own credbox cache. The client is killed if it runs
//! longer than [`CLIENT_DEADLINE`].

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use credbox_test_artifacts::{
    ENV_BEARER, GUEST_ECHO_REQUEST, OAUTH_CLIENT_CREDENTIALS, PROXY_AUTH,
};
use serde_json::{Value, json};

use crate::support::claude_client::{ONE_AT_A_TIME, claude};
use crate::support::clients::{CLIENT_DEADLINE, Finished, run};
use crate::support::servers::mock_apis::{ANSWER, anthropic_api, mcp_method, mcp_server, path};
use crate::support::servers::proxy::Proxy;
use crate::support::servers::{Server, closed_port, token_helper};
use crate::support::util::{Cache, TempManifest, example_manifest, manifest, sh_quote};

/// How soon the client must give up when credbox fails: start-up, one
/// helper run, the client's own two retries of the refused request (about
/// 3 s in all here), with room for a loaded machine. Far from the 10
/// minutes a hanging helper script can cost.
const FAILURE_BOUND: Duration = Duration::from_secs(15);

/// The credbox binary under test.
const CREDBOX: &str = env!("CARGO_BIN_EXE_credbox");

/// The shell command that runs credbox with `args`.
fn credbox_command(args: &[&str]) -> String {
    std::iter::once(CREDBOX)
        .chain(args.iter().copied())
        .map(sh_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A credbox cache with the components of `manifests` compiled in it, as
/// after `credbox build`.
fn warm_cache(manifests: &[&TempManifest]) -> Cache {
    let cache = Cache::new();
    for m in manifests {
        cache.run(&["build", m.arg()], &[]).ok();
    }
    cache
}

/// Runs `claude -p` with `settings` (and `mcp_config`, when given) in a
/// fresh home, with the Messages API at `api`, credbox's cache at `cache`,
/// and `env` on top of a minimal environment.
fn run_claude(
    claude: &Path,
    api: &Server,
    cache: &Cache,
    settings: &Value,
    mcp_config: Option<&Value>,
    env: &[(&str, &str)],
) -> Finished {
    let out = run_claude_for(
        CLIENT_DEADLINE,
        claude,
        api,
        cache,
        settings,
        mcp_config,
        env,
    );
    assert!(
        !out.timed_out,
        "claude was still running after {CLIENT_DEADLINE:?} and was killed: {out:#?}"
    );
    out
}

/// As [`run_claude`], but killing the client after `deadline` (and not
/// failing for it).
fn run_claude_for(
    deadline: Duration,
    claude: &Path,
    api: &Server,
    cache: &Cache,
    settings: &Value,
    mcp_config: Option<&Value>,
    env: &[(&str, &str)],
) -> Finished {
    let home = tempfile::tempdir().unwrap();
    let work = home.path().join("project");
    std::fs::create_dir(&work).unwrap();
    let settings_file = home.path().join("settings.json");
    std::fs::write(&settings_file, settings.to_string()).unwrap();

    let mut cmd = Command::new(claude);
    cmd.args(["-p", "Say pong.", "--no-session-persistence", "--settings"])
        .arg(&settings_file);
    if let Some(config) = mcp_config {
        let mcp_file = home.path().join("mcp.json");
        std::fs::write(&mcp_file, config.to_string()).unwrap();
        cmd.arg("--mcp-config")
            .arg(&mcp_file)
            .arg("--strict-mcp-config");
    }
    cmd.current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", api.origin())
        .env("CREDBOX_CACHE_DIR", cache.path())
        // Nothing but the loopback servers: no telemetry, error reports or
        // update checks.
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .envs(env.iter().copied());

    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run(cmd, deadline).expect("claude starts")
}

#[test]
fn claude_code_gets_its_api_key_and_mcp_headers_from_credbox() {
    let Some(claude) = claude() else { return };
    let token = "sk-credbox-e2e-4f1d9c";
    let api = Server::start(anthropic_api(token.to_owned()));
    let bearer_mcp = Server::start(mcp_server);
    let echo_mcp = Server::start(mcp_server);
    let bearer_url = format!("{}/mcp", bearer_mcp.origin());
    let echo_url = format!("{}/mcp", echo_mcp.origin());

    let env_bearer = example_manifest("env-bearer", ENV_BEARER);
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let cache = warm_cache(&[&env_bearer, &echo]);
    let settings = json!({
        "apiKeyHelper": credbox_command(&["run", "--format", "api-key", env_bearer.arg()]),
    });
    let mcp_config = json!({"mcpServers": {
        "credbox-bearer": {
            "type": "http",
            "url": bearer_url,
            "headersHelper": credbox_command(&["run", env_bearer.arg()]),
        },
        "credbox-echo": {
            "type": "http",
            "url": echo_url,
            "headersHelper": credbox_command(&["run", echo.arg()]),
        },
    }});
    let out = run_claude(
        &claude,
        &api,
        &cache,
        &settings,
        Some(&mcp_config),
        &[("API_TOKEN", token)],
    );
    eprintln!("claude -p took {:?}", out.elapsed);

    // The model's answer came back through the key credbox handed out.
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), ANSWER, "{out:#?}");
    assert!(!out.stderr.contains("Helper failed"), "{out:#?}");
    let requests = api.stop();
    let messages: Vec<_> = requests
        .iter()
        .filter(|r| path(r) == "/v1/messages")
        .collect();
    assert!(!messages.is_empty(), "no Messages request: {requests:#?}");
    let bearer = format!("Bearer {token}");
    for request in messages {
        assert_eq!(request.header("x-api-key"), Some(token), "{request:#?}");
        assert_eq!(
            request.header("authorization"),
            Some(bearer.as_str()),
            "{request:#?}"
        );
    }

    // Each MCP server was initialised and listed with its helper's headers.
    let connected = |requests: &[crate::support::servers::Request]| {
        let methods: Vec<String> = requests.iter().filter_map(mcp_method).collect();
        assert!(
            methods.iter().any(|m| m == "initialize") && methods.iter().any(|m| m == "tools/list"),
            "the client did not initialise the server and list its tools: {methods:?}"
        );
    };
    let requests = bearer_mcp.stop();
    connected(&requests);
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(bearer.as_str()),
            "{request:#?}"
        );
    }
    // The MCP server's name and URL went from the client, through credbox,
    // into the helper, and back as headers.
    let requests = echo_mcp.stop();
    connected(&requests);
    for request in &requests {
        assert_eq!(request.header("x-purpose"), Some("headers"), "{request:#?}");
        assert_eq!(
            request.header("x-mcp-server-name"),
            Some("credbox-echo"),
            "{request:#?}"
        );
        assert_eq!(
            request.header("x-mcp-server-url"),
            Some(echo_url.as_str()),
            "{request:#?}"
        );
    }
}

#[test]
fn claude_code_shows_credboxs_one_line_error_and_gives_up_quickly() {
    let Some(claude) = claude() else { return };
    let secret = "s3cret-e2e-91b2";
    let env_bearer = example_manifest("env-bearer", ENV_BEARER);
    let oauth = example_manifest("oauth-client-credentials", OAUTH_CLIENT_CREDENTIALS);
    // The VPN-down case: nothing listens at the token endpoint.
    let down = format!("http://127.0.0.1:{}", closed_port());
    let token_url = format!("TOKEN_URL={down}/oauth/token");
    let cases = [
        (
            "env-bearer, API_TOKEN unset",
            vec!["run", "--format", "api-key", env_bearer.arg()],
            vec![],
            "apiKeyHelper failed: exited 3: credbox: env-bearer: misconfigured: \
             missing config API_TOKEN"
                .to_owned(),
        ),
        (
            "oauth-client-credentials, token endpoint down",
            vec![
                "run",
                "--format",
                "api-key",
                oauth.arg(),
                "--config",
                &token_url,
                "--allow-url",
                "http://127.0.0.1:*",
            ],
            vec![("CLIENT_ID", "cli-e2e"), ("CLIENT_SECRET", secret)],
            format!(
                "apiKeyHelper failed: exited 5: credbox: oauth-client-credentials: unavailable: {down}"
            ),
        ),
    ];
    for (case, args, env, expected) in cases {
        let api = Server::start(anthropic_api("a key no helper hands out".to_owned()));
        let cache = warm_cache(&[&env_bearer, &oauth]);
        let settings = json!({"apiKeyHelper": credbox_command(&args)});
        let out = run_claude(&claude, &api, &cache, &settings, None, &env);
        eprintln!("{case}: claude -p took {:?}", out.elapsed);

        assert!(
            out.elapsed < FAILURE_BOUND,
            "{case}: took {:?}: {out:#?}",
            out.elapsed
        );
        // One line per helper run, each credbox's own line: what failed,
        // in which helper, and what to do.
        let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
        assert!(!lines.is_empty(), "{case}: nothing on stderr: {out:#?}");
        assert!(
            lines[0].starts_with(&expected) && lines[0].ends_with(')'),
            "{case}: {:?} is not {expected:?}…(what to do): {out:#?}",
            lines[0]
        );
        // The client asks again after the refused request (twice, in this
        // version); credbox answers from its failure backoff instead of
        // running the helper again.
        assert!(lines.len() >= 2, "{case}: no retry: {out:#?}");
        // The remembered failure keeps what the first one said to do.
        let first_without_paren = &lines[0][..lines[0].len() - 1];
        for line in &lines[1..] {
            assert!(
                line.starts_with(first_without_paren)
                    && line.contains("; cached failure, next try in "),
                "{case}: {line:?}: {out:#?}"
            );
        }
        assert!(!out.stdout.contains(ANSWER), "{case}: {out:#?}");
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{case}: the secret was shown: {out:#?}"
        );
        // No request went out with a key.
        for request in api.stop() {
            assert!(
                request.header("x-api-key").unwrap_or_default().is_empty(),
                "{case}: {request:#?}"
            );
        }
    }
}

/// The challenge the test proxy sends with its 407.
const CHALLENGE: &str = r#"Bearer realm="credbox-test", error="invalid_token""#;

/// The environment that makes Claude Code reach the API (TLS, the test CA)
/// through `proxy` with credbox as its `proxyAuthHelper`.
fn through_proxy<'a>(proxy_url: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("HTTPS_PROXY", proxy_url),
        ("CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER", "1"),
        ("NODE_EXTRA_CA_CERTS", credbox_test_artifacts::tls::CA),
        ("ANTHROPIC_API_KEY", key),
    ]
}

#[test]
fn claude_code_reaches_the_api_through_a_proxy_with_credbox_s_proxy_authorization() {
    let Some(claude) = claude() else { return };
    let key = "sk-credbox-proxy-7c21";
    let api = Server::start_tls(anthropic_api(key.to_owned()));
    let tokens = Server::numbered_tokens(|_| Duration::ZERO);
    // The proxy takes only the second token: the first, cached before
    // Claude Code starts, was revoked meanwhile.
    let proxy = Proxy::start(|auth| auth == Some("Bearer tok-2"), CHALLENGE);
    let proxy_url = proxy.url();
    let helper = token_helper("proxy-auth", &tokens, "backoff = \"1s\"\n");
    let cache = warm_cache(&[&helper]);
    let proxy_env = [
        ("CLAUDE_CODE_PROXY_URL", proxy_url.as_str()),
        ("CLAUDE_CODE_PROXY_HOST", "127.0.0.1"),
    ];
    let first = cache.run(
        &["run", "--format", "proxy-authorization", helper.arg()],
        &proxy_env,
    );
    assert_eq!(first.stdout, "Bearer tok-1\n", "{first:#?}");
    // Older than the helper's first backoff: its refusal is not a failure.
    std::thread::sleep(Duration::from_millis(1100));

    let settings = json!({
        "proxyAuthHelper": credbox_command(&["run", "--format", "proxy-authorization", helper.arg()]),
    });
    let out = run_claude(
        &claude,
        &api,
        &cache,
        &settings,
        None,
        &through_proxy(&proxy_url, key),
    );
    eprintln!("claude -p through the proxy took {:?}", out.elapsed);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), ANSWER, "{out:#?}");

    let seen = proxy.stop();
    let api_target = format!("127.0.0.1:{}", api.port());
    assert!(
        seen.iter()
            .all(|s| s.method == "CONNECT" && s.target == api_target),
        "{seen:#?}"
    );
    // The cached token went first and was refused; after the challenge,
    // credbox fetched anew (not from its cache), once.
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer tok-1"),
        "{seen:#?}"
    );
    assert_eq!(seen[0].status, 407, "{seen:#?}");
    assert!(
        seen.iter()
            .any(|s| s.status == 200 && s.authorization.as_deref() == Some("Bearer tok-2")),
        "{seen:#?}"
    );
    assert_eq!(
        tokens.stop().len(),
        2,
        "one fetch for the cache, one after the challenge"
    );
    let messages = api.stop();
    assert!(
        messages.iter().any(|r| path(r) == "/v1/messages"),
        "{messages:#?}"
    );
}

#[test]
fn a_proxy_that_refuses_every_credential_costs_the_provider_one_fetch() {
    let Some(claude) = claude() else { return };
    let key = "sk-credbox-proxy-9d04";
    let api = Server::start_tls(anthropic_api(key.to_owned()));
    let tokens = Server::numbered_tokens(|_| Duration::ZERO);
    let proxy = Proxy::start(|_| false, CHALLENGE);
    let proxy_url = proxy.url();
    // A backoff longer than the client is given: every ask after the first
    // refusal must be answered from the remembered failure.
    let helper = token_helper("proxy-auth", &tokens, "backoff = \"60s\"\n");
    let cache = warm_cache(&[&helper]);
    let settings = json!({
        "proxyAuthHelper": credbox_command(&["run", "--format", "proxy-authorization", helper.arg()]),
    });
    // The client retries a refused CONNECT for longer than a test waits.
    let given = Duration::from_secs(12);
    let env = through_proxy(&proxy_url, key);
    let out = run_claude_for(given, &claude, &api, &cache, &settings, None, &env);
    assert_ne!(out.code, Some(0), "{out:#?}");
    // The token fetched first was refused at once: credbox remembers that
    // as a failure, with its backoff, however often the client asks again.
    let said = "proxyAuthHelper failed: exited 4: credbox: proxy-auth: denied: the proxy refused \
                a credential fetched moments ago; its challenge: scheme \"Bearer\", realm \
                \"credbox-test\" (the provider refused the secret: check or renew it; cached \
                failure, next try in ";
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("proxyAuthHelper"))
        .collect();
    assert!(lines.len() >= 2, "{out:#?}");
    assert!(lines.iter().all(|l| l.starts_with(said)), "{out:#?}");
    let seen = proxy.stop();
    assert!(
        seen.len() >= 2 && seen.iter().all(|s| s.status == 407),
        "{seen:#?}"
    );
    assert_eq!(
        tokens.stop().len(),
        1,
        "the client's retries reached the provider: {seen:#?}"
    );
    assert!(api.stop().is_empty(), "a request got past the proxy");
}

#[test]
fn claude_code_sends_its_telemetry_with_credbox_s_otel_headers() {
    let Some(claude) = claude() else { return };
    let key = "sk-credbox-otel-51a8";
    let token = "otel-token-e2e-3b9f";
    let api = Server::start(anthropic_api(key.to_owned()));
    let collector = Server::start(|_| crate::support::servers::Reply::json("{}"));
    let env_bearer = example_manifest("env-bearer", ENV_BEARER);
    let cache = warm_cache(&[&env_bearer]);
    let settings = json!({
        "otelHeadersHelper": credbox_command(&["run", "--format", "headers", "--client", "otel", env_bearer.arg()]),
    });
    let endpoint = collector.origin();
    let env = [
        ("ANTHROPIC_API_KEY", key),
        ("API_TOKEN", token),
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ("OTEL_LOGS_EXPORT_INTERVAL", "1000"),
    ];
    let out = run_claude(&claude, &api, &cache, &settings, None, &env);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), ANSWER, "{out:#?}");
    let exports = collector.stop();
    let paths: Vec<&str> = exports.iter().map(path).collect();
    assert!(
        paths.contains(&"/v1/logs") || paths.contains(&"/v1/metrics"),
        "nothing was exported: {paths:?}"
    );
    let bearer = format!("Bearer {token}");
    for export in &exports {
        assert_eq!(
            export.header("authorization"),
            Some(bearer.as_str()),
            "{export:#?}"
        );
    }
    // The OTel request has its own cache entry, apart from an MCP server's.
    let status = cache.run(&["status"], &[]);
    assert_eq!(
        status.stdout.matches("env-bearer").count(),
        1,
        "{status:#?}"
    );
}

#[test]
fn claude_code_reaches_the_api_through_a_basic_proxy_with_the_proxy_auth_sample() {
    let Some(claude) = claude() else { return };
    let key = "sk-credbox-basic-proxy-02f7";
    let api = Server::start_tls(anthropic_api(key.to_owned()));
    // base64("alice:s3cret proxy pw"): a password with inner spaces, as
    // passphrases have, arrives whole.
    let expected = "Basic YWxpY2U6czNjcmV0IHByb3h5IHB3";
    let proxy = Proxy::start(move |auth| auth == Some(expected), r#"Basic realm="corp""#);
    let proxy_url = proxy.url();
    let sample = example_manifest("proxy-auth", PROXY_AUTH);
    let cache = warm_cache(&[&sample]);
    let settings = json!({"proxyAuthHelper": credbox_command(&["run", sample.arg()])});
    let mut env = through_proxy(&proxy_url, key);
    env.extend([
        ("PROXY_USER", "alice"),
        ("PROXY_PASSWORD", "s3cret proxy pw"),
    ]);
    let out = run_claude(&claude, &api, &cache, &settings, None, &env);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), ANSWER, "{out:#?}");
    assert!(!out.stderr.contains("s3cret proxy pw"), "{out:#?}");
    let seen = proxy.stop();
    assert!(
        seen.iter()
            .all(|s| s.status == 200 && s.authorization.as_deref() == Some(expected)),
        "{seen:#?}"
    );
    assert!(api.stop().iter().any(|r| path(r) == "/v1/messages"));
}
