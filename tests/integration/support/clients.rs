//! Real clients for the protocol tests (`git`, `skopeo`, `aws`, `kubectl`,
//! `pip`, `uv`, the Secret Service tools), found on `PATH`, and a bounded
//! way to run them. Outside CI a missing client skips its test with a
//! note; under `CI=true` it fails the test, naming the package to install.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a client runs in a test before it and everything it started
/// are killed.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// Whether the tests run under CI, where a missing client is a failure.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The path of `program`, from `PATH`. When it is missing: under
/// `CI=true`, a panic naming `package` (how to install it); otherwise
/// `None`, after a note on stderr.
pub fn client(program: &str, package: &str) -> Option<PathBuf> {
    match on_path(program) {
        Some(found) => Some(found),
        None => missing(&format!("`{program}` is not on PATH"), package),
    }
}

/// [`client`], if its `--version` runs and `version_ok` accepts what it
/// prints; a client too old to test counts as missing.
pub fn require(program: &str, package: &str, version_ok: impl Fn(&str) -> bool) -> Option<PathBuf> {
    let path = client(program, package)?;
    let why = match Command::new(&path).arg("--version").output() {
        Ok(out) if version_ok(&String::from_utf8_lossy(&out.stdout)) => return Some(path),
        Ok(out) => format!(
            "`{program}` is too old: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        Err(e) => format!("`{program}` does not run: {e}"),
    };
    missing(&why, package)
}

/// A client that cannot be used, for `why`: a failure under CI, else a
/// note and `None` (the test skips).
pub fn missing(why: &str, package: &str) -> Option<PathBuf> {
    if on_ci() {
        panic!("{why} (install {package}); CI=true makes a missing client a failure");
    }
    // Straight to stderr: the harness captures a passing test's output.
    let _ = writeln!(std::io::stderr(), "skipped: {why} (install {package})");
    None
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What a bounded process run did.
#[derive(Debug)]
pub struct Finished {
    /// The exit code; `None` when killed (at the deadline, or by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Whether it was killed at the deadline.
    pub timed_out: bool,
}

/// Runs `cmd` with no stdin and its output captured, in a process group
/// of its own; at `deadline` kills the group (the process and anything it
/// started).
pub fn run(mut cmd: Command, deadline: Duration) -> std::io::Result<Finished> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() >= deadline {
            timed_out = true;
            kill_group(child.id());
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    // Anything the process started and left behind goes too, so that the
    // pipes close and the readers finish.
    kill_group(child.id());
    Ok(Finished {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed,
        timed_out,
    })
}

/// Kills the process group `pgid` (a no-op when it is gone).
fn kill_group(pgid: u32) {
    let pgid = libc::pid_t::try_from(pgid).expect("a pid fits pid_t");
    // SAFETY: kill(2) with a negative pid signals that process group; no
    // memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
