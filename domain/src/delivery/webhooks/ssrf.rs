//! Which addresses a webhook may be sent to (webhooks.md, "SSRF protection").
//!
//! Only globally routable addresses: every IPv4 and IPv6 range that is private, loopback,
//! link-local (including the 169.254.169.254 cloud metadata address), carrier-grade NAT,
//! broadcast, multicast, documentation, reserved or unspecified is refused, and so are IPv6
//! forms that embed such an IPv4 address (IPv4-mapped, NAT64, 6to4). Development mode allows
//! loopback so tests and the demo can deliver locally; an operator allow-list opens exceptions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// What is allowed beyond the global internet.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub allow_loopback: bool,
    /// Networks an operator opened (e.g. an internal relay).
    pub allow_networks: Vec<IpNet>,
    /// Host names an operator opened; they are not checked at all.
    pub allow_hosts: Vec<String>,
}

/// Why an address is refused: the rule, in words a tenant understands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{address} is not allowed: {rule}")]
pub struct Refusal {
    pub address: IpAddr,
    pub rule: String,
}

fn v4_rule(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "the \"this network\" range 0.0.0.0/8 (including 0.0.0.0)",
        (10, _, _) => "a private address (10.0.0.0/8)",
        (100, 64..=127, _) => "a carrier-grade NAT address (100.64.0.0/10)",
        (127, _, _) => "a loopback address (127.0.0.0/8)",
        (169, 254, _) => {
            "a link-local address (169.254.0.0/16, including the cloud metadata service)"
        }
        (172, 16..=31, _) => "a private address (172.16.0.0/12)",
        (192, 0, 0) => "an IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address (TEST-NET)",
        (192, 88, 99) => "a reserved 6to4 relay address (192.88.99.0/24)",
        (192, 168, _) => "a private address (192.168.0.0/16)",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast address (224.0.0.0/4)",
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => "the broadcast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_rule(ip: Ipv6Addr) -> Option<String> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some("the unspecified address (::)".into());
    }
    if ip.is_loopback() {
        return Some("a loopback address (::1)".into());
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_rule(v4).map(|r| format!("the IPv4-mapped form of {r}"));
    }
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match segments {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return v4_rule(embedded(hi, lo)).map(|r| format!("the NAT64 form of {r}"));
        }
        [0x64, 0xff9b, 1, ..] => return Some("a local-use NAT64 address (64:ff9b:1::/48)".into()),
        [0x2002, hi, lo, ..] => {
            return v4_rule(embedded(hi, lo)).map(|r| format!("the 6to4 form of {r}"));
        }
        [0, 0, 0, 0, 0, 0, _, _] => {
            return Some("a deprecated IPv4-compatible address (::/96)".into());
        }
        _ => {}
    }
    let first = segments[0];
    Some(
        match first {
            _ if first & 0xfe00 == 0xfc00 => "a unique local address (fc00::/7)",
            _ if first & 0xffc0 == 0xfe80 => "a link-local address (fe80::/10)",
            _ if first & 0xffc0 == 0xfec0 => "a site-local address (fec0::/10)",
            _ if first & 0xff00 == 0xff00 => "a multicast address (ff00::/8)",
            0x2001 if segments[1] == 0x0db8 => "a documentation address (2001:db8::/32)",
            0x2001 if segments[1] < 0x0200 => {
                "an IETF protocol assignment (2001::/23, including Teredo)"
            }
            0x3fff if segments[1] < 0x1000 => "a documentation address (3fff::/20)",
            0x0100 if segments[1..4] == [0, 0, 0] => "a discard-only address (100::/64)",
            _ if !(0x2000..0x4000).contains(&first) => {
                "an address outside the global unicast range (2000::/3)"
            }
            _ => return None,
        }
        .into(),
    )
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

impl Policy {
    /// Checks one address.
    pub fn check(&self, address: IpAddr) -> Result<(), Refusal> {
        if self.allow_networks.iter().any(|n| n.contains(&address)) {
            return Ok(());
        }
        if self.allow_loopback && is_loopback(address) {
            return Ok(());
        }
        let rule = match address {
            IpAddr::V4(v4) => v4_rule(v4).map(str::to_owned),
            IpAddr::V6(v6) => v6_rule(v6),
        };
        match rule {
            Some(rule) => Err(Refusal { address, rule }),
            None => Ok(()),
        }
    }

    pub fn host_allowed(&self, host: &str) -> bool {
        self.allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        Policy::default().check(text.parse().unwrap()).is_err()
    }

    #[test]
    fn non_global_addresses_are_refused() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "::7f00:1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn global_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(!refused(ip), "{ip} must pass");
        }
    }

    #[test]
    fn development_allows_loopback_and_the_allow_list_opens_networks() {
        let dev = Policy {
            allow_loopback: true,
            ..Policy::default()
        };
        assert!(dev.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(dev.check("::1".parse().unwrap()).is_ok());
        assert!(dev.check("10.0.0.1".parse().unwrap()).is_err());
        let open = Policy {
            allow_networks: vec!["10.8.0.0/16".parse().unwrap()],
            ..Policy::default()
        };
        assert!(open.check("10.8.1.2".parse().unwrap()).is_ok());
        assert!(open.check("10.9.1.2".parse().unwrap()).is_err());
    }

    #[test]
    fn the_refusal_names_the_rule() {
        let refusal = Policy::default()
            .check("169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert!(refusal.rule.contains("cloud metadata"), "{}", refusal.rule);
    }
}
