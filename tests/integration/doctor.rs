//! `credbox doctor`: one line per check against real loopback servers
//! (refused, hung, TLS with an untrusted certificate, a healthy one), the
//! exit code, and the Claude Code snippets, run as Claude Code would run
//! them (through a shell).

use std::process::Command;
use std::time::Duration;

use credbox_test_artifacts::ENV_BEARER;

use crate::support::servers::{Reply, Server, closed_port};
use crate::support::util::{Cache, Outcome, TempManifest, manifest};

/// `credbox doctor`'s exit code when a check failed.
const CHECK_FAILED: i32 = 10;

/// The lines of the report that are checks (before the verdict).
fn checks(out: &Outcome) -> Vec<&str> {
    out.stdout.lines().take_while(|l| !l.is_empty()).collect()
}

/// The check line that contains `needle`.
#[track_caller]
fn line<'a>(out: &'a Outcome, needle: &str) -> &'a str {
    checks(out)
        .into_iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no check line with {needle:?}: {}", out.stdout))
}

/// A manifest for the env-bearer component with a 1 s timeout (a 900 ms
/// network deadline) and `network`, a `[network]` table's body.
fn helper(network: &str) -> TempManifest {
    let body = format!(
        "[limits]\ntimeout = \"1s\"\n[env]\nallow = [\"API_TOKEN\"]\n[network]\n{network}\n"
    );
    manifest("doc", ENV_BEARER, &body)
}

fn doctor(cache: &Cache, m: &TempManifest) -> Outcome {
    cache.run(&["doctor", m.arg()], &[("API_TOKEN", "s3cret-value")])
}

#[test]
fn a_healthy_helper_passes_every_check_and_its_snippets_work() {
    let server = Server::start_tls(|_| Reply::text("unused"));
    let ca = credbox_test_artifacts::tls::CA;
    let m = helper(&format!(
        "allow = [{:?}]\nca_bundle = {ca:?}",
        server.origin()
    ));
    let cache = Cache::warmed(m.arg());
    let out = doctor(&cache, &m);
    assert_eq!(out.code, 0, "{out:#?}");
    for check in checks(&out) {
        assert!(check.starts_with("✓ "), "{check}");
        assert!(check.ends_with(" ms)"), "{check}");
    }
    assert!(line(&out, "parses").contains("helper doc, format headers, timeout 1s"));
    assert!(line(&out, "implements").contains("credbox:helper/helper@0.3.0"));
    assert!(line(&out, "component is compiled").starts_with("✓"));
    assert!(line(&out, "env API_TOKEN").contains("env API_TOKEN is set"));
    assert!(!out.stdout.contains("s3cret-value"), "a value was printed");
    let origin = server.origin();
    assert!(
        line(&out, "is an address").contains(&format!(
            "{origin}: 127.0.0.1 is an address, no DNS: 127.0.0.1 (private, allowed)"
        )),
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "TCP connect").contains(&format!("TCP connect to 127.0.0.1:{}", server.port()))
    );
    assert!(
        line(&out, "TLS handshake")
            .contains("TLS handshake: certificate trusted, valid until 2100-01-01 (in "),
        "{}",
        out.stdout
    );
    assert!(line(&out, "cache directory").contains("is private"));
    assert!(
        out.stdout.contains("\nAll 10 checks passed.\n"),
        "{}",
        out.stdout
    );

    // The snippets are JSON, and their commands print the credential when
    // run through a shell, as Claude Code runs them.
    let blocks: Vec<serde_json::Value> = out
        .stdout
        .split("\n{")
        .skip(1)
        .map(|rest| {
            let block = format!("{{{}", &rest[..=rest.find("\n}").unwrap() + 1]);
            serde_json::from_str(&block).unwrap_or_else(|e| panic!("{e}: {block}"))
        })
        .collect();
    assert_eq!(blocks.len(), 4, "{}", out.stdout);
    let api_key = blocks[0]["apiKeyHelper"].as_str().unwrap();
    let headers = blocks[1]["mcpServers"]["doc"]["headersHelper"]
        .as_str()
        .unwrap();
    assert!(api_key.contains(m.path.canonicalize().unwrap().to_str().unwrap()));
    let run = |command: &str| {
        let out = Command::new("sh")
            .args(["-c", command])
            .env("API_TOKEN", "abc")
            .env("CREDBOX_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(api_key), "abc\n");
    assert_eq!(run(headers), "{\"Authorization\":\"Bearer abc\"}\n");
    // Claude Code's telemetry and proxy hooks; the debounce is the helper's
    // cache ttl (5 minutes), and the default 29 minutes is warned about.
    let otel = blocks[2]["otelHeadersHelper"].as_str().unwrap();
    assert_eq!(run(otel), "{\"Authorization\":\"Bearer abc\"}\n");
    assert_eq!(
        blocks[2]["env"]["CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS"],
        "300000"
    );
    assert!(
        out.stdout
            .contains("Warning: Claude Code keeps OTel headers for 1740s")
    );
    let proxy = blocks[3]["proxyAuthHelper"].as_str().unwrap();
    assert_eq!(run(proxy), "Bearer abc\n");
    // Only the TLS handshake reached the server, no request.
    assert!(server.stop().is_empty());
}

#[test]
fn a_refused_connection_fails_its_check() {
    let port = closed_port();
    let m = helper(&format!("allow = [\"http://127.0.0.1:{port}\"]"));
    let out = doctor(&Cache::new(), &m);
    assert_eq!(out.code, CHECK_FAILED, "{out:#?}");
    let tcp = line(&out, "TCP connect");
    assert!(
        tcp.starts_with(&format!(
            "✗ http://127.0.0.1:{port}: TCP connect to 127.0.0.1:{port}: Connection refused"
        )),
        "{tcp}"
    );
    assert!(
        out.stdout.contains("\n1 of 9 checks failed.\n"),
        "{}",
        out.stdout
    );
    assert!(out.elapsed < Duration::from_secs(3), "{out:#?}");
}

#[test]
fn a_server_that_never_answers_fails_at_the_network_deadline() {
    // TCP connects (the kernel accepts), then the TLS handshake hangs.
    let server = Server::start(|_| Reply::Silent);
    let origin = format!("https://127.0.0.1:{}", server.port());
    let m = helper(&format!("allow = [{origin:?}]"));
    let out = doctor(&Cache::new(), &m);
    assert_eq!(out.code, CHECK_FAILED, "{out:#?}");
    assert!(line(&out, "TCP connect").starts_with("✓ "));
    let tls = line(&out, "TLS handshake");
    assert!(
        tls.starts_with(&format!(
            "✗ {origin}: TLS handshake: no answer within 900ms ("
        )),
        "{tls}"
    );
    let ms: u64 = tls
        .rsplit_once(" (")
        .unwrap()
        .1
        .trim_end_matches(" ms)")
        .parse()
        .unwrap();
    assert!((900..2000).contains(&ms), "{tls}");
    drop(server);
}

#[test]
fn an_untrusted_certificate_fails_with_the_ca_bundle_hint() {
    let server = Server::start_tls(|_| Reply::text("unused"));
    let m = helper(&format!("allow = [{:?}]", server.origin()));
    let out = doctor(&Cache::new(), &m);
    assert_eq!(out.code, CHECK_FAILED, "{out:#?}");
    let tls = line(&out, "TLS handshake");
    assert!(tls.starts_with("✗ "), "{tls}");
    assert!(tls.contains("UnknownIssuer"), "{tls}");
    assert!(
        tls.contains("(a TLS-intercepting network? see [network] ca_bundle)"),
        "{tls}"
    );
}

#[test]
fn problems_before_the_network_are_named_and_wildcards_skipped() {
    let body = format!(
        "sha256 = \"{}\"\n[env]\nallow = [\"UNSET_VAR\"]\n[network]\nallow = [\"https://*.example.com\", \"http://127.0.0.1:*\"]\n",
        "0".repeat(64)
    );
    let m = manifest("doc", ENV_BEARER, &body);
    let out = doctor(&Cache::new(), &m);
    assert_eq!(out.code, CHECK_FAILED, "{out:#?}");
    assert!(line(&out, "pins").starts_with("✗ component has sha256 "));
    assert!(line(&out, "compiled").contains("not compiled yet"));
    assert!(line(&out, "UNSET_VAR").starts_with("✗ env UNSET_VAR is not set"));
    assert!(line(&out, "*.example.com").starts_with(
        "– https://*.example.com:443: a wildcard entry names no host and port to probe"
    ));
    assert!(line(&out, "127.0.0.1:*").starts_with("– "));
    assert!(
        out.stdout.contains("\n2 of 9 checks failed.\n"),
        "{}",
        out.stdout
    );

    let m = manifest("doc", ENV_BEARER, "[limits]\ntimout = \"1s\"\n");
    let out = doctor(&Cache::new(), &m);
    assert_eq!(out.code, CHECK_FAILED, "{out:#?}");
    assert!(line(&out, "manifest").contains("line 3: unknown field `timout`"));
    // No snippets for a helper that does not parse.
    assert!(!out.stdout.contains("apiKeyHelper"));

    let m = manifest("doc", "/nonexistent/x.wasm", "");
    let out = doctor(&Cache::new(), &m);
    assert!(
        line(&out, "/nonexistent/x.wasm")
            .starts_with("✗ component /nonexistent/x.wasm: No such file")
    );
}
