//! The entry points JavaScript calls: the native API of SPEC §4a (exported by the npm package and
//! hung on `window.reftrack` by the script-tag build) and `boot`, which the script-tag loader calls
//! while the script runs.

use super::{delivery, facades, forms, history, storage, tracker};
use crate::core::config::AutoCapture;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// Applies `options` (merged into those of earlier calls) and runs attribution.
#[wasm_bindgen]
pub fn init(options: JsValue) -> Promise {
    tracker::with(|t| t.start("init", &options, None));
    started();
    Promise::resolve(&JsValue::UNDEFINED)
}

/// What follows every start (`init`, `_initialize`, the script tag's own start, Partnero's
/// `program … load`): `growsumo.data` filled, the retry queue resumed, the URL watched, and forms
/// captured if the options say so.
pub(crate) fn started() {
    facades::sync_data();
    delivery::resume();
    history::watch();
    if let AutoCapture::Forms(selector) = tracker::with(|t| t.config().auto_capture.clone()) {
        forms::capture(selector);
    }
}

/// Starts with what is known so far unless something already did, followed by what follows
/// every start. Called by everything that needs the attribution before `init` may have run.
pub(crate) fn ensure_started() {
    if tracker::with(|t| t.ensure_started()) {
        started();
    }
}

/// Consent: `true` writes the partner key held in memory and sends waiting signups; `false`
/// deletes reftrack's cookies and retry queue, and keeps everything in memory from then on.
#[wasm_bindgen]
pub fn consent(granted: bool) {
    tracker::with(|t| t.consent(granted));
    if granted {
        delivery::resume();
    } else {
        storage::clear();
    }
}

/// Turns on form auto-capture: forms matching `selector`, or every form with an email field.
#[wasm_bindgen(js_name = captureForms)]
pub fn capture_forms(selector: Option<String>) {
    ensure_started();
    forms::capture(selector.filter(|s| !s.trim().is_empty()));
}

/// Sends a signup (`{ customer_key, email?, name?, sub_ids?, meta? }`) attributed to the current
/// partner. Resolves with a `SignupResult`; never rejects.
#[wasm_bindgen(unchecked_return_type = "Promise<SignupResult>")]
pub fn signup(input: JsValue) -> Promise {
    delivery::send(delivery::input_from_js(&input))
}

/// Tries every signup in the retry queue now, whatever its backoff.
#[wasm_bindgen]
pub fn flush() -> Promise {
    delivery::flush(true)
}

/// The attributed partner key, or `null`.
#[wasm_bindgen(js_name = partnerKey, unchecked_return_type = "string | null")]
pub fn partner_key() -> JsValue {
    ensure_started();
    tracker::with(|t| string_or_null(t.attribution().partner_key.as_ref().map(|k| k.as_str())))
}

/// The click id (xid) that came with the partner's link, or `null`.
#[wasm_bindgen(js_name = clickId, unchecked_return_type = "string | null")]
pub fn click_id() -> JsValue {
    ensure_started();
    tracker::with(|t| string_or_null(t.attribution().click_id.as_ref().map(|c| c.as_str())))
}

/// SPEC §4a promises `null`, where `Option<String>` would give JavaScript `undefined`.
fn string_or_null(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// Installs the loader's guard (see `web::guard`); the script-tag build and the npm package's
/// `init` call it first.
#[wasm_bindgen(js_name = setGuard)]
pub fn set_guard(guard: js_sys::Function) {
    super::guard::set(guard);
}

/// Fault injection for the tests of host-page safety: panics, as a bug would.
#[cfg(feature = "fault-injection")]
#[wasm_bindgen(js_name = __fault)]
pub fn fault() {
    panic!("fault injected by a test");
}

/// Called by the script-tag build (`dist/reftrack.js`) while it runs, with its own `<script>`
/// element: reads the tag's `data-*` options and defines `window.growsumo`. Not for npm users.
#[wasm_bindgen]
pub fn boot(script: JsValue) {
    if let Some(script) = script.dyn_ref::<HtmlElement>() {
        tracker::with(|t| t.adopt_script(script));
    }
    facades::install();
    facades::install_po();
}
