//! The commands that manage credbox rather than answer a client: `build`,
//! `login`, `logout`, `status`, `cache clear`, `install docker`, `install
//! keyring` and `install man`, and the reports of `new` and `inspect`. Each
//! writes through [`Out`] and returns its exit code, as the client front
//! ends in [`crate::protocol`] do.

use std::path::{Path, PathBuf};

use crate::cache::CredentialCache;
use crate::error::{Error, Result};
use crate::guest::RunOptions;
use crate::guest::log::LogLevel;
use crate::policy::Overrides;
use crate::redact::{MAX_LINE, one_line};
use crate::serve::{Helper, Out, name};

/// The log level of `-v` given `count` times: warnings, info, debug.
pub fn log_level(count: u8) -> LogLevel {
    match count {
        0 => LogLevel::Warn,
        1 => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

/// Reads the helper `target` names, or writes why not and gives the exit
/// code.
fn helper(target: &Path, out: &mut Out) -> std::result::Result<Helper, u8> {
    Helper::load(target.to_owned(), Overrides::default())
        .map_err(|failure| out.fail(&failure.subject, &failure.error))
}

/// `credbox build TARGET`: compiles the helper, checks its world, prints
/// its sha256 for pinning.
pub fn build(target: &Path, out: &mut Out) -> u8 {
    let helper = match helper(target, out) {
        Ok(helper) => helper,
        Err(code) => return code,
    };
    let policy = &helper.policy;
    let start = std::time::Instant::now();
    match crate::build(policy) {
        Ok((loaded, world)) => {
            let how = if loaded.compiled {
                format!("compiled in {} ms", start.elapsed().as_millis())
            } else {
                "already compiled".to_owned()
            };
            out.line(&format!(
                "credbox: {}: {} implements {}; {how}",
                name(&policy.name),
                one_line(&policy.component.display().to_string(), MAX_LINE),
                world.world()
            ));
            out.print(&policy.name, &format!("sha256 = \"{}\"\n", loaded.sha256))
        }
        Err(e) => out.fail(&policy.name, &e),
    }
}

/// `credbox login TARGET`: runs the helper's login (its lines on the
/// terminal at `verbose`'s level) and says what it stored where.
pub fn login(target: &Path, verbose: u8, out: &mut Out) -> u8 {
    let helper = match helper(target, out) {
        Ok(helper) => helper,
        Err(code) => return code,
    };
    let options = RunOptions {
        log_level: log_level(verbose),
        no_cache: false,
    };
    match crate::login::login(&helper.policy, &options) {
        Ok(report) => {
            let names = if report.names.is_empty() {
                "nothing stored".to_owned()
            } else {
                format!("keeps {}", report.names.join(", "))
            };
            out.line(&format!(
                "credbox: {}: logged in; {names} in {}",
                name(helper.name()),
                one_line(&report.store, MAX_LINE)
            ));
            0
        }
        Err(e) => out.fail(helper.name(), &e),
    }
}

/// `credbox logout TARGET`: forgets the helper's state and cached
/// credentials, and says how many.
pub fn logout(target: &Path, out: &mut Out) -> u8 {
    let helper = match helper(target, out) {
        Ok(helper) => helper,
        Err(code) => return code,
    };
    match crate::login::logout(&helper.policy) {
        Ok((names, entries)) => {
            out.line(&format!(
                "credbox: {}: logged out; forgot {} and {}",
                name(helper.name()),
                plural(names, "stored name", "stored names"),
                plural(entries, "cached entry", "cached entries")
            ));
            0
        }
        Err(e) => out.fail(helper.name(), &e),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn open_cache() -> Result<CredentialCache> {
    crate::cache_root().and_then(|root| CredentialCache::open(&root))
}

/// `credbox cache clear [HELPER]`: forgets cached credentials and
/// failures, of one helper or all.
pub fn clear(helper: Option<&str>, out: &mut Out) -> u8 {
    match open_cache().and_then(|cache| cache.clear(helper)) {
        Ok(n) => {
            out.line(&format!(
                "credbox: removed {n} cached entr{}",
                if n == 1 { "y" } else { "ies" }
            ));
            0
        }
        Err(e) => out.fail("cache", &e),
    }
}

/// `credbox status`: a table of cached credentials (age, expiry, last
/// failure; never the credential).
pub fn status(out: &mut Out) -> u8 {
    let cache = match open_cache() {
        Ok(cache) => cache,
        Err(e) => return out.fail("status", &e),
    };
    let now = crate::cache::now_ms();
    let human = |ms: u64| crate::units::format_seconds(ms / 1000);
    let ago = |ms: u64| human(now.saturating_sub(ms));
    let mut text = String::from("HELPER\tKEY\tAGE\tEXPIRES IN\tLAST FAILURE\n");
    for (key, entry) in cache.entries() {
        let (age, expires) = match &entry.credential {
            Some(c) if c.expires_ms > now => (ago(c.created_ms), human(c.expires_ms - now)),
            Some(c) => (
                ago(c.created_ms),
                format!("expired {} ago", ago(c.expires_ms)),
            ),
            None => ("-".into(), "-".into()),
        };
        let failure = match &entry.failure {
            Some(f) => format!("{} ago, {} in a row: {}", ago(f.at_ms), f.count, f.message),
            None => "-".into(),
        };
        // The key's first 12 characters (a file name: any length, any
        // characters).
        let short: String = key.chars().take(12).collect();
        text.push_str(&format!(
            "{}\t{short}\t{age}\t{expires}\t{}\n",
            name(&entry.helper),
            one_line(&failure, MAX_LINE)
        ));
    }
    out.print("status", &text)
}

/// A command's report on stdout, or its one-line error about `subject`.
pub fn report(subject: &str, report: Result<String>, out: &mut Out) -> u8 {
    match report {
        Ok(text) => out.print(subject, &text),
        Err(e) => out.fail(subject, &e),
    }
}

/// `credbox install docker [--dir DIR]`: links `docker-credential-credbox`
/// to this credbox.
pub fn install_docker(dir: Option<PathBuf>, out: &mut Out) -> u8 {
    install(dir, crate::protocol::docker::install, out)
}

/// `credbox install keyring`: links `keyring` to credbox in `dir` (default:
/// the user's programs folder), for pip's and uv's `--keyring-provider
/// subprocess`.
pub fn install_keyring(dir: Option<PathBuf>, out: &mut Out) -> u8 {
    install(dir, crate::protocol::keyring::install, out)
}

/// Links a program name to credbox in `dir` (default: the user's programs
/// folder) with `link`, and reports what it did.
fn install(dir: Option<PathBuf>, link: fn(&Path, &Path) -> Result<String>, out: &mut Out) -> u8 {
    let Some(dir) = dir.or_else(crate::protocol::default_install_dir) else {
        let error = Error::Usage("no home directory to install in: pass --dir".into());
        return out.fail("install", &error);
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            let error = Error::Internal(format!("cannot tell where credbox is: {e}"));
            return out.fail("install", &error);
        }
    };
    report("install", link(&dir, &exe), out)
}

/// `credbox install man [--dir DIR]`: writes credbox's man pages (see
/// [`crate::manpages`]).
pub fn install_man(dir: Option<PathBuf>, out: &mut Out) -> u8 {
    let Some(dir) = dir.or_else(crate::manpages::default_dir) else {
        let error = Error::Usage("no home directory to install in: pass --dir".into());
        return out.fail("install", &error);
    };
    let command = <crate::cli::Cli as clap::CommandFactory>::command();
    report("install", crate::manpages::install(&dir, command), out)
}
