//! Options: their sources, their merge order, and what happens to a bad value.
//!
//! Options arrive from three places, highest priority first: the object passed to `init()` (or
//! `growsumo._initialize`), `window.reftrackConfig`, and the script tag's `data-*` attributes. The
//! web layer turns each into a [`Source`] of loosely typed [`Value`]s; [`resolve`] picks, for every
//! option, the first source whose value is valid. A bad value never stops the page: it is skipped
//! with a warning (as if it were not given), and the next source or the default applies.

use super::attribution::Mode;
use super::text::{cat, whole_number};
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// A loosely typed option value, as it came from JavaScript or an HTML attribute.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// A string (every `data-*` attribute is one).
    Text(String),
    /// A finite number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// An array of strings.
    List(Vec<String>),
    /// `null` or `undefined`: not given.
    #[default]
    Null,
    /// Anything else, described by its type (for the warning): "an object", "a function", ...
    Other(String),
}

/// A JavaScript object as its own enumerable properties, in order (`Object.entries`: what a page
/// put on `Object.prototype` is not among them).
#[derive(Debug, Default, PartialEq)]
pub enum Entries {
    /// `null` or `undefined`.
    #[default]
    Absent,
    /// An object's properties.
    Object(Vec<(String, Value)>),
    /// Something else: a string, a number, an array, a function.
    NotAnObject,
}

/// Where a source of options comes from; it names the source in warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `init(options)` / `growsumo._initialize(publicKey, options)`.
    Call,
    /// `window.reftrackConfig`.
    Global,
    /// `data-*` attributes on the script tag.
    Attribute,
}

/// One source of options: name/value pairs, option names in camelCase.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Where these options come from.
    pub kind: SourceKind,
    /// The options given, in camelCase.
    pub entries: Vec<(String, Value)>,
}

impl Source {
    /// An empty source of `kind`.
    pub fn new(kind: SourceKind) -> Self {
        Source {
            kind,
            entries: Vec::new(),
        }
    }

    /// Sets `name`, replacing an earlier value: a later `init()` call merges into earlier ones.
    /// `Null` is not a value: it is left out.
    pub fn set(&mut self, name: &str, value: Value) {
        self.entries.retain(|(n, _)| n != name);
        if value == Value::Null {
            return;
        }
        self.entries.push((name.to_owned(), value));
    }

    /// Merges `other` into this source, its values winning.
    pub fn merge(&mut self, other: Source) {
        for (name, value) in other.entries {
            self.set(&name, value);
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// How a warning names option `name` given in a source of `kind`.
fn describe(kind: SourceKind, name: &str) -> String {
    match kind {
        SourceKind::Call => cat(&["option ", name, " passed to init"]),
        SourceKind::Global => cat(&["window.reftrackConfig.", name]),
        SourceKind::Attribute => cat(&["attribute data-", &kebab_case(name)]),
    }
}

/// Every option name reftrack knows, in camelCase.
pub const OPTION_NAMES: [&str; 13] = [
    "publicKey",
    "endpoint",
    "cookieDays",
    "cookieDomain",
    "attribution",
    "partnerParams",
    "rawPartnerParams",
    "clickParams",
    "consent",
    "autoCapture",
    "sendUnattributed",
    "debug",
    "respectGpc",
];

/// `cookieDays` → `cookie-days`, the name of the matching `data-*` attribute.
pub fn kebab_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether cookies and storage may be written yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consent {
    /// Write cookies and storage as needed.
    #[default]
    Granted,
    /// Keep everything in memory until consent is given.
    Pending,
}

/// Form auto-capture setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AutoCapture {
    /// No capture.
    #[default]
    Off,
    /// Capture forms matching the selector; `None` means every form with an email field.
    Forms(Option<String>),
}

/// The resolved configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The program's public key.
    pub public_key: Option<String>,
    /// Where signups are posted; `None` means the default derived from the script's origin.
    pub endpoint: Option<String>,
    /// Cookie lifetime in days, 1–400.
    pub cookie_days: u32,
    /// An explicit cookie domain, overriding the probe.
    pub cookie_domain: Option<String>,
    /// First- or last-click attribution.
    pub attribution: Mode,
    /// Query parameters holding a base64 partner key.
    pub partner_params: Vec<String>,
    /// Query parameters holding a plain partner key.
    pub raw_partner_params: Vec<String>,
    /// Query parameters holding the click id.
    pub click_params: Vec<String>,
    /// Whether cookies may be written.
    pub consent: Consent,
    /// Form auto-capture.
    pub auto_capture: AutoCapture,
    /// Whether signups without a partner key are sent.
    pub send_unattributed: bool,
    /// Whether decisions are logged to the console.
    pub debug: bool,
    /// Whether `navigator.globalPrivacyControl` counts as a refusal of consent.
    pub respect_gpc: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_key: None,
            endpoint: None,
            cookie_days: 90,
            cookie_domain: None,
            attribution: Mode::Last,
            partner_params: vec!["ps_partner_key".into(), "gspk".into()],
            raw_partner_params: Vec::new(),
            click_params: vec!["ps_xid".into(), "gsxid".into()],
            consent: Consent::Granted,
            auto_capture: AutoCapture::Off,
            send_unattributed: false,
            debug: false,
            respect_gpc: false,
        }
    }
}

/// How one option's value is taken: parsed and put in its field of the configuration, or refused
/// (`None`). Plain functions of one type, so the search through the sources is compiled once, not
/// once per option type.
type Apply = fn(&Value, &mut Config) -> Option<()>;

/// Every option, in the order of [`OPTION_NAMES`], with how its value is taken.
const OPTIONS: [Apply; 13] = [
    |v, c| public_key(v).map(|x| c.public_key = Some(x)),
    |v, c| endpoint(v).map(|x| c.endpoint = Some(x)),
    |v, c| days(v).map(|x| c.cookie_days = x),
    |v, c| domain(v).map(|x| c.cookie_domain = Some(x)),
    |v, c| mode(v).map(|x| c.attribution = x),
    |v, c| list(v).map(|x| c.partner_params = x),
    |v, c| list(v).map(|x| c.raw_partner_params = x),
    |v, c| list(v).map(|x| c.click_params = x),
    |v, c| consent(v).map(|x| c.consent = x),
    |v, c| auto_capture(v).map(|x| c.auto_capture = x),
    |v, c| flag(v).map(|x| c.send_unattributed = x),
    |v, c| flag(v).map(|x| c.debug = x),
    |v, c| flag(v).map(|x| c.respect_gpc = x),
];

/// What each option expects, in the order of [`OPTION_NAMES`], for warnings.
const EXPECTED: [&str; 13] = [
    PUBLIC_KEY_RULE,
    "an absolute http(s) URL or a path starting with /",
    "a whole number of days from 1 to 400",
    "a domain name such as example.com",
    "\"last\" or \"first\"",
    "a list of query parameter names",
    "a list of query parameter names",
    "a list of query parameter names",
    "\"granted\" or \"pending\"",
    "true, false or a CSS selector",
    "true or false",
    "true or false",
    "true or false",
];

/// A warning about the options: a name that is no option, or a value refused. Its text is put
/// together only when it is said ([`Warning::text`]): the split build leaves the texts to its
/// delivery module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where the option was given.
    pub source: SourceKind,
    /// The option's name, as given.
    pub name: String,
    /// The option refused (its index in [`OPTION_NAMES`]), or `None` for a name that is no option.
    pub refused: Option<usize>,
}

impl Warning {
    /// The warning as the console says it.
    pub fn text(&self) -> String {
        let described = describe(self.source, &self.name);
        match self.refused {
            None => cat(&[&described, " is not a reftrack option; ignored"]),
            Some(option) => cat(&["ignored ", &described, ": expected ", EXPECTED[option]]),
        }
    }
}

/// Merges `sources` (highest priority first) over the defaults. Returns the configuration and one
/// warning per ignored value or unknown option name.
pub fn resolve(sources: &[&Source]) -> (Config, Vec<Warning>) {
    let mut warnings = Vec::new();
    for source in sources.iter().filter(|s| s.kind != SourceKind::Attribute) {
        for (name, _) in &source.entries {
            if !OPTION_NAMES.contains(&name.as_str()) {
                warnings.push(Warning {
                    source: source.kind,
                    name: name.clone(),
                    refused: None,
                });
            }
        }
    }
    let mut config = Config::default();
    for (option, (name, apply)) in OPTION_NAMES.into_iter().zip(OPTIONS).enumerate() {
        // The first value of `name` that is taken; each value refused on the way is warned about.
        for source in sources {
            let Some(value) = source.get(name) else {
                continue;
            };
            if apply(value, &mut config).is_some() {
                break;
            }
            warnings.push(Warning {
                source: source.kind,
                name: name.into(),
                refused: Some(option),
            });
        }
    }
    (config, warnings)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) if !s.trim().is_empty() && !s.chars().any(char::is_control) => {
            Some(s.trim().to_owned())
        }
        _ => None,
    }
}

/// True for a program's public key: 1–128 characters of `A–Z a–z 0–9 _ - .` (`pk_live_4f2a`).
pub fn is_public_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// What a public key must look like, for warnings.
pub const PUBLIC_KEY_RULE: &str = "a public key: 1-128 characters of A-Z a-z 0-9 _ - .";

fn public_key(value: &Value) -> Option<String> {
    match value {
        Value::Text(key) if is_public_key(key.trim()) => Some(key.trim().to_owned()),
        _ => None,
    }
}

fn endpoint(value: &Value) -> Option<String> {
    let url = text(value)?;
    let lower = url.to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (url.starts_with('/') && !url.starts_with("//"));
    if ok && !url.contains(char::is_whitespace) {
        Some(url)
    } else {
        None
    }
}

fn domain(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) => {
            let d = s.trim().trim_start_matches('.').to_ascii_lowercase();
            let ok = !d.is_empty()
                && d.len() <= 253
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !d.split('.').any(str::is_empty);
            if ok {
                Some(d)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn days(value: &Value) -> Option<u32> {
    let n = match value {
        // A whole number; the float is compared, never formatted.
        Value::Number(n) if *n == f64::from(*n as u32) => *n as u32,
        Value::Text(s) => whole_number(s.trim()).and_then(|n| u32::try_from(n).ok())?,
        _ => return None,
    };
    if (1..=400).contains(&n) {
        Some(n)
    } else {
        None
    }
}

fn mode(value: &Value) -> Option<Mode> {
    match value {
        Value::Text(s) if s == "last" => Some(Mode::Last),
        Value::Text(s) if s == "first" => Some(Mode::First),
        _ => None,
    }
}

fn consent(value: &Value) -> Option<Consent> {
    match value {
        Value::Text(s) if s == "granted" => Some(Consent::Granted),
        Value::Text(s) if s == "pending" => Some(Consent::Pending),
        _ => None,
    }
}

fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        // A bare `data-debug` attribute reads as "".
        Value::Text(s) if matches!(s.as_str(), "" | "true" | "1") => Some(true),
        Value::Text(s) if matches!(s.as_str(), "false" | "0") => Some(false),
        _ => None,
    }
}

fn auto_capture(value: &Value) -> Option<AutoCapture> {
    match (flag(value), value) {
        (Some(true), _) => Some(AutoCapture::Forms(None)),
        (Some(false), _) => Some(AutoCapture::Off),
        (_, Value::Text(selector)) if !selector.trim().is_empty() => {
            Some(AutoCapture::Forms(Some(selector.trim().to_owned())))
        }
        _ => None,
    }
}

fn list(value: &Value) -> Option<Vec<String>> {
    // Loops, not iterator chains: each chain is compiled on its own, and this runs on every
    // landing that names its parameters.
    let mut names = Vec::new();
    match value {
        Value::List(items) => {
            for item in items {
                names.push(item.trim().to_owned());
            }
        }
        // Attributes carry lists comma-separated: data-partner-params="ref,via".
        Value::Text(s) => {
            for name in s.split(',') {
                let name = name.trim();
                if !name.is_empty() {
                    names.push(name.to_owned());
                }
            }
        }
        _ => return None,
    }
    for name in &names {
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_control() || matches!(c, '&' | '=' | '#'))
        {
            return None;
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The warnings as the console says them.
    fn texts(warnings: &[Warning]) -> Vec<String> {
        warnings.iter().map(Warning::text).collect()
    }

    fn source(kind: SourceKind, entries: &[(&str, Value)]) -> Source {
        Source {
            kind,
            entries: entries
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        }
    }
    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn each_option_name_sets_its_own_field() {
        let given = [
            ("publicKey", t("pk_x")),
            ("endpoint", t("/x")),
            ("cookieDays", Value::Number(30.0)),
            ("cookieDomain", t("example.com")),
            ("attribution", t("first")),
            ("partnerParams", t("ref")),
            ("rawPartnerParams", t("via")),
            ("clickParams", t("cid")),
            ("consent", t("pending")),
            ("autoCapture", Value::Bool(true)),
            ("sendUnattributed", Value::Bool(true)),
            ("debug", Value::Bool(true)),
            ("respectGpc", Value::Bool(true)),
        ];
        assert_eq!(given.clone().map(|(name, _)| name), OPTION_NAMES);
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let expected = Config {
            public_key: Some("pk_x".into()),
            endpoint: Some("/x".into()),
            cookie_days: 30,
            cookie_domain: Some("example.com".into()),
            attribution: Mode::First,
            partner_params: names(&["ref"]),
            raw_partner_params: names(&["via"]),
            click_params: names(&["cid"]),
            consent: Consent::Pending,
            auto_capture: AutoCapture::Forms(None),
            send_unattributed: true,
            debug: true,
            respect_gpc: true,
        };
        assert_eq!(
            resolve(&[&source(SourceKind::Call, &given)]),
            (expected, vec![])
        );
        // One at a time: nothing else moves.
        for (name, value) in given {
            let (config, warnings) = resolve(&[&source(SourceKind::Call, &[(name, value)])]);
            let warnings = texts(&warnings);
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert_ne!(config, Config::default(), "{name} changed nothing");
        }
        // The three flags, told apart.
        let only = |name| resolve(&[&source(SourceKind::Call, &[(name, Value::Bool(true))])]).0;
        let flags = |c: Config| (c.send_unattributed, c.debug, c.respect_gpc);
        assert_eq!(flags(only("sendUnattributed")), (true, false, false));
        assert_eq!(flags(only("debug")), (false, true, false));
        assert_eq!(flags(only("respectGpc")), (false, false, true));
    }

    #[test]
    fn a_public_key_must_look_like_one() {
        for good in ["pk_test_123", "pk-live.4F2a", "12345"] {
            assert!(is_public_key(good), "{good}");
        }
        for bad in ["", "pk with spaces <b>", "pk;x", &"k".repeat(129)] {
            assert!(!is_public_key(bad), "{bad}");
        }
        let source = Source {
            kind: SourceKind::Call,
            entries: vec![("publicKey".into(), Value::Text("pk with spaces <b>".into()))],
        };
        let (config, warnings) = resolve(&[&source]);
        let warnings = texts(&warnings);
        assert_eq!(config.public_key, None);
        assert_eq!(
            warnings,
            ["ignored option publicKey passed to init: expected a public key: 1-128 characters of A-Z a-z 0-9 _ - ."]
        );
    }

    #[test]
    fn defaults_match_the_spec() {
        let (config, warnings) = resolve(&[]);
        let warnings = texts(&warnings);
        assert!(warnings.is_empty());
        assert_eq!(config.cookie_days, 90);
        assert_eq!(config.attribution, Mode::Last);
        assert_eq!(config.partner_params, ["ps_partner_key", "gspk"]);
        assert_eq!(config.click_params, ["ps_xid", "gsxid"]);
        assert!(config.raw_partner_params.is_empty());
        assert_eq!(config.consent, Consent::Granted);
        assert_eq!(config.auto_capture, AutoCapture::Off);
        assert!(!config.send_unattributed && !config.debug);
        assert_eq!(config.endpoint, None);
        assert_eq!(config.public_key, None);
    }

    #[test]
    fn call_beats_global_beats_attributes() {
        let call = source(SourceKind::Call, &[("cookieDays", Value::Number(7.0))]);
        let global = source(
            SourceKind::Global,
            &[
                ("cookieDays", Value::Number(30.0)),
                ("attribution", t("first")),
            ],
        );
        let attrs = source(
            SourceKind::Attribute,
            &[
                ("cookieDays", t("60")),
                ("attribution", t("last")),
                ("debug", t("")),
            ],
        );
        let (config, warnings) = resolve(&[&call, &global, &attrs]);
        let warnings = texts(&warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.cookie_days, 7);
        assert_eq!(config.attribution, Mode::First);
        assert!(config.debug, "a bare data-debug attribute turns debug on");
        let (config, _) = resolve(&[&global, &attrs]);
        assert_eq!(config.cookie_days, 30);
        let (config, _) = resolve(&[&attrs]);
        assert_eq!(config.cookie_days, 60);
        assert_eq!(config.attribution, Mode::Last);
    }

    #[test]
    fn a_bad_value_is_warned_about_and_skipped() {
        let call = source(
            SourceKind::Call,
            &[
                ("cookieDays", Value::Number(1000.0)),
                ("attribution", t("middle")),
                ("endpoint", t("javascript:alert(1)")),
                ("partnerParams", Value::Other("an object".into())),
                ("cookeDays", Value::Number(3.0)),
            ],
        );
        let attrs = source(SourceKind::Attribute, &[("cookieDays", t("12"))]);
        let (config, warnings) = resolve(&[&call, &attrs]);
        let warnings = texts(&warnings);
        assert_eq!(config.cookie_days, 12, "falls through to the next source");
        assert_eq!(config.attribution, Mode::Last, "then to the default");
        assert_eq!(config.endpoint, None);
        assert_eq!(config.partner_params, ["ps_partner_key", "gspk"]);
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        assert_eq!(
            warnings[0],
            "option cookeDays passed to init is not a reftrack option; ignored"
        );
        assert!(warnings
            .iter()
            .any(|w| w.contains("cookieDays") && w.contains("1 to 400")));
    }

    #[test]
    fn attribute_values_are_parsed_from_text() {
        let attrs = source(
            SourceKind::Attribute,
            &[
                ("partnerParams", t("ref, via")),
                ("autoCapture", t("form.signup")),
                ("sendUnattributed", t("false")),
                ("cookieDomain", t(".Acme.test")),
                ("cookieDays", t("0")),
                ("unrelated", t("x")),
            ],
        );
        let (config, warnings) = resolve(&[&attrs]);
        let warnings = texts(&warnings);
        assert_eq!(config.partner_params, ["ref", "via"]);
        assert_eq!(
            config.auto_capture,
            AutoCapture::Forms(Some("form.signup".into()))
        );
        assert!(!config.send_unattributed);
        assert_eq!(config.cookie_domain.as_deref(), Some("acme.test"));
        assert_eq!(config.cookie_days, 90);
        assert_eq!(
            warnings,
            ["ignored attribute data-cookie-days: expected a whole number of days from 1 to 400"]
        );
    }

    #[test]
    fn later_calls_merge() {
        let mut call = source(
            SourceKind::Call,
            &[("publicKey", t("pk_1")), ("debug", Value::Bool(true))],
        );
        call.merge(source(SourceKind::Call, &[("publicKey", t("pk_2"))]));
        let (config, _) = resolve(&[&call]);
        assert_eq!(config.public_key.as_deref(), Some("pk_2"));
        assert!(config.debug);
    }

    #[test]
    fn kebab_case_names_attributes() {
        assert_eq!(kebab_case("cookieDays"), "cookie-days");
        assert_eq!(kebab_case("sendUnattributed"), "send-unattributed");
        assert_eq!(kebab_case("debug"), "debug");
    }
}
