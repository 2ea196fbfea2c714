//! The samples of the authentication patterns (`examples/`, issue #15),
//! each run by the real credbox from its own `credbox.toml`, and its
//! credential checked independently: by a loopback server standing in for
//! the service, which accepts or refuses it as the real one would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use credbox_test_artifacts::{API_KEY_SECRET, CUSTOM_HEADERS, MULTI_TENANT};

use crate::server::{Reply, Request, Server};
use crate::util::{Cache, TempManifest, example_manifest};

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

/// The manifest of `examples/<example>` in a folder of its own, its
/// component line pointed at `component`, each `(from, to)` of `replace`
/// applied to its text, and `files` copied beside it (mode 0600).
fn sample_manifest(
    example: &str,
    component: &str,
    replace: &[(&str, &str)],
    files: &[(&str, &str)],
) -> TempManifest {
    let path = crate::util::root()
        .join("examples")
        .join(example)
        .join("credbox.toml");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in replace {
        assert!(
            text.contains(from),
            "{example}'s credbox.toml lacks {from:?}"
        );
        text = text.replace(from, to);
    }
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("component"))
        .map(|l| format!("{l}\n"))
        .collect();
    let m = crate::util::manifest(example, component, &body);
    let dir = m.path.parent().unwrap();
    for (name, from) in files {
        use std::os::unix::fs::PermissionsExt;
        let to = dir.join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    m
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

    // Without the [[network.client_cert]], the server refuses the
    // handshake: the certificate is what got the token.
    let text = std::fs::read_to_string(&m.path).unwrap();
    let start = text.find("[[network.client_cert]]").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |i| start + i);
    let without = format!("{}{}", &text[..start], &text[end..]);
    let bare = m.path.with_file_name("bare.toml");
    std::fs::write(&bare, without).unwrap();
    let out = cache.run(&["run", bare.to_str().unwrap()], &[]);
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(server.stop().len(), 1, "no request got past the handshake");
}
