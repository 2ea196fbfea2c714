//! examples/oauth-device-code (RFC 8628) end to end: `credbox login`
//! against a loopback authorization server that approves after a few
//! polls and rotates the refresh token on every refresh, the refresh token
//! kept in a real Secret Service (gnome-keyring), then many `credbox run`s.

use std::io::Write;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credbox_test_artifacts::OAUTH_DEVICE_CODE;

use crate::support::keyring::{Keyring, service_of};
use crate::support::secrets::assert_no_secret;
use crate::support::servers::{Reply, Request, Server};
use crate::support::util::{Cache, TempManifest, manifest};

/// Every refresh token the server issues has this in it, to look for.
const RT_MARK: &str = "s3cret-refresh";

/// `application/x-www-form-urlencoded` fields.
fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// What the authorization server saw and holds.
#[derive(Default)]
struct Oauth {
    /// When each device-code poll came.
    polls: Vec<Instant>,
    /// The one refresh token that works now.
    current: Option<String>,
    /// Tokens issued so far.
    issued: usize,
    /// Refresh requests with a spent (or unknown) refresh token.
    reused: usize,
    /// How long a refresh takes to answer (after the rotation).
    refresh_delay: Duration,
    /// A signal to send a process this long after a refresh is answered:
    /// (pid, signal, delay).
    signal_after_refresh: Option<(u32, libc::c_int, Duration)>,
}

fn json_error(error: &str) -> Reply {
    Reply::status(
        400,
        "application/json",
        &format!("{{\"error\":\"{error}\"}}"),
    )
}

impl Oauth {
    fn issue(&mut self) -> Reply {
        self.issued += 1;
        let n = self.issued;
        let rt = format!("rt-{n}-{RT_MARK}-{}", 1000 + n);
        self.current = Some(rt.clone());
        Reply::json(&format!(
            "{{\"access_token\":\"at-{n}\",\"token_type\":\"Bearer\",\"expires_in\":600,\"refresh_token\":\"{rt}\"}}"
        ))
    }

    fn handle(&mut self, request: &Request) -> Reply {
        let fields = form(request.body_text());
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        match (request.method.as_str(), request.target.as_str()) {
            ("POST", "/device") => Reply::json(
                "{\"device_code\":\"dev-code-1\",\"user_code\":\"WDJB-MJHT\",\
                 \"verification_uri\":\"https://example.test/activate\",\
                 \"expires_in\":120,\"interval\":1}",
            ),
            ("POST", "/token") => match field("grant_type").as_str() {
                "urn:ietf:params:oauth:grant-type:device_code" => {
                    assert_eq!(field("device_code"), "dev-code-1");
                    self.polls.push(Instant::now());
                    match (field("client_id").as_str(), self.polls.len()) {
                        ("deny-me", _) => json_error("access_denied"),
                        ("too-late", _) => json_error("expired_token"),
                        (_, 1 | 2) => json_error("authorization_pending"),
                        (_, 3) => json_error("slow_down"),
                        _ => self.issue(),
                    }
                }
                "refresh_token" => {
                    if self.current.as_deref() == Some(field("refresh_token").as_str()) {
                        self.issue()
                    } else {
                        self.reused += 1;
                        json_error("invalid_grant")
                    }
                }
                other => panic!("unexpected grant_type {other:?}"),
            },
            other => panic!("unexpected request {other:?}"),
        }
    }
}

fn oauth_server() -> (Server, Arc<Mutex<Oauth>>) {
    let state = Arc::new(Mutex::new(Oauth::default()));
    let shared = state.clone();
    let server = Server::start(move |request| {
        let (reply, delay, signal) = {
            let mut oauth = shared.lock().unwrap();
            (
                oauth.handle(request),
                oauth.refresh_delay,
                oauth.signal_after_refresh.take(),
            )
        };
        if request.body_text().contains("grant_type=refresh_token") {
            std::thread::sleep(delay);
            if let Some((pid, signal, after)) = signal {
                // The reply is written as this returns: the signal comes
                // while the helper reads it or stores what it carries.
                std::thread::spawn(move || {
                    std::thread::sleep(after);
                    let pid = libc::pid_t::try_from(pid).unwrap();
                    // SAFETY: kill has no memory preconditions.
                    unsafe { libc::kill(pid, signal) };
                });
            }
        }
        reply
    });
    (server, state)
}

fn device_manifest(server: &Server, client_id: &str, extra: &str) -> TempManifest {
    let origin = server.origin();
    manifest(
        "oauth-device-code",
        OAUTH_DEVICE_CODE,
        &format!(
            "[network]\nallow = [{origin:?}]\n\
             [config]\nDEVICE_URL = \"{origin}/device\"\nTOKEN_URL = \"{origin}/token\"\n\
             CLIENT_ID = {client_id:?}\n\
             [limits]\nlogin_timeout = \"60s\"\n{extra}"
        ),
    )
}

#[test]
fn login_once_then_runs_rotate_the_refresh_token_in_the_keystore() {
    let Some(keyring) = Keyring::start() else {
        return;
    };
    let (server, oauth) = oauth_server();
    let m = device_manifest(&server, "credbox-cli", "");
    let cache = Cache::warmed(m.arg());
    let env = keyring.env();

    let login = cache.run(&["login", m.arg()], &env);
    assert_eq!(login.code, 0, "{login:#?}");
    assert_eq!(login.stdout, "");
    assert_eq!(
        login.stderr,
        "credbox: oauth-device-code says: To log in, open https://example.test/activate and enter the code WDJB-MJHT\n\
         credbox: oauth-device-code: logged in; keeps refresh_token in the OS keystore\n"
    );
    {
        // Polled at the interval, 5 s slower after `slow_down`.
        let oauth = oauth.lock().unwrap();
        assert_eq!(oauth.polls.len(), 4);
        let gaps: Vec<Duration> = oauth.polls.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps[0] >= Duration::from_millis(950), "{gaps:?}");
        assert!(gaps[1] >= Duration::from_millis(950), "{gaps:?}");
        assert!(gaps[2] >= Duration::from_millis(5950), "{gaps:?}");
    }
    let service = service_of(&m);
    let stored = |keyring: &Keyring| keyring.lookup(&service, "refresh_token");
    assert_eq!(
        stored(&keyring).as_deref(),
        Some(&*format!("rt-1-{RT_MARK}-1001"))
    );

    // Each run trades the refresh token for an access token, and keeps the
    // rotated refresh token.
    for n in 2..=5 {
        let run = cache.run(&["run", "--no-cache", m.arg()], &env);
        assert_eq!(
            run.ok(),
            format!("{{\"Authorization\":\"Bearer at-{n}\"}}\n")
        );
        assert_no_secret("run", &[RT_MARK], &run.streams(), None);
        assert_eq!(
            stored(&keyring).as_deref(),
            Some(&*format!("rt-{n}-{RT_MARK}-{}", 1000 + n))
        );
    }
    // Cached for its expires_in: the second run does not reach the server.
    for _ in 0..2 {
        let run = cache.run(&["run", m.arg()], &env);
        assert_eq!(run.ok(), "{\"Authorization\":\"Bearer at-6\"}\n");
    }
    assert_eq!(oauth.lock().unwrap().issued, 6);
    assert_eq!(oauth.lock().unwrap().reused, 0);
    let status = cache.run(&["status"], &env);
    assert_no_secret(
        "status, cache",
        &[RT_MARK],
        &status.streams(),
        Some(&cache.path()),
    );

    // Two runs at once (two MCP servers asking): the server rotates the
    // token at once but answers slowly, so a run that read the token
    // before the other stored its successor would spend it twice. credbox
    // serializes the runs of one helper that use its state: both succeed.
    oauth.lock().unwrap().refresh_delay = Duration::from_millis(700);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            cache
                .command(&["run", "--no-cache", m.arg()], &env)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut tokens: Vec<String> = runs
        .into_iter()
        .map(|run| {
            let out = run.wait_with_output().unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    tokens.sort();
    assert_eq!(
        tokens,
        [
            "{\"Authorization\":\"Bearer at-7\"}\n",
            "{\"Authorization\":\"Bearer at-8\"}\n"
        ]
    );
    assert_eq!(oauth.lock().unwrap().reused, 0);
    oauth.lock().unwrap().refresh_delay = Duration::ZERO;

    // A refresh token spent before (stolen, or restored from a backup) is
    // refused: the helper forgets it and credbox says to log in again.
    let mut put_back = keyring
        .command("secret-tool")
        .args([
            "store",
            "--label=old",
            "service",
            &service,
            "username",
            "refresh_token",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let spent = format!("rt-3-{RT_MARK}-1003");
    put_back
        .stdin
        .take()
        .unwrap()
        .write_all(spent.as_bytes())
        .unwrap();
    assert!(put_back.wait().unwrap().success());
    let run = cache.run(&["run", "--no-cache", m.arg()], &env);
    let line = run.fails(
        3,
        "misconfigured: the refresh token was refused (invalid_grant): log in again",
    );
    assert!(
        line.ends_with(&format!("(run: credbox login {})", m.path.display())),
        "{line}"
    );
    assert_eq!(oauth.lock().unwrap().reused, 1);
    assert_eq!(stored(&keyring), None);

    let logout = cache.run(&["logout", m.arg()], &env);
    assert_eq!(logout.code, 0, "{logout:#?}");
    assert_eq!(keyring.lookup(&service, "credbox:names"), None);
    cache.run(&["run", m.arg()], &env).fails(3, "not logged in");
    server.stop();
}

#[test]
fn a_refused_or_expired_device_code_stores_nothing() {
    let (server, _oauth) = oauth_server();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("s");
    let env = [("CREDBOX_STATE_DIR", state_dir.to_str().unwrap())];
    let file = "[state]\nstore = \"file\"\n";
    for (client, code, message) in [
        ("deny-me", 4, "denied: the login was refused"),
        (
            "too-late",
            4,
            "denied: the code expired before it was approved",
        ),
    ] {
        let m = device_manifest(&server, client, file);
        let cache = Cache::warmed(m.arg());
        let login = cache.run(&["login", m.arg()], &env);
        assert_eq!(login.code, code, "{login:#?}");
        let last = login.stderr.lines().last().unwrap();
        assert!(last.contains(message), "{login:#?}");
        let files = state_dir.join("files");
        let kept = std::fs::read_dir(&files)
            .map(|d| {
                d.flatten()
                    .map(|h| std::fs::read_dir(h.path()).unwrap().count())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(kept, 0, "nothing stored for {client}");
        // And `run` never prompts: no login, no state, a hint instead.
        cache.run(&["run", m.arg()], &env).fails(3, "not logged in");
    }
    server.stop();
}

#[test]
fn a_signal_while_the_refresh_token_rotates_ends_credbox_after_the_new_one_is_kept() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};

    let (server, oauth) = oauth_server();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("s");
    let env = [("CREDBOX_STATE_DIR", state_dir.to_str().unwrap())];
    let m = device_manifest(&server, "credbox-cli", "[state]\nstore = \"file\"\n");
    let cache = Cache::warmed(m.arg());
    let login = cache.run(&["login", m.arg()], &env);
    assert_eq!(login.code, 0, "{login:#?}");

    // SIGTERM (a client's timeout), SIGINT (Ctrl-C), SIGHUP (a closed
    // terminal) 0 to 4 ms after the token endpoint rotated the token:
    // without the hold, most of these ended credbox before it wrote the new
    // token, and the next run was refused (invalid_grant).
    let signals = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];
    // The login's 5 requests, the tries and a last run stay within the 16
    // connections a test server accepts.
    let tries = 9;
    let mut killed = 0;
    for i in 0..tries {
        let signal = signals[i % signals.len()];
        let mut command = cache.command(&["run", "--no-cache", m.arg()], &env);
        // As from a terminal: a test started in the background may have
        // SIGINT ignored, which credbox (rightly) keeps.
        // SAFETY: signal is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let run = command.spawn().unwrap();
        let after = Duration::from_micros(u64::try_from(i).unwrap() * 4000 / tries as u64);
        oauth.lock().unwrap().signal_after_refresh = Some((run.id(), signal, after));
        let out = run.wait_with_output().unwrap();
        let status = out.status;
        // The signal is acted on, not swallowed: credbox ends by it, unless
        // it had finished before the signal came.
        assert!(
            status.signal() == Some(signal) || status.success(),
            "try {i}: {out:?}"
        );
        killed += usize::from(status.signal().is_some());
    }
    // A run that finished before its signal came proves nothing, and on a
    // loaded machine (the suite's other tests on both cores) the signal
    // comes later: a third of the tries must be signalled mid-rotation.
    // Without the hold, 17 of 20 such runs lost the login, so three that
    // all keep it are no accident.
    assert!(
        killed >= tries / 3,
        "only {killed} of {tries} runs were signalled in time"
    );
    assert_eq!(oauth.lock().unwrap().issued, 1 + tries);
    let run = cache.run(&["run", "--no-cache", m.arg()], &env);
    assert_eq!(
        run.ok(),
        format!("{{\"Authorization\":\"Bearer at-{}\"}}\n", tries + 2)
    );
    assert_eq!(oauth.lock().unwrap().reused, 0, "a rotated token was lost");
    server.stop();
}
