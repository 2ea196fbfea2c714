//! Hardening (issue #21): no secret in any message, and errors that name
//! the right thing. Each test runs the real `credbox` binary on a hostile
//! guest compiled from `tests/guests/` and a real filesystem.
//!
//! The helpers are kept here, apart from `util`, so that this file stands
//! on its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use credbox_test_artifacts::{GUEST_STATE_QUOTER, GUEST_UNIQUE};

use crate::support::secrets::assert_no_secret;

/// What one `credbox` invocation did.
#[derive(Debug)]
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Asserts a failure with `code`, nothing on stdout and one stderr
    /// line holding `needle`; returns that line.
    #[track_caller]
    fn fails(&self, code: i32, needle: &str) -> String {
        assert_eq!(self.code, code, "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        let line = self.stderr.trim_end_matches('\n');
        assert!(!line.contains('\n'), "more than one line: {self:#?}");
        assert!(line.starts_with("credbox: "), "{self:#?}");
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        line.to_owned()
    }

    /// Asserts success; returns stdout.
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:#?}");
        &self.stdout
    }
}

/// A cache and a state directory of their own, and a manifest folder.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Writes `<name>/credbox.toml` for `component` with `body`.
    fn manifest(&self, name: &str, component: &str, body: &str) -> String {
        let folder = self.dir.path().join("helpers").join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("credbox.toml");
        std::fs::write(&path, format!("component = {component:?}\n{body}")).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Runs credbox with this world's directories, `stdin` on its stdin.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Ran {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_credbox"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_BACKTRACE", "1")
            .env("CREDBOX_CACHE_DIR", self.cache())
            .env("CREDBOX_STATE_DIR", self.state())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("credbox starts");
        let _ = child.stdin.take().unwrap().write_all(stdin);
        let out = child.wait_with_output().unwrap();
        Ran {
            code: out.status.code().expect("exited normally"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Ran {
        self.run_with(args, &[], b"")
    }
}

/// Every byte of every file under `dir`.
fn all_bytes_under(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            bytes.extend(all_bytes_under(&entry.path()));
        } else if kind.is_file() {
            bytes.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    bytes
}

/// Whether `haystack` holds `needle` in any ASCII case.
fn holds(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    haystack
        .to_ascii_lowercase()
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The quoter's manifest in `mode`, logging in with `login_value` (stored
/// reversed) in the file store.
fn quoter(world: &World, name: &str, mode: &str, login_value: &str) -> String {
    world.manifest(
        name,
        GUEST_STATE_QUOTER,
        &format!(
            "format = \"api-key\"\n[state]\nstore = \"file\"\n\
             [config]\nMODE = {mode:?}\nLOGIN_VALUE = {login_value:?}\n"
        ),
    )
}

fn reversed(text: &str) -> String {
    text.chars().rev().collect()
}

/// A helper that returns its refresh token (read from its state) as a
/// header name: validation's message names the header, and must mask it,
/// on stderr, in the cache's failure record and in `credbox status`.
#[test]
fn a_state_value_quoted_by_validation_is_masked_everywhere() {
    let login_value = "hardening-refresh-token-0001";
    let secret = reversed(login_value);
    for (mode, needle) in [
        ("header-name", "has an empty value"),
        ("header-upper", "has an empty value"),
        ("header-space", "is not an RFC 9110 token"),
    ] {
        let world = World::new();
        let m = quoter(&world, &format!("quoter-{mode}"), mode, login_value);
        world.run(&["login", &m]).ok();
        let line = world.run(&["run", &m]).fails(7, needle);
        assert!(!holds(line.as_bytes(), &secret), "{mode}: {line}");
        assert!(line.contains("[redacted]"), "{mode}: {line}");
        // Remembered, and still masked.
        let again = world.run(&["run", &m]).fails(7, needle);
        assert!(!holds(again.as_bytes(), &secret), "{mode}: {again}");
        assert!(
            !holds(&all_bytes_under(&world.cache()), &secret),
            "{mode}: the cache holds the secret"
        );
        let status = world.run(&["status"]);
        let shown = status.ok();
        assert!(shown.contains(needle), "{mode}: {status:#?}");
        assert!(!holds(shown.as_bytes(), &secret), "{mode}: {shown}");
        assert!(!holds(status.stderr.as_bytes(), &secret), "{mode}");
    }
}

/// A helper that hex- and base64-encodes its refresh token (a state value)
/// and an allowlisted environment secret, alone and as `user:VALUE`, in a
/// log line and its error message: no form of either reaches stderr, the
/// cache's failure record or `credbox status`.
#[test]
fn encoded_secrets_are_masked_everywhere() {
    let login_value = "hardening-encoded-refresh-0002";
    let state_secret = reversed(login_value);
    let env_secret = "env-secret-to-encode-0003";
    let world = World::new();
    let m = world.manifest(
        "quoter-encoded",
        GUEST_STATE_QUOTER,
        &format!(
            "format = \"api-key\"\n[state]\nstore = \"file\"\n\
             [env]\nallow = [\"API_TOKEN\"]\n\
             [config]\nMODE = \"encoded\"\nLOGIN_VALUE = {login_value:?}\n"
        ),
    );
    world.run(&["login", &m]).ok();
    let secrets = [state_secret.as_str(), env_secret];
    for call in ["run", "remembered"] {
        let ran = world.run_with(&["run", &m], &[("API_TOKEN", env_secret)], b"");
        assert_eq!((ran.code, &ran.stdout[..]), (8, ""), "{call}: {ran:#?}");
        assert!(
            ran.stderr.contains("refused [redacted]"),
            "{call}: {ran:#?}"
        );
        assert_no_secret(call, &secrets, &[("stderr", &ran.stderr)], None);
    }
    let status = world.run(&["status"]);
    assert!(status.ok().contains("refused [redacted]"), "{status:#?}");
    assert_no_secret(
        "status",
        &secrets,
        &[("stdout", &status.stdout), ("stderr", &status.stderr)],
        Some(&world.cache()),
    );
}

/// A state value under 6 bytes is a secret too: masked where it stands as
/// a word, in validation's messages, the helper's log lines and its
/// errors.
#[test]
fn a_short_state_value_is_masked() {
    let login_value = "k3y5q";
    let secret = reversed(login_value);
    let world = World::new();
    let m = quoter(&world, "quoter-short", "header-name", login_value);
    world.run(&["login", &m]).ok();
    let line = world.run(&["run", &m]).fails(7, "has an empty value");
    assert!(line.contains("header [redacted] has"), "{line}");
    assert!(!holds(&all_bytes_under(&world.cache()), &secret));

    let m = quoter(&world, "quoter-say", "say", login_value);
    world.run(&["login", &m]).ok();
    let ran = world.run(&["run", &m]);
    assert_eq!(ran.code, 8, "{ran:#?}");
    assert!(!holds(ran.stderr.as_bytes(), &secret), "{ran:#?}");
    assert!(
        ran.stderr.contains("the token is [redacted]")
            && ran.stderr.contains("refused [redacted]."),
        "{ran:#?}"
    );
    let status = world.run(&["status"]);
    assert!(!holds(status.ok().as_bytes(), &secret), "{status:#?}");
}

/// git's request with a CR inside a value (`username=me\rpassword=evil`):
/// credbox echoes the username, so the CR would reach git as a line of its
/// own. It is refused, and a CR ending a line (CRLF) is dropped, as git
/// does.
#[test]
fn a_cr_in_gits_request_never_reaches_the_answer() {
    let world = World::new();
    let m = world.manifest("git-token", GUEST_UNIQUE, "format = \"api-key\"\n");
    let ran = world.run_with(
        &["git", &m, "get"],
        &[],
        b"protocol=https\nhost=h\nusername=me\rpassword=evil\n\n",
    );
    let line = ran.fails(
        2,
        "line 3 of git's request contains a NUL byte or a carriage return",
    );
    assert!(line.starts_with("credbox: git: "), "{line}");
    assert!(
        line.contains("(credbox git reads git's credential protocol"),
        "{line}"
    );
    assert!(!line.contains("evil"), "{line}");

    let ran = world.run_with(
        &["git", &m, "get"],
        &[],
        b"protocol=https\r\nhost=h\r\nusername=me\r\n\r\n",
    );
    let answer = ran.ok();
    assert!(answer.starts_with("username=me\npassword="), "{ran:#?}");
    assert!(!answer.contains('\r'), "{ran:#?}");
}

/// A helper's `user.show` that imitates credbox's own success line (and
/// then fails) is marked as the helper's: the user can tell them apart.
#[test]
fn a_helper_cannot_pass_its_lines_off_as_credboxs() {
    let world = World::new();
    // Named `quoter`: the imitation reads `credbox: quoter: logged in; …`.
    let m = world.manifest(
        "quoter",
        GUEST_STATE_QUOTER,
        "format = \"api-key\"\n[state]\nstore = \"file\"\n[config]\nLOGIN_VALUE = \"imitation-test-value\"\n",
    );
    let login = world.run(&["login", &m]);
    login.ok();
    let lines: Vec<&str> = login.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{login:#?}");
    assert_eq!(
        lines[0],
        "credbox: quoter says: credbox: quoter: logged in; keeps token in the OS keystore"
    );
    assert!(
        lines[1].starts_with("credbox: quoter: logged in; keeps token in the file store "),
        "{login:#?}"
    );
    // Only credbox's own line starts as credbox's lines do.
    let own: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("credbox: quoter: "))
        .collect();
    assert_eq!(own.len(), 1, "{login:#?}");
}

/// The state root as a symbolic link: refused, naming the state directory
/// and `CREDBOX_STATE_DIR` (not the cache's variable).
#[test]
fn state_root_problems_name_the_state_directory() {
    let world = World::new();
    let m = quoter(&world, "quoter-link", "header-name", "link-test-value");
    let real = world.dir.path().join("real-state");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, world.state()).unwrap();
    let line = world
        .run(&["login", &m])
        .fails(2, "refusing state directory");
    assert!(
        line.contains("set CREDBOX_STATE_DIR to the directory"),
        "{line}"
    );
    assert!(!line.contains("CREDBOX_CACHE_DIR"), "{line}");
    let line = world.run(&["run", &m]).fails(2, "refusing state directory");
    assert!(!line.contains("CREDBOX_CACHE_DIR"), "{line}");
}

/// A read-only state folder (its `locks` folder there already): an
/// environment problem, exit 2, naming `CREDBOX_STATE_DIR`, and not
/// remembered as a failure of the helper.
#[test]
fn a_read_only_state_folder_is_an_environment_error_not_cached() {
    let world = World::new();
    let m = quoter(&world, "quoter-ro", "header-name", "read-only-test-value");
    let Some(_mount) = ReadOnly::mount(&world.state(), &["locks"]) else {
        return;
    };
    for _ in 0..2 {
        let line = world.run(&["run", &m]).fails(2, "cannot open lock");
        assert!(line.contains("CREDBOX_STATE_DIR"), "{line}");
        assert!(!line.contains("internal error"), "{line}");
        assert!(!line.contains("cached failure"), "{line}");
    }
}

/// A file-store folder or value file that others may read is named, with
/// the command that fixes it, never read as "not logged in".
#[test]
fn file_store_permission_problems_are_named_not_not_logged_in() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    let m = quoter(
        &world,
        "quoter-perm",
        "header-name",
        "permission-test-value",
    );
    world.run(&["login", &m]).ok();
    let folder = std::fs::read_dir(world.state().join("files"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(&folder, 0o755);
    let line = world.run(&["run", &m]).fails(2, "its mode is 755, not 700");
    assert!(line.contains("chmod 700 "), "{line}");
    assert!(!line.contains("not logged in"), "{line}");
    mode(&folder, 0o700);
    mode(&folder.join("v_token"), 0o644);
    let line = world.run(&["run", &m]).fails(2, "its mode is 644, not 600");
    assert!(line.contains("chmod 600 "), "{line}");
    assert!(!line.contains("not logged in"), "{line}");
}

/// A read-only folder at `path` holding the empty folders `dirs` (mode
/// 0700): a read-only tmpfs as root (whom modes do not stop), else mode
/// 0500. `None` (the test is skipped) when root cannot mount.
struct ReadOnly {
    path: PathBuf,
    mounted: bool,
}

impl ReadOnly {
    fn mount(path: &Path, dirs: &[&str]) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let mount = |options: &str| {
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", options, "tmpfs"])
                .arg(path)
                .status()
                .is_ok_and(|s| s.success())
        };
        if root && !mount("mode=0700,size=1m") {
            eprintln!("skipped: cannot mount a tmpfs");
            return None;
        }
        for dir in dirs {
            std::fs::create_dir(path.join(dir)).unwrap();
            std::fs::set_permissions(path.join(dir), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        if root {
            assert!(mount("remount,ro,mode=0700"), "remount read-only");
        } else {
            for dir in dirs {
                std::fs::set_permissions(path.join(dir), std::fs::Permissions::from_mode(0o500))
                    .unwrap();
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o500)).unwrap();
        }
        Some(ReadOnly {
            path: path.to_owned(),
            mounted: root,
        })
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        } else {
            let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o700));
        }
    }
}

/// An empty, read-only cache root (first run ever on a read-only
/// filesystem): the credential is printed, with one warning.
#[test]
fn an_empty_read_only_cache_root_still_prints_the_credential() {
    let world = World::new();
    let m = world.manifest("ro-cache", GUEST_UNIQUE, "format = \"api-key\"\n");
    let Some(_mount) = ReadOnly::mount(&world.cache(), &[]) else {
        return;
    };
    let ran = world.run(&["run", &m]);
    assert!(ran.ok().starts_with("tok-"), "{ran:#?}");
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{ran:#?}");
    assert!(
        lines[0].starts_with("credbox: ro-cache: warning: the cache could not be used: "),
        "{ran:#?}"
    );
}
