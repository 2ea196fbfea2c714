//! Host-kept state (issue #14): `credbox login` / `logout`, the OS keystore
//! (a real Secret Service: gnome-keyring on a private D-Bus session bus),
//! the opt-in file store, and a hostile guest (tests/guests/state-probe)
//! against the bounds and the isolation between helpers.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use credbox_test_artifacts::GUEST_STATE_PROBE;

use crate::support::keyring::{Keyring, service_of};
use crate::support::secrets::assert_no_secret;
use crate::support::small_disk::SmallDisk;
use crate::support::util::{Cache, TempManifest, manifest, within};

/// The value the probe's `login` is given; it stores it reversed.
const LOGIN_VALUE: &str = "0123456789-device-refresh-token";

fn stored_value() -> String {
    LOGIN_VALUE.chars().rev().collect()
}

/// A manifest for the probe in `MODE`, logging in with [`LOGIN_VALUE`].
fn probe(name: &str, mode: &str, extra: &str) -> TempManifest {
    manifest(
        name,
        GUEST_STATE_PROBE,
        &format!(
            "format = \"api-key\"\n{extra}\n[config]\nMODE = {mode:?}\nLOGIN_VALUE = {LOGIN_VALUE:?}\n"
        ),
    )
}

#[test]
fn login_then_runs_rotate_the_token_in_the_real_keystore_and_logout_clears_it() {
    let Some(keyring) = Keyring::start() else {
        return;
    };
    let m = probe("keystore-probe", "rotate", "");
    let cache = Cache::warmed(m.arg());
    let env = keyring.env();

    let login = cache.run(&["login", m.arg()], &env);
    assert_eq!(login.code, 0, "{login:#?}");
    assert_eq!(login.stdout, "");
    let lines: Vec<&str> = login.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "credbox: keystore-probe says: open https://example.invalid/device and enter WDJB-MJHT",
            "credbox: keystore-probe: logged in; keeps token in the OS keystore",
        ],
        "{login:#?}"
    );
    let service = service_of(&m);
    let value = stored_value();
    assert_eq!(keyring.lookup(&service, "token").as_deref(), Some(&*value));
    assert_eq!(
        keyring.lookup(&service, "credbox:names").as_deref(),
        Some("token\n")
    );

    // Each run reads the token and stores the next one (a rotation).
    for i in 0..3 {
        let run = cache.run(&["run", "--no-cache", m.arg()], &env);
        assert_eq!(
            run.stdout,
            format!("access-{}\n", value.len() + i),
            "{run:#?}"
        );
        assert_no_secret("run", &[&value], &run.streams(), None);
    }
    let rotated = format!("{value}xxx");
    assert_eq!(
        keyring.lookup(&service, "token").as_deref(),
        Some(&*rotated)
    );
    // The cached path too: the credential is cached, the token is not.
    cache.run(&["run", m.arg()], &env).ok();
    let status = cache.run(&["status"], &env);
    assert_no_secret(
        "status, cache",
        &[&value],
        &status.streams(),
        Some(&cache.path()),
    );

    let logout = cache.run(&["logout", m.arg()], &env);
    assert_eq!(
        logout.stderr,
        "credbox: keystore-probe: logged out; forgot 1 stored name and 1 cached entry\n",
        "{logout:#?}"
    );
    assert_eq!(keyring.lookup(&service, "token"), None);
    assert_eq!(keyring.lookup(&service, "credbox:names"), None);
    let line = cache
        .run(&["run", m.arg()], &env)
        .fails(3, "misconfigured: not logged in");
    assert!(
        line.ends_with(&format!("(run: credbox login {})", m.path.display())),
        "{line}"
    );
}

#[test]
fn without_a_keystore_login_refuses_unless_the_manifest_opts_into_files() {
    let m = probe("no-keystore", "read", "");
    let cache = Cache::new();
    let nowhere = tempfile::tempdir().unwrap();
    let bus = format!("unix:path={}/no-bus", nowhere.path().display());
    let state_dir = nowhere.path().join("state");
    let env = [
        ("DBUS_SESSION_BUS_ADDRESS", bus.as_str()),
        ("CREDBOX_STATE_DIR", state_dir.to_str().unwrap()),
    ];
    let login = cache.run(&["login", m.arg()], &env);
    let line = login.fails(2, "no OS keystore to keep the helper's state in");
    assert!(line.contains("[state] store = \"file\""), "{line}");
    assert!(!line.contains("WDJB"), "the helper must not run: {line}");
    assert!(
        !state_dir.join("files").exists(),
        "never a silent fallback to files"
    );
    // A run does not fall back either: the helper's `get` fails, and the
    // store's failure is what credbox reports, with its own hint.
    let line = cache
        .run(&["run", m.arg()], &env)
        .fails(2, "no OS keystore to keep the helper's state in");
    assert!(
        line.ends_with("keep it in files that are NOT encrypted)"),
        "{line}"
    );
    assert!(
        !state_dir.join("files").exists(),
        "never a silent fallback to files"
    );
}

#[test]
fn the_file_store_keeps_private_files_and_logout_removes_them() {
    let m = probe("file-probe", "read", "[state]\nstore = \"file\"\n");
    let cache = Cache::warmed(m.arg());
    let state = tempfile::tempdir().unwrap();
    let root = state.path().join("credbox-state");
    let env = [("CREDBOX_STATE_DIR", root.to_str().unwrap())];

    let line = cache
        .run(&["run", m.arg()], &env)
        .fails(3, "misconfigured: not logged in");
    assert!(line.contains("(run: credbox login "), "{line}");
    // Remembered within its backoff, the failure still says to log in.
    let again = cache
        .run(&["run", m.arg()], &env)
        .fails(3, "misconfigured: not logged in");
    let login_then = format!(
        "(run: credbox login {}; cached failure, next try in ",
        m.path.display()
    );
    assert!(again.contains(&login_then), "{again}");
    let login = cache.run(&["login", m.arg()], &env);
    assert_eq!(login.code, 0, "{login:#?}");
    assert!(
        login.stderr.contains("keeps token in the file store "),
        "{login:#?}"
    );
    assert!(login.stderr.contains("(not encrypted)"), "{login:#?}");
    // The failure cached before the login is gone: the next run works.
    let value = stored_value();
    let run = cache.run(&["run", m.arg()], &env);
    assert_eq!(run.ok(), format!("access-{}\n", value.len()));

    let files = root.join("files");
    let helpers: Vec<_> = std::fs::read_dir(&files).unwrap().flatten().collect();
    assert_eq!(helpers.len(), 1);
    let helper = helpers[0].path();
    for dir in [&root, &files, &helper] {
        let mode = std::fs::metadata(dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
    let token = helper.join("v_token");
    assert_eq!(std::fs::metadata(&token).unwrap().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&token).unwrap(), value);
    assert_no_secret("cache", &[&value], &[], Some(&cache.path()));

    let logout = cache.run(&["logout", m.arg()], &env);
    assert_eq!(logout.code, 0, "{logout:#?}");
    assert!(!token.exists());
    assert_eq!(std::fs::read_dir(&helper).unwrap().count(), 0);
    cache.run(&["run", m.arg()], &env).fails(3, "not logged in");
}

#[test]
fn a_full_disk_after_login_never_costs_the_rotated_token() {
    let Some(disk) = SmallDisk::mount(512) else {
        return;
    };
    let m = probe("full-disk", "rotate", "[state]\nstore = \"file\"\n");
    let cache = Cache::warmed(m.arg());
    let root = disk.path().join("state");
    let env = [("CREDBOX_STATE_DIR", root.to_str().unwrap())];
    let login = cache.run(&["login", m.arg()], &env);
    assert_eq!(login.code, 0, "{login:#?}");
    let helper = std::fs::read_dir(root.join("files"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let token = helper.join("v_token");
    let value = stored_value();

    // The disk fills up. The provider rotates the token as the run
    // trades it: the new one is kept all the same.
    let filler = disk.fill();
    let run = cache.run(&["run", "--no-cache", m.arg()], &env);
    assert_eq!(run.ok(), format!("access-{}\n", value.len()), "{run:#?}");
    assert_eq!(
        std::fs::read_to_string(&token).unwrap(),
        format!("{value}x")
    );

    // Each later rotation finds the reserve again: the write gave back
    // what it took.
    let run = cache.run(&["run", "--no-cache", m.arg()], &env);
    assert_eq!(run.ok(), format!("access-{}\n", value.len() + 1));

    // Without a reserve (gone, or state kept by an older credbox) on a full
    // disk, the run stops before the helper trades the token, which stays
    // unspent.
    std::fs::remove_file(helper.join(".reserve")).unwrap();
    let more = disk.fill();
    let line = cache
        .run(&["run", "--no-cache", m.arg()], &env)
        .fails(2, "no room to keep a new token");
    assert!(line.contains("free some space"), "{line}");
    assert_eq!(
        std::fs::read_to_string(&token).unwrap(),
        format!("{value}xx")
    );

    std::fs::remove_file(filler).unwrap();
    std::fs::remove_file(more).unwrap();
    // A write a kill interrupted left its temporary file, with a token:
    // the next run's first state call removes it, and so does a logout.
    let stale = helper.join(".v_token.4194301.7.0.tmp");
    std::fs::write(&stale, "stale-refresh-token").unwrap();
    let run = cache.run(&["run", "--no-cache", m.arg()], &env);
    assert_eq!(run.ok(), format!("access-{}\n", value.len() + 2));
    assert!(!stale.exists(), "the run swept the temporary file");
    std::fs::write(&stale, "stale-refresh-token").unwrap();
    let logout = cache.run(&["logout", m.arg()], &env);
    assert_eq!(logout.code, 0, "{logout:#?}");
    let left: Vec<_> = std::fs::read_dir(&helper)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "logout leaves nothing behind: {left:?}");
}

/// File-store manifests sharing one state directory.
fn file_env(dir: &tempfile::TempDir) -> [(&'static str, String); 1] {
    [(
        "CREDBOX_STATE_DIR",
        dir.path().join("s").to_str().unwrap().to_owned(),
    )]
}

fn as_env<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn a_helper_never_sees_another_helpers_state() {
    let state = tempfile::tempdir().unwrap();
    let env = file_env(&state);
    let env = as_env(&env);
    let file = "[state]\nstore = \"file\"\n";
    // The same component, under two manifests (same folder name, too).
    let a = probe("probe", "read", file);
    let b = probe("probe", "read", file);
    let cache = Cache::warmed(a.arg());
    assert_eq!(cache.run(&["login", a.arg()], &env).code, 0);
    let value = stored_value();
    assert_eq!(
        cache.run(&["run", a.arg()], &env).ok(),
        format!("access-{}\n", value.len())
    );
    let line = cache.run(&["run", b.arg()], &env).fails(3, "not logged in");
    assert!(line.contains(&b.path.display().to_string()), "{line}");
    // A bare component has no identity, and so no state at all.
    let bare = cache.run(&["run", GUEST_STATE_PROBE, "--config", "MODE=read"], &env);
    bare.fails(3, "a bare component has none");
    cache
        .run(&["login", GUEST_STATE_PROBE], &env)
        .fails(2, "a bare component has no state to log in with");
}

#[test]
fn a_hostile_helper_cannot_break_the_bounds_prompt_or_leak_state() {
    let state = tempfile::tempdir().unwrap();
    let env = file_env(&state);
    let env = as_env(&env);
    let file = "[state]\nstore = \"file\"\n";
    let login = probe("hostile", "read", file);
    let cache = Cache::warmed(login.arg());
    assert_eq!(cache.run(&["login", login.arg()], &env).code, 0);
    let value = stored_value();
    // Same folder, other manifests: the same state (a manifest per mode).
    let dir = login.path.parent().unwrap();
    let run = |mode: &str, args: &[&str]| {
        let path = dir.join(format!("{mode}.toml"));
        let text = std::fs::read_to_string(&login.path)
            .unwrap()
            .replace("MODE = \"read\"", &format!("MODE = {mode:?}"));
        std::fs::write(&path, text).unwrap();
        let mut all = vec!["run", "--no-cache"];
        all.extend_from_slice(args);
        all.push(path.to_str().unwrap());
        cache.run(&all, &env)
    };
    for (mode, message) in [
        (
            "big",
            "state value of token is 16385 bytes, more than the 16384 allowed",
        ),
        ("many", "a helper keeps at most 16 names"),
        ("bad-name", "invalid state name"),
        ("spam", "more than 256 state calls in one run"),
        ("show", "outside `credbox login`"),
    ] {
        let outcome = run(mode, &[]);
        outcome.fails(3, message);
        assert_no_secret(mode, &[&value], &outcome.streams(), None);
    }
    // `many` is not the same helper (another manifest): its 16 names are
    // its own, and the logged-in helper's token is intact.
    assert_eq!(
        cache.run(&["run", login.arg()], &env).ok(),
        format!("access-{}\n", value.len())
    );
    // The logged-in helper turned hostile: it prints, logs and returns
    // its token. Every copy is masked.
    let text = std::fs::read_to_string(&login.path)
        .unwrap()
        .replace("MODE = \"read\"", "MODE = \"leak\"");
    std::fs::write(&login.path, text).unwrap();
    let outcome = cache.run(&["run", "--no-cache", login.arg()], &env);
    assert_eq!(outcome.code, 8, "{outcome:#?}");
    assert_eq!(outcome.stdout, "");
    assert!(
        outcome
            .stderr
            .ends_with("failed: error: [redacted] (run with --verbose to see the helper's log; report it to its author if it persists)\n"),
        "{outcome:#?}"
    );
    assert_no_secret("leak", &[&value[..12]], &outcome.streams(), None);
    let outcome = cache.run(&["run", "--no-cache", "-vv", login.arg()], &env);
    assert_eq!(outcome.code, 8, "{outcome:#?}");
    assert!(outcome.stderr.contains("stdout: "), "{outcome:#?}");
    assert!(outcome.stderr.contains("log: "), "{outcome:#?}");
    assert_no_secret("leak -vv", &[&value[..12]], &outcome.streams(), None);
    assert_eq!(outcome.stdout, "");
}

#[test]
fn a_keystore_that_never_answers_is_unavailable_not_a_hang() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // A "session bus" that accepts connections and never says a word.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        let start = std::time::Instant::now();
        while !flag.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let m = probe(
        "silent-keystore",
        "read",
        "[limits]\nlogin_timeout = \"2s\"\n",
    );
    let cache = Cache::warmed(m.arg());
    let bus = format!("unix:path={}", socket.display());
    let state_dir = dir.path().join("s");
    let env = [
        ("DBUS_SESSION_BUS_ADDRESS", bus.as_str()),
        ("CREDBOX_STATE_DIR", state_dir.to_str().unwrap()),
    ];
    // A run gives up in time to report it (the default 5 s deadline).
    let run = cache.run(&["run", m.arg()], &env);
    run.fails(5, "unavailable: the OS keystore did not answer within");
    run.took(Duration::from_secs(4), within(Duration::from_secs(5)));
    // A login's check that the keystore is there is part of the login: it
    // waits no longer than login_timeout (it waited 10 s before the
    // login's own time began), then says so.
    let login = cache.run(&["login", m.arg()], &env);
    login.fails(5, "the OS keystore did not answer within 2s");
    login.took(Duration::from_secs(2), within(Duration::from_secs(2)));
    stop.store(true, Ordering::Relaxed);
    silent.join().unwrap();
}
