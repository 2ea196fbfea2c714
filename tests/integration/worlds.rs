//! Both worlds: components built against `credbox:helper@0.1.0` (the
//! samples as they were before 0.2.0, kept as built in
//! `tests/fixtures/v0.1.0/`) keep running unchanged beside 0.2.0 ones.

use crate::server::{Reply, Server};
use crate::util::{Cache, example_manifest, root};

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
            "credbox:helper/helper@0.1.0 (this credbox runs credbox:helper/helper@0.2.0 and @0.1.0)"
        ),
        "{}",
        inspected.stdout
    );
}
