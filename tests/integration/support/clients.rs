//! Real clients for the protocol tests (`aws`, `kubectl`, `cargo`), found
//! on `PATH`. Outside CI a missing client skips its test with a note; under
//! `CI=true` it fails the test, naming the package to install.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Longest a client runs in a test before it and everything it started
/// are killed.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// The path of `program`, from `PATH`. When it is missing: under
/// `CI=true`, a panic naming `package` (how to install it); otherwise
/// `None`, after a note on stderr.
pub fn client(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
    });
    if found.is_none() {
        let why = format!("`{program}` is not on PATH (install {package})");
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{why}; CI=true makes a missing client a failure");
        }
        // Straight to stderr: the harness captures a passing test's output.
        let _ = writeln!(std::io::stderr(), "skipped: {why}");
    }
    found
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
