//! The module's exports: the native API of contract §4a, which the npm package re-exports and
//! `window.reftrack` hangs on ([`super::globals`]). Each export starts the tracker if it needs the
//! attribution, then hands over to the layer that does the work.

use super::{forms, lifecycle, split, tracker};
use alloc::string::String;
use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The API's methods, in one place: `window.reftrack` is built from this list, and a test keeps
/// `js/index.js`, `js/guard.js`, the loader snippet and the type declarations equal to it.
pub const METHODS: [&str; 7] = [
    "init",
    "partnerKey",
    "clickId",
    "signup",
    "flush",
    "captureForms",
    "consent",
];

/// `init(options)`: merges the options into those of earlier calls and attributes.
#[wasm_bindgen]
pub fn init(options: JsValue) -> Promise {
    lifecycle::start_with("init", options, None);
    Promise::resolve(&JsValue::UNDEFINED)
}

/// `consent(granted)`: `true` writes the partner key held in memory and sends waiting signups;
/// `false` deletes reftrack's cookies and retry queue, and keeps everything in memory from then
/// on.
#[wasm_bindgen]
pub fn consent(granted: JsValue) {
    let granted = granted.is_truthy();
    tracker::with(|t| t.consent(granted));
    lifecycle::consented(granted);
}

/// `captureForms(selector?)`: form auto-capture for forms matching `selector`, or every form with
/// an email field.
#[wasm_bindgen(js_name = captureForms)]
pub fn capture_forms(selector: JsValue) {
    lifecycle::start();
    // Through `split::promise` for its argument; nothing waits for the promise.
    split::promise(
        |selector, _, _| {
            forms::capture(selector.as_string().filter(|s| !s.trim().is_empty()));
            JsValue::UNDEFINED
        },
        selector,
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
    );
}

/// `signup({ customer_key, email?, name?, sub_ids?, meta? })`: resolves with the `SignupResult`.
/// The signup is queued, and its request started, before the page's next task (in the split
/// build, once the delivery module is present).
#[wasm_bindgen]
pub fn signup(input: JsValue) -> Promise {
    lifecycle::start();
    split::signup(split::Kind::Signup, input, None)
}

/// `flush()`: tries every signup in the retry queue now, whatever its backoff; resolves when all
/// have been answered.
#[wasm_bindgen]
pub fn flush() -> Promise {
    split::flush()
}

/// `partnerKey()`: the attributed partner key.
#[wasm_bindgen(js_name = partnerKey)]
pub fn partner_key() -> Option<String> {
    lifecycle::start();
    tracker::with(|t| {
        t.attribution()
            .partner_key
            .as_ref()
            .map(|k| k.as_str().into())
    })
}

/// `clickId()`: the click id (xid) that came with the partner's link.
#[wasm_bindgen(js_name = clickId)]
pub fn click_id() -> Option<String> {
    lifecycle::start();
    tracker::with(|t| t.attribution().click_id.as_ref().map(|c| c.as_str().into()))
}

/// Fault injection for the tests of host-page safety: panics, as a bug would.
#[cfg(feature = "fault-injection")]
#[wasm_bindgen(js_name = __fault)]
pub fn fault() {
    panic!("fault injected by a test");
}
