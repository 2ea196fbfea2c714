//! credbox as a Docker credential helper (`docker-credential-credbox`,
//! the link `credbox install docker` makes), under a real OCI client:
//! skopeo, with a `credHelpers` auth file naming credbox, against a
//! loopback registry that demands a bearer token from its token service.
//! Plus the link fed by hand, for the protocol's other operations.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use credbox_test_artifacts::{ENV_BEARER, GUEST_ECHO_REQUEST};
use sha2::{Digest, Sha256};

use crate::support::clients::require;
use crate::support::crypto::base64;
use crate::support::routes::Routes;
use crate::support::servers::{Reply, Request, Server, refreshing_helper, token_helper};
use crate::support::util::{
    Cache, Outcome, error_kinds, eventually, example_manifest, feed, manifest, outcome,
};

const NOT_FOUND: &str = "credentials not found in native keychain\n";
/// The access token the mock registry's token service hands out.
const ACCESS: &str = "registry-access-1";

fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// An OCI image manifest (with a config digest that is well formed).
fn image_manifest() -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
        sha256(config),
        config.len()
    )
}

/// A registry on 127.0.0.1 serving `app:latest` to bearer [`ACCESS`],
/// which its token service (`/token`) hands out to the requests `grant`
/// accepts (given the registry's `host:port`).
fn registry(grant: impl Fn(&Request, &str) -> bool + Send + Sync + 'static) -> Server {
    let origin: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let manifest = image_manifest();
    let server = {
        let origin = origin.clone();
        Server::start_http_only(move |request| {
            let path = request.target.split('?').next().unwrap_or_default();
            let origin = origin.get().cloned().unwrap_or_default();
            if path == "/token" {
                return if grant(request, origin.trim_start_matches("http://")) {
                    Reply::json(&format!(
                        r#"{{"access_token":"{ACCESS}","token":"{ACCESS}","expires_in":300}}"#
                    ))
                } else {
                    Reply::status(
                        401,
                        "application/json",
                        r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
                    )
                };
            }
            if request.header("authorization") != Some(&format!("Bearer {ACCESS}")) {
                let realm = origin;
                return Reply::Full {
                    status: 401,
                    headers: vec![(
                        "www-authenticate",
                        format!("Bearer realm=\"{realm}/token\",service=\"mock-registry\""),
                    )],
                    body: br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
                };
            }
            match path {
                "/v2/" => Reply::json("{}"),
                "/v2/app/manifests/latest" => Reply::Full {
                    status: 200,
                    headers: vec![
                        (
                            "content-type",
                            "application/vnd.oci.image.manifest.v1+json".to_owned(),
                        ),
                        ("docker-content-digest", sha256(manifest.as_bytes())),
                    ],
                    body: manifest.clone().into_bytes(),
                },
                _ => Reply::status(
                    404,
                    "application/json",
                    r#"{"errors":[{"code":"NOT_FOUND"}]}"#,
                ),
            }
        })
    };
    origin.set(server.origin()).unwrap();
    server
}

/// A registry whose token service takes the identity token `identity`
/// (OAuth2's refresh-token grant, as Docker clients send an identity
/// token).
fn identity_registry(identity: &'static str) -> Server {
    registry(move |request, _| {
        let wanted = format!("refresh_token={identity}");
        request.method == "POST" && request.body_text().split('&').any(|field| field == wanted)
    })
}

/// A folder with the `docker-credential-credbox` link, made by
/// `credbox install docker`.
fn installed(cache: &Cache) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let out = cache.run(&["install", "docker", "--dir", bin.to_str().unwrap()], &[]);
    let link = bin.join("docker-credential-credbox");
    assert!(
        out.ok()
            .starts_with(&format!("linked {} -> ", link.display())),
        "{out:#?}"
    );
    (dir, bin)
}

/// `skopeo inspect --raw` of `image` with credbox as the registry's
/// credential helper.
fn skopeo_inspect(
    skopeo: &Path,
    bin: &Path,
    cache: &Cache,
    registry: &str,
    image: &str,
    env: &[(&str, &str)],
) -> Outcome {
    let home = tempfile::tempdir().unwrap();
    let auth = home.path().join("auth.json");
    std::fs::write(
        &auth,
        format!("{{\"credHelpers\": {{\"{registry}\": \"credbox\"}}}}"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start = Instant::now();
    let out = Command::new(skopeo)
        .args(["inspect", "--raw", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .arg(format!("docker://{image}"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("CREDBOX_CACHE_DIR", cache.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    outcome(out, start)
}

/// skopeo ≥ 1.9 (credHelpers in containers-auth.json).
fn skopeo() -> Option<PathBuf> {
    require("skopeo", "the Debian package skopeo", |version| {
        version.contains("skopeo version")
    })
}

#[test]
fn skopeo_inspects_an_image_with_credbox_as_its_credential_helper() {
    let Some(skopeo) = skopeo() else { return };
    let server = identity_registry("identity-token-7");
    let host = server.origin().trim_start_matches("http://").to_owned();
    let m = example_manifest("env-bearer", ENV_BEARER);
    let cache = Cache::warmed(m.arg());
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[(&host, m.arg())]);
    let env = [routes.env(), ("API_TOKEN", "identity-token-7")];
    let out = skopeo_inspect(
        &skopeo,
        &bin,
        &cache,
        &host,
        &format!("{host}/app:latest"),
        &env,
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout.trim_end(), image_manifest());
    let requests = server.stop();
    let token = requests
        .iter()
        .find(|r| r.target.starts_with("/token"))
        .expect("skopeo asked the token service");
    assert!(
        token.body_text().contains("refresh_token=identity-token-7"),
        "{token:#?}"
    );
    assert!(!out.stderr.contains("identity-token-7"), "{out:#?}");
}

#[test]
fn skopeo_without_a_route_goes_on_anonymously() {
    let Some(skopeo) = skopeo() else { return };
    let server = identity_registry("identity-token-7");
    let host = server.origin().trim_start_matches("http://").to_owned();
    let m = example_manifest("env-bearer", ENV_BEARER);
    let cache = Cache::new();
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[("registry.example.com", m.arg())]);
    let env = [routes.env()];
    let out = skopeo_inspect(
        &skopeo,
        &bin,
        &cache,
        &host,
        &format!("{host}/app:latest"),
        &env,
    );
    assert_ne!(out.code, 0, "{out:#?}");
    // The exact "not found" made skopeo try without credentials (and be
    // refused by the registry), instead of failing on the helper.
    assert!(
        !out.stderr.contains("error getting credentials"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("unauthorized") || out.stderr.contains("authentication required"),
        "{out:#?}"
    );
    let requests = server.stop();
    assert!(
        requests.iter().all(|r| r.header("authorization").is_none()),
        "{requests:#?}"
    );
}

/// Runs the link `bin/docker-credential-credbox <op>` with `stdin`.
fn helper(bin: &Path, cache: &Cache, op: &str, stdin: &str, env: &[(&str, &str)]) -> Outcome {
    let link = bin.join("docker-credential-credbox");
    feed(cache.command_of(&link, &[op], env), stdin)
}

#[test]
fn get_list_store_erase_and_not_found_as_the_protocol_says() {
    let tokens = Server::numbered_tokens(|_| Duration::ZERO);
    let m = token_helper("token-server", &tokens, "");
    let cache = Cache::warmed(m.arg());
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[("https://registry.example.com", m.arg())]);
    let env = [routes.env()];
    let get = |url: &str| helper(&bin, &cache, "get", url, &env);
    let answer = |n: u32| {
        format!(
            "{{\"ServerURL\":\"registry.example.com\",\"Username\":\"<token>\",\"Secret\":\"tok-{n}\"}}\n"
        )
    };
    assert_eq!(get("registry.example.com\n").ok(), answer(1));
    assert_eq!(get("registry.example.com").ok(), answer(1), "cached");
    let erased = helper(&bin, &cache, "erase", "registry.example.com\n", &env);
    assert_eq!(
        (erased.code, erased.stdout.as_str()),
        (0, ""),
        "{erased:#?}"
    );
    assert_eq!(
        get("registry.example.com\n").ok(),
        answer(2),
        "fetched anew"
    );
    assert_eq!(tokens.stop().len(), 2);

    // Not mine: the exact text on stdout, exit code 1, nothing else.
    for url in ["other.example.com", "http://registry.example.com"] {
        let out = get(url);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (1, NOT_FOUND, ""),
            "{url}"
        );
    }
    let list = helper(&bin, &cache, "list", "", &env);
    assert_eq!(list.ok(), "{}\n");
    // Read-only: store is refused, on stdout (which clients show) and stderr.
    let store = helper(
        &bin,
        &cache,
        "store",
        r#"{"ServerURL":"registry.example.com","Username":"u","Secret":"typed-secret"}"#,
        &env,
    );
    assert_eq!(store.code, 2, "{store:#?}");
    assert!(
        store
            .stdout
            .starts_with("credbox: docker: credbox is a read-only credential helper"),
        "{store:#?}"
    );
    assert_eq!(store.stdout, store.stderr);
    assert!(!store.stdout.contains("typed-secret"));
    let unknown = helper(&bin, &cache, "frobnicate", "", &env);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown
            .stdout
            .contains("unknown credential action `frobnicate`"),
        "{unknown:#?}"
    );
    let version = helper(&bin, &cache, "version", "", &env);
    assert!(
        version
            .ok()
            .starts_with("docker-credential-credbox (credbox) "),
        "{version:#?}"
    );
}

#[test]
fn a_failing_helper_reports_on_stdout_as_docker_clients_expect() {
    let m = example_manifest("env-bearer", ENV_BEARER);
    let cache = Cache::new();
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[("registry.example.com", m.arg())]);
    // No API_TOKEN: misconfigured.
    let out = helper(&bin, &cache, "get", "registry.example.com", &[routes.env()]);
    assert_eq!(out.code, 3, "{out:#?}");
    assert!(
        out.stdout
            .starts_with("credbox: env-bearer: misconfigured: "),
        "{out:#?}"
    );
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(out.stdout, out.stderr);
}

#[test]
fn skopeo_logs_in_with_a_user_secret_for_the_server_url_it_asked_about() {
    let Some(skopeo) = skopeo() else { return };
    // echo-request answers the user `echo` with the request as the secret:
    // the registry's token service takes exactly that as basic auth.
    let server = registry(|request, host| {
        let expected = format!(
            "Basic {}",
            base64(format!("echo:docker;server-url={host}").as_bytes())
        );
        request.method == "GET" && request.header("authorization") == Some(&expected)
    });
    let host = server.origin().trim_start_matches("http://").to_owned();
    let m = manifest("echo", GUEST_ECHO_REQUEST, "");
    let cache = Cache::warmed(m.arg());
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[(&host, m.arg())]);
    let env = [routes.env()];
    let out = skopeo_inspect(
        &skopeo,
        &bin,
        &cache,
        &host,
        &format!("{host}/app:latest"),
        &env,
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout.trim_end(), image_manifest());
    assert!(
        server
            .stop()
            .iter()
            .any(|r| r.target.starts_with("/token") && r.method == "GET"),
        "skopeo asked the token service with basic auth"
    );
}

#[test]
fn the_helpers_not_found_is_dockers_not_found() {
    let m = error_kinds("not-found");
    let cache = Cache::warmed(m.arg());
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[("registry.example.com", m.arg())]);
    let out = helper(&bin, &cache, "get", "registry.example.com", &[routes.env()]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (1, NOT_FOUND, ""),
        "{out:#?}"
    );
}

#[test]
fn near_its_expiry_a_registry_credential_is_answered_at_once_and_refreshed_in_the_background() {
    let (tokens, m) = refreshing_helper();
    let cache = Cache::warmed(m.arg());
    let (_bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[("registry.example.com", m.arg())]);
    let env = [routes.env()];
    let get = || {
        let out = helper(&bin, &cache, "get", "registry.example.com", &env);
        (out.ok().to_owned(), out.elapsed)
    };
    let answer = |n: u32| {
        format!(
            "{{\"ServerURL\":\"registry.example.com\",\"Username\":\"<token>\",\"Secret\":\"tok-{n}\"}}\n"
        )
    };
    let fetched = Instant::now();
    assert_eq!(get().0, answer(1));
    std::thread::sleep(Duration::from_millis(12_200).saturating_sub(fetched.elapsed()));
    // As for git (protocol_git::near_its_expiry_...).
    let (cached, took) = get();
    assert_eq!(cached, answer(1));
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert!(eventually(
        || get().0,
        &answer(2),
        fetched + Duration::from_millis(14_800)
    ));
    assert_eq!(
        tokens.stop().len(),
        2,
        "one refresh, by the background child"
    );
}
