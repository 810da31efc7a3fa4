//! The module's exports: the native API of contract §4a, which the npm package re-exports and
//! `window.reftrack` hangs on, and [`install`], the script-tag build's start. The compatibility
//! globals (`growsumo`, `po`) are thin translations onto the same functions ([`super::facades`]).

use super::cell::Global;
use super::{delivery, facades, forms, guard, page, storage, tracker, values};
use crate::core::config::AutoCapture;
use crate::core::text::cat;
use alloc::string::String;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// `init(options)`: merges the options into those of earlier calls and attributes.
#[wasm_bindgen]
pub fn init(options: JsValue) -> Promise {
    tracker::with(|t| t.start("init", options, None));
    started();
    Promise::resolve(&JsValue::UNDEFINED)
}

/// `growsumo._initialize(publicKey, options)`: the same, with the program's public key.
pub fn initialize(public_key: JsValue, options: JsValue) {
    let public_key = values::classify(&public_key);
    tracker::with(|t| t.start("growsumo._initialize", options, Some(public_key)));
    started();
}

/// What follows every start (`init`, `_initialize`, the plain tag's own start, Partnero's
/// `program … load`): `growsumo.data` filled, the retry queue resumed, the URL and the network
/// watched, and forms captured if the options say so.
fn started() {
    sync();
    watch();
    delivery::report_landing();
    delivery::resume();
    if let AutoCapture::Forms(selector) = tracker::with(|t| t.config().auto_capture.clone()) {
        forms::capture(selector);
    }
}

/// Copies the attribution into `growsumo.data`.
pub fn sync() {
    let (key, click) = tracker::with(|t| {
        let a = t.attribution();
        (
            a.partner_key.as_ref().map(|k| String::from(k.as_str())),
            a.click_id.as_ref().map(|c| String::from(c.as_str())),
        )
    });
    facades::sync(key, click);
}

/// Starts with what is known so far unless something already did, followed by what follows
/// every start. The script-tag build calls it after its first task (a plain `<script>` tag that
/// nobody initializes), and everything that needs the attribution calls it first.
pub fn start() {
    if tracker::with(|t| t.ensure_started()) {
        started();
    }
}

/// `consent(granted)`: `true` writes the partner key held in memory and sends waiting signups;
/// `false` deletes reftrack's cookies and retry queue, and keeps everything in memory from then
/// on.
#[wasm_bindgen]
pub fn consent(granted: JsValue) {
    let granted = granted.is_truthy();
    tracker::with(|t| t.consent(granted));
    if granted {
        delivery::report_landing();
        delivery::resume();
    } else {
        storage::clear();
    }
}

/// `captureForms(selector?)`: form auto-capture for forms matching `selector`, or every form with
/// an email field.
#[wasm_bindgen(js_name = captureForms)]
pub fn capture_forms(selector: JsValue) {
    start();
    forms::capture(selector.as_string().filter(|s| !s.trim().is_empty()));
}

/// `signup({ customer_key, email?, name?, sub_ids?, meta? })`: resolves with the `SignupResult`.
/// The signup is queued, and its request started, before the page's next task.
#[wasm_bindgen]
pub fn signup(input: JsValue) -> Promise {
    delivery::signup(values::signup_input(&input), None)
}

/// `flush()`: tries every signup in the retry queue now, whatever its backoff; resolves when all
/// have been answered.
#[wasm_bindgen]
pub fn flush() -> Promise {
    delivery::flush_later(true)
}

/// `partnerKey()`: the attributed partner key.
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

/// `clickId()`: the click id (xid) that came with the partner's link.
#[wasm_bindgen(js_name = clickId)]
pub fn click_id() -> Option<String> {
    start();
    tracker::with(|t| t.attribution().click_id.as_ref().map(|c| c.as_str().into()))
}

/// The script-tag build's start, called once the module is instantiated, with the `<script>`
/// element that loaded it: defines `window.growsumo`, `window.po` and `window.reftrack` and replays
/// the calls queued before they existed.
#[wasm_bindgen]
pub fn install(script: JsValue) {
    facades::install(script);
}

/// `po('program', id, 'load')`: Partnero mode for program `id`.
pub fn partnero_program(id: &str) {
    tracker::with(|t| {
        t.debug(|| cat(&["Partnero mode: program ", id]));
        t.partnero(id.into());
    });
    started();
}

/// A call of a compatibility global that reftrack does not support: warned about once.
pub fn unsupported(call: &str) {
    tracker::with(|t| t.warn_once(cat(&[call, " is not supported; ignored"])));
}

static WATCHING: Global<bool> = Global::empty();

/// Watches the URL (single-page apps: `pushState`, `replaceState`, `popstate`), the network
/// (`online`) and the page going away (`pagehide`), once per page. The `history` methods are wrapped once: whatever was there (the
/// browser's, another library's wrapper) runs first with the same `this` and arguments, and its
/// result and errors pass through untouched.
fn watch() {
    if WATCHING.with(|w| core::mem::replace(w, true)) {
        return;
    }
    let window = page::window();
    let navigated = guard::function("navigated", |_, _, _| {
        tracker::with(|t| t.attribute());
        sync();
        delivery::report_landing();
        JsValue::UNDEFINED
    });
    if let Ok(history) = window.history() {
        let marker = JsValue::from_str("__reftrack");
        for method in ["pushState", "replaceState"] {
            let method = JsValue::from_str(method);
            let Ok(original) = Reflect::get(&history, &method) else {
                continue;
            };
            let Ok(original) = original.dyn_into::<Function>() else {
                continue;
            };
            // A second copy of reftrack on the page does not wrap our wrapper.
            if Reflect::has(&original, &marker).unwrap_or(true) {
                continue;
            }
            let wrapper = guard::call_after(&original, &navigated);
            let _ = Reflect::set(&wrapper, &marker, &JsValue::TRUE);
            let _ = Reflect::set(&history, &method, &wrapper);
        }
    }
    let _ = window.add_event_listener_with_callback("popstate", &navigated);
    let online = guard::function("online", |_, _, _| {
        tracker::with(|t| t.debug(|| "back online: sending waiting signups".into()));
        delivery::flush_later(true).into()
    });
    let _ = window.add_event_listener_with_callback("online", &online);
    let hidden = guard::function("pagehide", |_, _, _| {
        delivery::hand_over();
        JsValue::UNDEFINED
    });
    let _ = window.add_event_listener_with_callback("pagehide", &hidden);
    let violated = guard::function("securitypolicyviolation", |event, _, _| {
        delivery::violated(&event);
        JsValue::UNDEFINED
    });
    let _ = window.add_event_listener_with_callback("securitypolicyviolation", &violated);
}

/// Fault injection for the tests of host-page safety: panics, as a bug would.
#[cfg(feature = "fault-injection")]
#[wasm_bindgen(js_name = __fault)]
pub fn fault() {
    panic!("fault injected by a test");
}
