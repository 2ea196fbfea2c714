//! `credbox inspect`: a component's world, imports, exports, size, digest
//! and compiled state, as text and JSON.

use credbox_test_artifacts::{ENV_BEARER, GUEST_NOT_A_HELPER, OAUTH_CLIENT_CREDENTIALS};

use crate::support::util::{Cache, manifest};

fn json(cache: &Cache, target: &str) -> serde_json::Value {
    let out = cache.run(&["inspect", "--json", target], &[]);
    serde_json::from_str(out.ok()).unwrap()
}

#[test]
fn a_helper_is_described_with_its_world_and_interfaces() {
    let cache = Cache::new();
    let bytes = std::fs::read(ENV_BEARER).unwrap();
    let out = cache.run(&["inspect", ENV_BEARER], &[]);
    let text = out.ok();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key:<10} ")))
            .unwrap_or_else(|| panic!("no {key} line: {text}"))[11..]
            .to_owned()
    };
    assert_eq!(line("component"), ENV_BEARER);
    assert_eq!(
        line("world"),
        "credbox:helper/helper@0.3.0 (this credbox runs credbox:helper/helper@0.3.0, @0.2.0 and @0.1.0)"
    );
    assert_eq!(line("sha256"), credbox::units::hex_sha256(&bytes));
    assert!(
        line("size").ends_with(&format!(" ({} bytes)", bytes.len())),
        "{text}"
    );
    assert!(line("compiled").starts_with("no "), "{text}");
    assert!(
        text.contains("credbox:helper/host@0.3.0 (credbox interface)\n"),
        "{text}"
    );
    assert!(
        text.contains("\nexports    fetch (function)\n           login (function)\n"),
        "{text}"
    );

    // Compiled ahead of time, it is found in the cache.
    cache.warm(ENV_BEARER);
    let value = json(&cache, ENV_BEARER);
    assert_eq!(value["compiled"], true);
    assert_eq!(value["world"], "credbox:helper/helper@0.3.0");
    assert_eq!(value["wit_versions"], serde_json::json!(["0.3.0"]));
    assert_eq!(value["runs"], true);
    assert_eq!(value["size"], bytes.len());
    let imports: Vec<(&str, &str)> = value["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["family"].as_str().unwrap()))
        .collect();
    assert!(imports.contains(&("credbox:helper/types@0.3.0", "credbox")));
    assert!(
        imports
            .iter()
            .any(|(name, family)| name.starts_with("wasi:cli/environment@") && *family == "wasi"),
        "{imports:?}"
    );
    assert_eq!(
        value["exports"],
        serde_json::json!([
            {"name": "fetch", "kind": "function", "family": "other"},
            {"name": "login", "kind": "function", "family": "other"}
        ])
    );
}

#[test]
fn an_http_helper_imports_wasi_http() {
    let value = json(&Cache::new(), OAUTH_CLIENT_CREDENTIALS);
    let names: Vec<&str> = value["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("wasi:http/outgoing-handler@")),
        "{names:?}"
    );
}

#[test]
fn a_component_that_is_no_helper_says_so() {
    let cache = Cache::new();
    let value = json(&cache, GUEST_NOT_A_HELPER);
    assert_eq!(value["world"], serde_json::Value::Null);
    assert_eq!(value["runs"], false);
    let why = value["cannot_run_because"].as_str().unwrap();
    assert!(
        why.contains("does not fit the credbox:helper/helper@0.3.0 world"),
        "{why}"
    );
    let text = cache.run(&["inspect", GUEST_NOT_A_HELPER], &[]);
    assert!(
        text.ok()
            .contains("\nworld      none: it names no credbox:helper interface"),
        "{text:#?}"
    );
}

#[test]
fn a_manifest_is_inspected_through_its_component_and_pin() {
    let m = manifest("pinned", ENV_BEARER, "");
    let value = json(&Cache::new(), m.arg());
    assert_eq!(value["component"], ENV_BEARER);

    let m = manifest(
        "pinned",
        ENV_BEARER,
        &format!("sha256 = \"{}\"\n", "0".repeat(64)),
    );
    let out = Cache::new().run(&["inspect", m.arg()], &[]);
    out.fails(2, "but the manifest pins 0000");
    let out = Cache::new().run(&["inspect", "/nonexistent/x.wasm"], &[]);
    out.fails(2, "cannot read component /nonexistent/x.wasm");
}
