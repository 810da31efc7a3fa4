//! The page's one tracker: the options it was given, the attribution it holds, and what it has
//! already warned about. Every entry point goes through [`with`].
//!
//! While it is borrowed, the tracker only reads and writes the page (URL, cookies, options): no
//! function of the page runs then, so nothing can call back into it. Entry points take what they
//! need out of it before handing anything to the page.

use super::cell::Global;
use super::cookies::DocumentJar;
use super::{page, values};
use crate::core::attribution::{decide, Attribution, Decision, LandingReport};
use crate::core::config::{self, Config, Consent, Source, SourceKind, Value, OPTION_NAMES};
use crate::core::cookie::{
    self, Attributes, CookieJar, CLICK_ID_COOKIE, PARTNERO_COOKIE, PARTNER_KEY_COOKIES,
};
use crate::core::partner_key::{read_params, ClickId, ParamNames};
use crate::core::text::cat;
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// State of the tracker on this page.
pub struct Tracker {
    /// Options from `init()` calls, merged.
    calls: Source,
    /// The script tag's `data-*` options, read once when the script ran.
    attributes: Source,
    /// The script tag's `src`, from which the default endpoint is derived.
    script_src: Option<String>,
    config: Config,
    attribution: Attribution,
    started: bool,
    warned: Vec<String>,
    /// Partnero mode: the program id given by `po('program', id, 'load')`.
    partnero_program: Option<String>,
    /// The page's explicit `consent(true | false)`, which beats options and GPC.
    consent_decision: Option<bool>,
    /// A landing through a hand-made partner link (no click id) not reported yet.
    landing_unreported: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            calls: Source::new(SourceKind::Call),
            attributes: Source::new(SourceKind::Attribute),
            script_src: None,
            config: Config::default(),
            attribution: Attribution::default(),
            started: false,
            warned: Vec::new(),
            partnero_program: None,
            consent_decision: None,
            landing_unreported: false,
        }
    }
}

static TRACKER: Global<Tracker> = Global::empty();

/// Runs `f` on the page's tracker.
pub fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> R {
    TRACKER.with(f)
}

impl Tracker {
    /// Records the script tag this build was loaded by: its `src`, and its `data-*` options
    /// (`dataset`; attributes that name no option are someone else's and left alone).
    pub fn adopt_script(&mut self, src: Option<String>, dataset: JsValue) {
        let mut attributes = values::options(dataset, SourceKind::Attribute)
            .unwrap_or(Source::new(SourceKind::Attribute));
        attributes
            .entries
            .retain(|(name, _)| OPTION_NAMES.contains(&name.as_str()));
        self.attributes = attributes;
        self.script_src = src;
    }

    /// Merges `call` into the options given so far, re-reads `window.reftrackConfig`, and resolves
    /// the configuration. Each warning is shown once per page.
    pub fn configure(&mut self, call: Source) {
        self.calls.merge(call);
        let global = Reflect::get(&page::window(), &JsValue::from_str("reftrackConfig"))
            .ok()
            .and_then(|value| values::options(value, SourceKind::Global));
        let global = global.unwrap_or_else(|| {
            self.warn_once("window.reftrackConfig must be an object; ignored".into());
            Source::new(SourceKind::Global)
        });
        let (mut config, warnings) = config::resolve(&[&self.calls, &global, &self.attributes]);
        if let Some(program) = &self.partnero_program {
            // Partnero mode: `?aff=` holds a plain key, and the program id is the public key.
            if !config.raw_partner_params.iter().any(|p| p == "aff") {
                config.raw_partner_params.push("aff".into());
            }
            if config::is_public_key(program) {
                config.public_key.get_or_insert_with(|| program.clone());
            }
        }
        config.consent = match self.consent_decision {
            Some(true) => Consent::Granted,
            Some(false) => Consent::Pending,
            None if config.respect_gpc && page::global_privacy_control() => Consent::Pending,
            None => config.consent,
        };
        self.config = config;
        for warning in warnings {
            self.warn_once(warning);
        }
    }

    /// Turns Partnero mode on for `program` (`po('program', id, 'load')`) and attributes again.
    /// The program id is the public key when none is set, so one that cannot be is warned about.
    pub fn partnero(&mut self, program: String) {
        if !config::is_public_key(&program) {
            self.warn_once(cat(&[
                "po('program', \"",
                &program,
                "\", 'load') was given a program id that is not a public key; expected ",
                config::PUBLIC_KEY_RULE,
            ]));
        }
        self.partnero_program = Some(program);
        self.configure(Source::new(SourceKind::Call));
        self.attribute();
    }

    /// `consent(true)`: writes what was held in memory. `consent(false)`: deletes the cookies (the
    /// caller clears the queue) and keeps everything in memory from now on.
    pub fn consent(&mut self, granted: bool) {
        self.consent_decision = Some(granted);
        self.configure(Source::new(SourceKind::Call));
        let hostname = page::hostname();
        if granted {
            self.debug(|| "consent granted".into());
            let attribution = self.attribution.clone();
            if attribution.partner_key.is_some() {
                self.store(&attribution, &hostname, page::is_https());
            }
        } else {
            self.debug(|| "consent refused: deleting reftrack's cookies and queue".into());
            let cookies = DocumentJar.read();
            let program = self.config.public_key.as_deref().map(|program| {
                let clicks = cookie::with_prefix(&cookies, &cookie::program_click_prefix(program));
                let mut names: Vec<String> = clicks.into_iter().map(|(n, _)| n.into()).collect();
                names.push(cookie::program_key_cookie(program));
                names
            });
            let domains = cookie::domain_candidates(&hostname).into_iter().map(Some);
            for domain in domains.chain([None]) {
                let expired = Attributes {
                    max_age: 0,
                    domain,
                    secure: false,
                };
                for name in PARTNER_KEY_COOKIES
                    .into_iter()
                    .chain([CLICK_ID_COOKIE, PARTNERO_COOKIE])
                {
                    DocumentJar.write(&cookie::set_cookie(name, "", &expired));
                }
                for name in program.iter().flatten() {
                    DocumentJar.write(&cookie::set_cookie(name, "", &expired));
                }
            }
        }
    }

    /// An explicit start (`init(options)`, `growsumo._initialize(publicKey, options)`): merges the
    /// options and attributes. `caller` names the call in warnings: about options that are not an
    /// object, about `_initialize`'s public key (`public_key`: its first argument) when it is not
    /// one, and about a start that leaves the program without a public key, since the collector
    /// refuses every signup then.
    pub fn start(&mut self, caller: &str, options: JsValue, public_key: Option<Value>) {
        let mut call = values::options(options, SourceKind::Call).unwrap_or_else(|| {
            self.warn_once(cat(&[caller, " options must be an object; ignored"]));
            Source::new(SourceKind::Call)
        });
        let mut refused = false;
        match public_key {
            Some(Value::Text(key)) if config::is_public_key(key.trim()) => {
                call.set("publicKey", Value::Text(key))
            }
            Some(Value::Null) | None => {}
            Some(other) => {
                refused = true;
                let given = match &other {
                    Value::Text(text) => cat(&["\"", text, "\""]),
                    Value::Number(_) => "a number".into(),
                    Value::Bool(_) => "a boolean".into(),
                    Value::List(_) => "an array".into(),
                    Value::Other(what) => what.clone(),
                    Value::Null => String::new(),
                };
                self.warn_once(cat(&[
                    caller,
                    " was given ",
                    &given,
                    " as the public key; expected ",
                    config::PUBLIC_KEY_RULE,
                ]));
            }
        }
        self.configure(call);
        if self.config.public_key.is_none() && !refused {
            self.warn_once(cat(&[
                caller,
                " left the program without a public key (pass it, or set publicKey, \
                 window.reftrackConfig.publicKey or data-public-key): signups will be refused",
            ]));
        }
        self.attribute();
    }

    /// Configures with what is known so far and attributes, unless that already happened.
    /// True when it started now (see `entry::start` for what follows).
    pub fn ensure_started(&mut self) -> bool {
        if self.started {
            return false;
        }
        self.configure(Source::new(SourceKind::Call));
        self.attribute();
        true
    }

    /// Warns about an unusable argument once per page.
    pub fn warn_once(&mut self, message: String) {
        if !self.warned.contains(&message) {
            page::log(true, &message);
            self.warned.push(message);
        }
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `src` of the script tag this build was loaded by, if any.
    pub fn script_src(&self) -> Option<&str> {
        self.script_src.as_deref()
    }

    /// The current attribution.
    pub fn attribution(&self) -> &Attribution {
        &self.attribution
    }

    /// Logs a decision in debug mode.
    pub fn debug(&self, message: impl FnOnce() -> String) {
        if self.config.debug {
            page::log(false, &message());
        }
    }

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
        for refused in landing.refusals() {
            self.debug(|| cat(&["ignored ?", refused.param, ": ", &refused.reason.reason()]));
        }
        if let (Some(key), Some(param)) = (landing.partner_key(), &landing.partner_param) {
            self.debug(|| cat(&["read partner key ", key.as_str(), " from ?", param]));
        }
        let mut stored = Attribution::from_cookies(&DocumentJar.read());
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
                self.debug(|| match &stored.partner_key {
                    Some(key) => cat(&["no new partner key in the URL; keeping ", key.as_str()]),
                    None => "no partner key in the URL or cookies".into(),
                });
                self.attribution = stored;
            }
            Decision::KeepFirst => {
                self.debug(|| "first-click attribution: keeping the stored partner key".into());
                self.attribution = stored;
            }
            Decision::SameClick => {
                self.debug(|| "this click is stored already: cookies left as they are".into());
                self.attribution = stored;
            }
            Decision::Write(attribution) => {
                self.landing_unreported = attribution.click_id.is_none();
                self.store(&attribution, &page::hostname(), page::is_https());
                self.attribution = attribution;
            }
        }
    }

    /// The landing to report to the collector, once: a partner key arrived in the URL without a
    /// click id. Held back while consent is pending; dropped without a public key (the collector
    /// would refuse it).
    pub fn take_landing(&mut self) -> Option<LandingReport> {
        if !self.landing_unreported || self.config.consent == Consent::Pending {
            return None;
        }
        self.landing_unreported = false;
        let partner_key = self.attribution.partner_key.as_ref()?.as_str().into();
        let Some(public_key) = self.config.public_key.clone() else {
            self.debug(|| "landing not reported: no publicKey".into());
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
        self.debug(|| {
            cat(&[
                "the collector counted this landing as click ",
                click_id.as_str(),
            ])
        });
        let mut attribution = self.attribution.clone();
        attribution.click_id = Some(click_id);
        self.store(&attribution, &page::hostname(), page::is_https());
        self.attribution = attribution;
    }

    /// Writes `attribution` to cookies, or explains why it stays in memory.
    fn store(&mut self, attribution: &Attribution, host: &str, secure: bool) {
        let Some(key) = &attribution.partner_key else {
            return;
        };
        self.debug(|| cat(&["attributed to partner ", key.as_str()]));
        if self.config.consent == Consent::Pending {
            self.debug(|| "consent pending: the partner key is kept in memory only".into());
            return;
        }
        let mut jar = DocumentJar;
        let domain = match self.config.cookie_domain.clone() {
            Some(domain) if cookie::domain_matches(host, &domain) => Some(domain),
            Some(domain) => {
                self.warn_once(cat(&[
                    "cookieDomain ",
                    &domain,
                    " does not cover ",
                    host,
                    "; finding one",
                ]));
                cookie::find_domain(host, &mut jar)
            }
            None => cookie::find_domain(host, &mut jar),
        };
        self.debug(|| match &domain {
            Some(d) => cat(&["cookies written on domain ", d]),
            None => cat(&["cookies written host-only on ", host]),
        });
        let attributes = Attributes {
            max_age: self.config.cookie_days * 86_400,
            domain,
            secure,
        };
        for name in PARTNER_KEY_COOKIES {
            jar.write(&cookie::set_cookie(name, key.as_str(), &attributes));
        }
        if self.partnero_program.is_some() {
            jar.write(&cookie::set_cookie(
                PARTNERO_COOKIE,
                key.as_str(),
                &attributes,
            ));
        }
        match &attribution.click_id {
            Some(click) => jar.write(&cookie::set_cookie(
                CLICK_ID_COOKIE,
                click.as_str(),
                &attributes,
            )),
            None => {
                let expired = Attributes {
                    max_age: 0,
                    ..attributes.clone()
                };
                jar.write(&cookie::set_cookie(CLICK_ID_COOKIE, "", &expired));
            }
        }
        if let Some(program) = self.config.public_key.as_deref() {
            mirror(&mut jar, program, key.as_str(), attribution, &attributes);
        }
        if Attribution::from_cookies(&jar.read()) != *attribution {
            self.debug(|| "cookies are unavailable: the partner key is kept in memory only".into());
        }
    }
}

/// PartnerStackJS's per-program cookies beside reftrack's own, with the same values and
/// attributes: `_ps_partner_key_<program>`, and `_ps_xid_<program>_<suffix>` while there is a
/// click id (an older one, of another click, is deleted; the one with this click id is kept).
fn mirror(
    jar: &mut DocumentJar,
    program: &str,
    key: &str,
    attribution: &Attribution,
    attributes: &Attributes,
) {
    jar.write(&cookie::set_cookie(
        &cookie::program_key_cookie(program),
        key,
        attributes,
    ));
    let prefix = cookie::program_click_prefix(program);
    let cookies = jar.read();
    let click = attribution.click_id.as_ref().map(|c| c.as_str());
    let mut kept = false;
    for (name, value) in cookie::with_prefix(&cookies, &prefix) {
        if Some(value) == click && !kept {
            kept = true;
            continue;
        }
        let expired = Attributes {
            max_age: 0,
            ..attributes.clone()
        };
        jar.write(&cookie::set_cookie(name, "", &expired));
    }
    if let (Some(click), false) = (click, kept) {
        let random = page::random_bytes();
        let suffix = cookie::click_suffix([random[0], random[1], random[2], random[3]]);
        jar.write(&cookie::set_cookie(&cat(&[&prefix, &suffix]), click, attributes));
    }
}
