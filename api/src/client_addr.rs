//! Which address a request comes from, for the per-address limits (ingest, onboarding): the
//! peer, unless the peer is a trusted reverse proxy (`api.trusted_proxies`); then the rightmost
//! `X-Forwarded-For` entry that is not itself a trusted proxy (the leftmost when all are).
//! Entries left of that one were written by the client and prove nothing.

use std::net::IpAddr;

use actix_web::HttpRequest;
use graphhook_domain::Settings;
use ipnet::IpNet;

#[derive(Clone, Debug, Default)]
pub struct ClientAddress {
    trusted: Vec<IpNet>,
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl ClientAddress {
    /// From `api.trusted_proxies` (validated), or every address under the deprecated
    /// `ingest.trust_forwarded_for`.
    pub fn from_settings(settings: &Settings) -> Self {
        let mut trusted: Vec<IpNet> = settings
            .api
            .trusted_proxies
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        if settings.ingest.trust_forwarded_for {
            trusted.extend(
                ["0.0.0.0/0", "::/0"]
                    .iter()
                    .filter_map(|n| n.parse::<IpNet>().ok()),
            );
        }
        Self { trusted }
    }

    fn is_trusted(&self, addr: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&addr))
    }

    /// The client's address; `None` only when actix knows no peer (not on a TCP listener).
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map_while(|v| v.trim().parse::<IpAddr>().ok().map(canonical))
            .collect();
        // Every hop trusted (e.g. the deprecated trust-everyone setting): the farthest one.
        let farthest = forwarded.first().copied().unwrap_or(peer);
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|a| !self.is_trusted(*a))
                .unwrap_or(farthest),
        )
    }
}

#[cfg(test)]
mod tests {

    use actix_web::test::TestRequest;

    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(f) = forwarded {
            req = req.insert_header(("x-forwarded-for", f));
        }
        req.to_http_request()
    }

    fn addr(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let client = ClientAddress::default();
        assert_eq!(
            client.of(&request("192.0.2.7:5000", Some("198.51.100.1"))),
            addr("192.0.2.7")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_forwarded_address_counts() {
        let client = ClientAddress {
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
        };
        // The client prepended a forged entry; the proxies appended the real one.
        let req = request("10.0.0.2:5000", Some("203.0.113.9, 198.51.100.1, 10.0.0.3"));
        assert_eq!(client.of(&req), addr("198.51.100.1"));
        // No header: the proxy itself.
        assert_eq!(client.of(&request("10.0.0.2:5000", None)), addr("10.0.0.2"));
        // An untrusted peer's header is ignored.
        let req = request("192.0.2.7:5000", Some("198.51.100.1"));
        assert_eq!(client.of(&req), addr("192.0.2.7"));
    }
}
