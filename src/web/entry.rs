//! The module's exports, called by the skin (`js/host.js`): the native API of SPEC §4a under the
//! facades (`reftrack`, `growsumo`, `po`), and the events the skin reports (a timer, a navigation,
//! a form submit, an answer from the endpoint). Values arrive as strings and numbers, objects as
//! entries put in a [`scratch`] slot just before the call; promises are settled by id.

use super::scratch::{self, Slot};
use super::{delivery, forms, host, storage, tracker};
use crate::core::config::AutoCapture;
use crate::core::signup::SignupInput;
use crate::core::text::cat;
use alloc::string::String;
use wasm_bindgen::prelude::*;

/// Reads the script tag's `data-*` options (put in the attributes slot) and its `src`. Called by
/// the script-tag build while it runs.
#[wasm_bindgen]
pub fn boot(src: Option<String>) {
    tracker::with(|t| t.adopt_script(src));
}

/// `init(options)` / `growsumo._initialize(publicKey, options)`, the options in the call slot
/// (`is_object` false when they were not an object): merges them into those of earlier calls and
/// attributes.
#[wasm_bindgen]
pub fn init(caller: &str, is_object: bool, public_key: Option<String>) {
    tracker::with(|t| t.start(caller, is_object, public_key));
    started();
}

/// What follows every start (`init`, `_initialize`, the plain tag's own start, Partnero's
/// `program … load`): `growsumo.data` filled, the retry queue resumed, the URL and the network
/// watched, and forms captured if the options say so.
fn started() {
    sync();
    host::watch();
    delivery::resume();
    if let AutoCapture::Forms(selector) = tracker::with(|t| t.config().auto_capture.clone()) {
        forms::capture(selector);
    }
}

/// Copies the attribution into `growsumo.data`.
fn sync() {
    let (key, click) = tracker::with(|t| {
        let a = t.attribution();
        (
            a.partner_key.as_ref().map(|k| k.as_str().into()),
            a.click_id.as_ref().map(|c| c.as_str().into()),
        )
    });
    host::sync(key, click);
}

/// Starts with what is known so far unless something already did, followed by what follows
/// every start. The script-tag build calls it after its first task (a plain `<script>` tag that
/// nobody initializes), and everything that needs the attribution calls it first.
#[wasm_bindgen]
pub fn start() {
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
    start();
    forms::capture(selector.filter(|s| !s.trim().is_empty()));
}

/// Sends a signup whose fields (and `meta`) are in their slots; settles promise `id` with the
/// `SignupResult`. `is_object` is false when the page passed something other than an object.
#[wasm_bindgen]
pub fn signup(id: u32, is_object: bool) {
    let fields = scratch::take(Slot::Fields);
    let meta = scratch::take(Slot::Meta);
    delivery::send(SignupInput::from_values(is_object, fields, meta), Some(id));
}

/// Tries every signup in the retry queue now, whatever its backoff; settles promise `id` when
/// all have been answered.
#[wasm_bindgen]
pub fn flush(id: u32) {
    delivery::flush(true, Some(id));
}

/// The attributed partner key.
#[wasm_bindgen(js_name = partnerKey)]
pub fn partner_key() -> Option<String> {
    start();
    tracker::with(|t| {
        t.attribution()
            .partner_key
            .as_ref()
            .map(|k| k.as_str().into())
    })
}

/// The click id (xid) that came with the partner's link.
#[wasm_bindgen(js_name = clickId)]
pub fn click_id() -> Option<String> {
    start();
    tracker::with(|t| t.attribution().click_id.as_ref().map(|c| c.as_str().into()))
}

/// `po('program', id, 'load')`: Partnero mode for program `id`.
#[wasm_bindgen(js_name = partneroProgram)]
pub fn partnero_program(id: &str) {
    tracker::with(|t| {
        t.debug(|| cat(&["Partnero mode: program ", id]));
        t.partnero(id.into());
    });
    started();
}

/// A call of a compatibility global that reftrack does not support: warned about once.
#[wasm_bindgen]
pub fn unsupported(call: &str) {
    tracker::with(|t| t.warn_once(cat(&[call, " is not supported; ignored"])));
}

/// The flush timer fired.
#[wasm_bindgen]
pub fn tick() {
    delivery::flush(false, None);
}

/// The browser is back online: what failed likely fails no more.
#[wasm_bindgen]
pub fn online() {
    tracker::with(|t| t.debug(|| "back online: sending waiting signups".into()));
    delivery::flush(true, None);
}

/// The URL changed (`pushState`, `replaceState`, `popstate`): attribution runs again.
#[wasm_bindgen]
pub fn navigated() {
    tracker::with(|t| t.attribute());
    sync();
}

/// A form was submitted (the skin holds it while this runs); `form` identifies it.
#[wasm_bindgen]
pub fn submitted(form: u32) {
    forms::submitted(form);
}

/// The answer to request `token` (see `delivery::answered`).
#[wasm_bindgen]
pub fn answered(
    token: u32,
    status: u16,
    body_status: Option<String>,
    body_error: Option<String>,
    error: Option<String>,
) {
    delivery::answered(token, status, body_status, body_error, error);
}

/// Fault injection for the tests of host-page safety: panics, as a bug would.
#[cfg(feature = "fault-injection")]
#[wasm_bindgen(js_name = __fault)]
pub fn fault() {
    panic!("fault injected by a test");
}
