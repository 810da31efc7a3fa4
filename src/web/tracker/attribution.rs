//! The attribution rule applied to the page: the partner key and click id read from the URL against
//! what the cookies hold, the landing of a hand-made link to report, and the click id the collector
//! gave it.

use super::notes::{self, Note};
use super::Tracker;
use crate::core::attribution::{decide, Attribution, Decision, LandingReport};
use crate::core::config::Consent;
use crate::core::cookie::CookieJar;
use crate::core::partner_key::{read_params, ClickId, ParamNames};
use crate::web::browser::cookies::DocumentJar;
use crate::web::browser::page;

impl Tracker {
    /// Reads the page's URL and the stored cookies, and applies the attribution rule.
    pub fn attribute(&mut self) {
        self.started = true;
        let config = &self.config;
        let params = page::search_params();
        // Partnero's path-style links (`/aff/<key>`) read like `?aff=<key>`.
        let path_key = self
            .partnero_program
            .as_ref()
            .and_then(|_| page::path_segment_after("aff"));
        let landing = read_params(
            &|name| match params.as_ref()?.get(name) {
                None if name == "aff" => path_key.clone(),
                value => value,
            },
            ParamNames {
                partner: &config.partner_params,
                raw_partner: &config.raw_partner_params,
                click: &config.click_params,
            },
        );
        // The landing read borrows the options: the notes go straight to their list.
        let (notes, debug) = (&mut self.notes, config.debug);
        for refused in landing.refusals() {
            let note = Note::Ignored(refused.reason.clone());
            notes::note(notes, debug, note, refused.param, "");
        }
        if let (Some(key), Some(param)) = (landing.partner_key(), landing.partner_param) {
            notes::note(notes, debug, Note::Read, key.as_str(), param);
        }
        let cookies = DocumentJar.read();
        let mut stored = Attribution::from_cookies(&cookies);
        if stored.partner_key.is_none() {
            // Cookies unavailable or refused: what this page already learned stays in memory.
            stored = self.attribution.clone();
        }
        match decide(
            config.attribution,
            &stored,
            landing.partner_key(),
            landing.click_id(),
        ) {
            Decision::NothingNew => {
                match &stored.partner_key {
                    Some(key) => self.note(Note::Keeping, key.as_str(), ""),
                    None => self.note(Note::NoKey, "", ""),
                }
                self.attribution = stored;
            }
            Decision::KeepFirst => {
                self.note(Note::KeepFirst, "", "");
                self.attribution = stored;
            }
            Decision::SameClick => {
                self.note(Note::SameClick, "", "");
                self.attribution = stored;
            }
            Decision::Write(attribution) => {
                self.landing_unreported = attribution.click_id.is_none();
                self.store(&attribution, &page::hostname(), page::is_https(), &cookies);
                self.attribution = attribution;
            }
        }
    }

    /// Whether a landing waits to be reported (see [`take_landing`](Self::take_landing)).
    pub fn landing_to_report(&self) -> bool {
        self.landing_unreported && self.config.consent != Consent::Pending
    }

    /// The landing to report to the collector, once: a partner key arrived in the URL without a
    /// click id. Held back while consent is pending; dropped without a public key (the collector
    /// would refuse it).
    pub fn take_landing(&mut self) -> Option<LandingReport> {
        if !self.landing_to_report() {
            return None;
        }
        self.landing_unreported = false;
        let partner_key = self.attribution.partner_key.as_ref()?.as_str().into();
        let Some(public_key) = self.config.public_key.clone() else {
            self.note(Note::NotReported, "", "");
            return None;
        };
        let referrer = page::referrer();
        Some(LandingReport {
            public_key,
            partner_key,
            page_url: page::href(),
            referrer: Some(referrer).filter(|r| !r.is_empty()),
        })
    }
    /// Keeps the click id the collector gave a reported landing of `partner_key`, as if it had
    /// come in the URL (cookie `ps_xid`), unless the attribution has changed meanwhile.
    pub fn adopt_click(&mut self, partner_key: &str, click_id: ClickId) {
        let current = self.attribution.partner_key.as_ref().map(|k| k.as_str());
        if current != Some(partner_key) || self.attribution.click_id.is_some() {
            return;
        }
        self.debug(&[
            "the collector counted this landing as click ",
            click_id.as_str(),
        ]);
        let mut attribution = self.attribution.clone();
        attribution.click_id = Some(click_id);
        let cookies = DocumentJar.read();
        self.store(&attribution, &page::hostname(), page::is_https(), &cookies);
        self.attribution = attribution;
    }
}
