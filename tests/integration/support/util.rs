//! Running the credbox binary and looking at what it did.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one `credbox` invocation did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Stdout and stderr, named, for [`assert_no_secret`].
    ///
    /// [`assert_no_secret`]: super::secrets::assert_no_secret
    pub fn streams(&self) -> [(&'static str, &str); 2] {
        [("stdout", &self.stdout), ("stderr", &self.stderr)]
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "credbox failed: {self:#?}");
        &self.stdout
    }

    /// Asserts a failure with `code`, nothing on stdout, and exactly one
    /// stderr line that contains `needle`. Returns that line.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) -> String {
        assert_eq!(self.code, code, "wrong exit code: {self:#?}");
        assert_eq!(self.stdout, "", "stdout must be empty on failure");
        let line = self.stderr.trim_end_matches('\n');
        assert!(!line.contains('\n'), "more than one stderr line: {self:#?}");
        assert!(line.starts_with("credbox: "), "{line}");
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        assert!(!line.to_lowercase().contains("backtrace"), "{line}");
        line.to_owned()
    }

    /// Asserts the run took at least `at_least` and less than `less_than`.
    #[track_caller]
    pub fn took(&self, at_least: Duration, less_than: Duration) {
        assert!(
            self.elapsed >= at_least && self.elapsed < less_than,
            "took {:?}, not in [{at_least:?}, {less_than:?}): {self:#?}",
            self.elapsed
        );
    }
}

/// Runs `credbox` with `args` and, on top of a minimal environment,
/// `env`, with a cache directory of its own (nothing cached).
pub fn credbox(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    Cache::new().run(args, env)
}

/// A cache directory shared by the runs of one test.
pub struct Cache {
    dir: tempfile::TempDir,
}

impl Cache {
    pub fn new() -> Cache {
        Cache {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A new cache with `target` compiled into it (see [`Cache::warm`]).
    #[track_caller]
    pub fn warmed(target: &str) -> Cache {
        let cache = Cache::new();
        cache.warm(target);
        cache
    }

    /// Compiles `target` (a component or a manifest) into this cache with
    /// `credbox build`, so that the timed runs after it take milliseconds
    /// rather than a compile.
    #[track_caller]
    pub fn warm(&self, target: &str) {
        self.run(&["build", target], &[]).ok();
    }

    /// The directory credbox is pointed at (it creates it, mode 0700).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("credbox")
    }

    /// The one credential file in the cache.
    #[track_caller]
    pub fn entry_file(&self) -> PathBuf {
        let files: Vec<_> = std::fs::read_dir(self.path().join("credentials"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files.into_iter().next().unwrap()
    }

    /// Runs credbox with this cache and waits for it.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let start = Instant::now();
        let out = self.command(args, env).output().expect("credbox runs");
        outcome(out, start)
    }

    /// Starts `n` runs of credbox with this cache at once and waits for
    /// them all; each is timed from just before the first started.
    pub fn run_at_once(&self, n: usize, args: &[&str], env: &[(&str, &str)]) -> Vec<Outcome> {
        let start = Instant::now();
        let children: Vec<_> = (0..n)
            .map(|_| self.command(args, env).spawn().expect("credbox runs"))
            .collect();
        children
            .into_iter()
            .map(|c| outcome(c.wait_with_output().unwrap(), start))
            .collect()
    }

    /// Runs credbox with this cache and `stdin` as its input (see
    /// [`feed`]).
    pub fn feed(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Outcome {
        feed(self.command(args, env), stdin)
    }

    /// The command, not yet started. `RUST_BACKTRACE=1` is always set:
    /// users have it, and it must not change what credbox prints.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        self.command_of(Path::new(env!("CARGO_BIN_EXE_credbox")), args, env)
    }

    /// [`Cache::command`] for `program`: credbox under another name (a
    /// link `credbox install` made).
    pub fn command_of(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_BACKTRACE", "1")
            .env("CREDBOX_CACHE_DIR", self.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// Runs `cmd` with `stdin` written to it, then end of file, and waits. A
/// process that exits without reading it all is no error: it may ignore
/// its input.
pub fn feed(mut cmd: Command, stdin: &str) -> Outcome {
    cmd.stdin(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("credbox runs");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    outcome(child.wait_with_output().unwrap(), start)
}

/// What a finished process did, timed from `start`.
pub fn outcome(out: std::process::Output, start: Instant) -> Outcome {
    Outcome {
        code: out
            .status
            .code()
            .expect("credbox exited normally, not by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        elapsed: start.elapsed(),
    }
}

/// A temporary folder holding a manifest.
pub struct TempManifest {
    /// Kept so the folder lives as long as the manifest is used.
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TempManifest {
    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Writes `body` to `credbox.toml` in a fresh folder named `name`, with the
/// `component` line pointing at `component`.
pub fn manifest(name: &str, component: &str, body: &str) -> TempManifest {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(name);
    std::fs::create_dir(&folder).unwrap();
    let path = folder.join("credbox.toml");
    let text = format!("component = {component:?}\n{body}");
    std::fs::write(&path, text).unwrap();
    TempManifest { _dir: dir, path }
}

/// A manifest for the `error-kinds` guest, which fails with the error
/// `kind` (`denied`, `not-found`, ...), or with `ok` answers the token
/// `tok-ok`, valid for 60 s.
pub fn error_kinds(kind: &str) -> TempManifest {
    manifest(
        "error-kinds",
        credbox_test_artifacts::GUEST_ERROR_KINDS,
        &format!("[config]\nKIND = {kind:?}\n"),
    )
}

/// The manifest of `examples/<example>`, with its component line pointed
/// at `component`, the freshly built artifact.
pub fn example_manifest(example: &str, component: &str) -> TempManifest {
    sample_manifest(example, component, &[], &[])
}

/// [`example_manifest`], with each `(from, to)` of `replace` applied to its
/// text (which must hold `from`), and each `(name, path)` of `files`
/// copied beside it as `name`, mode 0600.
pub fn sample_manifest(
    example: &str,
    component: &str,
    replace: &[(&str, &str)],
    files: &[(&str, &str)],
) -> TempManifest {
    let path = root().join("examples").join(example).join("credbox.toml");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in replace {
        assert!(
            text.contains(from),
            "{example}'s credbox.toml lacks {from:?}"
        );
        text = text.replace(from, to);
    }
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("component"))
        .map(|l| format!("{l}\n"))
        .collect();
    let m = manifest(example, component, &body);
    let dir = m.path.parent().unwrap();
    for (name, from) in files {
        use std::os::unix::fs::PermissionsExt;
        let to = dir.join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    m
}

/// The workspace root.
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Upper bound for a run that should stop at `deadline`: the deadline
/// covers the guest's run, and process start-up plus compiling the
/// component come on top (generous, for a loaded 2-core machine).
pub fn within(deadline: Duration) -> Duration {
    deadline + Duration::from_secs(4)
}

/// Waits for `child` (whose pipes are not read: credbox prints a line at
/// most) and returns its exit code and peak resident memory in KiB.
pub fn wait_with_peak_rss(child: std::process::Child) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain data; zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child's; both pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    assert!(libc::WIFEXITED(status), "killed: status {status}");
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

/// `text` quoted for a POSIX shell (Claude Code runs helpers and its AWS
/// commands through one).
pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Calls `get` until it answers `wanted`, up to `deadline`; whether it
/// did.
pub fn eventually(get: impl Fn() -> String, wanted: &str, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if get() == wanted {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}
