//! The happy path and the command line's contract.

use std::time::Duration;

use credbox_test_artifacts::{ENV_BEARER, GUEST_ERROR_KINDS};

use crate::support::util::{Cache, credbox, example_manifest, manifest};

#[test]
fn env_bearer_prints_a_bearer_header() {
    let m = example_manifest("env-bearer", ENV_BEARER);
    let out = credbox(&["run", m.arg()], &[("API_TOKEN", "abc")]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer abc\"}\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn env_bearer_prints_an_api_key() {
    let m = example_manifest("env-bearer", ENV_BEARER);
    let out = credbox(
        &["run", m.arg(), "--format", "api-key"],
        &[("API_TOKEN", "abc")],
    );
    assert_eq!(out.ok(), "abc\n");
}

#[test]
fn a_bare_component_runs_with_flags() {
    let out = credbox(
        &[
            "run",
            ENV_BEARER,
            "--allow-env",
            "API_TOKEN",
            "--format",
            "api-key",
        ],
        &[("API_TOKEN", "xyz")],
    );
    assert_eq!(out.ok(), "xyz\n");
    // Without the allowlist the helper cannot see the variable.
    let out = credbox(&["run", ENV_BEARER], &[("API_TOKEN", "xyz")]);
    out.fails(3, "env_bearer: misconfigured: missing config API_TOKEN");
}

#[test]
fn config_flags_reach_the_helper() {
    let out = credbox(&["run", ENV_BEARER, "--config", "API_TOKEN=from-flag"], &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer from-flag\"}\n");
}

#[test]
fn a_missing_secret_is_a_misconfiguration() {
    let m = example_manifest("env-bearer", ENV_BEARER);
    let line = credbox(&["run", m.arg()], &[]).fails(3, "misconfigured: missing config API_TOKEN");
    assert!(line.starts_with("credbox: env-bearer: "), "{line}");
    assert!(line.contains("[env] allow"), "{line}");
    // An empty variable counts as unset, not as an empty credential.
    credbox(&["run", m.arg()], &[("API_TOKEN", "")]).fails(3, "missing config API_TOKEN");
}

#[test]
fn each_helper_error_kind_has_its_exit_code() {
    for (kind, code, needle) in [
        ("misconfigured", 3, "misconfigured: kind test"),
        ("denied", 4, "denied: kind test"),
        ("unavailable", 5, "unavailable: kind test"),
        ("other", 8, "failed: kind test"),
    ] {
        let out = credbox(
            &[
                "run",
                GUEST_ERROR_KINDS,
                "--config",
                &format!("KIND={kind}"),
            ],
            &[],
        );
        out.fails(code, needle);
    }
    let out = credbox(&["run", GUEST_ERROR_KINDS, "--config", "KIND=ok"], &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer tok-ok\"}\n");
}

#[test]
fn manifest_typos_name_the_field_and_line() {
    let m = manifest("typo", ENV_BEARER, "[limits]\ntimout = \"5s\"\n");
    let line = credbox(&["run", m.arg()], &[]).fails(2, "line 3");
    assert!(line.contains("unknown field `timout`"), "{line}");
}

#[test]
fn bad_limits_and_flags_are_usage_errors() {
    let m = manifest("limits", ENV_BEARER, "[limits]\nmemory = \"lots\"\n");
    credbox(&["run", m.arg()], &[]).fails(2, "[limits] memory");
    credbox(&["run", ENV_BEARER, "--timeout", "forever"], &[]).fails(2, "--timeout");
    credbox(&["run", ENV_BEARER, "--config", "novalue"], &[]).fails(2, "KEY=VALUE");
    credbox(&["run", ENV_BEARER, "--bogus"], &[]).fails(2, "--bogus");
    credbox(&["run"], &[]).fails(2, "credbox: ");
}

#[test]
fn a_missing_component_says_to_build_it() {
    let m = manifest("absent", "nowhere.wasm", "");
    credbox(&["run", m.arg()], &[]).fails(2, "build it first");
    credbox(&["run", "/nonexistent/credbox.toml"], &[]).fails(2, "cannot read the manifest");
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let m = manifest("garbage", "credbox.toml", "");
    credbox(&["run", m.arg()], &[]).fails(2, "not a WebAssembly file");
}

#[test]
fn help_goes_to_stdout() {
    let out = credbox(&["run", "--help"], &[]);
    assert!(out.ok().contains("--allow-env"));
    assert!(out.elapsed < Duration::from_secs(5));
}

#[test]
fn a_reader_that_hangs_up_gets_an_error_exit_not_a_signal() {
    let cache = Cache::new();
    let m = example_manifest("env-bearer", ENV_BEARER);
    let mut child = cache
        .command(&["run", m.arg(), "--no-cache"], &[("API_TOKEN", "abc")])
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "killed by SIGPIPE? {out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("credbox: env-bearer: cannot write to stdout: Broken pipe")
            && stderr
                .ends_with("stopped reading; nothing to fix here unless it keeps happening)\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("abc"), "{stderr}");
}

#[test]
fn a_bad_command_line_says_what_is_wrong_in_one_line() {
    // `run` has a command line of its own (for a hit's start-up); its
    // errors read as every other command's.
    for (args, needle) in [
        (
            &["run"][..],
            "required arguments were not provided: <TARGET>",
        ),
        (
            &["run", "x.toml", "--bogus"][..],
            "unexpected argument '--bogus'",
        ),
        (
            &["run", "x.toml", "--format", "yaml"][..],
            "invalid value 'yaml'",
        ),
        (&["frob"][..], "unrecognized subcommand 'frob'"),
    ] {
        let out = credbox(args, &[]);
        let line = out.fails(2, needle);
        assert!(line.ends_with("(see `credbox --help`)"), "{line}");
    }
    let help = credbox(&["run", "--help"], &[]);
    assert!(help.ok().contains("Usage: credbox run [OPTIONS] <TARGET>"));
    assert!(help.stdout.contains("--format <FORMAT>"), "{}", help.stdout);
}
