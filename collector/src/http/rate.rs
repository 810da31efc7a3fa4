//! Per-address rate limits for the public routes: a token bucket per client address (IPv6 by its
//! /64, which one subscriber usually holds whole), refilled at `rate` per second up to a burst of
//! [`BURST_SECONDS`] seconds' worth. Memory is bounded whatever the number of addresses: at most
//! [`MAX_ADDRESSES`] buckets are kept; past that, buckets that are full again (idle clients) are
//! dropped first, then the fullest half: a client being limited keeps its empty bucket, so a
//! flood of new addresses cannot set it free.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The burst, in seconds of the rate.
pub const BURST_SECONDS: u32 = 5;

/// The most addresses remembered at once (about 40 bytes each).
pub const MAX_ADDRESSES: usize = 65_536;

const SHARDS: usize = 16;

/// The limiter.
pub struct RateLimit {
    rate: f64,
    burst: f64,
    start: Instant,
    shards: Vec<Mutex<HashMap<u128, Bucket>>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f32,
    /// Milliseconds since `start` of the last refill.
    at_ms: u32,
}

impl RateLimit {
    /// `rate` requests per second per address; `None` for `0` (no limit).
    pub fn new(rate: u32) -> Option<RateLimit> {
        (rate > 0).then(|| RateLimit::with_burst(f64::from(rate), f64::from(rate * BURST_SECONDS)))
    }

    /// `rate` per second (a fraction for less than one), bursts of `burst`.
    pub fn with_burst(rate: f64, burst: f64) -> RateLimit {
        RateLimit {
            rate,
            burst,
            start: Instant::now(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Like [`RateLimit::check`], without taking the token: whether `ip` has one.
    pub fn peek(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        self.take(ip, now, 0.0)
    }

    /// Takes a token for `ip` at `now`; `Err(seconds)` when there is none, with the whole number
    /// of seconds until there is one (for `Retry-After`).
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        self.take(ip, now, 1.0)
    }

    fn take(&self, ip: IpAddr, now: Instant, cost: f64) -> Result<(), u64> {
        let key = address_key(ip);
        let now_ms = now.saturating_duration_since(self.start).as_millis() as u32;
        let shard = &self.shards[(key as usize ^ (key >> 64) as usize) % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_ADDRESSES / SHARDS && !buckets.contains_key(&key) {
            let refill_ms = (self.burst / self.rate * 1000.0) as u32;
            buckets.retain(|_, b| now_ms.saturating_sub(b.at_ms) < refill_ms);
            if buckets.len() >= MAX_ADDRESSES / SHARDS {
                let mut tokens: Vec<f32> = buckets.values().map(|b| b.tokens).collect();
                let middle = tokens.len() / 2;
                let (_, median, _) = tokens.select_nth_unstable_by(middle, f32::total_cmp);
                let median = *median;
                buckets.retain(|_, b| b.tokens < median);
                if buckets.len() >= MAX_ADDRESSES / SHARDS / 2 {
                    // Every bucket holds as many tokens: keep the newest half's worth at random.
                    let mut n = 0;
                    buckets.retain(|_, _| {
                        n += 1;
                        n % 2 == 0
                    });
                }
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst as f32,
            at_ms: now_ms,
        });
        let elapsed = f64::from(now_ms.saturating_sub(bucket.at_ms)) / 1000.0;
        let tokens = (f64::from(bucket.tokens) + elapsed * self.rate).min(self.burst);
        bucket.at_ms = now_ms;
        if tokens >= 1.0 {
            bucket.tokens = (tokens - cost) as f32;
            Ok(())
        } else {
            bucket.tokens = tokens as f32;
            Err(((1.0 - tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }

    /// How many addresses are remembered now.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

/// The address a client is counted by: IPv4 whole, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_bits()),
            None => v6.to_bits() & !u128::from(u64::MAX),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate_then_retry_after() {
        let limit = RateLimit::new(2).unwrap();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let t = Instant::now();
        for _ in 0..10 {
            assert_eq!(limit.check(ip, t), Ok(()));
        }
        assert_eq!(limit.check(ip, t), Err(1));
        // Another address has its own bucket.
        assert_eq!(
            limit.check(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), t),
            Ok(())
        );
        // Half a second later, one token (2 per second) is back.
        assert_eq!(limit.check(ip, t + Duration::from_millis(500)), Ok(()));
        assert_eq!(limit.check(ip, t + Duration::from_millis(500)), Err(1));
        assert!(RateLimit::new(0).is_none());
    }

    #[test]
    fn an_ipv6_subscriber_is_one_address_per_64() {
        let limit = RateLimit::new(1).unwrap();
        let t = Instant::now();
        for n in 0..5u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, n, n, n, n));
            assert_eq!(limit.check(ip, t), Ok(()));
        }
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9));
        assert_eq!(limit.check(other, t), Err(1));
    }

    #[test]
    fn memory_stays_bounded_whatever_the_number_of_addresses() {
        let limit = RateLimit::new(10).unwrap();
        let t = Instant::now();
        for n in 0..(MAX_ADDRESSES as u32 * 3) {
            let _ = limit.check(IpAddr::V4(Ipv4Addr::from(n)), t);
            if n % 4096 == 0 {
                assert!(limit.remembered() <= MAX_ADDRESSES);
            }
        }
        assert!(limit.remembered() <= MAX_ADDRESSES);
    }

    #[test]
    fn a_flood_of_new_addresses_does_not_set_a_limited_client_free() {
        let limit = RateLimit::new(1).unwrap();
        let t = Instant::now();
        let abuser = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        while limit.check(abuser, t).is_ok() {}
        for n in 0..(MAX_ADDRESSES as u32 * 2) {
            let _ = limit.check(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)), t);
        }
        assert!(limit.remembered() <= MAX_ADDRESSES);
        assert_eq!(limit.check(abuser, t), Err(1), "still limited");
    }
}
