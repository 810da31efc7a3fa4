//! What the module asks of the page: the functions of `js/host.js` marked "import". They take and
//! return strings and numbers only, so the module carries no JavaScript object handling.

use alloc::string::String;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `document.cookie`, "" where it cannot be read.
    pub fn cookie() -> String;
    /// Writes one cookie string (`name=value; Path=/; ...`).
    #[wasm_bindgen(js_name = setCookie)]
    pub fn set_cookie(text: &str);
    fn page(what: u8) -> String;
    /// The first value of query parameter `name` of the page's URL, decoded
    /// (`URLSearchParams.get`).
    pub fn param(name: &str) -> Option<String>;
    /// Puts `window.reftrackConfig` into the global options slot; false if it is not an object.
    #[wasm_bindgen(js_name = globalOptions)]
    pub fn global_options() -> bool;
    /// `new URL(url, base).href`, or `None`.
    #[wasm_bindgen(js_name = resolveUrl)]
    pub fn resolve_url(url: &str, base: &str) -> Option<String>;
    /// `crypto.getRandomValues`.
    #[wasm_bindgen(js_name = randomBytes)]
    pub fn random_bytes(bytes: &mut [u8]);
    /// `Date.now()`.
    pub fn now() -> f64;
    /// `Math.random()`.
    pub fn random() -> f64;
    /// `localStorage.getItem(key)`.
    pub fn load(key: &str) -> Option<String>;
    /// `localStorage.setItem` (or `removeItem` for `None`); false if storage refused.
    pub fn store(key: &str, value: Option<String>) -> bool;
    /// A console line with the `[reftrack]` prefix: a warning, or a debug line.
    pub fn log(warn: bool, message: &str);
    /// Copies the attribution into `growsumo.data`.
    pub fn sync(partner_key: Option<String>, click_id: Option<String>);
    /// Starts the POST of `body` to `url`; the answer comes back as `entry::answered(token, …)`.
    /// False if it could not be started.
    pub fn post(token: u32, url: &str, body: &str) -> bool;
    /// Arms the flush timer for `ms` from now (`entry::tick`), or disarms it (negative).
    pub fn arm(ms: f64);
    /// Watches `pushState`/`replaceState`/`popstate` (`entry::navigated`) and `online`
    /// (`entry::online`), once.
    pub fn watch();
    /// Listens for form submits (`entry::submitted`), once.
    pub fn capture();
    /// Whether the form being submitted matches `selector`.
    #[wasm_bindgen(js_name = formMatches)]
    pub fn form_matches(selector: &str) -> bool;
    /// The trimmed value of the submitted form's first field matching `selector`; `None` if none.
    #[wasm_bindgen(js_name = formField)]
    pub fn form_field(selector: &str) -> Option<String>;
    /// Settles promise `id`: a signup's result (`ok`, `status`, `event_id`, `error`), or a flush.
    pub fn settle(id: u32, ok: bool, status: &str, event_id: Option<String>, error: Option<String>);
}

/// A fact about the page, read by [`read`].
#[derive(Clone, Copy)]
pub enum Page {
    /// `location.href`.
    Href = 0,
    /// `location.hostname`.
    Hostname = 1,
    /// `location.protocol`.
    Protocol = 2,
    /// `document.referrer`.
    Referrer = 3,
    /// `navigator.userAgent`.
    UserAgent = 4,
    /// The time now, ISO 8601 (`new Date().toISOString()`).
    IsoNow = 5,
    /// `navigator.globalPrivacyControl`: "true" or "".
    GlobalPrivacyControl = 6,
}

/// Reads `fact` from the page.
pub fn read(fact: Page) -> String {
    page(fact as u8)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    now() as u64
}
