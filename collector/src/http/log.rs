//! Refusals are logged, but a flood of them is not a flood of log lines: one line per reason
//! (status and route) per client address per second, and the next line that gets through says how
//! many were held back. Memory is bounded like the rate limiter's.

use super::rate::address_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The most (reason, address) pairs remembered.
const MAX_ENTRIES: usize = 65_536;

/// The refusal log's limiter.
#[derive(Default)]
pub struct RefusalLog {
    seen: Mutex<HashMap<(u16, String, u128), Seen>>,
}

struct Seen {
    second: u64,
    held_back: u64,
}

impl RefusalLog {
    /// Whether a refusal (`status` on `route` to `ip`, at `second`) gets a line: `Some(n)` with the
    /// number held back since the last line for it, `None` to hold this one back.
    pub fn admit(&self, status: u16, route: &str, ip: IpAddr, second: u64) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let key = (status, route.to_owned(), address_key(ip));
        if let Some(entry) = seen.get_mut(&key) {
            if entry.second == second {
                entry.held_back += 1;
                return None;
            }
            entry.second = second;
            return Some(std::mem::take(&mut entry.held_back));
        }
        if seen.len() >= MAX_ENTRIES {
            seen.retain(|_, entry| entry.second == second && entry.held_back > 0);
            if seen.len() >= MAX_ENTRIES {
                seen.clear();
            }
        }
        seen.insert(
            key,
            Seen {
                second,
                held_back: 0,
            },
        );
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_reason_address_and_second_then_a_count() {
        let log = RefusalLog::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(log.admit(429, "/v1/signups", ip, 10), Some(0));
        for _ in 0..1000 {
            assert_eq!(log.admit(429, "/v1/signups", ip, 10), None);
        }
        // Another reason, another address: their own lines.
        assert_eq!(log.admit(400, "/v1/signups", ip, 10), Some(0));
        assert_eq!(
            log.admit(429, "/v1/signups", "192.0.2.2".parse().unwrap(), 10),
            Some(0)
        );
        assert_eq!(log.admit(429, "/v1/signups", ip, 11), Some(1000));
    }

    #[test]
    fn memory_stays_bounded() {
        let log = RefusalLog::default();
        for n in 0..(MAX_ENTRIES as u32 * 2) {
            log.admit(429, "/r/{partner_key}", IpAddr::from(n.to_be_bytes()), 1);
        }
        assert!(log.seen.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
