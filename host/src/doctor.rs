//! `credbox doctor MANIFEST`: what `run` would do, and what stands in its
//! way, one line per check.
//!
//! Each line starts with `✓` (passed), `✗` (failed) or `–` (could not be
//! checked, which is no failure) and ends with the check's time:
//!
//! 1. the manifest parses (and the policy it describes is valid);
//! 2. the component exists, implements the world (and which version), matches
//!    its pin, and whether it is compiled yet;
//! 3. each allowlisted environment variable is set or not (never its
//!    value);
//! 4. each allowlisted origin: the DNS answer with the private-address
//!    verdict `run` would reach ([`crate::network::vet`]), a TCP connection
//!    and, for `https`, a TLS handshake with the system's roots plus
//!    `ca_bundle` ([`tls::client_config`], as `run` uses) and the
//!    certificate's expiry. Each probe has the run's network deadline
//!    ([`guest::network_deadline`]). Wildcard entries (`*.suffix`, `:*`)
//!    name no host or port to probe;
//! 5. the cache directory's state.
//!
//! Then the exact snippets for Claude Code's `~/.claude/settings.json`
//! (`apiKeyHelper`) and `.mcp.json` (`headersHelper`), with the absolute
//! paths of this credbox and the manifest. The exit code is 0 only when
//! every check passed, else [`EXIT_CHECK_FAILED`].

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use crate::guest;
use crate::inspect;
use crate::manifest::{Format, LoadedManifest};
use crate::network;
use crate::policy::network::allow::{AllowEntry, HostPattern, PortRule, Scheme};
use crate::policy::network::ranges::is_private;
use crate::policy::network::tls;
use crate::policy::{Overrides, Policy};
use crate::private_dir;
use crate::units::{first_line, format_duration};

/// Exit code of `credbox doctor` when a check failed.
pub const EXIT_CHECK_FAILED: u8 = 10;

/// A certificate that expires sooner than this is worth a word.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed: `run` would fail, or fail for some callers.
    Fail,
    /// It could not be checked (a wildcard entry); no failure.
    Skip,
}

impl Outcome {
    fn mark(self) -> &'static str {
        match self {
            Outcome::Pass => "✓",
            Outcome::Fail => "✗",
            Outcome::Skip => "–",
        }
    }
}

/// The checks' lines, written as they are made, and their tally.
struct Doctor<'a> {
    out: &'a mut dyn Write,
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Doctor<'_> {
    /// Writes one check's line: mark, what, time.
    fn line(&mut self, outcome: Outcome, what: &str, took: Duration) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Skip => self.skipped += 1,
        }
        let ms = took.as_secs_f64() * 1000.0;
        let _ = writeln!(self.out, "{} {what} ({ms:.0} ms)", outcome.mark());
        let _ = self.out.flush();
    }

    /// Runs `check`, timing it, and writes its line.
    fn check(&mut self, check: impl FnOnce() -> (Outcome, String)) -> Outcome {
        let start = Instant::now();
        let (outcome, what) = check();
        self.line(outcome, &what, start.elapsed());
        outcome
    }
}

/// `credbox doctor TARGET`: checks the helper `target` names (a manifest,
/// or a bare component), writing one line per check and the Claude Code
/// snippets to `out`. Returns the exit code.
pub fn doctor(target: &Path, out: &mut dyn Write) -> u8 {
    let mut d = Doctor {
        out,
        passed: 0,
        failed: 0,
        skipped: 0,
    };
    let mut policy = None;
    d.check(|| {
        match LoadedManifest::from_target(target)
            .and_then(|m| Policy::from_manifest(&m, &Overrides::default()))
        {
            Ok(p) => {
                let what = format!(
                    "manifest {} parses: helper {}, format {}, timeout {}",
                    target.display(),
                    p.name,
                    p.format,
                    format_duration(p.limits.timeout)
                );
                policy = Some(p);
                (Outcome::Pass, what)
            }
            Err(e) => (Outcome::Fail, format!("manifest {}: {e}", target.display())),
        }
    });
    if let Some(policy) = &policy {
        component_checks(&mut d, policy);
        env_checks(&mut d, policy);
        key_checks(&mut d, policy);
        network_checks(&mut d, policy);
    }
    cache_check(&mut d);

    let total = d.passed + d.failed + d.skipped;
    let verdict = match (d.failed, d.skipped) {
        (0, 0) => format!("All {total} checks passed."),
        (0, s) => format!(
            "{} of {total} checks passed, {s} could not be made.",
            d.passed
        ),
        (f, _) => format!("{f} of {total} checks failed."),
    };
    let _ = writeln!(d.out, "\n{verdict}");
    if let Some(policy) = &policy {
        let debounce = std::env::var(OTEL_DEBOUNCE_VAR).ok();
        let _ = write!(d.out, "\n{}", snippets(target, policy, debounce.as_deref()));
    }
    if d.failed == 0 { 0 } else { EXIT_CHECK_FAILED }
}

/// The component: exists, world, pin, compiled.
fn component_checks(d: &mut Doctor, policy: &Policy) {
    let path = &policy.component;
    let mut inspection = None;
    let exists = d.check(|| match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => (
            Outcome::Pass,
            format!("component {} exists ({} bytes)", path.display(), meta.len()),
        ),
        Ok(_) => (
            Outcome::Fail,
            format!("component {} is not a file", path.display()),
        ),
        Err(e) => (
            Outcome::Fail,
            format!(
                "component {}: {e} (build it first: `cargo build --release --target wasm32-wasip2`)",
                path.display()
            ),
        ),
    });
    if exists != Outcome::Pass {
        return;
    }
    // The pin is a check of its own below, so a mismatch is reported there.
    d.check(|| match inspect::inspect(path, None) {
        Ok(found) => {
            let outcome = match (&found.world(), &found.fits) {
                (Some(_), Ok(())) => Outcome::Pass,
                _ => Outcome::Fail,
            };
            let what = format!("component implements {}", found.world_summary());
            inspection = Some(found);
            (outcome, what)
        }
        Err(e) => (Outcome::Fail, format!("component: {e}")),
    });
    let Some(inspection) = inspection else {
        return;
    };
    d.check(|| match &policy.sha256 {
        None => (
            Outcome::Pass,
            format!(
                "component sha256 {} (no pin in the manifest; `credbox build` prints one)",
                inspection.sha256
            ),
        ),
        Some(pin) if pin.eq_ignore_ascii_case(&inspection.sha256) => (
            Outcome::Pass,
            format!("component matches its pin sha256 {}", inspection.sha256),
        ),
        Some(pin) => (
            Outcome::Fail,
            format!(
                "component has sha256 {}, but the manifest pins {pin} (rebuild the helper or update the pin)",
                inspection.sha256
            ),
        ),
    });
    d.check(|| {
        let what = match inspection.compiled {
            true => "component is compiled (in the compiled-component cache)".to_owned(),
            false => "component is not compiled yet (the first run compiles it; `credbox build` does it now)".to_owned(),
        };
        (Outcome::Pass, what)
    });
}

/// Each allowlisted environment variable: set or not, never its value.
fn env_checks(d: &mut Doctor, policy: &Policy) {
    for name in policy.env.names() {
        d.check(|| {
            let set = std::env::var_os(name).is_some_and(|v| !v.is_empty());
            match (set, policy.config.get(name).is_some()) {
                (true, _) => (Outcome::Pass, format!("env {name} is set")),
                (false, true) => (
                    Outcome::Pass,
                    format!("env {name} is not set ([config] has a {name}, which is used)"),
                ),
                (false, false) => (
                    Outcome::Fail,
                    format!(
                        "env {name} is not set (set it where Claude Code runs credbox, or in [config])"
                    ),
                ),
            }
        });
    }
}

/// Each key of `[keys]`: ready to sign (its variable set, its signer
/// derived), and what the helper is told; each `[[network.client_cert]]`:
/// whose it is and when it expires. Never a key's bytes.
fn key_checks(d: &mut Doctor, policy: &Policy) {
    for name in policy.keys.names() {
        d.check(|| match policy.keys.info(name) {
            Ok(info) => {
                let id = info
                    .key_id
                    .map_or(String::new(), |id| format!(", key id {id}"));
                (
                    Outcome::Pass,
                    format!("key {name}: {}{id}, ready to sign", info.algorithm),
                )
            }
            Err(crate::Error::Environment { message, hint }) => {
                (Outcome::Fail, format!("key {name}: {message} ({hint})"))
            }
            Err(e) => (Outcome::Fail, format!("key {name}: {e}")),
        });
    }
    for cert in policy.network.client_certs() {
        d.check(|| {
            let origin = cert.origin.to_string();
            if let Err(e) = cert.load() {
                return (Outcome::Fail, format!("{origin}: {e}"));
            }
            let Some(leaf) = cert
                .chain
                .first()
                .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
                .map(|(_, leaf)| leaf)
            else {
                return (
                    Outcome::Fail,
                    format!("{origin}: unreadable client certificate"),
                );
            };
            let not_after = leaf.validity().not_after;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let days = (not_after.timestamp() - now).div_euclid(86_400);
            let date = not_after.to_datetime().date();
            let whose = format!("{origin}: client certificate {}", leaf.subject());
            match days {
                ..0 => (Outcome::Fail, format!("{whose} expired on {date}")),
                0..EXPIRY_WARNING_DAYS => (
                    Outcome::Pass,
                    format!("{whose} expires soon: {date} (in {days} days)"),
                ),
                _ => (
                    Outcome::Pass,
                    format!("{whose}, valid until {date} (in {days} days)"),
                ),
            }
        });
    }
}

/// Each allowlisted origin: DNS and the private-address verdict, TCP,
/// TLS and the certificate's expiry.
fn network_checks(d: &mut Doctor, policy: &Policy) {
    if policy.network.entries().is_empty() {
        return;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            d.line(
                Outcome::Fail,
                &format!("network: cannot start the probes: {e}"),
                Duration::ZERO,
            );
            return;
        }
    };
    // Timers and sockets are made (and dropped) in the runtime's context.
    let _context = runtime.enter();
    // The time `run` gives a helper's requests, for each probe.
    let start = Instant::now();
    let budget =
        guest::network_deadline(start + policy.limits.timeout, policy.limits.timeout) - start;
    let mut roots = None;
    for entry in policy.network.entries() {
        let origin = entry.to_string();
        let (host, port) = match (&entry.host, entry.port) {
            (HostPattern::Subdomains(_), _) | (_, PortRule::Any) => {
                d.line(
                    Outcome::Skip,
                    &format!("{origin}: a wildcard entry names no host and port to probe"),
                    Duration::ZERO,
                );
                continue;
            }
            (HostPattern::Name(name), PortRule::Port(p)) => (name.clone(), p),
            (HostPattern::Localhost, PortRule::Port(p)) => ("localhost".to_owned(), p),
            (HostPattern::Ip(ip), PortRule::Port(p)) => (ip.to_string(), p),
        };
        let Some(addrs) = dns_check(d, &runtime, policy, entry, &host, port, budget) else {
            continue;
        };
        let Some(stream) = tcp_check(d, &runtime, &origin, &addrs, budget) else {
            continue;
        };
        if entry.scheme == Scheme::Https {
            // As `run` connects: the origin's client certificate, if any.
            let roots = roots.get_or_insert_with(|| tls::roots(policy.network.ca_bundle()));
            let cert = policy.network.client_cert_for(&host, port).map(|(_, c)| c);
            let config = tls::client_config(roots.clone(), cert).map(Arc::new);
            tls_check(d, &runtime, &origin, &host, stream, config, budget);
        }
    }
}

/// Resolves `host` and applies `run`'s private-address rule; the addresses
/// `run` would connect to, if any.
fn dns_check(
    d: &mut Doctor,
    runtime: &tokio::runtime::Runtime,
    policy: &Policy,
    entry: &AllowEntry,
    host: &str,
    port: u16,
    budget: Duration,
) -> Option<Vec<SocketAddr>> {
    let mut vetted = None;
    let origin = entry.to_string();
    d.check(|| {
        let lookup = runtime.block_on(async {
            tokio::time::timeout(budget, tokio::net::lookup_host((host, port))).await
        });
        let addrs: Vec<SocketAddr> = match lookup {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => {
                return (
                    Outcome::Fail,
                    format!("{origin}: DNS: {host} does not resolve: {e}"),
                );
            }
            Err(_) => {
                return (
                    Outcome::Fail,
                    format!(
                        "{origin}: DNS: no answer for {host} within {}",
                        format_duration(budget)
                    ),
                );
            }
        };
        let verdicts: Vec<String> = addrs
            .iter()
            .map(|a| {
                let ip = a.ip();
                match (is_private(ip), policy.network.allows_private(host, ip)) {
                    (false, _) => ip.to_string(),
                    (true, true) => format!("{ip} (private, allowed)"),
                    (true, false) => format!("{ip} (private, refused)"),
                }
            })
            .collect();
        let answer = if matches!(entry.host, HostPattern::Ip(_)) {
            format!("{host} is an address, no DNS: {}", verdicts.join(", "))
        } else {
            format!("DNS: {host} → {}", verdicts.join(", "))
        };
        match network::vet(&policy.network, host, addrs) {
            Ok(addrs) if !addrs.is_empty() => {
                vetted = Some(addrs);
                (Outcome::Pass, format!("{origin}: {answer}"))
            }
            Ok(_) => (Outcome::Fail, format!("{origin}: DNS: {host} has no address")),
            Err(ip) => (
                Outcome::Fail,
                format!(
                    "{origin}: {answer}: run would refuse it ({ip} is private and [network] allow does not name it; list it, or its range in [network] private_ranges)"
                ),
            ),
        }
    });
    vetted
}

/// Connects to the first address that accepts.
fn tcp_check(
    d: &mut Doctor,
    runtime: &tokio::runtime::Runtime,
    origin: &str,
    addrs: &[SocketAddr],
    budget: Duration,
) -> Option<TcpStream> {
    let mut connected = None;
    d.check(|| {
        let attempt = runtime.block_on(tokio::time::timeout(budget, network::connect_first(addrs)));
        match attempt {
            Ok(Ok((addr, stream))) => {
                connected = Some(stream);
                (Outcome::Pass, format!("{origin}: TCP connect to {addr}"))
            }
            Ok(Err(Some((addr, e)))) => (
                Outcome::Fail,
                format!("{origin}: TCP connect to {addr}: {e}"),
            ),
            Ok(Err(None)) => (Outcome::Fail, format!("{origin}: TCP: no address")),
            Err(_) => (
                Outcome::Fail,
                format!(
                    "{origin}: TCP connect: no answer within {}",
                    format_duration(budget)
                ),
            ),
        }
    });
    connected
}

/// The TLS handshake, as `run`'s requests make it, and the certificate's
/// expiry.
fn tls_check(
    d: &mut Doctor,
    runtime: &tokio::runtime::Runtime,
    origin: &str,
    host: &str,
    stream: TcpStream,
    config: Result<Arc<rustls::ClientConfig>, rustls::Error>,
    budget: Duration,
) {
    d.check(|| {
        let config = match config {
            Ok(config) => config,
            Err(e) => {
                return (
                    Outcome::Fail,
                    format!("{origin}: TLS: no configuration: {e}"),
                );
            }
        };
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => match ServerName::try_from(host.to_owned()) {
                Ok(name) => name,
                Err(e) => return (Outcome::Fail, format!("{origin}: TLS: {host}: {e}")),
            },
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let handshake = runtime.block_on(tokio::time::timeout(
            budget,
            connector.connect(name, stream),
        ));
        match handshake {
            Ok(Ok(tls)) => {
                let expiry = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|cert| expiry(cert.as_ref()))
                    .unwrap_or((Outcome::Fail, "no certificate".to_owned()));
                (expiry.0, format!("{origin}: TLS handshake: {}", expiry.1))
            }
            Ok(Err(e)) => {
                let untrusted = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
                let hint = match untrusted {
                    true => " (a TLS-intercepting network? see [network] ca_bundle)",
                    false => "",
                };
                (
                    Outcome::Fail,
                    format!("{origin}: TLS handshake: {}{hint}", first_line(&e)),
                )
            }
            Err(_) => (
                Outcome::Fail,
                format!(
                    "{origin}: TLS handshake: no answer within {}",
                    format_duration(budget)
                ),
            ),
        }
    });
}

/// What the certificate `der` says about its expiry.
fn expiry(der: &[u8]) -> (Outcome, String) {
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => return (Outcome::Fail, format!("unreadable certificate: {e}")),
    };
    let not_after = cert.validity().not_after;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = (not_after.timestamp() - now).div_euclid(86_400);
    let date = not_after.to_datetime().date();
    match days {
        ..0 => (Outcome::Fail, format!("certificate expired on {date}")),
        0..EXPIRY_WARNING_DAYS => (
            Outcome::Pass,
            format!("certificate trusted, but it expires soon: {date} (in {days} days)"),
        ),
        _ => (
            Outcome::Pass,
            format!("certificate trusted, valid until {date} (in {days} days)"),
        ),
    }
}

/// The cache directory: where, whether private, what it holds.
fn cache_check(d: &mut Doctor) {
    d.check(|| {
        let root = match private_dir::cache_root() {
            Ok(root) => root,
            Err(e) => return (Outcome::Fail, format!("cache directory: {e}")),
        };
        let count = |sub: &str| {
            std::fs::read_dir(root.join(sub)).map_or(0, |entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .count()
            })
        };
        match std::fs::symlink_metadata(&root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                Outcome::Pass,
                format!(
                    "cache directory {} does not exist yet (the first run creates it, mode 0700)",
                    root.display()
                ),
            ),
            // It exists: opening it only checks it.
            _ => match private_dir::PrivateDir::open(&root) {
                Ok(_) => (
                    Outcome::Pass,
                    format!(
                        "cache directory {} is private: {} credential files, {} compiled components",
                        root.display(),
                        count("credentials"),
                        count("compiled"),
                    ),
                ),
                Err(e) => (Outcome::Fail, format!("cache directory: {e}")),
            },
        }
    });
}

/// `text` as one shell word: Claude Code runs its helpers through a shell.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The absolute form of `path` (canonical when it exists).
fn absolute(path: &Path) -> PathBuf {
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// How long Claude Code keeps an `otelHeadersHelper`'s headers unless
/// `CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS` says otherwise: 29 minutes.
/// It never runs the helper again on a 401 from the collector.
pub const OTEL_DEBOUNCE: Duration = Duration::from_secs(29 * 60);
/// The variable that sets Claude Code's OTel headers debounce.
pub const OTEL_DEBOUNCE_VAR: &str = "CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS";

/// The commands Claude Code should run for each of its credential hooks,
/// with the absolute paths of this credbox and of the helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCommands {
    /// `apiKeyHelper`.
    pub api_key: String,
    /// An MCP server's `headersHelper`.
    pub headers: String,
    /// `otelHeadersHelper`.
    pub otel: String,
    /// `proxyAuthHelper`.
    pub proxy: String,
}

/// The commands Claude Code should run (see [`HelperCommands`]) for the
/// helper at `target`.
pub fn helper_commands(target: &Path) -> HelperCommands {
    let exe = std::env::current_exe()
        .map(|p| absolute(&p))
        .unwrap_or_else(|_| PathBuf::from("credbox"));
    let exe = shell_word(&exe.display().to_string());
    let target = shell_word(&absolute(target).display().to_string());
    // Each names its format: the manifest's own may be any of them.
    HelperCommands {
        api_key: format!("{exe} run --format {} {target}", Format::ApiKey),
        headers: format!("{exe} run --format {} {target}", Format::Headers),
        otel: format!(
            "{exe} run --format {} --client otel {target}",
            Format::Headers
        ),
        proxy: format!("{exe} run --format {} {target}", Format::ProxyAuthorization),
    }
}

/// The longest Claude Code keeps OTel headers: `debounce_ms` (the
/// variable's value, when set and a number), else [`OTEL_DEBOUNCE`].
fn otel_debounce(debounce_ms: Option<&str>) -> Duration {
    debounce_ms
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(OTEL_DEBOUNCE, Duration::from_millis)
}

/// The snippets for `~/.claude/settings.json` and `.mcp.json`, and a
/// warning when Claude Code would keep OTel headers longer than credbox
/// reuses the credential (`debounce_ms`: the debounce variable's value).
fn snippets(target: &Path, policy: &Policy, debounce_ms: Option<&str>) -> String {
    let commands = helper_commands(target);
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let ttl = policy.cache.ttl;
    let debounce = otel_debounce(debounce_ms);
    let otel_note = match debounce > ttl {
        true => format!(
            "Warning: Claude Code keeps OTel headers for {} and does not ask again when the \
             collector refuses them, but this helper's credential is reused for at most {} \
             ([cache] ttl). Set {OTEL_DEBOUNCE_VAR} to at most {} (as below), or telemetry \
             stops silently once the token expires.\n",
            format_duration(debounce),
            format_duration(ttl),
            ttl.as_millis(),
        ),
        false => String::new(),
    };
    format!(
        "For Claude Code's API key, in ~/.claude/settings.json:\n\
         {{\n  \"apiKeyHelper\": {api_key}\n}}\n\n\
         For an MCP server's headers, in .mcp.json (set the server's name and url):\n\
         {{\n  \"mcpServers\": {{\n    {name}: {{\n      \"type\": \"http\",\n      \
         \"url\": \"https://mcp.example.com/mcp\",\n      \"headersHelper\": {headers}\n    }}\n  }}\n}}\n\n\
         For Claude Code's OpenTelemetry exporter, in ~/.claude/settings.json (headers are kept \
         for {OTEL_DEBOUNCE_VAR}, 29 minutes by default: keep it shorter than the token's life):\n\
         {otel_note}\
         {{\n  \"otelHeadersHelper\": {otel},\n  \"env\": {{ \"{OTEL_DEBOUNCE_VAR}\": \"{ttl_ms}\" }}\n}}\n\n\
         For an authenticating proxy, in ~/.claude/settings.json (with HTTPS_PROXY set to the proxy's URL):\n\
         {{\n  \"proxyAuthHelper\": {proxy},\n  \"env\": {{ \"CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER\": \"1\" }}\n}}\n",
        api_key = json(&commands.api_key),
        headers = json(&commands.headers),
        otel = json(&commands.otel),
        proxy = json(&commands.proxy),
        name = json(&policy.name),
        ttl_ms = ttl.min(debounce).as_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_word("/usr/bin/credbox"), "/usr/bin/credbox");
        assert_eq!(
            shell_word("/home/me/my helpers/x.toml"),
            "'/home/me/my helpers/x.toml'"
        );
        assert_eq!(shell_word("/tmp/it's"), r"'/tmp/it'\''s'");
        assert_eq!(shell_word("/tmp/$HOME"), "'/tmp/$HOME'");
    }

    #[test]
    fn each_hook_gets_its_own_format() {
        let c = helper_commands(Path::new("/h/credbox.toml"));
        let ends = |text: &str, tail: &str| assert!(text.ends_with(tail), "{text}");
        ends(&c.api_key, " run --format api-key /h/credbox.toml");
        ends(&c.headers, " run --format headers /h/credbox.toml");
        ends(
            &c.otel,
            " run --format headers --client otel /h/credbox.toml",
        );
        ends(
            &c.proxy,
            " run --format proxy-authorization /h/credbox.toml",
        );
    }

    #[test]
    fn a_debounce_longer_than_the_cache_lifetime_is_warned_about() {
        let mut policy = Policy::for_component(Path::new("/h/helper.wasm"));
        let target = Path::new("/h/credbox.toml");
        // The default ttl (5 minutes) is shorter than the default debounce.
        let text = snippets(target, &policy, None);
        assert!(
            text.contains("Warning: Claude Code keeps OTel headers for 1740s"),
            "{text}"
        );
        assert!(
            text.contains(&format!("\"{OTEL_DEBOUNCE_VAR}\": \"300000\"")),
            "{text}"
        );
        // A debounce within the ttl needs no warning.
        let text = snippets(target, &policy, Some("60000"));
        assert!(!text.contains("Warning"), "{text}");
        assert!(
            text.contains(&format!("\"{OTEL_DEBOUNCE_VAR}\": \"60000\"")),
            "{text}"
        );
        policy.cache.ttl = Duration::from_secs(3600);
        let text = snippets(target, &policy, None);
        assert!(!text.contains("Warning"), "{text}");
        assert!(
            text.contains(&format!("\"{OTEL_DEBOUNCE_VAR}\": \"1740000\"")),
            "{text}"
        );
    }

    #[test]
    fn certificates_say_when_they_expire() {
        use rustls_pki_types::pem::PemObject;
        let pem = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/tls/localhost.pem"
        ))
        .unwrap();
        let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
        let (outcome, text) = expiry(der.as_ref());
        assert_eq!(outcome, Outcome::Pass, "{text}");
        assert!(
            text.starts_with("certificate trusted, valid until 2"),
            "{text}"
        );
        let (outcome, text) = expiry(b"not a certificate");
        assert_eq!(outcome, Outcome::Fail);
        assert!(text.starts_with("unreadable certificate"), "{text}");
    }
}
