//! The cache under damage and time (issue #12): files that are not what
//! they should be never make credbox wait, entries credbox did not store
//! are never printed, a cache that cannot be written never costs the
//! caller the credential, interrupted writes leave bounded litter, and a
//! refresh never makes a caller wait.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use credbox::cache::{CacheKey, Entry};
use credbox_test_artifacts::GUEST_UNIQUE;

use crate::support::servers::{Server, token_helper};
use crate::support::util::{Cache, Outcome, manifest, outcome};

const RAN: &str = "info: fetching";

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "{path:?}");
}

/// Runs `cmd`, killing it (and failing the test) if it has not finished
/// within `limit`: a hang must fail, not hang the suite.
#[track_caller]
fn run_within(mut cmd: Command, limit: Duration) -> Outcome {
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{cmd:?} still running after {limit:?}: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    outcome(child.wait_with_output().unwrap(), start)
}

fn files_in(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(suffix))
        .collect()
}

#[test]
fn fifos_in_every_position_finish_within_a_second() {
    let second = Duration::from_secs(1);
    let cache = Cache::new();
    let m = manifest("fifo", GUEST_UNIQUE, "");
    let first = cache.run(&["run", m.arg()], &[]);
    let token = first.ok().to_owned();
    let compile_time = first.elapsed;

    // The manifest itself, the component (with and without the cache) and
    // the CA bundle: a clear exit 2, at once.
    let dir = tempfile::tempdir().unwrap();
    let fifo_manifest = dir.path().join("credbox.toml");
    mkfifo(&fifo_manifest);
    let out = run_within(
        cache.command(&["run", fifo_manifest.to_str().unwrap()], &[]),
        second,
    );
    out.fails(2, "it is a FIFO, not a regular file");
    let fifo_component = dir.path().join("helper.wasm");
    mkfifo(&fifo_component);
    let bare = manifest("fifo-component", fifo_component.to_str().unwrap(), "");
    for extra in [&[][..], &["--no-cache"][..]] {
        let mut args = vec!["run", bare.arg()];
        args.extend_from_slice(extra);
        let out = run_within(cache.command(&args, &[]), second);
        out.fails(2, "a FIFO");
    }
    let bundle = dir.path().join("ca.pem");
    mkfifo(&bundle);
    let with_bundle = manifest(
        "fifo-bundle",
        GUEST_UNIQUE,
        &format!("[network]\nca_bundle = {:?}\n", bundle.to_str().unwrap()),
    );
    let out = run_within(cache.command(&["run", with_bundle.arg()], &[]), second);
    out.fails(2, "a FIFO");

    // The cache entry and its lock: a miss, and the helper runs.
    let entry = cache.entry_file();
    let lock = entry.with_extension("lock");
    for path in [&entry, &lock] {
        let _ = std::fs::remove_file(path);
        mkfifo(path);
    }
    let out = run_within(cache.command(&["run", m.arg(), "-v"], &[]), second);
    assert!(out.stderr.contains(RAN), "{out:#?}");
    assert_ne!(out.ok(), token);
    // status and cache clear with a FIFO for an entry.
    std::fs::remove_file(&entry).unwrap();
    mkfifo(&entry);
    run_within(cache.command(&["status"], &[]), second).ok();
    run_within(cache.command(&["cache", "clear"], &[]), second).ok();

    // A compiled component: recompiled (that takes its time), not waited on.
    let compiled = files_in(&cache.path().join("compiled"), ".cwasm");
    assert_eq!(compiled.len(), 1, "{compiled:?}");
    std::fs::remove_file(&compiled[0]).unwrap();
    mkfifo(&compiled[0]);
    let out = run_within(
        cache.command(&["run", m.arg()], &[]),
        compile_time * 3 + second,
    );
    assert!(out.ok().starts_with("{\"Authorization\":\"Bearer tok-"));
}

#[test]
fn tampered_truncated_symlinked_and_replayed_entries_are_never_printed() {
    let cache = Cache::new();
    let m = manifest("tamper", GUEST_UNIQUE, "");
    let token = cache.run(&["run", m.arg()], &[]).ok().to_owned();
    let entry = cache.entry_file();
    let good = std::fs::read(&entry).unwrap();
    let key = CacheKey::parse(entry.file_stem().unwrap().to_str().unwrap()).unwrap();

    // Each bad file is put in place, and the next call must run the helper
    // (its fresh token differs from anything planted) and print no more
    // than that.
    let check = |what: &str, forbidden: &str| {
        let out = cache.run(&["run", m.arg(), "-v"], &[]);
        assert!(
            out.stderr.contains(RAN),
            "{what}: served from the cache: {out:#?}"
        );
        let printed = out.ok();
        assert!(
            printed.starts_with("{\"Authorization\":\"Bearer tok-"),
            "{what}"
        );
        assert!(!printed.contains(forbidden), "{what}: {printed}");
    };

    // One bit flipped inside the token.
    let at = good
        .windows(4)
        .position(|w| w == b"tok-")
        .expect("the token is in the entry")
        + 6;
    let mut flipped = good.clone();
    flipped[at] ^= 0x01;
    let flipped_token = String::from_utf8_lossy(&flipped[at - 6..at + 16]).into_owned();
    std::fs::write(&entry, &flipped).unwrap();
    check("a flipped bit", &flipped_token);

    // Truncated.
    std::fs::write(&entry, &good[..good.len() / 2]).unwrap();
    check("truncated", "\u{0}");

    // An entry checksummed for this key whose credential injects a header:
    // the hit validates the credential again.
    let mut injected = Entry::decode(&good, &key).unwrap();
    injected.credential.as_mut().unwrap().credential.headers =
        vec![("A".into(), "1\r\nX-Injected: 1".into())];
    std::fs::write(&entry, injected.encode(&key)).unwrap();
    check("an injected header", "X-Injected");

    // A replayed failure record of the old format with exit code 0.
    std::fs::write(
        &entry,
        br#"{"version":1,"helper":"tamper","credential":null,"failure":{"message":"x","exit_code":0,"transient":false,"count":1,"at_ms":0,"retry_ms":99999999999999}}"#,
    )
    .unwrap();
    check("a failure record with exit 0", "x");

    // A symbolic link to a planted entry (here, a perfectly good one).
    let planted_dir = tempfile::tempdir().unwrap();
    let planted = planted_dir.path().join("planted.json");
    let mut evil = Entry::decode(&good, &key).unwrap();
    evil.credential.as_mut().unwrap().credential.headers =
        vec![("Authorization".into(), "Bearer EVIL".into())];
    std::fs::write(&planted, evil.encode(&key)).unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&planted, &entry).unwrap();
    check("a symlinked entry", "EVIL");

    // Another key's entry replayed under this key's name.
    let other = manifest("tamper", GUEST_UNIQUE, "[config]\nX = \"1\"\n");
    let other_token = cache.run(&["run", other.arg()], &[]).ok().to_owned();
    let other_entry = files_in(&cache.path().join("credentials"), ".json")
        .into_iter()
        .find(|p| *p != entry)
        .unwrap();
    std::fs::copy(&other_entry, &entry).unwrap();
    check("another key's entry", other_token.trim());
    assert_ne!(token, other_token);
}

#[test]
fn a_cache_that_cannot_be_written_still_prints_a_fresh_credential_with_one_warning() {
    // The entry's place is taken by a non-empty directory: it can be
    // neither replaced nor removed (this works as root too, where a
    // read-only mode would not stop the write). The removal path (a
    // credential too short-lived to keep) is the unit test
    // cache::tests::a_cache_that_cannot_be_written_still_answers_with_one_warning.
    let cache = Cache::new();
    let m = manifest("unwritable", GUEST_UNIQUE, "[cache]\nttl = \"1s\"\n");
    cache.run(&["run", m.arg()], &[]).ok();
    let entry = cache.entry_file();
    std::fs::remove_file(&entry).unwrap();
    std::fs::create_dir(&entry).unwrap();
    std::fs::write(entry.join("keep"), b"").unwrap();
    let out = cache.run(&["run", m.arg()], &[]);
    assert!(out.ok().starts_with("{\"Authorization\":\"Bearer tok-"));
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out:#?}");
    assert!(
        lines[0].starts_with("credbox: unwritable: warning: the cache could not be updated"),
        "{out:#?}"
    );
}

#[test]
fn environment_problems_are_exit_2_with_what_to_set_and_no_cache_needs_none() {
    let m = manifest("env", GUEST_UNIQUE, "");
    let run = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_credbox"));
        let dir = tempfile::tempdir().unwrap();
        cmd.arg("run")
            .arg(m.arg())
            .args(extra)
            .env_clear()
            .current_dir(dir.path())
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null());
        let start = Instant::now();
        let out = outcome(cmd.output().unwrap(), start);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            left.is_empty(),
            "created under the current directory: {left:?}"
        );
        out
    };
    run(&[], &[]).fails(2, "HOME is not set");
    run(&[("HOME", "")], &[]).fails(2, "HOME is not set");
    run(&[("HOME", "home")], &[]).fails(2, "HOME is a relative path");
    run(&[("CREDBOX_CACHE_DIR", "cache")], &[]).fails(2, "CREDBOX_CACHE_DIR is a relative path");
    let file = tempfile::NamedTempFile::new().unwrap();
    let under_file = file.path().join("credbox");
    let under = under_file.to_str().unwrap();
    let line = run(&[("CREDBOX_CACHE_DIR", under)], &[]).fails(2, "cannot create cache directory");
    assert!(
        line.contains("a file stands where a directory should"),
        "{line}"
    );
    // --no-cache needs no cache directory at all.
    for env in [&[][..], &[("CREDBOX_CACHE_DIR", under)][..]] {
        assert!(
            run(env, &["--no-cache"])
                .ok()
                .starts_with("{\"Authorization\"")
        );
    }
}

#[test]
fn kill_9_leaves_no_temp_files_or_locks_after_the_next_cache_clear() {
    let cache = Cache::new();
    // Keys differ by config, so each run writes its own entry and lock.
    let ms: Vec<_> = (0..4)
        .map(|i| manifest("killed", GUEST_UNIQUE, &format!("[config]\nN = \"{i}\"\n")))
        .collect();
    cache.warm(ms[0].arg());
    let compiled = cache.path().join("compiled");
    let mut seed = 0x2545_f491_u64;
    let mut random = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut temps_seen = 0;
    for round in 0..25 {
        // Without a compiled component every run compiles and writes one
        // (about a MiB): the longest write to interrupt.
        if round % 2 == 0 {
            for artifact in files_in(&compiled, ".cwasm") {
                let _ = std::fs::remove_file(artifact);
            }
        }
        let mut children: Vec<_> = (0..8)
            .map(|i| {
                cache
                    .command(&["run", ms[i % ms.len()].arg()], &[])
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(random(200)));
        for child in &mut children {
            let _ = child.kill();
        }
        for child in &mut children {
            let _ = child.wait();
        }
        // On this machine a write takes about a millisecond, so few kills
        // land inside one: also leave what a writer killed there leaves
        // (named as credbox names its temporary files, with the PID of a
        // process just killed), and a lock whose entry never came.
        let pid = children[0].id();
        std::fs::write(
            compiled.join(format!(".x.cwasm.{pid}.{round}.0.tmp")),
            vec![0; 1 << 20],
        )
        .unwrap();
        std::fs::write(
            cache
                .path()
                .join("credentials")
                .join(format!(".{round:064x}.json.{pid}.1.0.tmp")),
            b"{",
        )
        .unwrap();
        std::fs::write(
            cache
                .path()
                .join("credentials")
                .join(format!("{round:064x}.lock")),
            b"",
        )
        .unwrap();
        temps_seen = temps_seen.max(
            files_in(&compiled, ".tmp").len()
                + files_in(&cache.path().join("credentials"), ".tmp").len(),
        );
    }
    assert!(
        temps_seen > 0,
        "no write was ever interrupted: test too weak"
    );
    cache.run(&["cache", "clear"], &[]).ok();
    let left: Vec<_> = [
        files_in(&compiled, ".tmp"),
        files_in(&cache.path().join("credentials"), ".tmp"),
        files_in(&cache.path().join("credentials"), ".lock"),
        files_in(&cache.path().join("credentials"), ".json"),
    ]
    .concat();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_refresh_window_serves_64_callers_in_hit_time_with_one_token_request() {
    // The token server answers the first request at once and every later
    // one after 3 s: a caller that waited for the refresh would take that
    // long.
    let server = Server::numbered_tokens(|n| match n {
        1 => Duration::ZERO,
        _ => Duration::from_secs(3),
    });
    let cache = Cache::new();
    // Lifetime 10 s, refreshed from 8 s on.
    let m = token_helper("swr", &server, "ttl = \"10s\"\n");
    cache.warm(m.arg());
    let fetched = Instant::now();
    let first = cache.run(&["run", m.arg()], &[]);
    assert_eq!(first.ok(), "{\"Authorization\":\"Bearer tok-1\"}\n");
    std::thread::sleep(Duration::from_millis(8_200).saturating_sub(fetched.elapsed()));

    let outcomes = cache.run_at_once(64, &["run", m.arg()], &[]);
    assert!(
        fetched.elapsed() < Duration::from_secs(10),
        "too slow to test: the credential expired meanwhile"
    );
    for o in &outcomes {
        // Each is answered from the cache while the refresh (3 s) runs;
        // end of file on stdout included (the refresh keeps none of the
        // caller's descriptors).
        assert_eq!(o.ok(), "{\"Authorization\":\"Bearer tok-1\"}\n");
        assert_eq!(o.stderr, "");
        assert!(o.elapsed < Duration::from_millis(1_800), "{o:#?}");
    }
    // The refresh lands: the next callers get its token.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = cache.run(&["run", m.arg()], &[]);
        if out.ok() == "{\"Authorization\":\"Bearer tok-2\"}\n" {
            break;
        }
        assert!(Instant::now() < deadline, "the refresh never landed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.stop().len(), 2, "the first fetch and one refresh");
}
