//! The attribution in first-party cookies: written on the broadest domain the browser accepts (or
//! `cookieDomain`), with PartnerStackJS's per-program names beside reftrack's own, and deleted
//! together when consent is refused.

use super::notes::Note;
use super::Tracker;
use crate::core::attribution::Attribution;
use crate::core::config::{Consent, Source, SourceKind};
use crate::core::cookie::{
    self, Attributes, CookieJar, CLICK_ID_COOKIE, PARTNERO_COOKIE, PARTNER_KEY_COOKIES,
};
use crate::core::text::cat;
use crate::web::browser::cookies::DocumentJar;
use crate::web::browser::{clock, page};
use alloc::string::String;
use alloc::vec::Vec;

impl Tracker {
    /// `consent(true)`: writes what was held in memory. `consent(false)`: deletes the cookies (the
    /// caller clears the queue) and keeps everything in memory from now on.
    pub fn consent(&mut self, granted: bool) {
        self.consent_decision = Some(granted);
        self.configure(Source::new(SourceKind::Call));
        let hostname = page::hostname();
        if granted {
            self.note(Note::ConsentGranted, "", "");
            let attribution = self.attribution.clone();
            if attribution.partner_key.is_some() {
                self.store(
                    &attribution,
                    &hostname,
                    page::is_https(),
                    &DocumentJar.read(),
                );
            }
        } else {
            self.note(Note::ConsentRefused, "", "");
            let cookies = DocumentJar.read();
            let program = self.config.public_key.as_deref().map(|program| {
                let clicks = cookie::with_prefix(&cookies, &cookie::program_click_prefix(program));
                let mut names: Vec<String> = Vec::new();
                for (name, _) in clicks {
                    names.push(name.into());
                }
                names.push(cookie::program_key_cookie(program));
                names
            });
            let mut domains: Vec<Option<String>> = Vec::new();
            for domain in cookie::domain_candidates(&hostname) {
                domains.push(Some(domain));
            }
            domains.push(None);
            for domain in domains {
                let expired = Attributes {
                    max_age: 0,
                    domain,
                    secure: false,
                };
                for name in PARTNER_KEY_COOKIES {
                    put(name, "", &expired);
                }
                put(CLICK_ID_COOKIE, "", &expired);
                put(PARTNERO_COOKIE, "", &expired);
                for name in program.iter().flatten() {
                    put(name, "", &expired);
                }
            }
        }
    }

    /// Writes `attribution` to cookies, or explains why it stays in memory. `cookies` is the jar as
    /// the caller read it before these writes: the per-program click id cookies already there. Only
    /// debug mode reads the jar back, to say whether the browser kept the writes.
    pub(super) fn store(
        &mut self,
        attribution: &Attribution,
        host: &str,
        secure: bool,
        cookies: &str,
    ) {
        let Some(key) = &attribution.partner_key else {
            return;
        };
        self.note(Note::Attributed, key.as_str(), "");
        if self.config.consent == Consent::Pending {
            self.note(Note::ConsentPending, "", "");
            return;
        }
        let mut jar = DocumentJar;
        let domain = match self.config.cookie_domain.clone() {
            Some(domain) if cookie::domain_matches(host, &domain) => Some(domain),
            Some(domain) => {
                self.warn(Note::CookieDomain, &domain, host);
                self.probed_domain(host, &mut jar)
            }
            None => self.probed_domain(host, &mut jar),
        };
        match &domain {
            Some(d) => self.note(Note::OnDomain, d, ""),
            None => self.note(Note::HostOnly, host, ""),
        }
        let attributes = Attributes {
            max_age: self.config.cookie_days * 86_400,
            domain,
            secure,
        };
        for name in PARTNER_KEY_COOKIES {
            put(name, key.as_str(), &attributes);
        }
        if self.partnero_program.is_some() {
            put(PARTNERO_COOKIE, key.as_str(), &attributes);
        }
        match &attribution.click_id {
            Some(click) => put(CLICK_ID_COOKIE, click.as_str(), &attributes),
            None => {
                let expired = Attributes {
                    max_age: 0,
                    ..attributes.clone()
                };
                put(CLICK_ID_COOKIE, "", &expired);
            }
        }
        if let Some(program) = self.config.public_key.as_deref() {
            mirror(program, key.as_str(), attribution, &attributes, cookies);
        }
        if self.config.debug && Attribution::from_cookies(&jar.read()) != *attribution {
            self.note(Note::Unavailable, "", "");
        }
    }

    /// The broadest domain the browser accepts for `host` (the page's), probed on the first write
    /// and remembered; not remembered while no domain takes cookies, so a later write probes again.
    fn probed_domain(&mut self, host: &str, jar: &mut DocumentJar) -> Option<String> {
        if self.probed_domain.is_none() {
            self.probed_domain = cookie::find_domain(host, jar);
        }
        self.probed_domain.clone()
    }
}

/// PartnerStackJS's per-program cookies beside reftrack's own, with the same values and
/// attributes: `_ps_partner_key_<program>`, and `_ps_xid_<program>_<suffix>` while there is a
/// click id (an older one, of another click, is deleted; the one with this click id is kept).
fn mirror(
    program: &str,
    key: &str,
    attribution: &Attribution,
    attributes: &Attributes,
    cookies: &str,
) {
    put(&cookie::program_key_cookie(program), key, attributes);
    let prefix = cookie::program_click_prefix(program);
    let click = attribution.click_id.as_ref().map(|c| c.as_str());
    let mut kept = false;
    for (name, value) in cookie::with_prefix(cookies, &prefix) {
        if Some(value) == click && !kept {
            kept = true;
            continue;
        }
        let expired = Attributes {
            max_age: 0,
            ..attributes.clone()
        };
        put(name, "", &expired);
    }
    if let (Some(click), false) = (click, kept) {
        let random = clock::random_bytes();
        let suffix = cookie::click_suffix([random[0], random[1], random[2], random[3]]);
        put(&cat(&[&prefix, &suffix]), click, attributes);
    }
}

/// Writes the cookie `name` = `value` with `attributes` (`Max-Age=0` deletes it). One function
/// for every write: the `Set-Cookie` string is made and dropped here, not at each caller.
#[inline(never)]
fn put(name: &str, value: &str, attributes: &Attributes) {
    DocumentJar.write(&cookie::set_cookie(name, value, attributes));
}
