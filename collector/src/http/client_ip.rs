//! Who the client is: the socket's address, or behind the site's own reverse proxies, the address
//! they say they received the request from. `X-Forwarded-For` is believed only on a connection
//! that comes from a trusted proxy: anyone can write the header.

use ipnet::IpNet;
use std::net::IpAddr;

/// The site's proxies (`--trusted-proxy`, `--trusted-proxies`).
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    networks: Vec<IpNet>,
    hops: usize,
}

impl Proxies {
    /// Proxies at `networks`, appending `hops` entries (0: skip every entry that is itself a
    /// proxy). `hops` without `networks` trusts a proxy on this machine only (loopback).
    pub fn new(networks: &[IpNet], hops: usize) -> Proxies {
        let mut networks = networks.to_vec();
        if networks.is_empty() && hops > 0 {
            networks = ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect();
        }
        Proxies { networks, hops }
    }

    /// Whether `ip` is one of the proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// Whether any proxy is trusted at all.
    pub fn any(&self) -> bool {
        !self.networks.is_empty()
    }

    /// The client behind `socket` (the connection's peer), given its `X-Forwarded-For`.
    pub fn client(&self, socket: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(socket) {
            return socket;
        }
        let hops: Vec<IpAddr> = match forwarded_for {
            Some(header) => match header
                .split(',')
                .map(|h| h.trim().parse::<IpAddr>())
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(hops) => hops,
                // A header the proxy did not write whole: trust none of it.
                Err(_) => return socket,
            },
            None => return socket,
        };
        if self.hops > 0 {
            // The socket is the nearest proxy; the other `hops - 1` appended the last entries.
            return hops
                .len()
                .checked_sub(self.hops)
                .map_or(socket, |i| hops[i]);
        }
        hops.iter()
            .rev()
            .find(|hop| !self.trusts(**hop))
            .copied()
            .unwrap_or(socket)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let forged = Some("6.6.6.6, 203.0.113.7");
        let none = Proxies::new(&[], 0);
        assert_eq!(none.client(ip("10.0.0.2"), forged), ip("10.0.0.2"));
        let nets = ["10.0.0.0/8".parse().unwrap()];
        let proxies = Proxies::new(&nets, 0);
        assert_eq!(proxies.client(ip("10.0.0.2"), forged), ip("203.0.113.7"));
        // A client that reaches the collector directly is itself, whatever it writes.
        assert_eq!(
            proxies.client(ip("198.51.100.9"), forged),
            ip("198.51.100.9")
        );
        // Proxy hops inside the trusted networks are skipped.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), Some("6.6.6.6, 203.0.113.7, 10.1.1.1")),
            ip("203.0.113.7")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.2"), Some("garbage")),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_count_of_hops_still_works_and_alone_trusts_only_loopback() {
        let forged = Some("6.6.6.6, 203.0.113.7");
        let count = Proxies::new(&[], 1);
        assert_eq!(count.client(ip("127.0.0.1"), forged), ip("203.0.113.7"));
        assert_eq!(count.client(ip("198.51.100.9"), forged), ip("198.51.100.9"));
        let two = Proxies::new(&[], 2);
        assert_eq!(two.client(ip("127.0.0.1"), forged), ip("6.6.6.6"));
        assert_eq!(
            two.client(ip("127.0.0.1"), Some("203.0.113.7")),
            ip("127.0.0.1")
        );
        assert!(count.trusts(ip("::ffff:127.0.0.1")));
    }
}
