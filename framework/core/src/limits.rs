//! Per-client limits: how many sessions an address or a user may hold, how fast an address may connect, and how
//! fast a session may send.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;

/// Limits on what one client (an address, a user, a session) may cost the server. Each has a safe default and a
/// documented refusal (see `docs/security.md`).
///
/// ```
/// let limits = tidings_core::Limits { sessions_per_ip: 50, ..Default::default() };
/// assert_eq!(limits.messages_per_second.per_second, 50.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most live sessions created from one IP address; more are refused with HTTP 429.
    pub sessions_per_ip: usize,
    /// Most live sessions of one authenticated user; more are refused with HTTP 429.
    pub sessions_per_user: usize,
    /// How fast one IP address may connect (every WebSocket upgrade, SSE stream or new long-poll session counts);
    /// faster attempts are refused with HTTP 429.
    pub connects_per_ip: Rate,
    /// How fast one session's client frames are taken (acknowledgements are free). A faster client is throttled:
    /// its frames wait, and meanwhile nothing more is read from it.
    pub messages_per_second: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sessions_per_ip: 1024,
            sessions_per_user: 64,
            connects_per_ip: Rate { per_second: 50.0, burst: 200.0 },
            messages_per_second: Rate { per_second: 50.0, burst: 200.0 },
        }
    }
}

impl Limits {
    /// No limits at all (benchmarks and tests that open thousands of connections from one address).
    pub fn none() -> Self {
        let unlimited = Rate { per_second: f64::INFINITY, burst: f64::INFINITY };
        Limits {
            sessions_per_ip: usize::MAX,
            sessions_per_user: usize::MAX,
            connects_per_ip: unlimited.clone(),
            messages_per_second: unlimited,
        }
    }
}

/// A token-bucket rate: `per_second` on average, with bursts of up to `burst`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Most tokens held (the largest burst).
    pub burst: f64,
}

/// A token bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    pub(crate) fn full(rate: &Rate) -> Self {
        Bucket { tokens: rate.burst, updated: Instant::now() }
    }

    /// Takes a token: `None` when one was there, else how long until one will be (the token is taken anyway, so
    /// that a caller who waits that long is served in turn).
    pub(crate) fn take(&mut self, rate: &Rate) -> Option<Duration> {
        if rate.per_second.is_infinite() {
            return None;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.updated).as_secs_f64() * rate.per_second;
        self.tokens = (self.tokens + refill).min(rate.burst);
        self.updated = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            None
        } else {
            Some(Duration::from_secs_f64(-self.tokens / rate.per_second.max(f64::MIN_POSITIVE)))
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn try_take(&mut self, rate: &Rate) -> bool {
        match self.take(rate) {
            None => true,
            Some(_) => {
                self.tokens += 1.0;
                false
            }
        }
    }
}

/// Live session counts by address and by user, and connect-rate buckets by address.
#[derive(Default)]
pub(crate) struct Counters {
    by_ip: DashMap<IpAddr, usize>,
    by_user: DashMap<String, usize>,
    connects: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Counters {
    /// Whether `ip` may connect now (one token of its connect rate).
    pub(crate) fn may_connect(&self, ip: IpAddr, rate: &Rate) -> bool {
        let mut buckets = self.connects.lock();
        // Forget addresses whose bucket has refilled, so that the map does not grow with every address ever seen.
        if buckets.len() > 4096 {
            let idle = Duration::from_secs_f64((rate.burst / rate.per_second).clamp(1.0, 3600.0));
            buckets.retain(|_, b| b.updated.elapsed() < idle);
        }
        buckets.entry(ip).or_insert_with(|| Bucket::full(rate)).try_take(rate)
    }

    /// Whether a new session for `ip` and `user` stays within the limits.
    pub(crate) fn has_room(&self, ip: Option<IpAddr>, user: Option<&str>, limits: &Limits) -> bool {
        let ip_ok = ip.is_none_or(|ip| self.by_ip.get(&ip).map_or(0, |n| *n) < limits.sessions_per_ip);
        let user_ok = user.is_none_or(|u| self.by_user.get(u).map_or(0, |n| *n) < limits.sessions_per_user);
        ip_ok && user_ok
    }

    pub(crate) fn add(&self, ip: Option<IpAddr>, user: Option<&str>) {
        if let Some(ip) = ip {
            *self.by_ip.entry(ip).or_default() += 1;
        }
        if let Some(user) = user {
            *self.by_user.entry(user.to_owned()).or_default() += 1;
        }
    }

    pub(crate) fn remove(&self, ip: Option<IpAddr>, user: Option<&str>) {
        if let Some(ip) = ip {
            if let Some(mut n) = self.by_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
            }
            self.by_ip.remove_if(&ip, |_, n| *n == 0);
        }
        if let Some(user) = user {
            if let Some(mut n) = self.by_user.get_mut(user) {
                *n = n.saturating_sub(1);
            }
            self.by_user.remove_if(user, |_, n| *n == 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_the_rate() {
        let rate = Rate { per_second: 10.0, burst: 3.0 };
        let mut bucket = Bucket::full(&rate);
        assert!((0..3).all(|_| bucket.take(&rate).is_none()));
        let wait = bucket.take(&rate).expect("empty");
        assert!(wait > Duration::from_millis(50) && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(!bucket.try_take(&rate));
    }

    #[test]
    fn counts_sessions_per_address_and_user() {
        let limits = Limits { sessions_per_ip: 2, sessions_per_user: 1, ..Default::default() };
        let counters = Counters::default();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(counters.has_room(ip, Some("ann"), &limits));
        counters.add(ip, Some("ann"));
        assert!(!counters.has_room(ip, Some("ann"), &limits), "ann has her one session");
        assert!(counters.has_room(ip, None, &limits));
        counters.add(ip, None);
        assert!(!counters.has_room(ip, None, &limits), "the address has its two");
        counters.remove(ip, Some("ann"));
        assert!(counters.has_room(ip, Some("ann"), &limits));
    }
}
