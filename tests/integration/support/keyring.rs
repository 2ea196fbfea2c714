//! A real Secret Service for the tests of host-kept state: a private
//! D-Bus session bus and a gnome-keyring daemon on it, and libsecret's
//! `secret-tool` to look at what credbox stored, as another client would.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::clients::client;
use super::util::TempManifest;

/// A real Secret Service for one test: a private D-Bus session bus and a
/// gnome-keyring daemon on it, its login keyring created and unlocked
/// with a password on stdin. Both are stopped when dropped.
pub struct Keyring {
    dir: tempfile::TempDir,
    address: String,
    state_dir: PathBuf,
    bus: Child,
    daemon: Child,
}

impl Keyring {
    pub fn start() -> Option<Keyring> {
        let have = |program, package| client(program, package).is_some();
        if !(have("dbus-daemon", "the Debian package dbus-daemon")
            && have("dbus-send", "the Debian package dbus-bin")
            && have("gnome-keyring-daemon", "the Debian package gnome-keyring")
            && have("secret-tool", "the Debian package libsecret-tools"))
        {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "run", "cache", "data"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::set_permissions(dir.path().join(sub), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}/bus", dir.path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_owned();
        assert!(address.starts_with("unix:"), "{address:?}");
        let mut keyring = Keyring {
            daemon: Command::new("true").spawn().unwrap(),
            state_dir: dir.path().join("state"),
            dir,
            address,
            bus,
        };
        let _ = keyring.daemon.wait();
        keyring.daemon = keyring
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        let mut stdin = keyring.daemon.stdin.take().unwrap();
        stdin.write_all(b"test-keyring-password").unwrap();
        drop(stdin);
        // Wait (bounded) for the daemon to own the Secret Service's name:
        // asking before would make the bus start another daemon.
        for _ in 0..100 {
            let owned = keyring
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
                return Some(keyring);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("gnome-keyring-daemon did not take org.freedesktop.secrets within 10 s");
    }

    /// The environment that points credbox at this keystore, with a
    /// state directory of its own (for a file store, not yet made).
    pub fn env(&self) -> [(&'static str, &str); 2] {
        [
            ("DBUS_SESSION_BUS_ADDRESS", self.address.as_str()),
            ("CREDBOX_STATE_DIR", self.state_dir.to_str().unwrap()),
        ]
    }

    /// A command in this session: its bus, and a home of its own.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let sub = |s: &str| self.dir.path().join(s);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", sub("home"))
            .env("XDG_RUNTIME_DIR", sub("run"))
            .env("XDG_CACHE_HOME", sub("cache"))
            .env("XDG_DATA_HOME", sub("data"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        cmd
    }

    /// The secret of the item with these attributes, as `secret-tool
    /// lookup` (libsecret, a real client) sees it.
    pub fn lookup(&self, service: &str, user: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", service, "username", user])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        for child in [&mut self.daemon, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The keystore service of the helper whose manifest is `m`.
pub fn service_of(m: &TempManifest) -> String {
    format!("credbox:{}", m.path.canonicalize().unwrap().display())
}
