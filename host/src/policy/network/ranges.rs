//! Address ranges, on the `ipnet` crate: the CIDR ranges of `[network]
//! private_ranges` ([`parse_range`], [`contains`]), and the addresses a
//! helper may not reach by name alone ([`NON_GLOBAL`], [`is_private`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Parses a CIDR range, `address/prefix` (`10.20.0.0/16`, `fd00:1::/64`);
/// a bare address is a range of one (`/32` or `/128`). The address may not
/// have bits set past the prefix (`10.20.0.1/16` is a mistake, not a
/// range). `Err` quotes `text` and says what is wrong.
pub fn parse_range(text: &str) -> Result<IpNet, String> {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("{text:?}: `{address}` is not an IP address"))?;
    let single = IpNet::from(address);
    let range = match prefix {
        None => single,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .and_then(|p| IpNet::new(address, p).ok())
            .ok_or_else(|| {
                let bits = single.max_prefix_len();
                format!("{text:?}: the prefix must be 0 to {bits}")
            })?,
    };
    if range.addr() != range.network() {
        let prefix = range.prefix_len();
        return Err(format!(
            "{text:?}: bits are set past the /{prefix} prefix (did you mean {}?)",
            range.trunc()
        ));
    }
    Ok(range)
}

/// Whether `range` holds `ip`; an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) counts as the IPv4 address it maps.
pub fn contains(range: &IpNet, ip: IpAddr) -> bool {
    range.contains(&ip.to_canonical())
}

/// An IPv4 range for [`NON_GLOBAL`].
const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix))
}

/// An IPv6 range for [`NON_GLOBAL`], from its first segment (the others
/// zero) or, for `::1`, its last.
const fn v6(first: u16, last: u16, prefix: u8) -> IpNet {
    v6s([first, 0, 0, 0, 0, 0, 0, last], prefix)
}

/// An IPv6 range from all its segments.
const fn v6s(s: [u16; 8], prefix: u8) -> IpNet {
    IpNet::V6(Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    ))
}

/// The ranges a helper must not reach by name alone ([`is_private`]): the
/// single place to list one more. Each is written with its host bits zero
/// (a unit test checks).
///
/// The list follows IANA's IPv4 and IPv6 Special-Purpose Address
/// Registries (every entry whose "Globally Reachable" is False, and the
/// deprecated ones), plus multicast, which no HTTP server lives at. The
/// registries' globally reachable exceptions inside a listed block are in
/// [`GLOBAL_EXCEPTIONS`]. Addresses that embed an IPv4 address (NAT64's
/// `64:ff9b::/96`, 6to4's `2002::/16`) are judged by the IPv4 address they
/// lead to ([`is_private`]).
pub const NON_GLOBAL: &[IpNet] = &[
    // "This network" (RFC 791, RFC 1122 section 3.2.1.3), with the
    // unspecified address 0.0.0.0.
    v4(0, 0, 0, 0, 8),
    // Private networks (RFC 1918).
    v4(10, 0, 0, 0, 8),
    v4(172, 16, 0, 0, 12),
    v4(192, 168, 0, 0, 16),
    // Loopback (RFC 1122 section 3.2.1.3).
    v4(127, 0, 0, 0, 8),
    // Link-local (RFC 3927), home of cloud metadata services.
    v4(169, 254, 0, 0, 16),
    // Shared address space of carrier-grade NAT (RFC 6598).
    v4(100, 64, 0, 0, 10),
    // IETF protocol assignments (RFC 6890 section 2.1), among them the
    // DS-Lite and NAT64 discovery addresses; see GLOBAL_EXCEPTIONS.
    v4(192, 0, 0, 0, 24),
    // Documentation: TEST-NET-1, -2 and -3 (RFC 5737).
    v4(192, 0, 2, 0, 24),
    v4(198, 51, 100, 0, 24),
    v4(203, 0, 113, 0, 24),
    // Deprecated 6to4 relay anycast (RFC 7526).
    v4(192, 88, 99, 0, 24),
    // Benchmarking (RFC 2544).
    v4(198, 18, 0, 0, 15),
    // Multicast (RFC 5771).
    v4(224, 0, 0, 0, 4),
    // Reserved for future use (RFC 1112 section 4), with the limited
    // broadcast address 255.255.255.255 (RFC 919).
    v4(240, 0, 0, 0, 4),
    // The unspecified address `::` (RFC 4291 section 2.5.2).
    v6(0, 0, 128),
    // Loopback `::1` (RFC 4291 section 2.5.3).
    v6(0, 1, 128),
    // Deprecated IPv4-compatible addresses `::a.b.c.d` (RFC 4291 section
    // 2.5.5.1), around the two above.
    v6(0, 0, 96),
    // Link-local unicast (RFC 4291 section 2.5.6).
    v6(0xfe80, 0, 10),
    // Unique local addresses (RFC 4193).
    v6(0xfc00, 0, 7),
    // IPv4/IPv6 translation for local use (RFC 8215).
    v6s([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
    // Discard-only (RFC 6666).
    v6(0x100, 0, 64),
    // IETF protocol assignments (RFC 2928): Teredo, benchmarking, ORCHID...;
    // see GLOBAL_EXCEPTIONS.
    v6(0x2001, 0, 23),
    // Documentation (RFC 3849, RFC 9637).
    v6s([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
    v6(0x3fff, 0, 20),
    // Segment routing SIDs (RFC 9602).
    v6(0x5f00, 0, 16),
    // Multicast (RFC 4291 section 2.7).
    v6(0xff00, 0, 8),
];

/// Blocks inside a [`NON_GLOBAL`] range that IANA's registries mark
/// globally reachable: anycast services and ORCHIDv2.
pub const GLOBAL_EXCEPTIONS: &[IpNet] = &[
    // Port Control Protocol anycast (RFC 7723) and TURN anycast (RFC 8155).
    v4(192, 0, 0, 9, 32),
    v4(192, 0, 0, 10, 32),
    // PCP and TURN anycast, IPv6.
    v6s([0x2001, 1, 0, 0, 0, 0, 0, 1], 128),
    v6s([0x2001, 1, 0, 0, 0, 0, 0, 2], 128),
    // AMT (RFC 7450).
    v6s([0x2001, 3, 0, 0, 0, 0, 0, 0], 32),
    // AS112-v6 (RFC 7535).
    v6s([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48),
    // ORCHIDv2 (RFC 7343) and drone remote ID (RFC 9374).
    v6s([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),
    v6s([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28),
];

/// The IPv4 address an IPv6 address leads to when it embeds one: NAT64's
/// well-known prefix `64:ff9b::/96` (RFC 6052) and 6to4's `2002::/16`
/// (RFC 3056).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Whether `ip` is an address a helper must not reach by name alone: one
/// in [`NON_GLOBAL`] (unspecified or "this network", loopback, private,
/// link-local, shared CGNAT space, documentation, benchmarking, reserved,
/// multicast...) and not in [`GLOBAL_EXCEPTIONS`], or an IPv6 address that
/// leads to such an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64,
/// 6to4).
pub fn is_private(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    if let IpAddr::V6(v6) = ip
        && let Some(v4) = embedded_ipv4(v6)
    {
        return is_private(IpAddr::V4(v4));
    }
    NON_GLOBAL.iter().any(|range| range.contains(&ip))
        && !GLOBAL_EXCEPTIONS.iter().any(|range| range.contains(&ip))
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
            // IANA's special-purpose registries.
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "224.0.0.1",
            "239.255.255.250",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001:db8::1",
            "3fff::1",
            "2001::1",
            "2001:2::1",
            "100::1",
            "5f00::1",
            "ff02::1",
            "ff0e::1",
            "::10.0.0.1",
            "::ffff:198.18.0.1",
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
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "192.0.0.9",
            "192.0.1.1",
            "192.31.196.1",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:200::1",
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
        let err = |text: &str| parse_range(text).unwrap_err();
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
        let all = parse_range("0.0.0.0/0").unwrap();
        assert!(contains(&all, "203.0.113.1".parse().unwrap()));
        assert!(!contains(&all, "::1".parse().unwrap()));
    }

    #[test]
    fn parsing_on_ipnet_keeps_the_messages_and_forms() {
        let err = |text: &str| parse_range(text).unwrap_err();
        assert_eq!(
            err("fd00:1::1/64"),
            r#""fd00:1::1/64": bits are set past the /64 prefix (did you mean fd00:1::/64?)"#
        );
        assert_eq!(
            err("0.0.0.1/0"),
            r#""0.0.0.1/0": bits are set past the /0 prefix (did you mean 0.0.0.0/0?)"#
        );
        assert_eq!(
            err("10.0.0.0/"),
            r#""10.0.0.0/": the prefix must be 0 to 32"#
        );
        assert_eq!(
            err("10.0.0.0/-1"),
            r#""10.0.0.0/-1": the prefix must be 0 to 32"#
        );
        assert_eq!(
            err("10.0.0.0/8/8"),
            r#""10.0.0.0/8/8": the prefix must be 0 to 32"#
        );
        assert_eq!(err("::/129"), r#""::/129": the prefix must be 0 to 128"#);
        assert_eq!(err("/8"), r#""/8": `` is not an IP address"#);
        assert_eq!(err(""), r#""": `` is not an IP address"#);
        // The forms the cache key hashes: a bare address is a range of one.
        for (text, form) in [
            ("10.20.0.0/16", "10.20.0.0/16"),
            ("192.168.7.9", "192.168.7.9/32"),
            ("fd00:1::42", "fd00:1::42/128"),
            ("FD00:1:0::/64", "fd00:1::/64"),
            ("0.0.0.0/0", "0.0.0.0/0"),
        ] {
            assert_eq!(parse_range(text).unwrap().to_string(), form, "{text}");
        }
    }

    #[test]
    fn ranges_hold_ipv4_mapped_addresses_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let v4 = parse_range("10.20.0.0/16").unwrap();
        assert!(contains(&v4, ip("::ffff:10.20.3.4")));
        assert!(!contains(&v4, ip("::ffff:10.21.0.1")));
        let v6 = parse_range("fd00:1::/64").unwrap();
        assert!(contains(&v6, ip("fd00:1::42")));
        assert!(!contains(&v6, ip("10.20.3.4")));
    }

    #[test]
    fn the_table_writes_each_range_from_its_first_address() {
        for range in NON_GLOBAL.iter().chain(GLOBAL_EXCEPTIONS) {
            assert_eq!(
                *range,
                range.trunc(),
                "{range} has bits set past its prefix"
            );
        }
    }
}
