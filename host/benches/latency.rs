//! Latency and peak memory of one credbox call, against baselines measured
//! in the same run.
//!
//! ```console
//! $ cargo bench -p credbox --bench latency
//! ```
//!
//! Every scenario starts a fresh process, as Claude Code does, and is
//! timed from spawn to exit; peak memory is the child's maximum resident
//! set (from `wait4`). Each sample of a scenario follows one of `cat`, and
//! its `× cat` is against the median of those: the floor measured in the
//! same seconds, not minutes earlier. Scenarios:
//!
//! - `cat`: `cat` of a file holding the credential: the floor.
//! - `bash cached helper`: the common shell pattern (check the file's age,
//!   then `cat` it).
//! - `credbox hit`: a fresh credential in credbox's cache.
//! - `credbox jwt hit`: the same for the `jwt` sample (its own manifest,
//!   as a bearer JWT: `AUDIENCE` instead of `TOKEN_URL`), whose
//!   `[keys.assertion]` is an ES256 key file credbox holds: what a key
//!   costs a cached answer.
//! - `credbox refresh-window hit`: the cached credential is past its
//!   refresh time, still valid, and its refresh is running (the benchmark
//!   holds the entry's lock as the detached refresh would): what every
//!   caller but the one that starts the refresh sees.
//! - `credbox miss, precompiled`: `--no-cache`, so the helper runs, from
//!   the compiled-component cache (no network, a static guest).
//! - `credbox first call`: empty cache directory: compile, run, store.
//!
//! - `bash+openssl hmac script`: the authentication guide's HMAC helper
//!   (`date`, `openssl dgst -hmac`, `echo` of the JSON), every call.
//! - `credbox hmac hit` / `credbox hmac miss, precompiled`: the
//!   `hmac-signature` sample, its key held by credbox: from the cache, and
//!   run (`--no-cache`), signing through the host.
//! - `credbox proxy-authorization hit`, `credbox keyring hit`, `credbox
//!   gcp hit`: the other front ends, each a cache hit of `env-bearer`.
//! - `credbox python hit` / `credbox javascript hit`: a cache hit of the
//!   `env-bearer` sample in Python and in JavaScript. Each run builds them
//!   afresh, as a user would: `credbox new --lang python` (`javascript`)
//!   writes the project (the sample's sources, credbox's library and WIT),
//!   the command its README gives builds it with componentize-py
//!   (componentize-js) and `credbox build` compiles it (a minute or two in
//!   all; never a stale component from an earlier run). A missing tool
//!   stops the bench, naming it and how to install it.
//!
//! Standard: every cache hit stays within 1.3× `cat`; the rows that do
//! not are listed after the table.
//!
//! Then 256 callers waiting on an expired entry of a helper whose run
//! takes 300 ms (the `unique` test guest, sleeping): the benchmark holds
//! the entry's lock while it starts them (starting 256 processes takes
//! about as long as the run), then lets go; one caller runs the helper,
//! the others wait for its answer. The slowest caller, timed from then to
//! its exit, as a multiple of one caller alone through the same gate; and
//! how far apart the callers exit (waiters answered together exit
//! together). Each round checks that the helper ran once.
//!
//! Then the cost of one signature with a key credbox holds
//! (`KeysPolicy::sign`, in this process: what a helper's `keys.sign` call
//! costs the host, less the copy across the component boundary), for each
//! algorithm, as a fraction of `credbox hit`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BASH_PATTERN: &str = r#"CACHE_FILE="$1"; CACHE_MAX_AGE=240
if [ -f "$CACHE_FILE" ]; then
  CACHE_AGE=$(($(date +%s) - $(stat -c %Y "$CACHE_FILE")))
  if [ "$CACHE_AGE" -lt "$CACHE_MAX_AGE" ]; then cat "$CACHE_FILE"; exit 0; fi
fi
exit 1"#;

struct Sample {
    wall: Duration,
    max_rss_kib: i64,
}

/// Spawns `cmd`, waits with `wait4`, and checks it exited 0.
// The child is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> Sample {
    let start = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's; status and usage are valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed with status {status}"
    );
    Sample {
        wall,
        max_rss_kib: usage.ru_maxrss,
    }
}

struct Row {
    name: &'static str,
    median: Duration,
    p90: Duration,
    max_rss_kib: i64,
    /// The median of the `cat` samples taken between this row's samples.
    cat: Duration,
}

impl Row {
    /// This row's median as a multiple of its paired `cat`.
    fn ratio(&self) -> f64 {
        self.median.as_secs_f64() / self.cat.as_secs_f64()
    }
}

/// The file `cat` reads: the credential of the floor (set once by `main`).
static CAT_FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn cat() -> Command {
    let mut cmd = Command::new("cat");
    cmd.arg(CAT_FILE.get().expect("CAT_FILE is set first"));
    cmd
}

/// Times `iterations` runs of `make`, each after one run of `cat`: the
/// ratio is against `cat` measured in the same minutes (a row timed
/// minutes after a single `cat` row would carry the machine's drift).
fn run(name: &'static str, iterations: usize, mut make: impl FnMut() -> Command) -> Row {
    // One untimed warm-up (page cache, a first compile where it applies).
    measure(&mut make());
    let mut cats = Vec::with_capacity(iterations);
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        cats.push(measure(&mut cat()).wall);
        samples.push(measure(&mut make()));
    }
    cats.sort();
    samples.sort_by_key(|s| s.wall);
    Row {
        name,
        median: samples[samples.len() / 2].wall,
        p90: samples[samples.len() * 9 / 10].wall,
        max_rss_kib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        cat: cats[cats.len() / 2],
    }
}

/// The guide's HMAC helper in bash: a timestamp, its HMAC-SHA256 by
/// openssl, and the JSON headers.
const BASH_OPENSSL_HMAC: &str = r#"TIMESTAMP=$(date +%s)
SIGNATURE=$(echo -n "$TIMESTAMP" | openssl dgst -sha256 -hmac "$SECRET_KEY" | cut -d' ' -f2)
echo "{\"X-Timestamp\": \"$TIMESTAMP\", \"X-Signature\": \"$SIGNATURE\", \"X-API-Key\": \"$API_KEY\"}""#;

/// The HMAC sample's secret and API key, the same for bash and credbox.
const HMAC_ENV: [(&str, &str); 3] = [
    ("SECRET_KEY", "bench-hmac-secret-0123456789"),
    ("API_SIGNING_SECRET", "bench-hmac-secret-0123456789"),
    ("API_KEY", "bench-api-key"),
];

fn credbox(cache: &Path, args: &[&OsStr]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credbox"));
    cmd.env_clear()
        .env("CREDBOX_CACHE_DIR", cache)
        .env("API_TOKEN", "bench-token-0123456789")
        .args(args);
    cmd
}

/// Sets the creation, refresh and expiry times of the one cached
/// credential in `cache` to `times(now)`; returns the entry's path.
fn retime(cache: &Path, times: impl FnOnce(u64) -> (u64, u64, u64)) -> std::path::PathBuf {
    use credbox::cache::{CacheKey, Entry, now_ms};
    let dir = cache.join("credentials");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a cached credential");
    let key = CacheKey::parse(path.file_stem().unwrap().to_str().unwrap()).unwrap();
    let mut entry = Entry::decode(&std::fs::read(&path).unwrap(), &key).unwrap();
    let stored = entry.credential.as_mut().unwrap();
    (stored.created_ms, stored.refresh_ms, stored.expires_ms) = times(now_ms());
    std::fs::write(&path, entry.encode(&key)).unwrap();
    path
}

/// Moves the one cached credential past its expiry (by a second) and
/// takes its lock, as a caller running the helper would.
fn expire(cache: &Path) -> std::fs::File {
    hold_lock(&retime(cache, |now| {
        (now - 300_000, now - 61_000, now - 1_000)
    }))
}

/// Moves the one cached credential into its refresh window (refresh time
/// passed, 50 s left) and takes its lock, as a running refresh holds it.
fn into_refresh_window(cache: &Path) -> std::fs::File {
    hold_lock(&retime(cache, |now| {
        (now - 250_000, now - 10_000, now + 50_000)
    }))
}

/// Takes the lock of the entry at `entry`.
fn hold_lock(entry: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(entry.with_extension("lock"))
        .unwrap();
    lock.lock().unwrap();
    lock
}

/// Starts `n` processes of `make`, waits `settle` for them to start up,
/// then lets go of `gate` (a lock they wait for) and waits for them all:
/// when it let go, and when each exited. Each must exit 0, and none before
/// the gate opened.
fn through_gate(
    n: usize,
    mut make: impl FnMut() -> Command,
    gate: std::fs::File,
    settle: Duration,
) -> (Instant, Vec<Instant>) {
    let mut make = || make().stdin(Stdio::null()).stdout(Stdio::null()).spawn();
    // Before the reaper waits (with no child, its wait ends at once).
    let first = make().expect("spawn");
    let reaper = std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let mut status = 0;
                // SAFETY: status is a valid pointer. Every child of this
                // process is one of the `n`, and none ends before the gate
                // opens, once all are started: the wait always finds one.
                let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
                assert!(pid > 0, "waitpid: {}", std::io::Error::last_os_error());
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "a caller failed with status {status}"
                );
                Instant::now()
            })
            .collect::<Vec<_>>()
    });
    let rest: Vec<_> = (1..n).map(|_| make().expect("spawn")).collect();
    std::thread::sleep(settle);
    let open = Instant::now();
    drop(gate);
    let exits = reaper.join().expect("the reaper");
    drop((first, rest));
    assert!(exits.iter().all(|&e| e > open), "a caller did not wait");
    (open, exits)
}

/// One signature's cost in this process: the median and p90 over
/// `iterations` batches of 100 calls (after a first, untimed call, which
/// derives the signing key).
fn sign_cost(
    keys: &credbox::policy::keys::KeysPolicy,
    name: &str,
    algorithm: credbox::policy::keys::Algorithm,
    data: &[u8],
    iterations: usize,
) -> (Duration, Duration) {
    keys.sign(name, algorithm, data).expect("the key signs");
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..100 {
                std::hint::black_box(
                    keys.sign(name, algorithm, std::hint::black_box(data))
                        .unwrap(),
                );
            }
            start.elapsed() / 100
        })
        .collect();
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

/// The test keys of `host/testdata/keys`, copied to `dir` with mode 0600,
/// as a `[keys]` policy.
fn test_keys(dir: &Path) -> credbox::policy::keys::KeysPolicy {
    use std::os::unix::fs::PermissionsExt;
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
    for name in ["hmac.key", "es256.pem", "ed25519.pem"] {
        std::fs::copy(testdata.join(name), dir.join(name)).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let manifest = credbox::manifest::parse(
        "component = \"x.wasm\"\n\
         [keys.hmac]\nalgorithm = \"hmac-sha256\"\nfile = \"hmac.key\"\n\
         [keys.es256]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\n\
         [keys.ed25519]\nalgorithm = \"ed25519\"\nfile = \"ed25519.pem\"\n",
    )
    .unwrap();
    credbox::policy::keys::KeysPolicy::from_config(&manifest.keys, dir, |_| None).unwrap()
}

/// The `jwt` sample's own manifest, written to `dir` as `jwt.toml` with
/// the test ES256 key beside it (mode 0600) and the built component: a
/// bearer JWT for `AUDIENCE` (no `TOKEN_URL`, so no network).
fn jwt_manifest(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("examples/jwt/credbox.toml")).unwrap();
    let token_url = "TOKEN_URL = \"https://auth.example.com/oauth/token\"";
    assert!(text.contains(token_url), "the jwt sample lacks {token_url}");
    let body: String = text
        .replace(token_url, "AUDIENCE = \"https://mcp.example.com\"")
        .lines()
        .filter(|l| !l.trim_start().starts_with("component"))
        .map(|l| format!("{l}\n"))
        .collect();
    let manifest = dir.join("jwt.toml");
    std::fs::write(
        &manifest,
        format!("component = {:?}\n{body}", credbox_test_artifacts::JWT),
    )
    .unwrap();
    let key = dir.join("assertion.pem");
    std::fs::copy(root.join("host/testdata/keys/es256.pem"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    manifest
}

/// The `env-bearer` sample in Python or JavaScript, made in `dir` by
/// `credbox new --lang LANG`, built with the command its README gives, and
/// compiled into `cache` by `credbox build`. Returns its manifest. Stops
/// the bench, saying what to install, when the tool is missing.
fn script_helper(lang: &str, dir: &Path, cache: &Path) -> std::path::PathBuf {
    use credbox::scaffold::{JAVASCRIPT, Lang, PYTHON};
    let tool = if lang == "python" {
        &PYTHON
    } else {
        &JAVASCRIPT
    };
    let program = tool.build.split(' ').next().unwrap();
    let version = Command::new(program).arg("--version").output();
    let version = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => {
            eprintln!(
                "latency: the {} rows need {program} on PATH: {}",
                tool.language, tool.install
            );
            std::process::exit(1);
        }
    };
    eprintln!(
        "building the {} env-bearer sample with {program} ({version})",
        tool.language
    );
    let project = dir.join(format!("{lang}-env-bearer"));
    let lang = Lang::parse(lang).unwrap();
    credbox::scaffold::new("bench-env-bearer", lang, Some("env-bearer"), Some(&project))
        .expect("credbox new");
    let mut args = tool.build.split(' ');
    let built = Command::new(args.next().unwrap())
        .args(args)
        .current_dir(&project)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("the build runs");
    assert!(
        built.status.success(),
        "{} failed in {}:\n{}",
        tool.build,
        project.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    let manifest = project.join("credbox.toml");
    let mut compile = credbox(cache, &[OsStr::new("build"), manifest.as_os_str()]);
    let compiled = compile.output().expect("credbox build runs");
    assert!(
        compiled.status.success(),
        "credbox build {}:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&compiled.stderr)
    );
    manifest
}

fn main() {
    let work = tempfile::tempdir().expect("tempdir");
    // The Python and JavaScript helpers first: building them takes the
    // longest, and a missing tool is best known before the other rows.
    let python_cache = work.path().join("python-cache");
    let python = script_helper("python", work.path(), &python_cache);
    let javascript_cache = work.path().join("javascript-cache");
    let javascript = script_helper("javascript", work.path(), &javascript_cache);
    let credential = work.path().join("credential");
    std::fs::write(
        &credential,
        "{\"Authorization\":\"Bearer bench-token-0123456789\"}\n",
    )
    .unwrap();
    CAT_FILE.set(credential.clone()).unwrap();
    let manifest = work.path().join("credbox.toml");
    std::fs::write(
        &manifest,
        format!(
            "component = {:?}\n[env]\nallow = [\"API_TOKEN\"]\n",
            credbox_test_artifacts::ENV_BEARER
        ),
    )
    .unwrap();
    let cache = work.path().join("cache");
    let m = manifest.as_os_str();
    let jwt = jwt_manifest(work.path());
    let j = jwt.as_os_str();
    // A cache of its own: the refresh-window scenario expects one entry.
    let jwt_cache = work.path().join("jwt-cache");
    let mut fresh = 0;

    let rows = vec![
        run("cat", 300, cat),
        run("bash cached helper", 300, || {
            let mut cmd = Command::new("bash");
            cmd.arg("-c").arg(BASH_PATTERN).arg("bash").arg(&credential);
            cmd
        }),
        run("credbox hit", 300, || {
            credbox(&cache, &[OsStr::new("run"), m])
        }),
        run("credbox jwt hit", 300, || {
            credbox(&jwt_cache, &[OsStr::new("run"), j])
        }),
        {
            // Hold the lock until the scenario is over.
            let _refreshing = into_refresh_window(&cache);
            run("credbox refresh-window hit", 300, || {
                credbox(&cache, &[OsStr::new("run"), m])
            })
        },
        run("credbox miss, precompiled", 100, || {
            credbox(&cache, &[OsStr::new("run"), OsStr::new("--no-cache"), m])
        }),
        run("credbox first call", 10, || {
            fresh += 1;
            credbox(
                &work.path().join(format!("fresh-{fresh}")),
                &[OsStr::new("run"), m],
            )
        }),
    ];

    // The HMAC pattern: the guide's script, and the sample from the cache
    // and run, its key held by credbox.
    let hmac_manifest = work.path().join("hmac.toml");
    std::fs::write(
        &hmac_manifest,
        format!(
            "component = {:?}\n[env]\nallow = [\"API_KEY\"]\n\
             [keys.signing]\nalgorithm = \"hmac-sha256\"\nenv = \"API_SIGNING_SECRET\"\n",
            credbox_test_artifacts::HMAC_SIGNATURE
        ),
    )
    .unwrap();
    let h = hmac_manifest.as_os_str();
    let hmac_cache = work.path().join("hmac-cache");
    let with_hmac_env = |mut cmd: Command| {
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(HMAC_ENV);
        cmd
    };
    measure(&mut with_hmac_env(credbox(
        &hmac_cache,
        &[OsStr::new("build"), h],
    )));
    let mut rows = rows;
    rows.push(run("bash+openssl hmac script", 100, || {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(BASH_OPENSSL_HMAC);
        with_hmac_env(cmd)
    }));
    rows.push(run("credbox hmac hit", 300, || {
        with_hmac_env(credbox(&hmac_cache, &[OsStr::new("run"), h]))
    }));
    rows.push(run("credbox hmac miss, precompiled", 100, || {
        with_hmac_env(credbox(
            &hmac_cache,
            &[OsStr::new("run"), OsStr::new("--no-cache"), h],
        ))
    }));

    // The front ends added for Claude Code's proxy hook, pip and uv, and
    // Google Cloud: each a cache hit of the env-bearer sample (for gcp, its
    // token shaped as the JWT the format asks for).
    rows.push(run("credbox proxy-authorization hit", 300, || {
        credbox(
            &cache,
            &[
                OsStr::new("run"),
                OsStr::new("--format"),
                OsStr::new("proxy-authorization"),
                m,
            ],
        )
    }));
    rows.push(run("credbox keyring hit", 300, || {
        let args = [
            "keyring",
            "--manifest",
            "",
            "get",
            "https://pypi.example/simple/",
            "me",
        ];
        let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        args[2] = m;
        credbox(&cache, &args)
    }));
    rows.push(run("credbox gcp hit", 300, || {
        let mut cmd = credbox(&cache, &[OsStr::new("gcp"), m]);
        cmd.env(
            "API_TOKEN",
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl",
        )
        .env(
            "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE",
            "//iam.googleapis.com/bench",
        )
        .env(
            "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE",
            "urn:ietf:params:oauth:token-type:jwt",
        );
        cmd
    }));

    rows.push(run("credbox python hit", 300, || {
        credbox(&python_cache, &[OsStr::new("run"), python.as_os_str()])
    }));
    rows.push(run("credbox javascript hit", 300, || {
        credbox(
            &javascript_cache,
            &[OsStr::new("run"), javascript.as_os_str()],
        )
    }));

    println!(
        "{:<32} {:>10} {:>10} {:>8} {:>12}",
        "scenario", "median", "p90", "× cat", "peak RSS"
    );
    for row in &rows {
        println!(
            "{:<32} {:>8.2}ms {:>8.2}ms {:>7.2}× {:>8.1} MiB",
            row.name,
            row.median.as_secs_f64() * 1e3,
            row.p90.as_secs_f64() * 1e3,
            row.ratio(),
            row.max_rss_kib as f64 / 1024.0
        );
    }

    let over: Vec<String> = rows
        .iter()
        .filter(|r| r.name.ends_with(" hit") && r.ratio() > 1.3)
        .map(|r| format!("{} ({:.2}×)", r.name, r.ratio()))
        .collect();
    println!(
        "\ncache hits over 1.3× cat: {}",
        if over.is_empty() {
            "none".to_owned()
        } else {
            over.join(", ")
        }
    );

    let median = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(|r| r.median.as_secs_f64())
            .unwrap()
    };
    let script = median("bash+openssl hmac script");
    println!(
        "\nhmac pattern, against the guide's bash+openssl script: credbox miss {:.2}×, credbox hit {:.2}×",
        median("credbox hmac miss, precompiled") / script,
        median("credbox hmac hit") / script
    );

    waiters_at_expiry(work.path());

    use credbox::policy::keys::Algorithm;
    let hit = median("credbox hit");
    let keys = test_keys(work.path());
    // What the samples sign: a timestamp (HMAC), a JWT's header and claims.
    let timestamp = b"1764167213";
    let jwt_input = [b'e'; 300];
    println!(
        "\n{:<32} {:>10} {:>10} {:>14}",
        "sign call (in the host)", "median", "p90", "× credbox hit"
    );
    for (name, algorithm, data) in [
        ("hmac", Algorithm::HmacSha256, &timestamp[..]),
        ("es256", Algorithm::Es256, &jwt_input[..]),
        ("ed25519", Algorithm::Ed25519, &jwt_input[..]),
    ] {
        let (median, p90) = sign_cost(&keys, name, algorithm, data, 200);
        println!(
            "{:<32} {:>8.1}µs {:>8.1}µs {:>13.4}×",
            format!("{algorithm} ({} bytes)", data.len()),
            median.as_secs_f64() * 1e6,
            p90.as_secs_f64() * 1e6,
            median.as_secs_f64() / hit
        );
    }
}

/// How long one run of the helper in [`waiters_at_expiry`] takes: it
/// sleeps this long (the `unique` guest's `SLEEP_MS`).
const RUN_MS: u64 = 300;

/// How many callers [`waiters_at_expiry`] starts together.
const WAITERS: usize = 256;

/// How many times [`waiters_at_expiry`] starts them.
const WAITER_ROUNDS: usize = 5;

/// How long the callers of [`waiters_at_expiry`] are given to start up
/// and reach the entry's lock before it is let go.
const SETTLE: Duration = Duration::from_secs(1);

/// [`WAITERS`] `credbox run` callers on an expired entry of a helper
/// whose run takes [`RUN_MS`]: the benchmark holds the entry's lock while
/// it starts them, so that all of them are waiting, then lets go; one
/// takes the lock and runs the helper, the others wait for its answer.
/// From the lock let go: the last caller's exit, against that of one
/// caller alone through the same gate; and the spread of the exits, from
/// the first (the run is done) to the last. Each round checks that the
/// helper ran once.
fn waiters_at_expiry(work: &Path) {
    let manifest = work.join("unique.toml");
    std::fs::write(
        &manifest,
        format!(
            "component = {:?}\n[config]\nSLEEP_MS = \"{RUN_MS}\"\n",
            credbox_test_artifacts::GUEST_UNIQUE
        ),
    )
    .unwrap();
    let cache = work.join("unique-cache");
    let args = [OsStr::new("run"), OsStr::new("-v"), manifest.as_os_str()];
    // Compiles the component and stores a first credential.
    measure(&mut credbox(&cache, &args));
    let log_path = work.join("waiters.log");
    // The slowest caller, the first and the spread of the exits, of each
    // round.
    let rounds = |callers: usize, rounds: usize| {
        let mut rounds: Vec<(Duration, Duration, Duration)> = (0..rounds)
            .map(|_| {
                let gate = expire(&cache);
                let log = std::fs::File::create(&log_path).unwrap();
                let (open, exits) = through_gate(
                    callers,
                    || {
                        let mut cmd = credbox(&cache, &args);
                        cmd.stderr(log.try_clone().unwrap());
                        cmd
                    },
                    gate,
                    SETTLE,
                );
                let runs = std::fs::read_to_string(&log_path)
                    .unwrap()
                    .matches("info: fetching")
                    .count();
                assert_eq!(runs, 1, "the helper ran {runs} times for {callers} callers");
                let (first, last) = (exits.iter().min().unwrap(), exits.iter().max().unwrap());
                (*last - open, *first - open, *last - *first)
            })
            .collect();
        rounds.sort();
        rounds
    };
    let one = rounds(1, 7);
    let one = one[one.len() / 2].0;
    let many = rounds(WAITERS, WAITER_ROUNDS);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n{WAITERS} callers waiting on one run of {RUN_MS} ms at expiry ({WAITER_ROUNDS} rounds); \
         one caller alone {:.1}ms",
        ms(one)
    );
    println!(
        "{:<10} {:>12} {:>14} {:>12} {:>14}",
        "round", "slowest", "× one caller", "first", "exits spread"
    );
    for (name, (slowest, first, spread)) in [
        ("median", many[many.len() / 2]),
        ("worst", many[many.len() - 1]),
    ] {
        println!(
            "{name:<10} {:>10.1}ms {:>13.2}× {:>10.1}ms {:>12.1}ms",
            ms(slowest),
            slowest.as_secs_f64() / one.as_secs_f64(),
            ms(first),
            ms(spread),
        );
    }
}
