//! The samples of the authentication patterns (`examples/`, issue #15),
//! each run by the real credbox from its own `credbox.toml`, and its
//! credential checked independently: by a loopback server standing in for
//! the service, which accepts or refuses it as the real one would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use credbox_test_artifacts::{API_KEY_SECRET, CUSTOM_HEADERS, MULTI_TENANT, PROXY_AUTH};

use crate::support::crypto::{hex, hmac_sha256, unbase64url, unhex};
use crate::support::servers::{Reply, Request, Server};
use crate::support::testkeys::{ES256_PUBLIC, key_file};
use crate::support::util::{Cache, TempManifest, example_manifest, sample_manifest};

/// Sends a `GET path` to `server` with the headers of credbox's output (a
/// JSON object), as Claude Code sends them to an MCP server; returns the
/// status.
pub fn call_with(server: &Server, path: &str, output: &str) -> u16 {
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(output).expect("credbox prints a JSON object");
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for (name, value) in &headers {
        request += &format!("{name}: {}\r\n", value.as_str().expect("string values"));
    }
    request += "\r\n";
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"))
}

/// A service that answers 200 when `accept` accepts the request's
/// headers, else 401.
fn service(accept: impl Fn(&Request) -> bool + Send + Sync + 'static) -> Server {
    Server::start(move |request| match accept(request) {
        true => Reply::text("ok"),
        false => Reply::status(401, "text/plain", "unauthorized"),
    })
}

fn warm(example: &str, component: &str) -> (TempManifest, Cache) {
    let m = example_manifest(example, component);
    let cache = Cache::warmed(m.arg());
    (m, cache)
}

#[test]
fn api_key_secret_sends_both_halves_of_the_pair() {
    let server = service(|r| {
        r.header("x-api-key") == Some("key-7f3a") && r.header("x-api-secret") == Some("sec/9+q=")
    });
    let (m, cache) = warm("api-key-secret", API_KEY_SECRET);
    let env = [("API_KEY", "key-7f3a"), ("API_SECRET", "sec/9+q=")];
    let out = cache.run(&["run", m.arg()], &env);
    assert_eq!(
        out.ok(),
        "{\"X-API-Key\":\"key-7f3a\",\"X-API-Secret\":\"sec/9+q=\"}\n"
    );
    assert_eq!(call_with(&server, "/mcp", &out.stdout), 200);
    // The service refuses a pair with the wrong secret: it does check.
    let wrong = out.stdout.replace("sec/9+q=", "sec/9+q!");
    assert_eq!(call_with(&server, "/mcp", &wrong), 401);

    let out = cache.run(&["run", m.arg()], &[("API_KEY", "key-7f3a")]);
    out.fails(3, "misconfigured: missing config API_SECRET");
    // Variables the manifest does not allowlist are invisible.
    let out = cache.run(
        &["run", "--no-cache", m.arg()],
        &[("API_KEY", "k"), ("API_SECRET_2", "s")],
    );
    out.fails(3, "missing config API_SECRET");
    assert_eq!(server.stop().len(), 2);
}

#[test]
fn custom_headers_identify_the_user_and_tenant_beside_the_token() {
    let server = service(|r| {
        r.header("x-auth-token") == Some("tok-5150")
            && r.header("x-user-id") == Some("u-1001")
            && r.header("x-tenant-id") == Some("acme")
    });
    let (m, cache) = warm("custom-headers", CUSTOM_HEADERS);
    let out = cache.run(&["run", m.arg()], &[("AUTH_TOKEN", "tok-5150")]);
    assert_eq!(
        out.ok(),
        "{\"X-Auth-Token\":\"tok-5150\",\"X-User-ID\":\"u-1001\",\"X-Tenant-ID\":\"acme\"}\n"
    );
    assert_eq!(call_with(&server, "/mcp", &out.stdout), 200);
    // --config overrides the manifest's [config]: another tenant, refused
    // by this service.
    let out = cache.run(
        &["run", m.arg(), "--config", "TENANT_ID=globex"],
        &[("AUTH_TOKEN", "tok-5150")],
    );
    assert!(out.ok().contains("\"X-Tenant-ID\":\"globex\""), "{out:?}");
    assert_eq!(call_with(&server, "/mcp", &out.stdout), 401);
    cache
        .run(&["run", m.arg()], &[])
        .fails(3, "missing config AUTH_TOKEN");
}

#[test]
fn multi_tenant_picks_each_servers_tenant_and_caches_them_apart() {
    let acme = service(|r| {
        r.header("authorization") == Some("Bearer tok-acme")
            && r.header("x-tenant-id") == Some("acme")
    });
    let globex = service(|r| {
        r.header("authorization") == Some("Bearer tok-globex")
            && r.header("x-tenant-id") == Some("globex")
    });
    let (m, cache) = warm("multi-tenant", MULTI_TENANT);
    let tokens = [("TOKEN_ACME", "tok-acme"), ("TOKEN_GLOBEX", "tok-globex")];
    let as_server = |name: &str, url: &str| {
        let mut env = tokens.to_vec();
        env.push(("CLAUDE_CODE_MCP_SERVER_NAME", name));
        env.push(("CLAUDE_CODE_MCP_SERVER_URL", url));
        cache.run(&["run", m.arg()], &env)
    };
    // By name, then by URL (this server's name is not in the map).
    let first = as_server("internal-tools", "https://tools.acme.example/mcp");
    let second = as_server("globex", "https://mcp.globex.example/mcp");
    for _ in 0..2 {
        let a = as_server("internal-tools", "https://tools.acme.example/mcp");
        let g = as_server("globex", "https://mcp.globex.example/mcp");
        assert_eq!(a.ok(), first.ok());
        assert_eq!(g.ok(), second.ok());
    }
    assert_eq!(
        first.ok(),
        "{\"Authorization\":\"Bearer tok-acme\",\"X-Tenant-ID\":\"acme\"}\n"
    );
    assert_eq!(call_with(&acme, "/mcp", &first.stdout), 200);
    assert_eq!(call_with(&globex, "/mcp", &second.stdout), 200);
    // Each service refuses the other tenant's credential.
    assert_eq!(call_with(&acme, "/mcp", &second.stdout), 401);
    assert_eq!(call_with(&globex, "/mcp", &first.stdout), 401);
    // One cached credential per server, whichever asked first.
    let entries = std::fs::read_dir(cache.path().join("credentials"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "json")
        })
        .count();
    assert_eq!(entries, 2);

    let out = as_server("jira", "https://jira.example/mcp");
    out.fails(3, "misconfigured: no tenant for the MCP server jira");
}

#[test]
fn mtls_gets_a_token_with_the_client_certificate_credbox_holds() {
    use credbox_test_artifacts::MTLS;
    use credbox_test_artifacts::tls::{CA, CLIENT_CERT, CLIENT_KEY};
    // The handshake itself checks the certificate (issued by the test
    // client CA, or no connection); the handler checks the request.
    let server = Server::start_mtls(|r| {
        match r.body_text() == "grant_type=client_credentials&client_id=claude-code" {
            true => Reply::json(r#"{"access_token":"at-mtls-1","expires_in":300}"#),
            false => Reply::status(400, "application/json", r#"{"error":"invalid_request"}"#),
        }
    });
    let origin = server.origin();
    let files = [
        ("ca.pem", CA),
        ("client.pem", CLIENT_CERT),
        ("client.key", CLIENT_KEY),
    ];
    let allow = format!("allow = [\"{origin}\"]\nca_bundle = \"ca.pem\"");
    let m = sample_manifest(
        "mtls",
        MTLS,
        &[
            ("allow = [\"https://mtls.auth.example.com\"]", &allow),
            ("https://mtls.auth.example.com", &origin),
        ],
        &files,
    );
    let cache = Cache::warmed(m.arg());
    let out = cache.run(&["run", m.arg()], &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer at-mtls-1\"}\n");
    assert_eq!(server.requests().len(), 1);
    // doctor names the certificate and its expiry, and shakes hands with
    // it as run does (no request).
    let out = cache.run(&["doctor", m.arg()], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains(&format!(
            "✓ {origin}: client certificate CN=credbox test client, valid until 2126-"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(": TLS handshake: certificate trusted"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("PRIVATE KEY"), "{}", out.stdout);

    // Without the [[network.client_cert]], the server refuses the
    // handshake: the certificate is what got the token.
    let text = std::fs::read_to_string(&m.path).unwrap();
    let start = text.find("[[network.client_cert]]").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |i| start + i);
    let without = format!("{}{}", &text[..start], &text[end..]);
    let bare = m.path.with_file_name("bare.toml");
    std::fs::write(&bare, without).unwrap();
    let out = cache.run(&["run", bare.to_str().unwrap()], &[]);
    // The server's alert, not a bare protocol error.
    out.fails(5, &format!("unavailable: {origin}: TLS handshake failed"));
    assert_eq!(server.stop().len(), 1, "no request got past the handshake");
}

/// The HMAC sample's signing secret, in credbox's environment only.
const HMAC_SIGNING_SECRET: &str = "whsec-4f9c1e7a-not-the-helpers";

/// Unix seconds now.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn hmac_signature_is_checked_by_the_service_and_cached_within_its_skew() {
    use credbox_test_artifacts::HMAC_SIGNATURE;
    // The service: the right key, a signature of the timestamp with the
    // shared secret, and a timestamp within 300 s of its clock.
    let server = service(|r| {
        let (Some(ts), Some(signature)) = (r.header("x-timestamp"), r.header("x-signature")) else {
            return false;
        };
        let fresh = ts.parse::<u64>().is_ok_and(|t| now().abs_diff(t) <= 300);
        r.header("x-api-key") == Some("ak-1")
            && fresh
            && signature == hex(&hmac_sha256(HMAC_SIGNING_SECRET.as_bytes(), ts.as_bytes()))
    });
    let (m, cache) = warm("hmac-signature", HMAC_SIGNATURE);
    let env = [
        ("API_KEY", "ak-1"),
        ("API_SIGNING_SECRET", HMAC_SIGNING_SECRET),
    ];
    let out = cache.run(&["run", m.arg()], &env);
    let h: serde_json::Map<String, serde_json::Value> = serde_json::from_str(out.ok()).unwrap();
    let names: Vec<&str> = h.keys().map(String::as_str).collect();
    assert_eq!(names, ["X-API-Key", "X-Signature", "X-Timestamp"], "sorted");
    assert!(
        out.stdout.starts_with("{\"X-Timestamp\":"),
        "in the helper's order"
    );
    assert_eq!(call_with(&server, "/mcp", &out.stdout), 200);
    // A timestamp out of the skew, or a signature by another secret, is
    // refused.
    let ts = h["X-Timestamp"].as_str().unwrap();
    let old = (now() - 301).to_string();
    let stale = out.stdout.replace(ts, &old);
    assert_eq!(call_with(&server, "/mcp", &stale), 401);
    let other = cache.run(
        &["run", "--no-cache", m.arg()],
        &[("API_KEY", "ak-1"), ("API_SIGNING_SECRET", "another")],
    );
    assert_eq!(call_with(&server, "/mcp", other.ok()), 401);

    // Cached no longer than the accepted skew: 300 s less credbox's margin.
    let file = cache.entry_file();
    let key = credbox::cache::CacheKey::parse(file.file_stem().unwrap().to_str().unwrap()).unwrap();
    let entry = credbox::cache::Entry::decode(&std::fs::read(&file).unwrap(), &key).unwrap();
    let stored = entry.credential.as_ref().unwrap();
    let lifetime = stored.expires_ms - stored.created_ms;
    assert!(lifetime > 0 && lifetime < 300_000, "{lifetime} ms");
    // The secret is in neither the output nor the cache.
    assert!(!out.stdout.contains(HMAC_SIGNING_SECRET));
    assert!(!String::from_utf8_lossy(&std::fs::read(&file).unwrap()).contains(HMAC_SIGNING_SECRET));
    // doctor says the key is ready, and when its variable is missing.
    let out = cache.run(&["doctor", m.arg()], &env);
    assert!(
        out.stdout
            .contains("✓ key signing: hmac-sha256, ready to sign ("),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(HMAC_SIGNING_SECRET), "{}", out.stdout);
    let out = cache.run(&["doctor", m.arg()], &[("API_KEY", "ak-1")]);
    assert_ne!(out.code, 0);
    assert!(
        out.stdout.contains(
            "✗ key signing: the environment variable API_SIGNING_SECRET, which [keys.signing] reads, is not set (set API_SIGNING_SECRET in credbox's environment"
        ),
        "{}",
        out.stdout
    );
    // Without the secret in credbox's environment: misconfigured, named.
    let out = cache.run(&["run", "--no-cache", m.arg()], &[("API_KEY", "ak-1")]);
    let line = out.fails(
        2,
        "hmac-signature: the environment variable API_SIGNING_SECRET, which [keys.signing] reads, is not set",
    );
    assert!(line.ends_with("(set API_SIGNING_SECRET in credbox's environment; not in [env] allow: the helper must not read it)"), "{line}");
}

/// A JWT's three parts, the first two decoded as JSON, the signature as
/// bytes; checked with the ES256 public key of `host/testdata/keys`.
fn verify_jwt(jwt: &str) -> (serde_json::Value, serde_json::Value) {
    use p256::ecdsa::signature::Verifier as _;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let public = unhex(ES256_PUBLIC);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&unbase64url(parts[2])).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    key.verify(signed.as_bytes(), &signature)
        .expect("signed by the key in [keys.assertion]");
    let json = |part: &str| serde_json::from_slice(&unbase64url(part)).unwrap();
    (json(parts[0]), json(parts[1]))
}

/// The jwt sample's manifest, its token endpoint at `token_url` (or none),
/// with the test ES256 key beside it.
fn jwt_manifest(token_url: Option<&str>) -> TempManifest {
    use credbox_test_artifacts::JWT;
    let key = key_file("es256.pem");
    let key = key.to_str().unwrap();
    let url = "TOKEN_URL = \"https://auth.example.com/oauth/token\"";
    let replacement = match token_url {
        Some(token_url) => format!("TOKEN_URL = \"{token_url}\""),
        None => "AUDIENCE = \"https://mcp.example.com\"".to_owned(),
    };
    sample_manifest(
        "jwt",
        JWT,
        &[
            (url, &replacement),
            (
                "allow = [\"https://auth.example.com\"]",
                "allow = [\"http://127.0.0.1:*\"]",
            ),
        ],
        &[("assertion.pem", key)],
    )
}

#[test]
fn jwt_is_a_bearer_token_the_service_verifies_with_the_public_key() {
    let m = jwt_manifest(None);
    let cache = Cache::warmed(m.arg());
    let out = cache.run(&["run", m.arg()], &[]);
    let h: serde_json::Map<String, serde_json::Value> = serde_json::from_str(out.ok()).unwrap();
    let jwt = h["Authorization"]
        .as_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap();
    let (header, claims) = verify_jwt(jwt);
    assert_eq!(
        header,
        serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "credbox-jwt-1"})
    );
    assert_eq!(claims["iss"], "claude-code-client");
    assert_eq!(claims["sub"], "claude-code-client");
    assert_eq!(claims["aud"], "https://mcp.example.com");
    let iat = claims["iat"].as_u64().unwrap();
    assert!(now().abs_diff(iat) <= 5, "{claims}");
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 300);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 32, "128 random bits in hex");
    // Another run, another jti.
    let again = cache.run(&["run", "--no-cache", m.arg()], &[]);
    let h: serde_json::Map<String, serde_json::Value> = serde_json::from_str(again.ok()).unwrap();
    let (_, claims) = verify_jwt(
        h["Authorization"]
            .as_str()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap(),
    );
    assert_ne!(claims["jti"].as_str().unwrap(), jti);
}

#[test]
fn jwt_client_assertion_is_exchanged_for_an_access_token() {
    // The token endpoint verifies the assertion (RFC 7523 §3) and answers
    // an access token.
    let server = Server::start(move |r| {
        let form: std::collections::BTreeMap<String, String> = r
            .body_text()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
            .collect();
        let Some(assertion) = form.get("client_assertion") else {
            return Reply::status(400, "application/json", r#"{"error":"invalid_request"}"#);
        };
        let (_, claims) = verify_jwt(assertion);
        let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && claims["iss"] == "claude-code-client"
            && claims["aud"]
                .as_str()
                .is_some_and(|aud| aud.ends_with("/oauth/token"))
            && claims["exp"].as_u64().is_some_and(|exp| exp > now());
        match ok {
            true => Reply::json(r#"{"access_token":"at-from-jwt","expires_in":600}"#),
            false => Reply::status(401, "application/json", r#"{"error":"invalid_client"}"#),
        }
    });
    let token_url = format!("{}/oauth/token", server.origin());
    let m = jwt_manifest(Some(&token_url));
    let cache = Cache::warmed(m.arg());
    let out = cache.run(&["run", m.arg()], &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer at-from-jwt\"}\n");
    let requests = server.stop();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body_text().contains("client_assertion="));
}

#[test]
fn proxy_auth_answers_a_basic_proxy_and_a_bearer_proxy_in_the_scheme_each_asks() {
    let m = example_manifest("proxy-auth", PROXY_AUTH);
    let run = |env: &[(&str, &str)]| Cache::new().run(&["run", "--no-cache", m.arg()], env);
    let basic = [("PROXY_USER", "alice"), ("PROXY_PASSWORD", "open-sesame")];
    // user:password in base64, encoded by credbox (RFC 7617).
    assert_eq!(run(&basic).ok(), "Basic YWxpY2U6b3Blbi1zZXNhbWU=\n");
    let bearer = [("PROXY_TOKEN", "tok-proxy-1")];
    assert_eq!(run(&bearer).ok(), "Bearer tok-proxy-1\n");
    // With both configured, the proxy's challenge chooses.
    let both = [basic[0], basic[1], bearer[0]];
    let challenged = |scheme: &'static str| {
        let mut env = both.to_vec();
        env.push(("CLAUDE_CODE_PROXY_AUTHENTICATE", scheme));
        run(&env)
    };
    assert_eq!(
        challenged(r#"Basic realm="corp""#).ok(),
        "Basic YWxpY2U6b3Blbi1zZXNhbWU=\n"
    );
    assert_eq!(
        challenged("Bearer error=\"invalid_token\"").ok(),
        "Bearer tok-proxy-1\n"
    );
    let line = challenged("Negotiate").fails(3, "the proxy asks for \"Negotiate\"");
    assert!(
        !line.contains("open-sesame") && !line.contains("tok-proxy-1"),
        "{line}"
    );
    let mut unknown = both.to_vec();
    unknown.push(("PROXY_SCHEME", "digest"));
    run(&unknown).fails(3, "PROXY_SCHEME must be \"basic\" or \"bearer\"");
}
