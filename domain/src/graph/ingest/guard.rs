//! What protects the inbox from floods before anything is written: an optional allow-list of
//! networks (Microsoft publishes the address ranges Graph's notifications come from) and a
//! per-source-address rate limit, counted in this process in fixed windows (one second for
//! ingest; onboarding starts count per minute with the same guard).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Mutex, PoisonError},
    time::Instant,
};

use ipnet::IpNet;

use crate::platform::config::IngestSettings;

/// Addresses remembered before old windows are forgotten.
const MAX_TRACKED: usize = 10_000;

/// The verdict on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The address is outside the allow-list.
    NotAllowed,
    /// The address sent more than its share this second.
    RateLimited,
}

#[derive(derive_more::Debug)]
pub struct SourceGuard {
    allowed: Vec<IpNet>,
    per_second: u32,
    #[debug(skip)]
    window_secs: u64,
    #[debug(skip)]
    started: Instant,
    #[debug(skip)]
    windows: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

impl SourceGuard {
    /// The guard of the settings (validated: every network parses).
    pub fn from_settings(settings: &IngestSettings) -> Self {
        Self::new(
            settings
                .allow_networks
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            settings.max_requests_per_sec_per_address,
        )
    }

    /// `allowed` empty: every address; `per_second` 0: no limit.
    pub fn new(allowed: Vec<IpNet>, per_second: u32) -> Self {
        Self::per_window(allowed, per_second, 1)
    }

    /// At most `limit` requests per address in each window of `window_secs` (0: no limit).
    pub fn per_window(allowed: Vec<IpNet>, limit: u32, window_secs: u64) -> Self {
        Self {
            allowed,
            per_second: limit,
            window_secs: window_secs.max(1),
            started: Instant::now(),
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, addr: IpAddr) -> Verdict {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        if !self.allowed.is_empty() && !self.allowed.iter().any(|n| n.contains(&addr)) {
            return Verdict::NotAllowed;
        }
        if self.per_second == 0 {
            return Verdict::Allowed;
        }
        let second = self.started.elapsed().as_secs() / self.window_secs;
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, (s, _)| *s == second);
        }
        let window = windows.entry(addr).or_insert((second, 0));
        if window.0 != second {
            *window = (second, 0);
        }
        if window.1 >= self.per_second {
            return Verdict::RateLimited;
        }
        window.1 += 1;
        Verdict::Allowed
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn the_allow_list_admits_only_its_networks_including_mapped_ipv4() {
        let guard = SourceGuard::new(vec!["52.159.0.0/16".parse().unwrap()], 0);
        assert_eq!(guard.check("52.159.1.2".parse().unwrap()), Verdict::Allowed);
        assert_eq!(
            guard.check("::ffff:52.159.1.2".parse().unwrap()),
            Verdict::Allowed
        );
        assert_eq!(
            guard.check("10.0.0.1".parse().unwrap()),
            Verdict::NotAllowed
        );
    }

    #[test]
    fn each_address_gets_its_own_share_per_second() {
        let guard = SourceGuard::new(Vec::new(), 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..4).map(|_| guard.check(a)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allowed,
                Verdict::Allowed,
                Verdict::Allowed,
                Verdict::RateLimited
            ]
        );
        assert_eq!(
            guard.check(b),
            Verdict::Allowed,
            "another address is not affected"
        );
    }
}
