//! Partner links (`GET /r/{partner_key}`): where a click may be sent, who clicked (a truncated
//! address, never the full one), the click id, and the link the visitor lands on. Plain functions:
//! the route gathers the request's facts and passes them in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::net::IpAddr;
use url::Url;

/// Length of a click id: 20 base62 characters, about 119 bits from the OS's CSPRNG.
pub const CLICK_ID_LEN: usize = 20;

/// A new click id: [`CLICK_ID_LEN`] characters of `A–Z a–z 0–9`, drawn without bias from the
/// operating system's cryptographic random source.
pub fn click_id() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(CLICK_ID_LEN);
    let mut bytes = [0u8; 32];
    while id.len() < CLICK_ID_LEN {
        getrandom::fill(&mut bytes)?;
        // 248 = 4 × 62: bytes above it are dropped, so every character is equally likely.
        for byte in bytes.iter().filter(|b| **b < 248) {
            if id.len() < CLICK_ID_LEN {
                id.push(ALPHABET[usize::from(*byte % 62)] as char);
            }
        }
    }
    Ok(id)
}

/// The address truncated to its network, what a click row keeps: `/24` for IPv4, `/48` for IPv6.
pub fn ip_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ip_prefix(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

/// Where a click goes: `to` (an absolute URL, or a path on the site), by default the site itself.
/// Only the site's own origins (`--site-url`, `--allow-origin`) are allowed: a partner link is no
/// open redirect.
pub fn destination(
    to: Option<&str>,
    site: Option<&Url>,
    origins: &[String],
) -> Result<Url, String> {
    let url = match (to.map(str::trim).filter(|t| !t.is_empty()), site) {
        (None, Some(site)) => site.clone(),
        (None, None) => {
            return Err("no destination: pass ?to= or start the collector with --site-url".into())
        }
        (Some(to), _) if to.starts_with('/') && !to.starts_with("//") => match site {
            Some(site) => site
                .join(to)
                .map_err(|_| format!("to={to} is not a path"))?,
            None => {
                return Err(format!(
                    "to={to} is a path, but the collector has no --site-url"
                ))
            }
        },
        (Some(to), _) => {
            Url::parse(to).map_err(|_| format!("to={to} is not an absolute URL or a path"))?
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("to= must not carry a user name or password (user@host)".into());
    }
    let origin = url.origin().ascii_serialization();
    let allowed = site.is_some_and(|s| s.origin() == url.origin()) || origins.contains(&origin);
    if !matches!(url.scheme(), "http" | "https") || !allowed {
        return Err(format!("{origin} is not this site's (--site-url, --allow-origin): partner links only lead there"));
    }
    Ok(url)
}

/// The landing URL: `destination` with `ps_partner_key` (the key, base64) and `ps_xid` set, and
/// every other parameter it had kept.
pub fn landing(destination: &Url, partner_key: &str, xid: &str) -> Url {
    let mut url = destination.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != "ps_partner_key" && name != "ps_xid")
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("ps_partner_key", &STANDARD.encode(partner_key))
        .append_pair("ps_xid", xid);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_ids_are_long_random_base62() {
        let a = click_id().unwrap();
        let b = click_id().unwrap();
        assert_eq!(a.len(), CLICK_ID_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn addresses_are_truncated() {
        assert_eq!(ip_prefix("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(
            ip_prefix("2001:db8:1234:5678::1".parse().unwrap()),
            "2001:db8:1234::/48"
        );
        assert_eq!(
            ip_prefix("::ffff:198.51.100.9".parse().unwrap()),
            "198.51.100.0/24"
        );
    }

    #[test]
    fn destinations_stay_on_the_site() {
        let site = Url::parse("https://www.acme.test/").unwrap();
        let others = ["https://app.acme.test".to_string()];
        let ok = |to: Option<&str>| destination(to, Some(&site), &others).unwrap().to_string();
        assert_eq!(ok(None), "https://www.acme.test/");
        assert_eq!(
            ok(Some("/pricing?plan=pro")),
            "https://www.acme.test/pricing?plan=pro"
        );
        assert_eq!(
            ok(Some("https://app.acme.test/signup")),
            "https://app.acme.test/signup"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "javascript:alert(1)",
            "https://www.acme.test.evil.example/",
            "https://evil.com@www.acme.test/",
            "https://user:pw@www.acme.test/",
        ] {
            assert!(
                destination(Some(bad), Some(&site), &others).is_err(),
                "{bad}"
            );
        }
        assert!(destination(None, None, &others).is_err());
        assert!(destination(Some("/x"), None, &others).is_err());
    }

    #[test]
    fn the_landing_keeps_the_destinations_parameters() {
        let dest = Url::parse("https://www.acme.test/pricing?plan=pro&ps_xid=old").unwrap();
        let url = landing(&dest, "alex-smith", "AbC123");
        assert_eq!(url.as_str(), "https://www.acme.test/pricing?plan=pro&ps_partner_key=YWxleC1zbWl0aA%3D%3D&ps_xid=AbC123");
    }
}
