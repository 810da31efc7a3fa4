//! First-party cookies as text: reading `document.cookie`, writing `Set-Cookie`-style strings, and
//! finding the broadest domain the browser lets this page write to.
//!
//! Nothing here touches a browser. The domain probe is written against [`CookieJar`], which the web
//! layer implements over `document.cookie` and the tests implement over a toy public-suffix list.

use super::text::decimal;
use alloc::string::String;
use alloc::vec::Vec;

/// Cookies holding the partner key (PartnerStack's names: both are written, either is read).
pub const PARTNER_KEY_COOKIES: [&str; 2] = ["growSumoPartnerKey", "ps_partner_key"];
/// Cookie holding the click id.
pub const CLICK_ID_COOKIE: &str = "ps_xid";
/// Cookie holding the partner key in Partnero mode.
pub const PARTNERO_COOKIE: &str = "partnero_partner";
/// Partnero's refer-a-friend cookie (the referring customer's key), set by Partnero's own scripts:
/// read, never written, and used only when no partner cookie is there.
pub const PARTNERO_REFERRAL_COOKIE: &str = "partnero_referral";
/// Short-lived cookie written and deleted while probing for the cookie domain.
pub const PROBE_COOKIE: &str = "reftrack_probe";

/// PartnerStackJS's own cookie for the partner key of program `public_key`:
/// `_ps_partner_key_<public key>`, written beside [`PARTNER_KEY_COOKIES`] with the same value and
/// attributes, for server and page code that looks for it.
pub fn program_key_cookie(public_key: &str) -> String {
    let mut name = String::from("_ps_partner_key_");
    name.push_str(public_key);
    name
}

/// The start of PartnerStackJS's click id cookie for program `public_key`:
/// `_ps_xid_<public key>_<suffix>`, the suffix four letters or digits.
pub fn program_click_prefix(public_key: &str) -> String {
    let mut name = String::from("_ps_xid_");
    name.push_str(public_key);
    name.push('_');
    name
}

/// A click id cookie's suffix from four random bytes: four of `A-Z a-z 0-9`.
pub fn click_suffix(random: [u8; 4]) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut suffix = String::new();
    for b in random {
        suffix.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
    }
    suffix
}

/// The cookies in a `document.cookie` string whose name starts with `prefix`: (name, value).
pub fn with_prefix<'a>(cookies: &'a str, prefix: &str) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    for pair in cookies.split(';') {
        if let Some((n, v)) = pair.split_once('=') {
            let n = n.trim();
            if n.starts_with(prefix) && n.len() > prefix.len() {
                found.push((n, v.trim()));
            }
        }
    }
    found
}

/// The first value of cookie `name` in a `document.cookie` string.
pub fn get<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies.split(';').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| v.trim())
    })
}

/// Attributes of the cookies reftrack writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Lifetime in seconds (`Max-Age`); 0 deletes.
    pub max_age: u32,
    /// `Domain`, or host-only when `None`.
    pub domain: Option<String>,
    /// `Secure`, set on https pages.
    pub secure: bool,
}

/// The string to assign to `document.cookie` to write `name=value` with `attributes`.
///
/// `value` must already be a valid cookie value; every partner key and click id is.
pub fn set_cookie(name: &str, value: &str, attributes: &Attributes) -> String {
    let mut out = String::with_capacity(96);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    out.push_str("; Path=/; Max-Age=");
    out.push_str(&decimal(attributes.max_age.into()));
    out.push_str("; SameSite=Lax");
    if attributes.secure {
        out.push_str("; Secure");
    }
    if let Some(domain) = &attributes.domain {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    out
}

/// True for hosts on which a `Domain` attribute makes no sense: IP addresses, `localhost`, and
/// single-label names.
fn is_host_only(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    let last_dot = host.bytes().rposition(|b| b == b'.');
    let tld = host.bytes().skip(last_dot.map_or(0, |i| i + 1));
    host.starts_with('[')
        || host.contains(':')
        || last_dot.is_none()
        || host.eq_ignore_ascii_case("localhost")
        || tld.into_iter().all(|b| b.is_ascii_digit())
}

/// Candidate `Domain` values for `host`, broadest first: the last two labels, then one more label
/// at a time, up to the host itself. Empty for hosts that must stay host-only.
pub fn domain_candidates(host: &str) -> Vec<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if is_host_only(&host) {
        return Vec::new();
    }
    // For a.b.c.d the suffixes start after each dot but the last: c.d, b.c.d, a.b.c.d.
    let mut candidates = Vec::new();
    let mut dots = 0;
    for (i, b) in host.bytes().enumerate().rev() {
        dots += usize::from(b == b'.');
        if b == b'.' && dots > 1 {
            // `get`, not indexing: a str index that could panic would bring the panic's
            // character-escaping tables into the module.
            if let Some(suffix) = host.get(i + 1..) {
                candidates.push(suffix.into());
            }
        }
    }
    candidates.push(host);
    candidates
}

/// True when a cookie with `Domain=domain` can be set by a page on `host` (RFC 6265 domain-match).
pub fn domain_matches(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_start_matches('.').to_ascii_lowercase();
    !domain.is_empty()
        && !is_host_only(&host)
        && host
            .strip_suffix(domain.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Somewhere cookies can be written and read back: `document.cookie` in a browser.
pub trait CookieJar {
    /// All cookies visible to the page, as `document.cookie` returns them.
    fn read(&self) -> String;
    /// Assigns one `Set-Cookie`-style string, as `document.cookie = ...` does.
    fn write(&mut self, set_cookie: &str);
}

/// The broadest `Domain` the browser accepts for `host`, found by writing a probe cookie on each
/// candidate in turn and reading it back. The browser's own public-suffix list decides, so
/// `foo.vercel.app` never lands on `vercel.app`. `None`: stay host-only.
pub fn find_domain(host: &str, jar: &mut impl CookieJar) -> Option<String> {
    domain_candidates(host).into_iter().find(|candidate| {
        let mut probe = Attributes {
            max_age: 10,
            domain: Some(candidate.clone()),
            secure: false,
        };
        jar.write(&set_cookie(PROBE_COOKIE, candidate, &probe));
        let stuck = get(&jar.read(), PROBE_COOKIE) == Some(candidate.as_str());
        if stuck {
            probe.max_age = 0;
            jar.write(&set_cookie(PROBE_COOKIE, "", &probe));
        }
        stuck
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn partnerstacks_program_cookies_are_named_as_partnerstackjs_names_them() {
        use super::*;
        assert_eq!(
            program_key_cookie("pk_test_123"),
            "_ps_partner_key_pk_test_123"
        );
        let prefix = program_click_prefix("pk_test_123");
        assert_eq!(prefix, "_ps_xid_pk_test_123_");
        let suffix = click_suffix([0, 61, 62, 255]);
        assert_eq!(suffix, "A9AH");
        let jar =
            "a=1; _ps_xid_pk_test_123_A9AH=clk_1; _ps_xid_pk_test_1234_x=2; _ps_xid_pk_test_123_=3";
        assert_eq!(
            with_prefix(jar, &prefix),
            [("_ps_xid_pk_test_123_A9AH", "clk_1")]
        );
    }

    use super::*;

    /// A jar that behaves like a browser on `host` with a tiny public-suffix list, keeping one
    /// value per (name, domain).
    pub struct FakeJar {
        pub host: String,
        pub public_suffixes: Vec<&'static str>,
        pub cookies: Vec<(String, String, Option<String>)>,
        pub writes: Vec<String>,
    }

    impl FakeJar {
        pub fn new(host: &str) -> Self {
            FakeJar {
                host: host.into(),
                public_suffixes: vec![
                    "uk",
                    "co.uk",
                    "com",
                    "app",
                    "vercel.app",
                    "test",
                    "blogspot.com",
                ],
                cookies: Vec::new(),
                writes: Vec::new(),
            }
        }
    }

    impl CookieJar for FakeJar {
        fn read(&self) -> String {
            self.cookies
                .iter()
                .map(|(n, v, _)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        }

        fn write(&mut self, set_cookie: &str) {
            self.writes.push(set_cookie.to_owned());
            let mut parts = set_cookie.split("; ");
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut domain = None;
            let mut max_age = 1;
            for attr in parts {
                if let Some(d) = attr.strip_prefix("Domain=") {
                    domain = Some(d.to_owned());
                }
                if let Some(a) = attr.strip_prefix("Max-Age=") {
                    max_age = a.parse().unwrap();
                }
            }
            if let Some(d) = &domain {
                let rejected = !domain_matches(&self.host, d)
                    || (self.public_suffixes.contains(&d.as_str()) && *d != self.host);
                if rejected {
                    return;
                }
            }
            self.cookies
                .retain(|(n, _, dom)| !(n == name && *dom == domain));
            if max_age > 0 {
                self.cookies.push((name.into(), value.into(), domain));
            }
        }
    }

    #[test]
    fn reads_cookie_values() {
        let jar = "a=1; growSumoPartnerKey=alex; ps_xid=clk_1;empty=";
        assert_eq!(get(jar, "growSumoPartnerKey"), Some("alex"));
        assert_eq!(get(jar, "ps_xid"), Some("clk_1"));
        assert_eq!(get(jar, "empty"), Some(""));
        assert_eq!(get(jar, "ps_partner_key"), None);
        assert_eq!(get("xgrowSumoPartnerKey=1", "growSumoPartnerKey"), None);
        assert_eq!(get("", "a"), None);
    }

    #[test]
    fn writes_attributes() {
        let attrs = Attributes {
            max_age: 90 * 86_400,
            domain: Some("acme.test".into()),
            secure: true,
        };
        assert_eq!(
            set_cookie("ps_xid", "clk_1", &attrs),
            "ps_xid=clk_1; Path=/; Max-Age=7776000; SameSite=Lax; Secure; Domain=acme.test"
        );
        let host_only = Attributes {
            max_age: 0,
            domain: None,
            secure: false,
        };
        assert_eq!(
            set_cookie("a", "", &host_only),
            "a=; Path=/; Max-Age=0; SameSite=Lax"
        );
    }

    #[test]
    fn candidates_are_broadest_first() {
        assert_eq!(
            domain_candidates("a.b.shop.co.uk"),
            ["co.uk", "shop.co.uk", "b.shop.co.uk", "a.b.shop.co.uk"]
        );
        assert_eq!(
            domain_candidates("WWW.Acme.Test."),
            ["acme.test", "www.acme.test"]
        );
        assert_eq!(domain_candidates("acme.com"), ["acme.com"]);
        for host_only in [
            "localhost",
            "127.0.0.1",
            "[::1]",
            "::1",
            "intranet",
            "10.0.0.256",
        ] {
            assert!(domain_candidates(host_only).is_empty(), "{host_only}");
        }
    }

    #[test]
    fn probe_lets_the_browser_decide() {
        let mut jar = FakeJar::new("www.shop.co.uk");
        assert_eq!(
            find_domain("www.shop.co.uk", &mut jar).as_deref(),
            Some("shop.co.uk")
        );
        assert!(jar.cookies.is_empty(), "the probe cleans up after itself");

        let mut jar = FakeJar::new("shop.blogspot.com");
        assert_eq!(
            find_domain("shop.blogspot.com", &mut jar).as_deref(),
            Some("shop.blogspot.com")
        );

        let mut jar = FakeJar::new("www.acme.test");
        assert_eq!(
            find_domain("www.acme.test", &mut jar).as_deref(),
            Some("acme.test")
        );

        let mut jar = FakeJar::new("localhost");
        assert_eq!(find_domain("localhost", &mut jar), None);
        assert!(jar.writes.is_empty(), "no probe at all on localhost");
    }

    #[test]
    fn domain_match_rules() {
        assert!(domain_matches("www.acme.test", ".acme.test"));
        assert!(domain_matches("acme.test", "acme.test"));
        assert!(!domain_matches("www.acme.test", "cme.test"));
        assert!(!domain_matches("www.acme.test", "other.test"));
        assert!(!domain_matches("127.0.0.1", "0.0.1"));
        assert!(!domain_matches("www.acme.test", ""));
    }
}
