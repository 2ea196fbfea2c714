//! Containment (issue #11): whatever a helper does, credbox answers within
//! its deadline plus 250 ms, stays within the memory cap plus 64 MiB, and
//! never lets a secret into a message, a log line or a failure record.
//! Each class is reproduced by a hostile component compiled from
//! `tests/guests/`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use credbox_test_artifacts::*;

use crate::support::secrets::{LEAK_EVERYWHERE_MODES, assert_no_secret};
use crate::support::util::{Cache, credbox, manifest, wait_with_peak_rss};

/// How late credbox may exit after its deadline.
const GRACE: Duration = Duration::from_millis(250);

/// What a measured run did.
#[derive(Debug)]
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    peak_rss_mib: i64,
}

impl Measured {
    /// Asserts a failure with `code`, nothing on stdout and one stderr
    /// line containing `needle`.
    #[track_caller]
    fn fails(&self, code: i32, needle: &str) -> &str {
        assert_eq!(self.code, code, "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        let line = self.stderr.trim_end_matches('\n');
        assert!(!line.contains('\n'), "more than one line: {self:#?}");
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        line
    }

    #[track_caller]
    fn within(&self, deadline: Duration) {
        assert!(
            self.elapsed < deadline + GRACE,
            "took {:?}, deadline {deadline:?}",
            self.elapsed
        );
    }

    #[track_caller]
    fn rss_within(&self, cap_mib: i64) {
        assert!(
            self.peak_rss_mib <= cap_mib + 64,
            "peak RSS {} MiB over the {cap_mib} MiB cap + 64 MiB",
            self.peak_rss_mib
        );
    }
}

/// Runs credbox with `cache`, timing it and measuring its peak RSS (wait4).
/// Runs `guest` with a 16 MiB memory cap and a 3 s deadline (plus
/// `extra` flags), and checks it ended within both.
fn bounded(cache: &Cache, guest: &str, extra: &[&str]) -> Measured {
    let args = [
        &["run", guest, "--memory", "16MiB", "--timeout", "3s"][..],
        extra,
    ]
    .concat();
    let run = measure(cache, &args, &[]);
    run.within(Duration::from_secs(3));
    run.rss_within(16);
    run
}

fn measure(cache: &Cache, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let start = Instant::now();
    let child = cache
        .command(args, env)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let (code, peak_kib) = wait_with_peak_rss(child);
    Measured {
        code,
        elapsed: start.elapsed(),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: String::from_utf8_lossy(&std::fs::read(err).unwrap()).into_owned(),
        peak_rss_mib: peak_kib / 1024,
    }
}

#[test]
fn a_bearer_flood_in_an_error_is_reported_within_the_deadline() {
    // 1.8 MB of `bearer x `: 23-33 s before (quadratic masking).
    let cache = Cache::warmed(GUEST_HOSTILE_TEXT);
    let run = measure(
        &cache,
        &[
            "run",
            GUEST_HOSTILE_TEXT,
            "--config",
            "MODE=bearer-error",
            "--timeout",
            "1s",
        ],
        &[],
    );
    let line = run.fails(8, "guest_hostile_text: failed: bearer [redacted] bearer");
    assert!(line.len() < 1200, "{}", line.len());
    run.within(Duration::from_secs(1));
}

#[test]
fn a_bearer_flood_logged_does_not_hold_the_host_call() {
    // The same text twice through the synchronous `log` call: 16 s before.
    let cache = Cache::warmed(GUEST_HOSTILE_TEXT);
    let run = measure(
        &cache,
        &[
            "run",
            GUEST_HOSTILE_TEXT,
            "--config",
            "MODE=bearer-log",
            "--timeout",
            "1s",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout, "{\"Authorization\":\"Bearer survived\"}\n");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.len() < 1200 && l.contains("warn: bearer [redacted]"))
    );
    run.within(Duration::from_secs(1));
}

#[test]
fn a_40_mib_error_of_control_characters_stays_small_and_fast() {
    // 370 MiB before: escaped and copied in full, then cut.
    let cache = Cache::warmed(GUEST_HOSTILE_TEXT);
    let run = measure(
        &cache,
        &[
            "run",
            GUEST_HOSTILE_TEXT,
            "--config",
            "MODE=control-error",
            "--timeout",
            "2s",
        ],
        &[],
    );
    let line = run.fails(8, "failed: \\u{1}\\u{1}");
    assert!(line.len() < 1200, "{}", line.len());
    run.within(Duration::from_secs(2));
    run.rss_within(64);
}

#[test]
fn wasi_http_fields_count_against_a_host_budget() {
    // 8,000 fields of 120 KiB copied from one guest buffer: 1.96 GB with
    // --memory 16MiB before.
    let cache = Cache::warmed(GUEST_FIELDS_BOMB);
    // A value over the 16 KiB limit traps at once.
    bounded(&cache, GUEST_FIELDS_BOMB, &[]).fails(8, "total size of fields exceeds limit");
    // Values that fit: the 513th resource is refused.
    bounded(&cache, GUEST_FIELDS_BOMB, &["--config", "VALUE_KIB=12"])
        .fails(6, "held more than 512 host resources at once");
}

#[test]
fn unsent_request_bodies_count_against_a_host_budget() {
    // 1,000 unsent requests buffering 1 MiB each, with no network
    // permission: 2.08 GB with --memory 16MiB before.
    let cache = Cache::warmed(GUEST_BODY_BOMB);
    bounded(&cache, GUEST_BODY_BOMB, &[]).fails(6, "held more than 512 host resources at once");
    // Within the budget each body buffers two 16 KiB chunks (one in the
    // channel, one held by its writer).
    let run = bounded(&cache, GUEST_BODY_BOMB, &["--config", "COUNT=100"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout,
        format!(
            "{{\"Authorization\":\"Bearer buffered-{}\"}}\n",
            100 * (32 << 10)
        )
    );
}

#[test]
fn compiling_is_bounded_by_the_deadline_and_says_to_build_first() {
    // Without the compiled-component cache (--no-cache keeps nothing), a
    // compile is part of the run and counts against its deadline. (With
    // it, a first compile runs ahead under a bound of its own: see
    // python::a_never_compiled_python_component_answers_on_its_first_run.)
    let cache = Cache::new();
    let run = measure(
        &cache,
        &[
            "run",
            "--no-cache",
            GUEST_HOSTILE_TEXT,
            "--config",
            "MODE=bearer-log",
            "--timeout",
            "1ms",
        ],
        &[],
    );
    let line = run.fails(
        6,
        "compiling the component did not finish within the deadline of 1ms",
    );
    assert!(line.contains("run `credbox build <manifest>`"), "{line}");
    run.within(Duration::from_millis(1));
    // Not remembered: once built, the helper runs.
    cache.warm(GUEST_HOSTILE_TEXT);
    let run = measure(
        &cache,
        &[
            "run",
            GUEST_HOSTILE_TEXT,
            "--config",
            "MODE=bearer-log",
            "--timeout",
            "2s",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:#?}");
}

#[test]
fn a_host_call_that_ignores_the_deadline_is_ended_by_the_watchdog() {
    // Each get-config call blocks 5 s without looking at the deadline
    // (credbox's failpoint): only the watchdog can end the run on time.
    let cache = Cache::warmed(GUEST_UNIQUE);
    let stall = [("CREDBOX_FAILPOINT_STALL_MS", "5000")];
    let run = measure(&cache, &["run", GUEST_UNIQUE, "--timeout", "1s"], &stall);
    let line = run.fails(6, "deadline of 1s exceeded");
    assert!(line.starts_with("credbox: guest_unique: "), "{line}");
    assert!(run.elapsed >= Duration::from_secs(1), "{run:#?}");
    run.within(Duration::from_secs(1));
    // Its last words recorded the failure: the next call, without the
    // stall, is answered from the backoff without a run.
    let again = measure(&cache, &["run", GUEST_UNIQUE, "--timeout", "1s"], &[]);
    let line = again.fails(6, "deadline of 1s exceeded");
    assert!(line.contains("cached failure"), "{line}");
}

#[test]
fn a_blocked_host_call_ends_within_the_deadline_and_250_ms() {
    for (guest, timeout) in [
        (GUEST_BLOCK_HOST_CALL, "1s"),
        (GUEST_SLEEP_FOREVER, "1s"),
        (GUEST_LOOP_FOREVER, "1500ms"),
    ] {
        let cache = Cache::warmed(guest);
        let run = measure(
            &cache,
            &[
                "run",
                guest,
                "--timeout",
                timeout,
                "--fuel",
                "18000000000000000000",
            ],
            &[],
        );
        run.fails(6, &format!("deadline of {timeout} exceeded"));
        let deadline = credbox::units::parse_duration(timeout).unwrap();
        assert!(run.elapsed >= deadline, "{run:#?}");
        run.within(deadline);
    }
}

#[test]
fn framing_and_hop_by_hop_headers_are_refused_by_name() {
    let cache = Cache::warmed(GUEST_LEAK_EVERYWHERE);
    for (index, named) in [
        (0, "Host"),
        (1, "Content-Length"),
        (2, "Transfer-Encoding"),
        (3, "Connection"),
        (4, "Upgrade"),
        (5, "TE"),
        (6, "Expect"),
        (7, "Keep-Alive"),
        (8, "Proxy-Connection"),
        (9, "Trailer"),
    ] {
        let header = format!("HEADER={index}");
        let out = cache.run(
            &[
                "run",
                GUEST_LEAK_EVERYWHERE,
                "--config",
                // (Short: every config value of 6 bytes or more is a
                // secret to the redactor.)
                "MODE=hdr",
                "--config",
                &header,
                "--config",
                "API_TOKEN=unused",
            ],
            &[],
        );
        out.fails(
            7,
            &format!("invalid output: header {named} is the HTTP client's"),
        );
    }
}

/// The secret of the test below, and a prefix long enough to be telling.
const SECRET: &str = "Sk-Live-7f3a9c2e1b5d";
const SECRET_PREFIX: &str = "sk-live-7f";

#[test]
fn an_allowlisted_secret_never_reaches_stderr_or_the_cache() {
    let cache = Cache::warmed(GUEST_LEAK_EVERYWHERE);
    let mut modes: Vec<(String, Vec<String>)> = LEAK_EVERYWHERE_MODES
        .iter()
        .map(|m| (m.to_string(), vec![]))
        .collect();
    // The capture keeps 64 KiB plus the longest secret: a secret cut by
    // that end too.
    modes.push((
        "stdout-split".into(),
        vec![format!("SHIFT={}", SECRET.len())],
    ));
    for (mode, extra) in &modes {
        let mode_arg = format!("MODE={mode}");
        let mut args = vec![
            "run",
            GUEST_LEAK_EVERYWHERE,
            "--allow-env",
            "API_TOKEN",
            "--config",
            &mode_arg,
            "-vv",
        ];
        for e in extra {
            args.extend(["--config", e]);
        }
        let out = cache.run(&args, &[("API_TOKEN", SECRET)]);
        assert_ne!(out.code, 0, "{mode}: {out:#?}");
        assert_eq!(out.stdout, "", "{mode}");
        assert_no_secret(
            &format!("{mode} {extra:?}"),
            &[SECRET, SECRET_PREFIX],
            &out.streams(),
            None,
        );
        let stderr = out.stderr.to_ascii_lowercase();
        // Where the secret was quoted, it shows masked (values are never
        // quoted, a refused URL is reported by its origin alone, a capture
        // cut through the secret drops it).
        let quoted =
            !matches!(mode.as_str(), "value-control" | "token") && !mode.starts_with("deny-");
        if quoted && extra.is_empty() {
            assert!(stderr.contains("[redacted]"), "{mode}: {}", out.stderr);
        }
        for line in out.stderr.lines() {
            assert!(line.len() <= 1200, "{mode}: a line of {} bytes", line.len());
        }
    }
    // The failure records, and what `credbox status` prints of them.
    let status = cache.run(&["status"], &[]);
    assert!(status.ok().contains("guest_leak_everywhere"), "{status:#?}");
    let seen = assert_no_secret(
        "status, cache",
        &[SECRET, SECRET_PREFIX],
        &status.streams(),
        Some(&cache.path()),
    );
    assert!(seen > 1, "the cache holds records");
}

#[test]
fn manifest_text_never_breaks_or_floods_a_message() {
    // A newline in `name` made two lines; a 10 MB host in [network] allow
    // was echoed twice (20 MB on stderr); a newline or a bidi override in
    // the component path went through as is.
    let name = manifest(
        "named",
        ENV_BEARER,
        "name = \"evil\\ncredbox: forged line\"\n",
    );
    let out = credbox(&["run", name.arg()], &[]);
    let line = out.fails(3, "credbox: evil\\ncredbox: forged line: misconfigured");
    assert!(!line.contains('\n'));

    // (The manifest itself is capped at 1 MiB now: a host just under it.)
    let host = "a".repeat(1_000_000);
    let flood = manifest(
        "flood",
        ENV_BEARER,
        &format!("[network]\nallow = [\"https://{host}\"]\n"),
    );
    let out = credbox(&["run", flood.arg()], &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.len() < 1200,
        "{} bytes on stderr",
        out.stderr.len()
    );
    out.fails(2, "[network] allow");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credbox.toml");
    std::fs::write(
        &path,
        "component = \"/nonexistent/\\nforged\\u202E.wasm\"\n",
    )
    .unwrap();
    let out = credbox(&["run", path.to_str().unwrap()], &[]);
    let line = out.fails(
        2,
        "cannot read component /nonexistent/\\nforged\\u{202e}.wasm",
    );
    assert!(!line.contains('\u{202e}'));
}
