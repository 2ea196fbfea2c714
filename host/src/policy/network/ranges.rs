//! Address ranges: CIDR ranges from `[network] private_ranges`, and the
//! addresses a helper may not reach by name alone ([`is_private`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

#[cfg(test)]
mod tests {
    use super::*;

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
