//! Allowlist entries: `scheme://host[:port]`, parsed and matched.
//!
//! An entry names a scheme (`https`, or `http` where written), a host (a
//! name, `*.suffix` for any name under `suffix`, an IP literal, or
//! `localhost`) and a port (the scheme's default when missing, `:*` for
//! any). A request's host is normalised (`normalize_host`) before it is
//! matched, so case and a trailing dot do not matter.

use crate::redact::clip;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
            format!(
                "unsupported scheme `{}` (https, or http for a test server)",
                clip(scheme)
            )
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
                _ => return Err(format!("`{}` is not a port (1 to 65535, or *)", clip(p))),
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
    pub(super) fn matches(&self, scheme: Scheme, host: &RequestHost, port: u16) -> bool {
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
                None => Err(format!("unexpected `{}` after the address", clip(rest))),
            },
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// Parses an entry's host: `[IPv6]`, IPv4, `localhost`, `*.suffix` or a
/// name, lowercased and without a trailing dot.
fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| HostPattern::Ip(IpAddr::V6(ip)))
            .map_err(|_| format!("`{}` is not an IPv6 address", clip(inner)));
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

/// Whether `name` is a host name: dot-separated labels of letters,
/// digits, `-` and `_`, 1 to 63 bytes each, 253 in all; `Err` says why not.
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
        return Err(format!("`{}` is not a host name", clip(name)));
    }
    Ok(())
}

/// A request's host, normalised for matching.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RequestHost {
    /// A name: lowercase, no trailing dot.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

/// Normalises a URL's host: lowercase, no trailing dot, IP literals
/// (IPv6 with or without brackets) parsed.
pub(super) fn normalize_host(host: &str) -> RequestHost {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => RequestHost::Ip(ip),
        Err(_) => RequestHost::Name(bare.strip_suffix('.').unwrap_or(bare).to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::network::NetworkPolicy;
    use crate::policy::network::tests::policy;

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
}
