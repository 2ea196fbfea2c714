//! The network, end to end: helpers built on the SDK's HTTP client
//! (`tests/guests/http-get` and the two network examples) run by the real
//! credbox against servers on the loopback interface. Each test checks the
//! error class a user would see and how long it took.
//!
//! Every timed run is preceded by `credbox build` into the same cache, so
//! that the time measured is the run's, not Cranelift's.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use credbox_test_artifacts::{GUEST_HTTP_GET, OAUTH_CLIENT_CREDENTIALS, VPN_AWARE};

use crate::support::servers::{Reply, Request, Server, closed_port};
use crate::support::util::{Cache, Outcome, TempManifest, example_manifest, manifest, within};

/// Upper bound for a run that fails or succeeds without waiting on
/// anything: process start, loading the compiled helper, loopback traffic.
const FAST: Duration = Duration::from_secs(2);

/// The run deadline of the tests that wait for it.
const DEADLINE: Duration = Duration::from_secs(2);

/// When a helper's requests must be done: credbox's network deadline, a
/// tenth of the run's timeout before its end.
const NETWORK_DEADLINE: Duration = Duration::from_millis(1800);

/// Runs the `http-get` guest on `url`, bypassing the credential cache,
/// with `flags` (such as `--allow-url`).
fn http_get(cache: &Cache, url: &str, flags: &[&str]) -> Outcome {
    let url = format!("URL={url}");
    let mut args = vec!["run", GUEST_HTTP_GET, "--no-cache", "--config", &url];
    args.extend_from_slice(flags);
    cache.run(&args, &[])
}

/// [`example_manifest`], and a cache with its component compiled in it.
fn warm_example(example: &str, component: &str) -> (TempManifest, Cache) {
    let m = example_manifest(example, component);
    let cache = Cache::warmed(m.arg());
    (m, cache)
}

#[track_caller]
fn assert_fast(out: &Outcome) {
    assert!(out.elapsed < FAST, "took {:?}: {out:#?}", out.elapsed);
}

/// Asserts a failure at credbox's network deadline: after most of the
/// run's deadline, and not much past it.
#[track_caller]
fn assert_at_deadline(out: &Outcome) {
    out.took(NETWORK_DEADLINE, within(DEADLINE));
}

#[test]
fn an_allowed_request_succeeds() {
    let server = Server::start(|_| Reply::text("tok-allowed\n"));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let url = format!("{}/token?user=me", server.origin());
    let out = http_get(&cache, &url, &["--allow-url", &server.origin()]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer tok-allowed\"}\n");
    assert_fast(&out);
    let requests = server.stop();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].target.as_str()),
        ("GET", "/token?user=me")
    );
    assert_eq!(
        requests[0].header("user-agent"),
        Some("credbox-guest/0.1.0")
    );
}

#[test]
fn a_host_not_in_the_allowlist_is_denied() {
    let server = Server::start(|_| Reply::text("never"));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let url = format!("{}/token?secret=s3cret", server.origin());
    let denied = format!(
        "request to {} denied (not in [network] allow)",
        server.origin()
    );
    // No entry at all: no network.
    let out = http_get(&cache, &url, &[]);
    let line = out.fails(9, &denied);
    assert!(
        !line.contains("s3cret") && !line.contains("/token"),
        "only the origin is shown: {line}"
    );
    assert_fast(&out);
    // Entries for another port and another host do not match.
    let other_port = format!("http://127.0.0.1:{}", closed_port());
    let out = http_get(
        &cache,
        &url,
        &[
            "--allow-url",
            &other_port,
            "--allow-url",
            "http://127.0.0.2:*",
        ],
    );
    out.fails(9, &denied);
    assert_fast(&out);
    assert!(server.stop().is_empty(), "nothing reached the server");
}

#[test]
fn plain_http_to_an_origin_allowed_only_for_https_is_denied() {
    let server = Server::start(|_| Reply::text("never"));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let https_only = format!("https://127.0.0.1:{}", server.port());
    let url = format!("{}/token", server.origin());
    let out = http_get(&cache, &url, &["--allow-url", &https_only]);
    out.fails(
        9,
        &format!(
            "request to {} denied (not in [network] allow)",
            server.origin()
        ),
    );
    assert_fast(&out);
    assert!(server.stop().is_empty(), "nothing reached the server");
}

/// A name other than `localhost` that `/etc/hosts` maps to a loopback
/// address, and that address (preferring 127.0.0.1). Panics if there is
/// none: the test that needs one must not pass without it.
fn loopback_name() -> (String, IpAddr) {
    let hosts = std::fs::read_to_string("/etc/hosts").expect("cannot read /etc/hosts");
    let mut found: Vec<(String, IpAddr)> = Vec::new();
    for line in hosts.lines() {
        let mut fields = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if !ip.is_loopback() {
            continue;
        }
        for name in fields.filter(|n| !n.eq_ignore_ascii_case("localhost")) {
            // credbox asks the system resolver: it must agree, with
            // loopback addresses only.
            let resolved: Vec<IpAddr> = match (name, 80).to_socket_addrs() {
                Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                Err(_) => continue,
            };
            if resolved.contains(&ip) && resolved.iter().all(IpAddr::is_loopback) {
                found.push((name.to_owned(), ip));
            }
        }
    }
    found.sort_by_key(|(_, ip)| *ip != IpAddr::from([127, 0, 0, 1]));
    found.into_iter().next().expect(
        "no name but localhost maps to a loopback address in /etc/hosts; this test needs one \
         (add a line such as `127.0.0.1 credbox-test.internal`)",
    )
}

#[test]
fn a_name_resolving_to_loopback_is_refused_unless_its_address_is_listed() {
    let (name, ip) = loopback_name();
    let server = Server::start_on(ip, |_| Reply::text("tok-by-name"));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let by_name = format!("http://{name}:{}", server.port());
    let url = format!("{by_name}/token");

    let out = http_get(&cache, &url, &["--allow-url", &by_name]);
    let line = out.fails(
        9,
        &format!("request to {by_name} denied ({name} resolves to the private address "),
    );
    assert!(
        line.contains("which [network] allow does not name"),
        "{line}"
    );
    assert_fast(&out);
    assert!(server.requests().is_empty(), "nothing reached the server");

    // Listing the address as well lets the same request through.
    let out = http_get(
        &cache,
        &url,
        &["--allow-url", &by_name, "--allow-url", &server.origin()],
    );
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer tok-by-name\"}\n");
    assert_eq!(server.requests().len(), 1);

    // So does a `private_ranges` entry holding it, the way a VPN's range
    // is named; a range that does not hold it changes nothing.
    let in_manifest = |range: &str| {
        let body = format!(
            "[network]\nallow = [{by_name:?}]\nprivate_ranges = [{range:?}]\n\
             [config]\nURL = {url:?}\n"
        );
        let m = manifest("by-name", GUEST_HTTP_GET, &body);
        cache.run(&["run", m.arg(), "--no-cache"], &[])
    };
    let holding = match ip {
        IpAddr::V4(_) => "127.0.0.0/8",
        IpAddr::V6(_) => "::1/128",
    };
    assert_eq!(
        in_manifest(holding).ok(),
        "{\"Authorization\":\"Bearer tok-by-name\"}\n"
    );
    in_manifest("10.0.0.0/8").fails(9, "private_ranges");
    assert_eq!(server.stop().len(), 2);
}

#[test]
fn redirects_are_followed_and_credentials_stay_on_their_origin() {
    let last = Server::start(|request: &Request| {
        Reply::text(match request.header("authorization") {
            Some(_) => "credentials-leaked",
            None => "no-credentials-here",
        })
    });
    let to_last = format!("{}/final", last.origin());
    let first = Server::start(move |request: &Request| match request.target.as_str() {
        "/start" => Reply::redirect(302, "/moved?step=2"),
        _ => Reply::redirect(307, &to_last),
    });
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let out = http_get(
        &cache,
        &format!("{}/start", first.origin()),
        &[
            "--config",
            "BEARER=s3cret",
            "--allow-url",
            &first.origin(),
            "--allow-url",
            &last.origin(),
        ],
    );
    assert_eq!(
        out.ok(),
        "{\"Authorization\":\"Bearer no-credentials-here\"}\n"
    );
    assert_fast(&out);
    let hops: Vec<(String, Option<String>)> = first
        .stop()
        .into_iter()
        .map(|r| {
            (
                r.target.clone(),
                r.header("authorization").map(str::to_owned),
            )
        })
        .collect();
    let bearer = Some("Bearer s3cret".to_owned());
    assert_eq!(
        hops,
        [
            ("/start".to_owned(), bearer.clone()),
            ("/moved?step=2".to_owned(), bearer)
        ],
        "same-origin hops keep Authorization"
    );
    let last = last.stop();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].target, "/final");
}

#[test]
fn a_redirect_to_a_host_not_in_the_allowlist_is_denied_at_the_hop() {
    let elsewhere = Server::start(|_| Reply::text("never"));
    let to_elsewhere = format!("{}/steal", elsewhere.origin());
    let first = Server::start(move |_| Reply::redirect(302, &to_elsewhere));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let out = http_get(
        &cache,
        &format!("{}/start", first.origin()),
        &["--allow-url", &first.origin()],
    );
    out.fails(
        9,
        &format!(
            "request to {} denied (not in [network] allow)",
            elsewhere.origin()
        ),
    );
    assert_fast(&out);
    assert_eq!(first.stop().len(), 1, "the first hop was made");
    assert!(elsewhere.stop().is_empty(), "the refused hop was not");
}

#[test]
fn a_refused_connection_fails_in_well_under_a_second() {
    // The VPN-down case: vpn-aware's probe hits a port nobody listens on.
    let token_server = Server::start(|_| Reply::json(r#"{"token":"never"}"#));
    let (m, cache) = warm_example("vpn-aware", VPN_AWARE);
    let probe = format!("http://127.0.0.1:{}/healthz", closed_port());
    let out = vpn_aware(&cache, &m, &probe, &token_server);
    out.fails(
        5,
        "vpn-aware: unavailable: VPN not connected or 127.0.0.1 unreachable",
    );
    assert!(
        out.elapsed < Duration::from_secs(1),
        "took {:?}",
        out.elapsed
    );
    assert!(
        token_server.stop().is_empty(),
        "no token request after a failed probe"
    );
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_at_the_deadline() {
    let server = Server::start(|_| Reply::Silent);
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let url = format!("{}/token", server.origin());
    let out = http_get(
        &cache,
        &url,
        &["--allow-url", &server.origin(), "--timeout", "2s"],
    );
    out.fails(
        5,
        &format!(
            "unavailable: {}: timed out waiting for the response",
            server.origin()
        ),
    );
    assert_at_deadline(&out);
    assert_eq!(server.stop().len(), 1);
}

#[test]
fn a_server_that_drips_a_byte_a_second_fails_at_the_deadline() {
    let server = Server::start(|_| Reply::Drip);
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let url = format!("{}/token", server.origin());
    let allow = ["--allow-url", &server.origin()];
    let out = http_get(&cache, &url, &[&allow[..], &["--timeout", "2s"]].concat());
    out.fails(
        5,
        &format!(
            "unavailable: {}: timed out reading the response",
            server.origin()
        ),
    );
    assert_at_deadline(&out);

    // The client's own timeout covers the whole exchange, however steadily
    // the bytes come.
    let out = http_get(
        &cache,
        &url,
        &[&allow[..], &["--config", "TIMEOUT_MS=1500"]].concat(),
    );
    out.fails(
        5,
        &format!(
            "unavailable: {}: no complete answer within 1500ms",
            server.origin()
        ),
    );
    out.took(
        Duration::from_millis(1500),
        Duration::from_millis(1500) + FAST,
    );
    assert_eq!(server.stop().len(), 2);
}

#[test]
fn an_oversized_body_is_cut_off_with_an_error() {
    let server = Server::start(|_| Reply::Full {
        status: 200,
        headers: Vec::new(),
        body: vec![b'x'; (1 << 20) + 1],
    });
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let url = format!("{}/token", server.origin());
    let out = http_get(&cache, &url, &["--allow-url", &server.origin()]);
    let line = out.fails(
        8,
        &format!(
            "failed: {}: response body larger than credbox's 1 MiB cap",
            server.origin()
        ),
    );
    assert!(
        line.ends_with(
            "(run with --verbose to see the helper's log; report it to its author if it persists)"
        ),
        "not called a crash: {line}"
    );
    assert_fast(&out);
    assert_eq!(server.stop().len(), 1);
}

#[test]
fn the_run_s_8_mib_cap_over_all_responses_is_named_as_such() {
    // Bodies under the 1 MiB cap of one response, 9 of them: the run's
    // 8 MiB cap over all responses is hit on the ninth. (A server per run:
    // each accepts 16 connections.)
    let body = (1 << 20) - (1 << 16);
    let serve = || {
        Server::start(move |_| Reply::Full {
            status: 200,
            headers: Vec::new(),
            body: vec![b'x'; body],
        })
    };
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let run = |server: &Server, repeat: &str| {
        let url = format!("{}/token", server.origin());
        let flags = ["--allow-url", &server.origin(), "--config", repeat];
        http_get(&cache, &url, &flags)
    };
    let server = serve();
    assert_eq!(
        run(&server, "REPEAT=8").ok(),
        format!("{{\"Authorization\":\"Bearer got-{}\"}}\n", 8 * body)
    );
    assert_eq!(server.stop().len(), 8);
    let server = serve();
    let over = run(&server, "REPEAT=9");
    let line = over.fails(
        8,
        &format!(
            "failed: {}: the run's responses together larger than credbox's 8 MiB cap for one run",
            server.origin()
        ),
    );
    assert!(!line.contains("1 MiB"), "{line}");
    assert_fast(&over);
    assert_eq!(server.stop().len(), 9);
}

#[test]
fn an_oversized_request_body_is_never_sent_whole() {
    let server = Server::start(|r| Reply::text(&format!("got-{}\n", r.body.len())));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let url = format!("{}/token", server.origin());
    let allow = ["--allow-url", &server.origin()];
    // Within the cap: sent, and the server saw all of it ("blob=" and the
    // bytes).
    let within = http_get(
        &cache,
        &url,
        &[&allow[..], &["--config", "POST_BYTES=524288"]].concat(),
    );
    assert_eq!(
        within.ok(),
        format!("{{\"Authorization\":\"Bearer got-{}\"}}\n", 524_288 + 5)
    );
    // Past credbox's 1 MiB cap: the helper fails fast with one line, and no
    // request the server read carried more than the cap.
    let over = http_get(
        &cache,
        &url,
        &[&allow[..], &["--config", "POST_BYTES=2097152"]].concat(),
    );
    assert_ne!(over.code, 0, "{over:#?}");
    assert_eq!(over.stdout, "");
    assert!(!over.stderr.trim_end().contains('\n'), "{over:#?}");
    assert_fast(&over);
    for request in server.stop() {
        assert!(
            request.body.len() <= 1 << 20,
            "{} bytes arrived",
            request.body.len()
        );
    }
}

/// Runs the OAuth example against `server` with the credentials in the
/// environment.
fn oauth(cache: &Cache, m: &TempManifest, server: &Server, flags: &[&str]) -> Outcome {
    let token_url = format!("TOKEN_URL={}/oauth/token", server.origin());
    let mut args = vec![
        "run",
        m.arg(),
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

#[test]
fn oauth_client_credentials_returns_the_access_token_and_its_lifetime() {
    let server = Server::start(|_| {
        Reply::json(r#"{"access_token":"at-123","token_type":"Bearer","expires_in":90}"#)
    });
    let (m, cache) = warm_example("oauth-client-credentials", OAUTH_CLIENT_CREDENTIALS);
    let out = oauth(&cache, &m, &server, &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer at-123\"}\n");
    assert_fast(&out);
    // Served from the cache the second time.
    assert_eq!(oauth(&cache, &m, &server, &[]).ok(), out.stdout);

    let requests = server.stop();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/oauth/token")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.body_text(),
        "grant_type=client_credentials&client_id=cli-1&client_secret=s3cret+%26+co&scope=mcp%3Atools"
    );
    // expires_in 90 s, less credbox's 30 s safety margin.
    let file = cache.entry_file();
    let key = credbox::cache::CacheKey::parse(file.file_stem().unwrap().to_str().unwrap()).unwrap();
    let entry = credbox::cache::Entry::decode(&std::fs::read(&file).unwrap(), &key).unwrap();
    let stored = entry.credential.as_ref().unwrap();
    let lifetime = stored.expires_ms - stored.created_ms;
    assert_eq!(lifetime, 60_000, "{entry:?}");
}

#[test]
fn oauth_client_credentials_maps_provider_errors_to_their_classes() {
    let server = Server::start(|request: &Request| match request.body_text() {
        body if body.contains("scope=revoked") => {
            Reply::status(400, "application/json", r#"{"error":"invalid_client"}"#)
        }
        body if body.contains("scope=typo") => {
            Reply::status(400, "application/json", r#"{"error":"invalid_scope"}"#)
        }
        _ => Reply::status(503, "text/html", "<h1>maintenance</h1>"),
    });
    let (m, cache) = warm_example("oauth-client-credentials", OAUTH_CLIENT_CREDENTIALS);
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
            "any",
            5,
            &*format!(
                "unavailable: {} answered 503 Service Unavailable",
                server.origin()
            ),
        ),
    ] {
        let scope = format!("SCOPE={scope}");
        let out = oauth(&cache, &m, &server, &["--no-cache", "--config", &scope]);
        let line = out.fails(code, needle);
        assert!(!line.contains("s3cret"), "{line}");
        assert_fast(&out);
    }
    assert_eq!(server.stop().len(), 3);
}

/// Runs the VPN-aware example, probing `probe` and fetching from
/// `server`, as a `headersHelper` for an MCP server.
fn vpn_aware(cache: &Cache, m: &TempManifest, probe: &str, server: &Server) -> Outcome {
    let probe = format!("PROBE_URL={probe}");
    let token_url = format!("TOKEN_URL={}/v1/token", server.origin());
    cache.run(
        &[
            "run",
            m.arg(),
            "--no-cache",
            "--config",
            &probe,
            "--config",
            &token_url,
            "--allow-url",
            "http://127.0.0.1:*",
        ],
        &[
            ("CORP_API_KEY", "key-1"),
            (
                "CLAUDE_CODE_MCP_SERVER_URL",
                "https://mcp.corp.example.com/mcp",
            ),
        ],
    )
}

#[test]
fn vpn_aware_fetches_the_token_once_the_probe_answers() {
    // Any answer proves the network is there, a 404 included.
    let server = Server::start(|request: &Request| match request.target.as_str() {
        "/v1/token" => Reply::json(r#"{"token":"corp-tok","expires_in":3600}"#),
        _ => Reply::status(404, "text/plain", "not found"),
    });
    let (m, cache) = warm_example("vpn-aware", VPN_AWARE);
    let out = vpn_aware(&cache, &m, &format!("{}/healthz", server.origin()), &server);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer corp-tok\"}\n");
    assert_fast(&out);
    let requests = server.stop();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["/healthz", "/v1/token"]);
    let token = &requests[1];
    assert_eq!(token.method, "POST");
    assert_eq!(token.header("authorization"), Some("Bearer key-1"));
    assert_eq!(token.header("content-type"), Some("application/json"));
    assert_eq!(
        token.body_text(),
        r#"{"audience":"https://mcp.corp.example.com/mcp"}"#
    );
}

#[test]
fn vpn_aware_gives_up_on_a_silent_probe_after_its_short_timeout() {
    // A route that drops packets: the probe's own timeout (1 s) ends it,
    // long before the run's 5 s deadline.
    let probe = Server::start(|_| Reply::Silent);
    let token_server = Server::start(|_| Reply::json(r#"{"token":"never"}"#));
    let (m, cache) = warm_example("vpn-aware", VPN_AWARE);
    let out = vpn_aware(
        &cache,
        &m,
        &format!("{}/healthz", probe.origin()),
        &token_server,
    );
    out.fails(5, "unavailable: VPN not connected or 127.0.0.1 unreachable");
    out.took(Duration::from_secs(1), Duration::from_secs(1) + FAST);
    assert_eq!(probe.stop().len(), 1);
    assert!(token_server.stop().is_empty());
}

#[test]
fn https_trusts_the_manifests_ca_bundle_and_nothing_else_it_was_not_told() {
    // A TLS-intercepting corporate network: the server's certificate comes
    // from a private CA (the test CA), which no system trusts.
    let server = Server::start_tls(|_| Reply::text("tok-over-tls"));
    let cache = Cache::warmed(GUEST_HTTP_GET);
    let ca = credbox_test_artifacts::tls::CA;
    let run = |ca_bundle: &str| {
        let body = format!(
            "[network]\nallow = [{origin:?}]\n{ca_bundle}\n[config]\nURL = \"{origin}/token\"\n",
            origin = server.origin()
        );
        let m = manifest("tls", GUEST_HTTP_GET, &body);
        cache.run(&["run", m.arg(), "--no-cache"], &[])
    };

    let out = run("");
    out.fails(
        5,
        &format!(
            "unavailable: {}: TLS certificate not trusted (a TLS-intercepting network? see [network] ca_bundle)",
            server.origin()
        ),
    );
    assert_fast(&out);

    let out = run(&format!("ca_bundle = {ca:?}"));
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer tok-over-tls\"}\n");
    assert_fast(&out);
    // Only the trusted handshake got as far as a request.
    assert_eq!(server.stop().len(), 1);
}
