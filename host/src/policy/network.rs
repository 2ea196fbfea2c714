//! Network: which origins the helper may reach through `wasi:http`.
//!
//! ```toml
//! [network]
//! allow = [
//!     "https://auth.example.com",      # port 443
//!     "https://*.corp.example:8443",   # subdomains only, not corp.example itself
//!     "http://127.0.0.1:*",            # plain HTTP only where named; any port
//! ]
//! ca_bundle = "corp-ca.pem"            # extra trusted roots, relative to the manifest
//! private_ranges = ["10.20.0.0/16"]    # where allowed names may resolve privately
//! ```
//!
//! `--allow-url` adds entries. Deny by default: with no entry the helper has
//! no network at all. An entry is `scheme://host[:port]`:
//!
//! - the scheme is `https`, or `http` for an entry that names it;
//! - the host is a name (case and a trailing dot do not matter), `*.suffix`
//!   for any name under `suffix`, an IPv4 address, an IPv6 address in
//!   brackets, or `localhost`;
//! - a missing port means the scheme's default (443 or 80), `:*` any port.
//!
//! Names are resolved by credbox, and an address in a private, loopback,
//! link-local, shared (CGNAT) or unspecified range ([`is_private`]) is
//! refused unless the allowlist names that address, or the request is for
//! `localhost` and the allowlist names `localhost`: an allowed public name
//! that resolves to an internal address (DNS rebinding) reaches nothing.
//! Internal services behind a VPN resolve to private addresses by design;
//! `private_ranges` lists the CIDR ranges (`10.20.0.0/16`, `fd00:1::/64`)
//! that allowed names may resolve into, so their addresses need not be
//! listed one by one (and kept up to date).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

/// The `[network]` table of a manifest.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Origins the helper may reach, as `scheme://host[:port]`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// A PEM file of CA certificates trusted besides the system's roots
    /// (for networks that intercept TLS with a private CA), relative to the
    /// manifest.
    pub ca_bundle: Option<PathBuf>,
    /// CIDR ranges of private addresses that allowed names may resolve to
    /// (a VPN's internal network).
    #[serde(default)]
    pub private_ranges: Vec<String>,
}

/// A URL scheme credbox sends requests for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: only for entries that name `http://`.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`, in any case; `None` for anything else.
    pub fn parse(text: &str) -> Option<Scheme> {
        if text.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if text.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }

    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Which hosts an entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this name (lowercase, no trailing dot).
    Name(String),
    /// Any name under this suffix, not the suffix itself (`*.example.com`).
    Subdomains(String),
    /// This address, written as a literal.
    Ip(IpAddr),
    /// `localhost`, which may resolve to a loopback address.
    Localhost,
}

/// Which ports an entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRule {
    /// Only this port (the scheme's default when the entry has none).
    Port(u16),
    /// Any port (`:*`).
    Any,
}

/// One parsed allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// The scheme requests must use.
    pub scheme: Scheme,
    /// The hosts it matches.
    pub host: HostPattern,
    /// The ports it matches.
    pub port: PortRule,
}

impl AllowEntry {
    /// Parses `scheme://host[:port]` (a trailing `/` is tolerated). `Err`
    /// says what is wrong without repeating the entry.
    pub fn parse(text: &str) -> Result<AllowEntry, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("expected scheme://host[:port], as in https://api.example.com")?;
        let scheme = Scheme::parse(scheme).ok_or_else(|| {
            format!("unsupported scheme `{scheme}` (https, or http for a test server)")
        })?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err("no path or query: entries are scheme://host[:port]".into());
        }
        let (host, port) = split_port(authority)?;
        let port = match port {
            None => PortRule::Port(scheme.default_port()),
            Some("*") => PortRule::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => PortRule::Port(n),
                _ => return Err(format!("`{p}` is not a port (1 to 65535, or *)")),
            },
        };
        Ok(AllowEntry {
            scheme,
            host: parse_host_pattern(host)?,
            port,
        })
    }

    /// Whether a request for `scheme://host:port` matches. `host` must be
    /// normalised ([`normalize_host`]).
    fn matches(&self, scheme: Scheme, host: &RequestHost, port: u16) -> bool {
        let port_ok = match self.port {
            PortRule::Port(p) => p == port,
            PortRule::Any => true,
        };
        let host_ok = match (&self.host, host) {
            (HostPattern::Name(name), RequestHost::Name(h)) => name == h,
            (HostPattern::Subdomains(suffix), RequestHost::Name(h)) => h
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (HostPattern::Ip(ip), RequestHost::Ip(h)) => ip == h,
            (HostPattern::Localhost, RequestHost::Name(h)) => h == "localhost",
            _ => false,
        };
        self.scheme == scheme && port_ok && host_ok
    }
}

impl fmt::Display for AllowEntry {
    /// The canonical form: lowercase, explicit port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Name(name) => write!(f, "{name}")?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            HostPattern::Localhost => write!(f, "localhost")?,
        }
        match self.port {
            PortRule::Port(p) => write!(f, ":{p}"),
            PortRule::Any => write!(f, ":*"),
        }
    }
}

/// Splits `host[:port]`, with an IPv6 host in brackets.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{rest}` after the address")),
            },
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| HostPattern::Ip(IpAddr::V6(ip)))
            .map_err(|_| format!("`{inner}` is not an IPv6 address"));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ip(IpAddr::V4(ip)));
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host == "localhost" {
        return Ok(HostPattern::Localhost);
    }
    match host.strip_prefix("*.") {
        Some(suffix) => check_name(suffix).map(|()| HostPattern::Subdomains(suffix.to_owned())),
        None => check_name(&host).map(|()| HostPattern::Name(host)),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.contains('*') {
        return Err("`*` only as a whole first label, as in *.example.com".into());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!("`{name}` is not a host name"));
    }
    Ok(())
}

/// A request's host, normalised for matching.
#[derive(Debug, PartialEq, Eq)]
enum RequestHost {
    Name(String),
    Ip(IpAddr),
}

/// Normalises a URL's host: lowercase, no trailing dot, IP literals
/// (IPv6 with or without brackets) parsed.
fn normalize_host(host: &str) -> RequestHost {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => RequestHost::Ip(ip),
        Err(_) => RequestHost::Name(bare.strip_suffix('.').unwrap_or(bare).to_ascii_lowercase()),
    }
}

/// Extra trusted CA certificates, read from `[network] ca_bundle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// Where they were read from.
    pub path: PathBuf,
    /// The certificates, DER-encoded, in file order.
    pub certificates: Vec<CertificateDer<'static>>,
}

impl CaBundle {
    /// Reads a PEM file of CA certificates; `Err` says what is wrong with
    /// it. Each certificate must be usable as a trust anchor.
    pub fn read(path: &Path) -> Result<CaBundle, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certificates = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM file of certificates: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("no certificates in {}", path.display()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for (i, certificate) in certificates.iter().enumerate() {
            roots.add(certificate.clone()).map_err(|e| {
                format!(
                    "certificate {} of {} is unusable: {e}",
                    i + 1,
                    path.display()
                )
            })?;
        }
        Ok(CaBundle {
            path: path.to_owned(),
            certificates,
        })
    }
}

/// A CIDR range of addresses, such as `10.20.0.0/16` or `fd00:1::/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    /// The first address of the range (host bits zero).
    pub network: IpAddr,
    /// The prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub prefix: u8,
}

impl IpRange {
    /// Parses `address/prefix`; the address may not have bits set past the
    /// prefix (`10.20.0.1/16` is a mistake, not a range). A bare address is
    /// a range of one. `Err` says what is wrong.
    pub fn parse(text: &str) -> Result<IpRange, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?}: `{address}` is not an IP address"))?;
        let bits = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= bits => p,
                _ => return Err(format!("{text:?}: the prefix must be 0 to {bits}")),
            },
        };
        let range = IpRange { network, prefix };
        if range.mask(network) != bits_of(network) {
            return Err(format!(
                "{text:?}: bits are set past the /{prefix} prefix (did you mean {}/{prefix}?)",
                range.first()
            ));
        }
        Ok(range)
    }

    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let same_family = matches!(
            (ip, self.network),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && self.mask(ip) == self.mask(self.network)
    }

    /// `ip`'s bits with those past the prefix cleared.
    fn mask(&self, ip: IpAddr) -> u128 {
        let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = u32::from(self.prefix).min(width);
        if prefix == 0 {
            return 0;
        }
        let keep = (u128::MAX << (width - prefix)) & (u128::MAX >> (128 - width));
        bits_of(ip) & keep
    }

    /// The range's first address.
    fn first(&self) -> IpAddr {
        let bits = self.mask(self.network);
        match self.network {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
        }
    }
}

fn bits_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The network rules in force for one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    allow: Vec<AllowEntry>,
    ca_bundle: Option<CaBundle>,
    private_ranges: Vec<IpRange>,
}

impl NetworkPolicy {
    /// The policy of a manifest's `[network]` table; a relative
    /// `ca_bundle` is read from `base`, the manifest's folder. `Err` names
    /// the field and, for `allow`, the entry.
    pub fn from_config(config: &NetworkConfig, base: &Path) -> Result<NetworkPolicy, String> {
        let mut policy = NetworkPolicy::default();
        for entry in &config.allow {
            policy
                .allow(entry)
                .map_err(|e| format!("[network] allow: {e}"))?;
        }
        if let Some(path) = &config.ca_bundle {
            let bundle = CaBundle::read(&base.join(path))
                .map_err(|e| format!("[network] ca_bundle: {e}"))?;
            policy.ca_bundle = Some(bundle);
        }
        for range in &config.private_ranges {
            let range =
                IpRange::parse(range).map_err(|e| format!("[network] private_ranges: {e}"))?;
            if !policy.private_ranges.contains(&range) {
                policy.private_ranges.push(range);
            }
        }
        Ok(policy)
    }

    /// Adds one entry. `Err` quotes the entry, unless it holds user info
    /// (which may be a password).
    pub fn allow(&mut self, text: &str) -> Result<(), String> {
        if text.contains('@') {
            return Err(
                "an entry holds user info (user@host); list only scheme://host[:port]".into(),
            );
        }
        let entry = AllowEntry::parse(text).map_err(|e| format!("{text:?}: {e}"))?;
        if !self.allow.contains(&entry) {
            self.allow.push(entry);
        }
        Ok(())
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.allow
    }

    /// The extra trusted CA certificates, if any.
    pub fn ca_bundle(&self) -> Option<&CaBundle> {
        self.ca_bundle.as_ref()
    }

    /// Whether some entry allows a request for `scheme://host:port`. `host`
    /// is as it appears in the URL (IPv6 in brackets or not); `port` is the
    /// effective one (the scheme's default when the URL has none).
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let Some(scheme) = Scheme::parse(scheme) else {
            return false;
        };
        let host = normalize_host(host);
        self.allow.iter().any(|e| e.matches(scheme, &host, port))
    }

    /// The ranges allowed names may resolve into (`[network]
    /// private_ranges`).
    pub fn private_ranges(&self) -> &[IpRange] {
        &self.private_ranges
    }

    /// Whether a request for `host` may connect to `ip` although it is
    /// private ([`is_private`]): some entry names `ip` itself, `ip` is in
    /// one of the `private_ranges`, or `host` is `localhost`, an entry
    /// names `localhost` and `ip` is a loopback address.
    pub fn allows_private(&self, host: &str, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.private_ranges.iter().any(|r| r.contains(ip)) {
            return true;
        }
        let is_localhost = normalize_host(host) == RequestHost::Name("localhost".into());
        self.allow.iter().any(|e| match &e.host {
            HostPattern::Ip(listed) => listed.to_canonical() == ip,
            HostPattern::Localhost => is_localhost && ip.is_loopback(),
            HostPattern::Name(_) | HostPattern::Subdomains(_) => false,
        })
    }
}

/// Whether `ip` is an address a helper must not reach by name alone:
/// unspecified or "this network" (`0.0.0.0/8`, `::`), loopback
/// (`127.0.0.0/8`, `::1`), private (`10/8`, `172.16/12`, `192.168/16`,
/// `fc00::/7`), link-local (`169.254/16`, `fe80::/10`), shared CGNAT space
/// (`100.64/10`), and IPv4-mapped IPv6 forms of all of these.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 0
                || v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (a == 100 && b & 0xc0 == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || first & 0xffc0 == 0xfe80
                || first & 0xfe00 == 0xfc00
        }
    }
}

impl crate::fingerprint::Fingerprint for NetworkPolicy {
    fn fingerprint(&self, f: &mut crate::fingerprint::Fingerprinter) {
        let NetworkPolicy {
            allow,
            ca_bundle,
            private_ranges,
        } = self;
        let allow: Vec<String> = allow.iter().map(ToString::to_string).collect();
        f.field("allow", &allow);
        let certificates: Vec<&[u8]> = ca_bundle
            .iter()
            .flat_map(|b| b.certificates.iter().map(|c| c.as_ref()))
            .collect();
        f.field("ca_bundle", &certificates);
        let ranges: Vec<String> = private_ranges.iter().map(ToString::to_string).collect();
        f.field("private_ranges", &ranges);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> NetworkPolicy {
        let mut p = NetworkPolicy::default();
        for e in entries {
            p.allow(e).unwrap();
        }
        p
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let p = NetworkPolicy::default();
        assert!(!p.allows("https", "example.com", 443));
        assert!(!p.allows_private("localhost", "127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = policy(&["https://*.example.com"]);
        assert!(p.allows("https", "api.example.com", 443));
        assert!(p.allows("https", "a.b.example.com", 443));
        assert!(!p.allows("https", "example.com", 443));
        assert!(!p.allows("https", "evilexample.com", 443));
        assert!(!p.allows("https", ".example.com", 443));
        assert!(!p.allows("https", "example.com.evil.net", 443));
    }

    #[test]
    fn ports_default_per_scheme_or_are_any_when_starred() {
        let p = policy(&[
            "https://a.example",
            "http://b.example",
            "https://c.example:8443",
            "https://d.example:*",
        ]);
        assert!(p.allows("https", "a.example", 443));
        assert!(!p.allows("https", "a.example", 8443));
        assert!(p.allows("http", "b.example", 80));
        assert!(!p.allows("http", "b.example", 443));
        assert!(p.allows("https", "c.example", 8443));
        assert!(!p.allows("https", "c.example", 443));
        assert!(p.allows("https", "d.example", 1));
        assert!(p.allows("https", "d.example", 65535));
    }

    #[test]
    fn http_only_where_an_entry_names_it() {
        let p = policy(&["https://a.example", "http://127.0.0.1:*"]);
        assert!(!p.allows("http", "a.example", 80));
        assert!(!p.allows("http", "a.example", 443));
        assert!(p.allows("http", "127.0.0.1", 8080));
        assert!(!p.allows("https", "127.0.0.1", 8080));
        assert!(!p.allows("ftp", "a.example", 443));
    }

    #[test]
    fn case_and_trailing_dots_do_not_matter() {
        let p = policy(&["HTTPS://API.Example.COM.", "https://*.Corp.Example"]);
        assert!(p.allows("https", "api.example.com", 443));
        assert!(p.allows("HTTPS", "Api.Example.Com.", 443));
        assert!(p.allows("https", "X.CORP.EXAMPLE.", 443));
        assert_eq!(p.entries()[0].to_string(), "https://api.example.com:443");
        assert_eq!(p.entries()[1].to_string(), "https://*.corp.example:443");
    }

    #[test]
    fn ip_literals_match_only_themselves() {
        let p = policy(&[
            "http://[::1]:8080",
            "https://10.0.0.5",
            "https://[2001:DB8::1]/",
        ]);
        assert!(p.allows("http", "[::1]", 8080));
        assert!(p.allows("http", "::1", 8080));
        assert!(!p.allows("http", "[::2]", 8080));
        assert!(p.allows("https", "10.0.0.5", 443));
        assert!(!p.allows("https", "10.0.0.6", 443));
        assert!(p.allows("https", "[2001:db8::1]", 443));
        assert_eq!(p.entries()[0].to_string(), "http://[::1]:8080");
        assert_eq!(p.entries()[2].to_string(), "https://[2001:db8::1]:443");
    }

    #[test]
    fn private_addresses_need_their_own_entry_or_localhost() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let p = policy(&[
            "https://token.example.com",
            "http://10.0.0.5:8080",
            "http://localhost:*",
        ]);
        assert!(!p.allows_private("token.example.com", ip("127.0.0.1")));
        assert!(!p.allows_private("token.example.com", ip("10.0.0.6")));
        assert!(p.allows_private("token.example.com", ip("10.0.0.5")));
        assert!(p.allows_private("internal.example", ip("::ffff:10.0.0.5")));
        assert!(p.allows_private("localhost", ip("127.0.0.1")));
        assert!(p.allows_private("LOCALHOST.", ip("::1")));
        assert!(!p.allows_private("localhost", ip("192.168.1.1")));
        assert!(
            !policy(&["https://token.example.com"]).allows_private("localhost", ip("127.0.0.1"))
        );
    }

    #[test]
    fn classifier_knows_the_private_ranges() {
        for private in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
        ] {
            assert!(
                is_private(private.parse().unwrap()),
                "{private} should be private"
            );
        }
        for public in [
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.255.0.1",
            "1.1.1.1",
            "2001:db8::1",
            "2606:4700::1111",
            "fec0::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                !is_private(public.parse().unwrap()),
                "{public} should be public"
            );
        }
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let err = |text: &str| NetworkPolicy::default().allow(text).unwrap_err();
        assert!(
            err("ftp://x.example").starts_with(r#""ftp://x.example": unsupported scheme `ftp`"#)
        );
        assert!(err("example.com").contains("expected scheme://host[:port]"));
        assert!(err("https://example.com/path").contains("no path"));
        assert!(err("https://example.com?q=1").contains("no path"));
        assert!(err("https://example.com:0").contains("not a port"));
        assert!(err("https://example.com:99999").contains("not a port"));
        assert!(err("https://example.com:").contains("not a port"));
        assert!(err("https://*").contains("`*` only"));
        assert!(err("https://a.*.example.com").contains("`*` only"));
        assert!(err("https://*example.com").contains("`*` only"));
        assert!(err("https://ex ample.com").contains("not a host name"));
        assert!(err("https://a..b").contains("not a host name"));
        assert!(err("https://").contains("not a host name"));
        assert!(err("https://[::1").contains("closing"));
        assert!(err("https://[nope]").contains("not an IPv6 address"));
        assert!(err("https://::1").contains("not a host name"));
        let secret = err("https://user:hunter2@example.com");
        assert!(
            secret.contains("user info") && !secret.contains("hunter2"),
            "{secret}"
        );
    }

    #[test]
    fn manifest_fields_are_named_in_errors() {
        let config = NetworkConfig {
            allow: vec!["https://ok.example".into(), "ftp://x".into()],
            ..NetworkConfig::default()
        };
        let err = NetworkPolicy::from_config(&config, Path::new(".")).unwrap_err();
        assert!(err.starts_with(r#"[network] allow: "ftp://x": "#), "{err}");
        let config = NetworkConfig {
            private_ranges: vec!["10.0.0.0/8".into(), "10.1.0.0/33".into()],
            ..NetworkConfig::default()
        };
        let err = NetworkPolicy::from_config(&config, Path::new(".")).unwrap_err();
        assert_eq!(
            err,
            r#"[network] private_ranges: "10.1.0.0/33": the prefix must be 0 to 32"#
        );

        let dir = tempfile::tempdir().unwrap();
        let config = NetworkConfig {
            ca_bundle: Some("missing.pem".into()),
            ..NetworkConfig::default()
        };
        let err = NetworkPolicy::from_config(&config, dir.path()).unwrap_err();
        assert!(
            err.starts_with("[network] ca_bundle: cannot read "),
            "{err}"
        );
        std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
        let config = NetworkConfig {
            ca_bundle: Some("empty.pem".into()),
            ..NetworkConfig::default()
        };
        let err = NetworkPolicy::from_config(&config, dir.path()).unwrap_err();
        assert!(
            err.starts_with("[network] ca_bundle: no certificates in "),
            "{err}"
        );

        let config = NetworkConfig {
            ca_bundle: Some("tls/ca.pem".into()),
            ..NetworkConfig::default()
        };
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let policy = NetworkPolicy::from_config(&config, &testdata).unwrap();
        let bundle = policy.ca_bundle().unwrap();
        assert_eq!(bundle.path, testdata.join("tls/ca.pem"));
        assert_eq!(bundle.certificates.len(), 1);
    }

    #[test]
    fn duplicate_entries_are_kept_once() {
        let p = policy(&["https://a.example", "HTTPS://A.EXAMPLE:443/"]);
        assert_eq!(p.entries().len(), 1);
    }

    #[test]
    fn private_ranges_let_allowed_names_resolve_inside_them() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let config = NetworkConfig {
            allow: vec!["https://intranet.corp.example".into()],
            private_ranges: vec![
                "10.20.0.0/16".into(),
                "fd00:1::/64".into(),
                "192.168.7.9".into(),
            ],
            ..NetworkConfig::default()
        };
        let p = NetworkPolicy::from_config(&config, Path::new(".")).unwrap();
        for inside in [
            "10.20.0.15",
            "10.20.255.255",
            "::ffff:10.20.3.4",
            "fd00:1::42",
            "192.168.7.9",
        ] {
            assert!(
                p.allows_private("intranet.corp.example", ip(inside)),
                "{inside}"
            );
        }
        for outside in [
            "10.21.0.1",
            "10.19.255.255",
            "127.0.0.1",
            "fd00:2::1",
            "192.168.7.8",
        ] {
            assert!(
                !p.allows_private("intranet.corp.example", ip(outside)),
                "{outside}"
            );
        }
        assert_eq!(p.private_ranges()[0].to_string(), "10.20.0.0/16");
        assert_eq!(p.private_ranges()[2].to_string(), "192.168.7.9/32");
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        let err = |text: &str| IpRange::parse(text).unwrap_err();
        assert_eq!(
            err("10.20.0.1/16"),
            r#""10.20.0.1/16": bits are set past the /16 prefix (did you mean 10.20.0.0/16?)"#
        );
        assert_eq!(err("corp/8"), r#""corp/8": `corp` is not an IP address"#);
        assert_eq!(
            err("fd00::/129"),
            r#""fd00::/129": the prefix must be 0 to 128"#
        );
        assert_eq!(
            err("10.0.0.0/x"),
            r#""10.0.0.0/x": the prefix must be 0 to 32"#
        );
        let all = IpRange::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("203.0.113.1".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
    }
}
