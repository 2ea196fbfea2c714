//! credbox as the `keyring` command of pip and uv (`--keyring-provider
//! subprocess`; the link `credbox install keyring` makes), under the real
//! clients: pip and uv install a wheel from a loopback PEP 503 index that
//! demands Basic auth and checks what arrived. Plus the link fed by hand,
//! for not-found and hostile command lines.

use std::path::{Path, PathBuf};
use std::process::Command;

use credbox_test_artifacts::{ENV_BEARER, GUEST_V02_PARTS};

use crate::support::clients::{CLIENT_DEADLINE, Finished, require, run};
use crate::support::crypto::base64;
use crate::support::routes::Routes;
use crate::support::secrets::assert_no_secret;
use crate::support::servers::Server;
use crate::support::servers::package_index::{self, MODULE, PROJECT};
use crate::support::util::{Cache, Outcome, error_kinds, example_manifest, manifest, sh_quote};

/// The token env-bearer hands out, pip's and uv's password.
const TOKEN: &str = "index-token-5b1f";

/// pip ≥ 23.1 (`--keyring-provider`).
fn pip() -> Option<PathBuf> {
    require("pip", "pip >= 23.1 (pip install -U pip)", |version| {
        let v = version.strip_prefix("pip ").unwrap_or_default();
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (23, 1)
    })
}

/// uv (from PyPI: `pip install uv`), any release with `--mode creds`
/// (0.4 on).
fn uv() -> Option<PathBuf> {
    require("uv", "uv from PyPI (pip install 'uv==0.13.9')", |version| {
        version.starts_with("uv ")
    })
}

/// A folder with the `keyring` link, made by `credbox install keyring`.
fn installed(cache: &Cache) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let out = cache.run(&["install", "keyring", "--dir", bin.to_str().unwrap()], &[]);
    let link = bin.join("keyring");
    assert!(
        out.ok()
            .starts_with(&format!("linked {} -> ", link.display())),
        "{out:#?}"
    );
    (dir, bin)
}

/// `client` (pip or uv) with `bin` first on PATH, credbox's cache and
/// `env`, in a fresh folder: the command, and the folder it installs into.
fn client_command(
    client: &Path,
    bin: &Path,
    cache: &Cache,
    env: &[(&str, &str)],
) -> (Command, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(client);
    cmd.current_dir(work.path())
        .env("PATH", path)
        .env("CREDBOX_CACHE_DIR", cache.path())
        .env("UV_CACHE_DIR", work.path().join("uv-cache"))
        .env_remove("CREDBOX_CONFIG")
        .envs(env.iter().copied());
    (cmd, work)
}

/// `pip install` of the probe from `index_url` into a fresh folder.
fn pip_install(
    pip: &Path,
    bin: &Path,
    cache: &Cache,
    index_url: &str,
    env: &[(&str, &str)],
) -> (Finished, tempfile::TempDir) {
    let (mut cmd, work) = client_command(pip, bin, cache, env);
    // --isolated: no user configuration or PIP_* variables (this machine's
    // find-links, say) change what pip does.
    cmd.args([
        "install",
        "--isolated",
        "--no-input",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--keyring-provider",
        "subprocess",
        "--index-url",
        index_url,
        "--target",
    ])
    .arg(work.path().join("target"))
    .arg(PROJECT);
    (run(cmd, CLIENT_DEADLINE).unwrap(), work)
}

/// `uv pip install` of the probe into a fresh folder, from `index_url`, or
/// (`None`) from the index of `config`, a uv.toml.
fn uv_install(
    uv: &Path,
    bin: &Path,
    cache: &Cache,
    index: Result<&str, &str>,
    env: &[(&str, &str)],
) -> (Finished, tempfile::TempDir) {
    let (mut cmd, work) = client_command(uv, bin, cache, env);
    cmd.args([
        "pip",
        "install",
        "--no-config",
        "--no-cache",
        "--keyring-provider",
        "subprocess",
    ]);
    match index {
        Ok(index_url) => {
            cmd.args(["--index-url", index_url]);
        }
        Err(config) => {
            let file = work.path().join("uv.toml");
            std::fs::write(&file, config).unwrap();
            cmd.arg("--config-file").arg(file);
        }
    }
    cmd.arg("--target")
        .arg(work.path().join("target"))
        .arg(PROJECT);
    (run(cmd, CLIENT_DEADLINE).unwrap(), work)
}

/// Asserts the install succeeded: the module is there, as served.
#[track_caller]
fn assert_installed(out: &Finished, work: &tempfile::TempDir) {
    assert_eq!(out.code, Some(0), "{out:#?}");
    let module = work.path().join("target").join(MODULE.0);
    assert_eq!(
        std::fs::read_to_string(&module).unwrap_or_default(),
        MODULE.1,
        "{out:#?}"
    );
}

/// The `Authorization` values the index saw, each request's.
fn authorizations(server: Server) -> Vec<Option<String>> {
    server
        .stop()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Asserts that every credential the index saw was `wanted` or had no
/// password (pip first sends the URL's user with an empty one), and that
/// `wanted` came.
#[track_caller]
fn assert_sent(seen: &[Option<String>], wanted: &str, user: &str) {
    let empty = basic(user, "");
    assert!(
        seen.iter().any(|a| a.as_deref() == Some(wanted)),
        "{seen:#?}"
    );
    assert!(
        seen.iter().flatten().all(|a| a == wanted || *a == empty),
        "{seen:#?}"
    );
}

/// env-bearer handing out [`TOKEN`], routed for `url`, with its cache and
/// the `keyring` link.
struct Setup {
    _manifest: crate::support::util::TempManifest,
    routes: Routes,
    cache: Cache,
    _bin_dir: tempfile::TempDir,
    bin: PathBuf,
}

fn setup(route: &str, m: crate::support::util::TempManifest) -> Setup {
    let cache = Cache::warmed(m.arg());
    let (bin_dir, bin) = installed(&cache);
    let routes = Routes::new(&[(route, m.arg())]);
    Setup {
        _manifest: m,
        routes,
        cache,
        _bin_dir: bin_dir,
        bin,
    }
}

fn env_bearer() -> crate::support::util::TempManifest {
    example_manifest("env-bearer", ENV_BEARER)
}

#[test]
fn pip_installs_from_an_index_with_the_password_credbox_gives() {
    let Some(pip) = pip() else { return };
    let server = package_index::start("ci", TOKEN);
    let index = format!("{}/simple/", server.origin());
    let s = setup(&index, env_bearer());
    let env = [s.routes.env(), ("API_TOKEN", TOKEN)];
    let user_url = index.replace("http://", "http://ci@");
    let (out, work) = pip_install(&pip, &s.bin, &s.cache, &user_url, &env);
    assert_installed(&out, &work);
    assert_sent(&authorizations(server), &basic("ci", TOKEN), "ci");
    assert_no_secret(
        "pip",
        &[TOKEN],
        &[("stdout", &out.stdout), ("stderr", &out.stderr)],
        None,
    );
}

#[test]
fn uv_installs_with_a_username_in_the_url() {
    let Some(uv) = uv() else { return };
    let server = package_index::start("ci", TOKEN);
    let index = format!("{}/simple/", server.origin());
    let s = setup(&index, env_bearer());
    let env = [s.routes.env(), ("API_TOKEN", TOKEN)];
    let user_url = index.replace("http://", "http://ci@");
    let (out, work) = uv_install(&uv, &s.bin, &s.cache, Ok(&user_url), &env);
    assert_installed(&out, &work);
    assert_sent(&authorizations(server), &basic("ci", TOKEN), "ci");
    assert_no_secret(
        "uv",
        &[TOKEN],
        &[("stdout", &out.stdout), ("stderr", &out.stderr)],
        None,
    );
}

/// A helper whose credential is the user-secret `username`/`secret`.
fn user_secret(username: &str, secret: &str) -> crate::support::util::TempManifest {
    manifest(
        "v02-parts",
        GUEST_V02_PARTS,
        &format!("[config]\nUSERNAME = {username:?}\nSECRET = {secret:?}\n"),
    )
}

#[test]
fn uv_asks_for_the_username_too_when_the_url_has_none() {
    let Some(uv) = uv() else { return };
    let server = package_index::start("deploy-bot", "s3cret-9d2");
    let index = format!("{}/simple/", server.origin());
    let s = setup(&index, user_secret("deploy-bot", "s3cret-9d2"));
    let env = [s.routes.env()];
    // uv runs `keyring get URL --mode creds` only for an index with
    // `authenticate = "always"`.
    let config = format!(
        "[[index]]\nname = \"private\"\nurl = {index:?}\ndefault = true\nauthenticate = \"always\"\n"
    );
    let (out, work) = uv_install(&uv, &s.bin, &s.cache, Err(&config), &env);
    assert_installed(&out, &work);
    let seen = authorizations(server);
    let wanted = basic("deploy-bot", "s3cret-9d2");
    assert!(
        seen.iter().all(|a| a.as_deref() == Some(wanted.as_str())),
        "{seen:#?}"
    );
    assert_no_secret(
        "uv --mode creds",
        &["s3cret-9d2"],
        &[("stdout", &out.stdout), ("stderr", &out.stderr)],
        None,
    );
}

/// A `keyring` in a folder of its own that runs the link in `bin` and
/// logs each exit code to the returned file: proof that the client ran
/// credbox, and what credbox answered.
fn logged(bin: &Path) -> (tempfile::TempDir, PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("exits");
    let wrapper = dir.path().join("bin");
    std::fs::create_dir(&wrapper).unwrap();
    let script = wrapper.join("keyring");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{} \"$@\"\ncode=$?\necho \"$code\" >> {}\nexit $code\n",
            sh_quote(bin.join("keyring").to_str().unwrap()),
            sh_quote(log.to_str().unwrap())
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, wrapper, log)
}

#[test]
fn without_a_route_pip_and_uv_go_on_without_a_password() {
    let pip = pip();
    let uv = uv();
    let server = package_index::start("ci", TOKEN);
    let index = format!("{}/simple/", server.origin());
    let s = setup("https://pypi.example.com/simple", env_bearer());
    let env = [s.routes.env(), ("API_TOKEN", TOKEN)];
    let user_url = index.replace("http://", "http://ci@");
    let (_dir, wrapper, log) = logged(&s.bin);
    let mut ran = Vec::new();
    if let Some(pip) = pip {
        ran.push(pip_install(&pip, &wrapper, &s.cache, &user_url, &env).0);
    }
    if let Some(uv) = uv {
        ran.push(uv_install(&uv, &wrapper, &s.cache, Ok(&user_url), &env).0);
    }
    // Each client asked credbox (for the index URL, then for its host),
    // and credbox answered "no password" the real keyring's way: exit 1.
    let exits = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exits.lines().count() >= 2 * ran.len(), "{exits:?}");
    assert!(exits.lines().all(|code| code == "1"), "{exits:?}");
    for out in &ran {
        // The client failed on the index's 401, not on credbox: credbox
        // said nothing, and nothing but an empty password went out.
        assert_ne!(out.code, Some(0), "{out:#?}");
        assert!(!out.stderr.contains("credbox: "), "{out:#?}");
        assert!(out.stderr.contains("401"), "{out:#?}");
    }
    let empty = basic("ci", "");
    let seen = authorizations(server);
    assert!(seen.iter().flatten().all(|a| *a == empty), "{seen:#?}");
}

#[test]
fn pip_never_sends_a_user_secret_under_another_username() {
    let Some(pip) = pip() else { return };
    let server = package_index::start("mallory", "bob-secret-3c");
    let index = format!("{}/simple/", server.origin());
    let s = setup(&index, user_secret("bob", "bob-secret-3c"));
    let env = [s.routes.env()];
    let user_url = index.replace("http://", "http://mallory@");
    let (out, _work) = pip_install(&pip, &s.bin, &s.cache, &user_url, &env);
    assert_ne!(out.code, Some(0), "{out:#?}");
    // credbox's one line, shown by pip, says why.
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("credbox: "))
        .collect();
    assert!(!lines.is_empty(), "{out:#?}");
    assert!(
        lines.iter().all(|l| l.contains("another username")),
        "{lines:#?}"
    );
    let seen = authorizations(server);
    assert!(
        seen.iter().flatten().all(|a| *a == basic("mallory", "")),
        "{seen:#?}"
    );
    assert_no_secret(
        "pip",
        &["bob-secret-3c"],
        &[("stdout", &out.stdout), ("stderr", &out.stderr)],
        None,
    );
}

/// Runs the link `bin/keyring` with `args` and `stdin`.
fn keyring(s: &Setup, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Outcome {
    crate::support::util::feed(s.cache.command_of(&s.bin.join("keyring"), args, env), stdin)
}

#[test]
fn the_link_answers_as_the_real_keyring_and_refuses_hostile_input() {
    let url = "https://pypi.example.com/simple/";
    let s = setup(url, env_bearer());
    let env = [s.routes.env(), ("API_TOKEN", TOKEN)];
    let run = |args: &[&str]| keyring(&s, args, &env, "");
    // What pip and uv run (stdin is theirs to close: garbage there
    // changes nothing).
    assert_eq!(run(&["get", url, "ci"]).ok(), format!("{TOKEN}\n"));
    let garbage = "\u{0}\u{1b}[2J\r\nget https://evil/ x\n".repeat(1000);
    assert_eq!(
        keyring(&s, &["get", url, "ci"], &env, &garbage).ok(),
        format!("{TOKEN}\n")
    );
    assert_eq!(
        run(&["get", url, "--mode", "creds"]).ok(),
        format!("__token__\n{TOKEN}\n")
    );
    // `credbox keyring` is the same.
    let out = s.cache.run(
        &["keyring", "get", "https://pypi.example.com/simple/x/", "u"],
        &env,
    );
    assert_eq!(out.ok(), format!("{TOKEN}\n"));
    // Not found: exit 1, nothing at all, as the real keyring.
    for service in ["https://other.example.com/simple/", "pypi.example.com"] {
        let out = run(&["get", service, "ci"]);
        assert_eq!(
            (out.code, &out.stdout[..], &out.stderr[..]),
            (1, "", ""),
            "{service}"
        );
    }
    // Hostile command lines: one line, nothing on stdout, exit 2, the
    // value never quoted.
    let huge = format!("{url}{}", "a".repeat(64 * 1024));
    let cases: &[(&[&str], &str)] = &[
        (&[], "no operation"),
        (&["--frob", "get", url, "ci"], "unknown option"),
        (&["get", url], "needs --mode creds"),
        (&["get", url, "ci", "extra"], "no more"),
        (
            &["get", &format!("{url}\r\nX-Injected: evil"), "ci"],
            "control character",
        ),
        (&["get", url, "ci\nevil-password"], "control character"),
        (&["get", url, "\u{1b}]0;evil\u{7}"], "control character"),
        (&["get", &huge, "ci"], "longer than"),
        (&["get", url, &"u".repeat(10_000)], "longer than"),
        (&["set", url, "ci"], "read-only"),
        (&["del", url, "ci"], "read-only"),
    ];
    for (args, what) in cases {
        let line = run(args).fails(2, what);
        assert!(line.starts_with("credbox: keyring: "), "{line}");
        assert!(!line.contains("evil") && !line.contains("aaaa"), "{line}");
    }
    // `set` gets the password on stdin from pip: refused, never echoed.
    let out = keyring(&s, &["set", url, "ci"], &env, "typed-password-1\n");
    out.fails(2, "read-only");
    assert_no_secret(
        "set",
        &["typed-password-1"],
        &out.streams(),
        Some(&s.cache.path()),
    );
}

#[test]
fn a_helpers_not_found_is_silence_and_exit_1_and_other_failures_one_line() {
    let url = "https://pypi.example.com/simple/";
    let s = setup(url, error_kinds("not-found"));
    let out = keyring(&s, &["get", url, "ci"], &[s.routes.env()], "");
    assert_eq!((out.code, &out.stdout[..], &out.stderr[..]), (1, "", ""));
    let s = setup(url, error_kinds("denied"));
    let out = keyring(&s, &["get", url, "--mode", "creds"], &[s.routes.env()], "");
    out.fails(4, "denied");
}

#[test]
fn install_links_once_and_never_replaces_another_file() {
    let cache = Cache::new();
    let (dir, bin) = installed(&cache);
    let args = ["install", "keyring", "--dir", bin.to_str().unwrap()];
    assert!(cache.run(&args, &[]).ok().contains("already links to"));
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("keyring"), "#!/bin/sh\n").unwrap();
    let out = cache.run(
        &["install", "keyring", "--dir", other.to_str().unwrap()],
        &[],
    );
    out.fails(2, "remove it first");
    assert_eq!(
        std::fs::read_to_string(other.join("keyring")).unwrap(),
        "#!/bin/sh\n"
    );
}
