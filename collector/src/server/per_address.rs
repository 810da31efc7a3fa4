//! Open connections per client address: one address cannot hold the collector's connections
//! (slowloris). Counted by the socket's address (IPv6 by its /64); the site's own proxies, which
//! carry every visitor's connections, are not counted.

use crate::http::rate::address_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The counts.
#[derive(Clone)]
pub struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<u128, usize>>>,
}

/// One open connection, counted until it is dropped.
pub struct Held {
    key: u128,
    open: Arc<Mutex<HashMap<u128, usize>>>,
}

impl PerAddress {
    /// At most `cap` connections per address.
    pub fn new(cap: usize) -> PerAddress {
        PerAddress {
            cap,
            open: Arc::default(),
        }
    }

    /// A place for one more connection from `ip`, or `None` when it holds `cap` already.
    pub fn admit(&self, ip: IpAddr) -> Option<Held> {
        let key = address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Held {
            key,
            open: self.open.clone(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_cap_and_gets_places_back() {
        let caps = PerAddress::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (a, b) = (caps.admit(ip), caps.admit(ip));
        assert!(a.is_some() && b.is_some());
        assert!(caps.admit(ip).is_none());
        assert!(caps.admit("192.0.2.2".parse().unwrap()).is_some());
        drop(a);
        assert!(caps.admit(ip).is_some());
        drop(b);
    }
}
