//! Hostile helpers: each is a real component compiled from
//! `tests/guests/<name>`, and each must be stopped with its own error
//! class, nothing on stdout, inside its deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use credbox_test_artifacts::*;

use crate::support::util::{Cache, credbox, wait_with_peak_rss, within};

const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

fn headers(stdout: &str) -> BTreeMap<String, serde_json::Value> {
    serde_json::from_str(stdout).expect("stdout is a JSON object")
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let out = credbox(&["run", GUEST_LOOP_FOREVER], &[]);
    out.fails(
        6,
        "guest_loop_forever: fuel exhausted after 1000000000 instructions",
    );
    assert!(out.elapsed < within(DEFAULT_DEADLINE), "{:?}", out.elapsed);
}

#[test]
fn a_smaller_fuel_budget_stops_a_loop_sooner() {
    let out = credbox(&["run", GUEST_LOOP_FOREVER, "--fuel", "1000000"], &[]);
    out.fails(6, "fuel exhausted after 1000000 instructions");
}

#[test]
fn a_loop_with_unlimited_fuel_hits_the_deadline() {
    let out = credbox(
        &[
            "run",
            GUEST_LOOP_FOREVER,
            "--fuel",
            "18000000000000000000",
            "--timeout",
            "1s",
        ],
        &[],
    );
    out.fails(6, "deadline of 1s exceeded");
    out.took(Duration::from_secs(1), within(Duration::from_secs(1)));
}

#[test]
fn sleeping_forever_hits_the_deadline() {
    let out = credbox(&["run", GUEST_SLEEP_FOREVER, "--timeout", "1s"], &[]);
    out.fails(6, "guest_sleep_forever: deadline of 1s exceeded");
    out.took(Duration::from_secs(1), within(Duration::from_secs(1)));
}

#[test]
fn a_host_call_that_never_returns_hits_the_default_deadline() {
    // One sleep of an hour: the guest never runs wasm again, so only the
    // host-side timeout can stop it.
    let out = credbox(&["run", GUEST_BLOCK_HOST_CALL], &[]);
    out.fails(6, "deadline of 5s exceeded");
    out.took(DEFAULT_DEADLINE, within(DEFAULT_DEADLINE));
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let out = credbox(&["run", GUEST_ALLOC_BOMB], &[]);
    out.fails(6, "memory limit 64 MiB exceeded");
    assert!(out.elapsed < within(DEFAULT_DEADLINE), "{:?}", out.elapsed);
    let out = credbox(&["run", GUEST_ALLOC_BOMB, "--memory", "16MiB"], &[]);
    out.fails(6, "memory limit 16 MiB exceeded");
}

#[test]
fn huge_output_is_rejected() {
    credbox(&["run", GUEST_HUGE_OUTPUT], &[])
        .fails(7, "invalid output: header X-Huge is 1048576 bytes");
}

#[test]
fn an_invalid_header_name_is_rejected() {
    credbox(&["run", GUEST_BAD_HEADER_NAME], &[]).fails(7, "is not an RFC 9110 token");
}

#[test]
fn crlf_in_a_value_is_rejected() {
    let line =
        credbox(&["run", GUEST_CRLF_VALUE], &[]).fails(7, "header X-Test contains CR, LF or NUL");
    assert!(!line.contains("Injected"), "{line}");
}

#[test]
fn json_in_a_value_stays_a_string() {
    let out = credbox(&["run", GUEST_JSON_IN_VALUE], &[]);
    let parsed = headers(out.ok());
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed["X-Json"], r#"{"a":1,"b":[true,null]}\"\\"#);
}

#[test]
fn only_allowlisted_environment_is_visible() {
    let out = credbox(
        &["run", GUEST_READ_ENV, "--allow-env", "CREDBOX_ALLOWED"],
        &[
            ("HOME", "/home/someone"),
            ("CREDBOX_TEST_SECRET", "do-not-leak-me"),
            ("CREDBOX_ALLOWED", "visible"),
        ],
    );
    let parsed = headers(out.ok());
    assert_eq!(parsed["X-Home"], "<none>");
    assert_eq!(parsed["X-Secret-Env"], "<none>");
    assert_eq!(parsed["X-Secret-Config"], "<none>");
    assert_eq!(parsed["X-Allowed"], "visible");
    assert_eq!(parsed["X-Env-Count"], "1");
    assert!(!out.stdout.contains("do-not-leak-me"));
}

#[test]
fn the_filesystem_is_out_of_reach() {
    let escape = std::path::Path::new("/tmp/credbox-escape");
    let _ = std::fs::remove_file(escape);
    let out = credbox(&["run", GUEST_OPEN_FILE], &[]);
    assert_eq!(headers(out.ok())["X-Fs"], "denied");
    assert!(!escape.exists());
}

#[test]
fn sockets_are_out_of_reach_even_with_an_allowlist() {
    // A helper that goes around wasi:http, straight to wasi:sockets: TCP to
    // a listening loopback port, a UDP bind, a name lookup. `[network]
    // allow` governs HTTP requests only; it opens no socket.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = format!("PORT={}", listener.local_addr().unwrap().port());
    let out = credbox(
        &[
            "run",
            GUEST_RAW_SOCKET,
            "--config",
            &port,
            "--allow-url",
            "http://127.0.0.1:*",
            "--allow-url",
            "http://localhost:*",
        ],
        &[],
    );
    // wasmtime answers a lookup it does not allow with
    // permanent-resolver-failure rather than access-denied; `localhost`
    // resolves on any host, so a failure is the refusal.
    assert_eq!(
        headers(out.ok())["X-Sockets"],
        "tcp=denied udp=denied dns=permanent-resolver-failure"
    );
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing connected"
    );
}

#[test]
fn a_trap_is_a_crash() {
    credbox(&["run", GUEST_TRAP], &[]).fails(
        8,
        "guest_trap: crashed: wasm `unreachable` instruction executed",
    );
}

#[test]
fn a_panic_reports_its_message() {
    credbox(&["run", GUEST_PANIC], &[]).fails(8, "panicked: helper exploded (at ");
}

#[test]
fn helper_output_never_reaches_stdout() {
    let out = credbox(&["run", GUEST_PRINT_STDOUT], &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer quiet\"}\n");
    assert_eq!(out.stderr, "");
    // With --verbose it is shown on stderr, capped.
    let out = credbox(&["run", GUEST_PRINT_STDOUT, "-v"], &[]);
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer quiet\"}\n");
    assert!(out.stderr.contains("stdout: STDOUT-LEAK"));
    assert!(
        out.stderr.lines().count() <= 51,
        "{}",
        out.stderr.lines().count()
    );
}

#[test]
fn a_stdout_flood_does_not_grow_credbox() {
    // 128 MiB written to the helper's stdout (with fuel to spare for
    // std's buffering): credbox keeps 64 KiB of it, so its peak memory
    // stays that of any run (about 10 MiB).
    let cache = Cache::new();
    cache.run(&["build", GUEST_PRINT_STDOUT], &[]).ok();
    let child = cache
        .command(
            &[
                "run",
                GUEST_PRINT_STDOUT,
                "--no-cache",
                "--config",
                "FLOOD_MIB=128",
                "--fuel",
                "100000000000",
            ],
            &[],
        )
        .spawn()
        .unwrap();
    let (status, peak_rss_kib) = wait_with_peak_rss(child);
    assert_eq!(status, 0);
    assert!(
        peak_rss_kib < 64 * 1024,
        "peak RSS {} MiB for a 128 MiB flood",
        peak_rss_kib / 1024
    );
}

#[test]
fn logs_are_redacted_and_capped() {
    let secret = "sk-live-0123456789";
    let out = credbox(
        &["run", GUEST_LOGGER, "--allow-env", "API_TOKEN", "-v"],
        &[("API_TOKEN", secret)],
    );
    assert_eq!(out.ok(), "{\"Authorization\":\"Bearer logged\"}\n");
    assert!(!out.stderr.contains(secret), "{}", out.stderr);
    assert!(out.stderr.contains("[redacted]"), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 51, "50 lines and one notice");
    assert!(
        lines[0].starts_with("credbox: guest_logger: info: "),
        "{}",
        lines[0]
    );
    assert!(lines[50].contains("the rest are dropped"));
    // Without -v, info lines are hidden but warnings still show.
    let out = credbox(
        &["run", GUEST_LOGGER, "--allow-env", "API_TOKEN"],
        &[("API_TOKEN", secret)],
    );
    assert!(!out.stderr.contains("info:"));
    assert!(out.stderr.contains("warn:"));
}

#[test]
fn an_api_key_with_a_space_is_rejected() {
    credbox(&["run", GUEST_API_KEY_SPACE, "--format", "api-key"], &[]).fails(7, "without spaces");
}
