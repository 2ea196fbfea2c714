//! `credbox k8s`: an exec credential plugin under the real `kubectl`
//! (Debian package `kubectl`), against a loopback HTTPS API server (the
//! test CA's certificate) that requires the bearer token.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use credbox_test_artifacts::{GUEST_ECHO_REQUEST, GUEST_UNIQUE, tls};
use serde_json::{Value, json};

use crate::support::clients::{CLIENT_DEADLINE, Finished, client, run};
use crate::support::routes::Routes;
use crate::support::servers::mock_apis::path;
use crate::support::servers::{Reply, Request, Server};
use crate::support::util::{Cache, error_kinds, manifest};

const VERSION: &str =
    r#"{"major":"1","minor":"32","gitVersion":"v1.32.4","platform":"linux/amd64"}"#;

/// A loopback API server that answers `GET /version` to requests bearing
/// the token `token` holds, `401` (a `Status`, as the real one) to others.
fn api_server(token: Arc<OnceLock<String>>) -> Server {
    Server::start_tls(move |request: &Request| {
        let expected = token.get().map(|t| format!("Bearer {t}"));
        if request.header("authorization") != expected.as_deref() {
            return Reply::status(
                401,
                "application/json",
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#,
            );
        }
        match path(request) {
            "/version" => Reply::json(VERSION),
            _ => Reply::status(404, "application/json", r#"{"kind":"Status","code":404}"#),
        }
    })
}

/// Runs `kubectl get --raw /version` with a kubeconfig whose user is
/// `credbox k8s <manifest>` (with `provideClusterInfo: true`).
fn get_version(kubectl: &Path, cache: &Cache, manifest: &str, server: &str) -> Finished {
    get_version_with(kubectl, cache, Some(manifest), server, &[])
}

/// [`get_version`], with `credbox k8s` alone when `manifest` is `None` (a
/// route chooses), and `env` on top.
fn get_version_with(
    kubectl: &Path,
    cache: &Cache,
    manifest: Option<&str>,
    server: &str,
    env: &[(&str, &str)],
) -> Finished {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "loopback", "cluster": {
            "server": server,
            "certificate-authority": tls::CA,
        }}],
        "users": [{"name": "credbox", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": env!("CARGO_BIN_EXE_credbox"),
            "args": std::iter::once("k8s").chain(manifest).collect::<Vec<_>>(),
            "interactiveMode": "Never",
            "provideClusterInfo": true,
        }}}],
        "contexts": [{"name": "loopback", "context": {"cluster": "loopback", "user": "credbox"}}],
        "current-context": "loopback",
    });
    // JSON is YAML.
    std::fs::write(&kubeconfig, config.to_string()).unwrap();
    let mut cmd = Command::new(kubectl);
    cmd.args(["get", "--raw", "/version", "--request-timeout=20s"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("KUBECONFIG", &kubeconfig)
        .env("CREDBOX_CACHE_DIR", cache.path())
        .envs(env.iter().copied());
    run(cmd, CLIENT_DEADLINE).unwrap()
}

#[test]
fn kubectl_sends_the_token_and_the_helper_sees_the_cluster() {
    let Some(kubectl) = client("kubectl", "the Debian package kubectl") else {
        return;
    };
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let token = Arc::new(OnceLock::new());
    let server = api_server(token.clone());
    // echo-request's token names the server that KUBERNETES_EXEC_INFO gave.
    let expected = format!("kubernetes;server={}", server.origin());
    token.set(expected.clone()).unwrap();
    let finished = get_version(&kubectl, &Cache::new(), echo.arg(), &server.origin());
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    let version: Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(version["gitVersion"], "v1.32.4");
    let requests = server.stop();
    assert!(requests.iter().any(|r| path(r) == "/version"));
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {expected}").as_str())
        );
    }
}

#[test]
fn a_failing_helper_fails_kubectl_with_credbox_s_one_line() {
    let Some(kubectl) = client("kubectl", "the Debian package kubectl") else {
        return;
    };
    let denied = error_kinds("denied");
    let server = api_server(Arc::new(OnceLock::new()));
    let finished = get_version(&kubectl, &Cache::new(), denied.arg(), &server.origin());
    assert_ne!(finished.code, Some(0), "{finished:#?}");
    assert_eq!(finished.stdout, "");
    // client-go passes the plugin's stderr through, then says it failed.
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
fn the_exec_credential_answers_in_the_asked_version() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let cache = Cache::new();
    let plain: Value = serde_json::from_str(cache.run(&["k8s", echo.arg()], &[]).ok()).unwrap();
    assert_eq!(
        plain,
        json!({
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {"token": "kubernetes;server=-"},
        })
    );
    let info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://k8s.example:6443"},"interactive":false}}"#;
    let beta: Value = serde_json::from_str(
        cache
            .run(&["k8s", echo.arg()], &[("KUBERNETES_EXEC_INFO", info)])
            .ok(),
    )
    .unwrap();
    assert_eq!(
        beta,
        json!({
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "kind": "ExecCredential",
            "status": {"token": "kubernetes;server=https://k8s.example:6443"},
        })
    );
}

#[test]
fn bad_exec_info_is_a_usage_error() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let outcome = Cache::new().run(
        &["k8s", echo.arg()],
        &[("KUBERNETES_EXEC_INFO", "{\"s3cr3t")],
    );
    let line = outcome.fails(2, "KUBERNETES_EXEC_INFO is not JSON");
    assert!(line.ends_with("(credbox k8s is run by kubectl as an exec credential plugin: check the kubeconfig user's exec apiVersion (client.authentication.k8s.io/v1))"), "{line}");
    assert!(!line.contains("s3cr3t"), "{line}");
}

#[test]
fn the_expiry_is_an_rfc3339_timestamp() {
    // error-kinds' `ok`: a bearer token that expires in 60 s.
    let ok = error_kinds("ok");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let answer: Value =
        serde_json::from_str(Cache::new().run(&["k8s", ok.arg()], &[]).ok()).unwrap();
    assert_eq!(answer["status"]["token"], "tok-ok");
    let stamp = answer["status"]["expirationTimestamp"].as_str().unwrap();
    let near: Vec<String> = (now + 50..now + 70)
        .map(credbox::protocol::rfc3339::format_utc)
        .collect();
    assert!(near.iter().any(|s| s == stamp), "{stamp} not in {near:?}");
}

#[test]
fn each_cluster_has_its_own_cache_entry() {
    // `unique` returns a new token each run.
    let unique = manifest("unique", GUEST_UNIQUE, "");
    let cache = Cache::warmed(unique.arg());
    let info = |server: &str| {
        format!(
            r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{{"cluster":{{"server":"{server}"}},"interactive":false}}}}"#
        )
    };
    let token = |server: &str| {
        let out = cache.run(
            &["k8s", unique.arg()],
            &[("KUBERNETES_EXEC_INFO", &info(server))],
        );
        serde_json::from_str::<Value>(out.ok()).unwrap()["status"]["token"].clone()
    };
    let a = token("https://a.example:6443");
    assert_eq!(
        token("https://a.example:6443"),
        a,
        "cached for the same cluster"
    );
    assert_ne!(
        token("https://b.example:6443"),
        a,
        "another cluster, another entry"
    );
}

#[test]
fn without_a_manifest_the_route_for_the_cluster_answers() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let routes = Routes::new(&[("https://k8s.example:6443", echo.arg())]);
    let info = |server: &str| {
        format!(
            r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{{"cluster":{{"server":"{server}"}},"interactive":false}}}}"#
        )
    };
    let cache = Cache::new();
    let routed = info("https://k8s.example:6443");
    let env = [routes.env(), ("KUBERNETES_EXEC_INFO", routed.as_str())];
    let answer: Value = serde_json::from_str(cache.run(&["k8s"], &env).ok()).unwrap();
    assert_eq!(
        answer["status"]["token"],
        "kubernetes;server=https://k8s.example:6443"
    );
    // Another cluster: no route, a clear failure (not found, exit 10).
    let other = info("https://other.example:6443");
    let env = [routes.env(), ("KUBERNETES_EXEC_INFO", other.as_str())];
    cache.run(&["k8s"], &env).fails(
        10,
        "credbox: k8s: not found: no route in credbox's config.toml covers https://other.example:6443",
    );
    // No server to route by.
    let env = [routes.env()];
    cache
        .run(&["k8s"], &env)
        .fails(10, "set provideClusterInfo: true");
}

#[test]
fn kubectl_with_args_k8s_alone_is_answered_by_the_cluster_s_route() {
    let Some(kubectl) = client("kubectl", "the Debian package kubectl") else {
        return;
    };
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let token = Arc::new(OnceLock::new());
    let server = api_server(token.clone());
    let expected = format!("kubernetes;server={}", server.origin());
    token.set(expected.clone()).unwrap();
    let routes = Routes::new(&[(&server.origin(), echo.arg())]);
    let env = [routes.env()];
    let finished = get_version_with(&kubectl, &Cache::new(), None, &server.origin(), &env);
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    let requests = server.stop();
    assert!(requests.iter().any(|r| path(r) == "/version"));
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {expected}").as_str())
        );
    }
}
