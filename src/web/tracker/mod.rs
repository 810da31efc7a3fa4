//! The page's one tracker: the options it was given, the attribution it holds, and what it has
//! to say (`notes`). Every entry point goes through [`with`].
//!
//! While it is borrowed, the tracker only reads and writes the page (URL, cookies, options): no
//! function of the page runs then, so nothing can call back into it. Entry points take what they
//! need out of it before handing anything to the page.

mod attribution;
mod cookies;
pub mod data;
pub mod notes;

use notes::Note;

use super::browser::{console, page};
use super::cell::Global;
use super::values;
use crate::core::attribution::Attribution;
use crate::core::config::{self, Config, Consent, Source, SourceKind, Value, OPTION_NAMES};
use crate::core::text::cat;
use alloc::string::String;
use alloc::vec::Vec;
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
    /// Partnero mode: the program id given by `po('program', id, 'load')`.
    partnero_program: Option<String>,
    /// The page's explicit `consent(true | false)`, which beats options and GPC.
    consent_decision: Option<bool>,
    /// A landing through a hand-made partner link (no click id) not reported yet.
    landing_unreported: bool,
    /// The broadest cookie domain the browser accepted for this page's host, once probed: the
    /// host does not change during a page's life, so later writes skip the probe's cookie round
    /// trips (each read after a write waits for the browser's cookie store).
    probed_domain: Option<String>,
    /// Debug notes and warnings waiting for the delivery module (the split build: `notes`).
    notes: Vec<notes::Waiting>,
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
            partnero_program: None,
            consent_decision: None,
            landing_unreported: false,
            probed_domain: None,
            notes: Vec::new(),
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
        let global = values::options(
            values::get(&page::window(), "reftrackConfig"),
            SourceKind::Global,
        );
        let global = global.unwrap_or_else(|| {
            self.warn(Note::GlobalNotObject, "", "");
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
            self.warn(Note::Config(warning), "", "");
        }
    }

    /// Turns Partnero mode on for `program` (`po('program', id, 'load')`) and attributes again.
    /// The program id is the public key when none is set, so one that cannot be is warned about.
    pub fn partnero(&mut self, program: String) {
        if !config::is_public_key(&program) {
            self.warn(Note::PartneroProgram, &program, "");
        }
        self.partnero_program = Some(program);
        self.configure(Source::new(SourceKind::Call));
        self.attribute();
    }

    /// An explicit start (`init(options)`, `growsumo._initialize(publicKey, options)`): merges the
    /// options and attributes. `caller` names the call in warnings: about options that are not an
    /// object, about `_initialize`'s public key (`public_key`: its first argument) when it is not
    /// one, and about a start that leaves the program without a public key, since the collector
    /// refuses every signup then.
    pub fn start(&mut self, caller: &str, options: JsValue, public_key: Option<Value>) {
        let mut call = values::options(options, SourceKind::Call).unwrap_or_else(|| {
            self.warn(Note::OptionsNotObject, caller, "");
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
                self.warn(Note::PublicKeyGiven, caller, &given);
            }
        }
        self.configure(call);
        if self.config.public_key.is_none() && !refused {
            self.warn(Note::NoPublicKey, caller, "");
        }
        self.attribute();
    }

    /// Configures with what is known so far and attributes, unless that already happened.
    /// True when it started now (see `lifecycle::start` for what follows).
    pub fn ensure_started(&mut self) -> bool {
        if self.started {
            return false;
        }
        self.configure(Source::new(SourceKind::Call));
        self.attribute();
        true
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

    /// Logs a decision in debug mode: the line is `pieces` one after the other, put together
    /// only then. Pieces, not a closure: one function for every debug line, not one per line.
    pub fn debug(&self, pieces: &[&str]) {
        if self.config.debug {
            console::log(false, pieces);
        }
    }
}
