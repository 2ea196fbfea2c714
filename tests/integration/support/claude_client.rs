//! The real Claude Code client, for the end-to-end tests in `claude_code`.
//!
//! [`claude`] installs `@anthropic-ai/claude-code` at [`VERSION`] from the
//! npm registry into a folder beside the test build (`target/release/`)
//! on first use, and reuses it afterwards. A file lock serialises installs
//! between processes, a `OnceLock` between the tests of this one.
//!
//! Installs and runs go through [`run`], bounded by a deadline; the tests
//! that run the client take [`ONE_AT_A_TIME`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::clients::{on_ci, run};

/// The pinned client version.
pub const VERSION: &str = "2.1.328";
/// The npm package.
const PACKAGE: &str = "@anthropic-ai/claude-code";
/// Longest wait for `npm install` (about 10 s for the ~130 MB download here).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for `claude --version`.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// One client at a time: each is a large process, and a test of a failure
/// measures time.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The path of a `claude` executable at [`VERSION`], installing it first if
/// need be. `None` when it cannot be had (no npm, no registry) outside CI,
/// after a note on stderr; under `CI=true` that is a test failure.
pub fn claude() -> Option<PathBuf> {
    static CLIENT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match CLIENT.get_or_init(install) {
        Ok(path) => Some(path.clone()),
        Err(why) if on_ci() => panic!(
            "Claude Code {VERSION} is needed for this test and could not be installed: {why} \
             (install Node.js and npm, or check access to the npm registry)"
        ),
        Err(why) => {
            // Straight to stderr: the test harness captures `eprintln!` of
            // a passing test, and this note must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "note: skipping a Claude Code end-to-end test: Claude Code {VERSION} could not be \
                 installed: {why} (CI=true makes this a failure)"
            );
            None
        }
    }
}

/// The folder the client is installed in: beside the `credbox` binary
/// under test, so `cargo clean` removes it and each checkout has its own.
fn install_dir() -> PathBuf {
    let credbox = Path::new(env!("CARGO_BIN_EXE_credbox"));
    credbox
        .parent()
        .expect("the credbox binary is in a folder")
        .join(format!("claude-code-{VERSION}"))
}

/// Installs the client unless a working one is already there.
fn install() -> Result<PathBuf, String> {
    let dir = install_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Held until this function returns: another test process waits here
    // instead of running npm into the same folder at the same time.
    let lock =
        File::create(dir.join(".install.lock")).map_err(|e| format!("{}: {e}", dir.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", dir.display()))?;
    if let Some(path) = find(&dir) {
        return Ok(path);
    }
    let mut npm = Command::new("npm");
    npm.arg("install")
        .arg("--prefix")
        .arg(&dir)
        .args([
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
        ])
        .arg(format!("{PACKAGE}@{VERSION}"))
        .current_dir(&dir);
    let out = run(npm, INSTALL_TIMEOUT).map_err(|e| format!("cannot run npm: {e}"))?;
    if out.timed_out || out.code != Some(0) {
        let how = match out.code {
            _ if out.timed_out => format!("did not finish within {INSTALL_TIMEOUT:?}"),
            Some(code) => format!("failed (exit code {code})"),
            None => "was killed by a signal".to_owned(),
        };
        return Err(format!(
            "`npm install {PACKAGE}@{VERSION}` {how}: {}",
            last_lines(&out.stderr, 5)
        ));
    }
    find(&dir).ok_or_else(|| {
        format!(
            "`npm install {PACKAGE}@{VERSION}` succeeded, but no `claude` in {} reports \
             version {VERSION}",
            dir.display()
        )
    })
}

/// A `claude` under `dir` that reports [`VERSION`]: the package's own
/// command, or, if npm did not run the package's install script (which
/// puts the native binary in place of a stub), the native binary from the
/// platform package.
fn find(dir: &Path) -> Option<PathBuf> {
    let modules = dir.join("node_modules");
    let mut candidates = vec![modules.join(".bin/claude")];
    if let Ok(entries) = std::fs::read_dir(modules.join("@anthropic-ai")) {
        let mut platform: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("claude-code-"))
            .map(|e| e.path().join("claude"))
            .collect();
        platform.sort();
        candidates.extend(platform);
    }
    candidates
        .into_iter()
        .find(|path| path.is_file() && reports_version(path))
}

/// Whether `claude --version` (with an empty home) prints [`VERSION`].
fn reports_version(path: &Path) -> bool {
    let Ok(home) = tempfile::tempdir() else {
        return false;
    };
    let mut cmd = Command::new(path);
    cmd.arg("--version")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path());
    run(cmd, VERSION_TIMEOUT).is_ok_and(|out| {
        out.code == Some(0) && out.stdout.starts_with(&format!("{VERSION} (Claude Code)"))
    })
}

/// The last `n` non-empty lines of `text`, joined with ` | `.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
