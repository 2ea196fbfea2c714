//! The credential cache, seen from outside: which calls run the helper
//! (the `unique` guest logs `fetching` and returns a token no other run
//! returns; the `http-get` guest fetches from a loopback server that
//! counts), what they print, and what lands on disk.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use credbox::units::hex_sha256;

use credbox_test_artifacts::{ENV_BEARER, GUEST_UNIQUE};

use crate::support::servers::{Reply, Server, token_helper};
use crate::support::util::{Cache, TempManifest, manifest, outcome};

const RAN: &str = "info: fetching";

fn unique(body: &str) -> TempManifest {
    manifest("unique", GUEST_UNIQUE, body)
}

/// A `unique` manifest whose helper fails from `fail_in` ms after now on,
/// with `cache_table` as the lines of its `[cache]` and `config` as more
/// lines of its `[config]`, and a cache with the helper compiled in it
/// (the compile counts against `fail_in`).
fn unique_failing_in(fail_in: u128, cache_table: &str, config: &str) -> (Cache, TempManifest) {
    let fail_after = now_ms() + fail_in;
    let m = unique(&format!(
        "[cache]\n{cache_table}[config]\nFAIL_AFTER_MS = \"{fail_after}\"\n{config}"
    ));
    (Cache::warmed(m.arg()), m)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_second_call_is_answered_from_the_cache() {
    let cache = Cache::new();
    let m = unique("");
    let first = cache.run(&["run", m.arg(), "-v"], &[]);
    let token = first.ok().to_owned();
    assert!(first.stderr.contains(RAN));
    let second = cache.run(&["run", m.arg(), "-v"], &[]);
    assert_eq!(second.ok(), token);
    assert_eq!(second.stderr, "", "the helper did not run");

    // Private on disk.
    assert_eq!(mode(&cache.path()), 0o700);
    assert_eq!(mode(&cache.path().join("credentials")), 0o700);
    assert_eq!(mode(&cache.entry_file()), 0o600);
}

#[test]
fn no_cache_runs_the_helper_and_leaves_the_cache_alone() {
    let cache = Cache::new();
    let m = unique("");
    let cached = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let bypass = cache.run(&["run", m.arg(), "--no-cache", "-v"], &[]);
    assert!(bypass.stderr.contains(RAN));
    assert_ne!(bypass.ok(), cached);
    assert_eq!(cache.run(&["run", m.arg()], &[]).ok(), cached);
}

#[test]
fn the_request_and_config_are_part_of_the_key() {
    let cache = Cache::new();
    let m = unique("");
    let plain = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let other_server = cache.run(
        &["run", m.arg()],
        &[("CLAUDE_CODE_MCP_SERVER_NAME", "github")],
    );
    assert_ne!(other_server.ok(), plain);
    let other_config = cache.run(&["run", m.arg(), "--config", "X=1"], &[]);
    assert_ne!(other_config.ok(), plain);
    assert_eq!(cache.run(&["run", m.arg()], &[]).ok(), plain);
}

#[test]
fn an_expired_credential_is_fetched_again() {
    let cache = Cache::new();
    let m = unique("[cache]\nttl = \"1s\"\n");
    let first = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    std::thread::sleep(Duration::from_millis(1100));
    let second = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(second.stderr.contains(RAN));
    assert_ne!(second.ok(), first);
}

#[test]
fn a_short_lived_token_is_not_reused_past_its_expiry() {
    // expires-in 31 s less the 30 s safety skew leaves one second.
    let cache = Cache::new();
    let m = unique("[config]\nEXPIRES_IN = \"31\"\n");
    let first = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    assert_eq!(cache.run(&["run", m.arg()], &[]).ok(), first);
    std::thread::sleep(Duration::from_millis(1100));
    assert_ne!(cache.run(&["run", m.arg()], &[]).ok(), first);
}

#[test]
fn a_background_refresh_the_watchdog_ends_records_why() {
    // Lifetime 10 s: refreshed in the background from 8 s on.
    let m = unique("[cache]\nttl = \"10s\"\n[limits]\ntimeout = \"1s\"\n");
    let cache = Cache::warmed(m.arg());
    let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let fetched = Instant::now();
    std::thread::sleep(Duration::from_millis(8_200));
    // The refresh's host calls block past its deadline (credbox's
    // failpoint, inherited by the detached refresh): the watchdog ends it,
    // and its last words record why.
    let stall = [("CREDBOX_FAILPOINT_STALL_MS", "5000")];
    assert_eq!(cache.run(&["run", m.arg()], &stall).ok(), token);
    assert!(
        fetched.elapsed() < Duration::from_millis(9_000),
        "too slow to test"
    );
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let status = cache.run(&["status"], &[]).ok().to_owned();
        if status.contains("deadline of 1s exceeded") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refresh's end was never recorded: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_failed_refresh_serves_the_still_valid_credential() {
    // Lifetime 10 s: the helper runs again from 8 s on (refresh window
    // 2 s), and from 2 s on it fails.
    let (cache, m) = unique_failing_in(2_000, "ttl = \"10s\"\n", "");
    let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let fetched = Instant::now();
    std::thread::sleep(Duration::from_millis(8_200));
    assert!(
        fetched.elapsed() < Duration::from_millis(8_800),
        "too slow to test"
    );
    // In the refresh window the caller is answered from the cache at once;
    // the refresh runs in a detached credbox (its log goes nowhere).
    let refresh = cache.run(&["run", m.arg(), "-v"], &[]);
    assert_eq!(refresh.ok(), token);
    assert!(
        !refresh.stderr.contains(RAN),
        "the caller did not run it: {}",
        refresh.stderr
    );
    // The failed refresh is recorded for `credbox status`.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cache
        .run(&["status"], &[])
        .ok()
        .contains("unavailable: token endpoint down")
    {
        assert!(
            Instant::now() < deadline,
            "the refresh's failure never showed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Inside the backoff the old credential is served without a run.
    let again = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(
        fetched.elapsed() < Duration::from_secs(10),
        "too slow to test"
    );
    assert_eq!(again.ok(), token);
    assert!(!again.stderr.contains(RAN));
}

#[test]
fn stale_if_error_serves_an_expired_credential_for_transient_failures_only() {
    for (kind, stale) in [
        ("unavailable", true),
        ("denied", false),
        ("misconfigured", false),
    ] {
        let (cache, m) = unique_failing_in(
            1_500,
            "ttl = \"2s\"\nstale_if_error = \"1m\"\n",
            &format!("FAIL_KIND = \"{kind}\"\n"),
        );
        let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
        std::thread::sleep(Duration::from_millis(2_300));
        let after = cache.run(&["run", m.arg()], &[]);
        if stale {
            assert_eq!(after.ok(), token);
            assert!(
                after.stderr.contains("serving a credential that expired"),
                "{}",
                after.stderr
            );
        } else {
            after.fails(if kind == "denied" { 4 } else { 3 }, "token endpoint down");
        }
    }
}

#[test]
fn stale_if_error_is_off_by_default() {
    let (cache, m) = unique_failing_in(1_500, "ttl = \"2s\"\n", "");
    cache.run(&["run", m.arg()], &[]).ok();
    std::thread::sleep(Duration::from_millis(2_300));
    cache
        .run(&["run", m.arg()], &[])
        .fails(5, "unavailable: token endpoint down");
}

#[test]
fn a_failure_is_remembered_with_backoff() {
    let cache = Cache::new();
    let m = unique("[cache]\nbackoff = \"1s\"\n[config]\nFAIL_AFTER_MS = \"0\"\n");
    let first = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(first.stderr.contains(RAN));
    assert!(first.stderr.ends_with("credbox: unique: unavailable: token endpoint down (transient: check the network or VPN and try again)\n"), "{}", first.stderr);
    assert_eq!(first.code, 5);

    // Within the backoff: the same failure at once, without a run.
    let cached = cache.run(&["run", m.arg(), "-v"], &[]);
    let line = cached.fails(
        5,
        "credbox: unique: unavailable: token endpoint down (transient: check the network or VPN and try again; cached failure, next try in 1s",
    );
    assert!(!line.contains("fetching"));

    // After it, the helper runs again, and the next backoff doubles.
    std::thread::sleep(Duration::from_millis(1_100));
    let retried = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(retried.stderr.contains(RAN));
    cache.run(&["run", m.arg()], &[]).fails(5, "next try in 2s");
}

/// A copy of the `unique` component in a fresh folder (which the caller
/// keeps alive), its path and its bytes.
fn copy_of_unique() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("helper.wasm");
    let bytes = std::fs::read(GUEST_UNIQUE).unwrap();
    std::fs::write(&component, &bytes).unwrap();
    (dir, component, bytes)
}

#[test]
fn a_changed_component_is_never_answered_from_the_old_entry() {
    // A hit is keyed by the component file's metadata, not its digest, so
    // that it need not read the file: every way of replacing the file must
    // still be a miss.
    let cache = Cache::new();
    let (dir, component, unique_bytes) = copy_of_unique();
    let m = manifest(
        "changing",
        component.to_str().unwrap(),
        "[config]\nAPI_TOKEN = \"from-env-bearer\"\n",
    );
    settle(&component);
    let first = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let again = cache.run(&["run", m.arg(), "-v"], &[]);
    assert_eq!((again.ok(), again.stderr.as_str()), (&*first, ""), "a hit");

    // Rewritten in place (same inode), as `cp` over it does.
    std::fs::write(&component, std::fs::read(ENV_BEARER).unwrap()).unwrap();
    assert_eq!(
        cache.run(&["run", m.arg()], &[]).ok(),
        "{\"Authorization\":\"Bearer from-env-bearer\"}\n"
    );
    // Replaced by a rename (a new inode), as cargo and installers do.
    let staged = dir.path().join("staged.wasm");
    std::fs::write(&staged, &unique_bytes).unwrap();
    std::fs::rename(&staged, &component).unwrap();
    let out = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(out.stderr.contains(RAN), "{out:#?}");
    assert_ne!(out.ok(), first);
}

/// Waits until `path` last changed longer ago than the window in which
/// credbox distrusts a just-changed file's metadata (2 s), so that its
/// metadata, not the digest of its contents, identifies it.
fn settle(path: &Path) {
    let meta = std::fs::metadata(path).unwrap();
    let changed = UNIX_EPOCH
        + Duration::new(
            meta.ctime().try_into().unwrap(),
            meta.ctime_nsec().try_into().unwrap(),
        );
    let settled = changed + Duration::from_millis(2_100);
    if let Ok(left) = settled.duration_since(SystemTime::now()) {
        std::thread::sleep(left);
    }
}

/// The component `bytes` with a custom section appended whose one-byte
/// payload is `mark`.
///
/// This makes two working components of exactly the same length that
/// differ in one byte: custom sections may stand anywhere in a component
/// and a runtime ignores the ones it does not know. Appending one depends
/// on nothing in the guest's own layout (flipping a byte of an existing
/// custom section would break when the toolchain stops emitting it), and
/// needs no second build of the guest (whose code, with another constant,
/// could come out another size).
fn marked(bytes: &[u8], mark: u8) -> Vec<u8> {
    const NAME: &[u8] = b"credbox-test";
    let mut out = bytes.to_vec();
    // Section id 0 (custom), the section's size, the name's length: each
    // below 128, so each one LEB128 byte.
    out.extend_from_slice(&[0, NAME.len() as u8 + 2, NAME.len() as u8]);
    out.extend_from_slice(NAME);
    out.push(mark);
    out
}

#[test]
fn a_component_rewritten_in_place_to_the_same_size_is_a_miss_after_the_window() {
    // The test above rewrites the file inside the window, where its digest
    // tells the two apart, and to another size. Here the file keeps its
    // device, inode and size, and both runs come after the window: only
    // the modification and change times can tell the old file from the
    // new.
    let cache = Cache::new();
    let (dir, component, unique_bytes) = copy_of_unique();
    let (before, after) = (marked(&unique_bytes, b'a'), marked(&unique_bytes, b'b'));
    std::fs::write(&component, &before).unwrap();
    let m = manifest("same-size", component.to_str().unwrap(), "");
    // Both versions compiled ahead, while the window passes.
    let staged = dir.path().join("after.wasm");
    std::fs::write(&staged, &after).unwrap();
    cache.warm(staged.to_str().unwrap());
    cache.warm(m.arg());
    settle(&component);
    let first = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(first.stderr.contains(RAN), "{first:#?}");
    let again = cache.run(&["run", m.arg(), "-v"], &[]);
    assert_eq!(
        (again.ok(), again.stderr.as_str()),
        (first.ok(), ""),
        "a hit"
    );

    let old = std::fs::metadata(&component).unwrap();
    std::fs::write(&component, &after).unwrap();
    let new = std::fs::metadata(&component).unwrap();
    assert_eq!(
        (new.dev(), new.ino(), new.len()),
        (old.dev(), old.ino(), old.len()),
        "rewritten in place, to the same size"
    );
    settle(&component);
    let out = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(out.stderr.contains(RAN), "the helper ran again: {out:#?}");
    assert_ne!(out.ok(), first.stdout);
}

#[test]
fn a_pin_is_checked_even_when_a_credential_is_cached() {
    let cache = Cache::new();
    let (_dir, component, unique_bytes) = copy_of_unique();
    let pin = format!("sha256 = \"{}\"\n", hex_sha256(&unique_bytes));
    let m = manifest("pinned", component.to_str().unwrap(), &pin);
    let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    assert_eq!(cache.run(&["run", m.arg()], &[]).ok(), token);

    // The manifest now pins another digest, the file unchanged: the pin is
    // part of the key, so the old credential is not served under it.
    let other_pin = format!("sha256 = \"{}\"\n", "0".repeat(64));
    std::fs::write(
        &m.path,
        format!("component = {:?}\n{other_pin}", component.to_str().unwrap()),
    )
    .unwrap();
    cache
        .run(&["run", m.arg()], &[])
        .fails(2, "but the manifest pins");
    std::fs::write(
        &m.path,
        format!("component = {:?}\n{pin}", component.to_str().unwrap()),
    )
    .unwrap();
    assert_eq!(cache.run(&["run", m.arg()], &[]).ok(), token);

    // Someone swaps the file: the cached credential is not served for it.
    std::fs::write(&component, std::fs::read(ENV_BEARER).unwrap()).unwrap();
    cache
        .run(&["run", m.arg()], &[])
        .fails(2, "but the manifest pins");
}

#[test]
fn a_corrupt_entry_is_a_miss() {
    let cache = Cache::new();
    let m = unique("");
    let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let file = cache.entry_file();
    for junk in [&b""[..], b"{\"version\":1,", b"\x00\x01garbage"] {
        std::fs::write(&file, junk).unwrap();
        let out = cache.run(&["run", m.arg(), "-v"], &[]);
        assert!(out.stderr.contains(RAN));
        assert_ne!(out.ok(), token);
    }
}

#[test]
fn an_unsafe_cache_directory_is_refused() {
    let cache = Cache::new();
    std::fs::create_dir(cache.path()).unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = cache.run(&["run", unique("").arg()], &[]);
    out.fails(2, "refusing cache directory");
    assert!(out.stderr.contains("its mode is 777, not 700"));
}

#[test]
fn status_and_clear_never_show_the_credential() {
    let cache = Cache::new();
    let m = unique("");
    let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let secret = token
        .trim()
        .trim_start_matches("{\"Authorization\":\"Bearer ")
        .trim_end_matches("\"}");
    let status = cache.run(&["status"], &[]);
    assert!(status.ok().contains("unique\t"), "{}", status.stdout);
    assert!(!status.stdout.contains(secret));
    assert!(
        status.stdout.contains("4m5") || status.stdout.contains("5m00s"),
        "{}",
        status.stdout
    );

    cache.run(&["cache", "clear", "someone-else"], &[]).ok();
    assert!(cache.run(&["status"], &[]).stdout.contains("unique\t"));
    cache.run(&["cache", "clear", "unique"], &[]).ok();
    assert!(!cache.run(&["status"], &[]).stdout.contains("unique\t"));
    let out = cache.run(&["run", m.arg(), "-v"], &[]);
    assert!(out.stderr.contains(RAN));
}

#[test]
fn concurrent_calls_run_the_helper_once() {
    // The helper fetches its token from a loopback server that counts the
    // requests and answers slowly, so every process arrives while the one
    // run is going.
    let server = Server::numbered_tokens(|_| Duration::from_millis(300));
    let cache = Cache::new();
    let m = token_helper("token-server", &server, "");
    cache.warm(m.arg());
    let outcomes = cache.run_at_once(32, &["run", m.arg()], &[]);
    assert_eq!(server.stop().len(), 1, "{outcomes:#?}");
    for o in &outcomes {
        assert_eq!(o.ok(), "{\"Authorization\":\"Bearer tok-1\"}\n");
    }
}

#[test]
fn waiters_on_a_caller_killed_mid_run_run_the_helper_once_more() {
    // The first request is answered too late: its caller is killed while
    // it waits, letting go of the lock with nothing stored. One of the
    // waiters then runs the helper, and all of them print that answer.
    let arrived = Arc::new(AtomicUsize::new(0));
    let server = Server::start({
        let arrived = arrived.clone();
        move |_| {
            let n = arrived.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(Duration::from_millis(if n == 1 { 3_000 } else { 300 }));
            Reply::text(&format!("tok-{n}"))
        }
    });
    let cache = Cache::new();
    let m = token_helper("token-server", &server, "");
    cache.warm(m.arg());
    let mut holder = cache.command(&["run", m.arg()], &[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while arrived.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the first run never asked");
        std::thread::sleep(Duration::from_millis(10));
    }
    let start = Instant::now();
    let waiters: Vec<_> = (0..16)
        .map(|_| cache.command(&["run", m.arg()], &[]).spawn().unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    holder.kill().unwrap();
    let killed = holder.wait().unwrap();
    assert_eq!(killed.code(), None, "killed while it ran the helper");
    for waiter in waiters {
        let out = outcome(waiter.wait_with_output().unwrap(), start);
        assert_eq!(out.ok(), "{\"Authorization\":\"Bearer tok-2\"}\n");
    }
    assert_eq!(server.stop().len(), 2);
}
