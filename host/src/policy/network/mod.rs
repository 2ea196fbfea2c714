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
//!
//! [[network.client_cert]]              # mutual TLS: presented to this origin only
//! origin = "https://mtls.corp.example:8443"
//! cert = "client.pem"                  # PEM chain, leaf first
//! key = "client.key"                   # its PEM private key, chmod 600
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
//! link-local, shared (CGNAT) or unspecified range
//! ([`ranges::is_private`]) is refused unless the allowlist names that
//! address, or the request is for `localhost` and the allowlist names
//! `localhost`: an allowed public name that resolves to an internal
//! address (DNS rebinding) reaches nothing. Internal services behind a VPN
//! resolve to private addresses by design;
//! `private_ranges` lists the CIDR ranges (`10.20.0.0/16`, `fd00:1::/64`)
//! that allowed names may resolve into, so their addresses need not be
//! listed one by one (and kept up to date).
//!
//! This module holds the manifest's table and the policy built from it;
//! the pieces live beside it: [`allow`] (entries and matching), [`ranges`]
//! (CIDR ranges and the private-address table) and [`tls`] (the CA bundle
//! and the TLS client configuration, client certificates included).

pub mod allow;
pub mod ranges;
pub mod tls;

use crate::redact::clip;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use allow::{AllowEntry, HostPattern, RequestHost, Scheme, normalize_host};
use tls::{CaBundle, ClientCert};

use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::manifest::NetworkTable;

/// The network rules in force for one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    allow: Vec<AllowEntry>,
    ca_bundle: Option<CaBundle>,
    private_ranges: Vec<IpNet>,
    client_certs: Vec<ClientCert>,
}

impl NetworkPolicy {
    /// The policy of a manifest's `[network]` table; a relative
    /// `ca_bundle` is read from `base`, the manifest's folder. `Err` names
    /// the field and, for `allow`, the entry.
    pub fn from_config(config: &NetworkTable, base: &Path) -> Result<NetworkPolicy, String> {
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
                ranges::parse_range(range).map_err(|e| format!("[network] private_ranges: {e}"))?;
            if !policy.private_ranges.contains(&range) {
                policy.private_ranges.push(range);
            }
        }
        for (i, entry) in config.client_cert.iter().enumerate() {
            let at = client_cert_label(i);
            let cert = ClientCert::read(
                &entry.origin,
                &base.join(&entry.cert),
                &base.join(&entry.key),
            )
            .map_err(|e| format!("{at} {e}"))?;
            let origin = cert.origin.to_string();
            let host = origin
                .strip_prefix("https://")
                .and_then(|o| o.rsplit_once(':'))
                .map_or("", |(host, _)| host);
            let port = match cert.origin.port {
                allow::PortRule::Port(port) => port,
                allow::PortRule::Any => 0,
            };
            if !policy.allows("https", host, port) {
                return Err(format!(
                    "{at} origin: {origin} is not in [network] allow; add it there too"
                ));
            }
            if policy.client_certs.iter().any(|c| c.origin == cert.origin) {
                return Err(format!(
                    "{at} origin: {origin} already has a client certificate"
                ));
            }
            policy.client_certs.push(cert);
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
        let entry = AllowEntry::parse(text).map_err(|e| format!("\"{}\": {e}", clip(text)))?;
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

    /// The client certificate presented to `https://host:port`, if any,
    /// with its index among [`NetworkPolicy::client_certs`].
    pub fn client_cert_for(&self, host: &str, port: u16) -> Option<(usize, &ClientCert)> {
        let host = normalize_host(host);
        self.client_certs
            .iter()
            .enumerate()
            .find(|(_, c)| c.is_for(&host, port))
    }

    /// The client certificates, in the manifest's order.
    pub fn client_certs(&self) -> &[ClientCert] {
        &self.client_certs
    }

    /// Loads every client certificate's key now ([`ClientCert::load`]),
    /// as a run does before its helper starts (a cache hit never does): a
    /// key that cannot be read, parsed or matched to its certificate fails
    /// the run at once. `Err` names the entry and the field.
    pub fn load_client_certs(&self) -> Result<(), String> {
        for (i, cert) in self.client_certs.iter().enumerate() {
            cert.load()
                .map_err(|e| format!("{} {e}", client_cert_label(i)))?;
        }
        Ok(())
    }

    /// The ranges allowed names may resolve into (`[network]
    /// private_ranges`).
    pub fn private_ranges(&self) -> &[IpNet] {
        &self.private_ranges
    }

    /// Whether a request for `host` may connect to `ip` although it is
    /// private ([`ranges::is_private`]): some entry names `ip` itself,
    /// `ip` is in one of the `private_ranges`, or `host` is `localhost`,
    /// an entry names `localhost` and `ip` is a loopback address.
    pub fn allows_private(&self, host: &str, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.private_ranges.iter().any(|r| ranges::contains(r, ip)) {
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

/// How errors name the `i`th (from 0) `[[network.client_cert]]`.
fn client_cert_label(i: usize) -> String {
    format!("[[network.client_cert]] {}", i + 1)
}

impl Fingerprint for NetworkPolicy {
    fn fingerprint(&self, f: &mut Fingerprinter) {
        let NetworkPolicy {
            allow,
            ca_bundle,
            private_ranges,
            client_certs,
        } = self;
        // Canonical forms: `HTTPS://A.example` and `https://a.example:443`
        // are the same entry.
        let allow: Vec<String> = allow.iter().map(ToString::to_string).collect();
        f.field("allow", &allow);
        f.field("ca_bundle", ca_bundle);
        let ranges: Vec<String> = private_ranges.iter().map(ToString::to_string).collect();
        f.field("private_ranges", &ranges);
        f.field("client_certs", client_certs);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A policy allowing `entries` (for the tests of this module's parts).
    pub(crate) fn policy(entries: &[&str]) -> NetworkPolicy {
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
    fn manifest_fields_are_named_in_errors() {
        let config = NetworkTable {
            allow: vec!["https://ok.example".into(), "ftp://x".into()],
            ..NetworkTable::default()
        };
        let err = NetworkPolicy::from_config(&config, Path::new(".")).unwrap_err();
        assert!(err.starts_with(r#"[network] allow: "ftp://x": "#), "{err}");
        let config = NetworkTable {
            private_ranges: vec!["10.0.0.0/8".into(), "10.1.0.0/33".into()],
            ..NetworkTable::default()
        };
        let err = NetworkPolicy::from_config(&config, Path::new(".")).unwrap_err();
        assert_eq!(
            err,
            r#"[network] private_ranges: "10.1.0.0/33": the prefix must be 0 to 32"#
        );

        let dir = tempfile::tempdir().unwrap();
        let config = NetworkTable {
            ca_bundle: Some("missing.pem".into()),
            ..NetworkTable::default()
        };
        let err = NetworkPolicy::from_config(&config, dir.path()).unwrap_err();
        assert!(
            err.starts_with("[network] ca_bundle: cannot read "),
            "{err}"
        );
        std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
        let config = NetworkTable {
            ca_bundle: Some("empty.pem".into()),
            ..NetworkTable::default()
        };
        let err = NetworkPolicy::from_config(&config, dir.path()).unwrap_err();
        assert!(
            err.starts_with("[network] ca_bundle: no certificates in "),
            "{err}"
        );

        let config = NetworkTable {
            ca_bundle: Some("tls/ca.pem".into()),
            ..NetworkTable::default()
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
        let config = NetworkTable {
            allow: vec!["https://intranet.corp.example".into()],
            private_ranges: vec![
                "10.20.0.0/16".into(),
                "fd00:1::/64".into(),
                "192.168.7.9".into(),
            ],
            ..NetworkTable::default()
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
}
