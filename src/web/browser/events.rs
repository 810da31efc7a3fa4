//! Events, timers and `history`: listeners on the window and the document, one-shot timeouts, and
//! the page's `pushState`/`replaceState` watched without changing what they do.

use super::page::{document, window};
use crate::web::guard;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Listens for `kind` on the window (`online`, `pagehide`, `popstate`, ...).
pub fn on_window(kind: &str, listener: &Function) {
    let _ = window().add_event_listener_with_callback(kind, listener);
}

/// Stops listening for `kind` on the window.
pub fn off_window(kind: &str, listener: &Function) {
    let _ = window().remove_event_listener_with_callback(kind, listener);
}

/// Listens for `kind` on the document in the capture phase: before the page's own handlers, and
/// for elements added later.
pub fn on_document_capture(kind: &str, listener: &Function) {
    let _ = document().add_event_listener_with_callback_and_bool(kind, listener, true);
}

/// Calls `callback` once after `ms` milliseconds; the handle clears it.
pub fn timeout(callback: &Function, ms: i32) -> Option<i32> {
    window()
        .set_timeout_with_callback_and_timeout_and_arguments_0(callback, ms)
        .ok()
}

/// Clears a timeout set by [`timeout`].
pub fn clear_timeout(handle: i32) {
    window().clear_timeout_with_handle(handle);
}

/// Calls `hook` after each `history.pushState` and `history.replaceState`, once per page: whatever
/// was there (the browser's, another library's wrapper) runs first with the same `this` and
/// arguments, and its result and errors pass through untouched.
pub fn after_history_change(hook: &Function) {
    let history = super::page::global("history");
    if !history.is_object() {
        return;
    }
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
        let wrapper = guard::call_after(&original, hook);
        let _ = Reflect::set(&wrapper, &marker, &JsValue::TRUE);
        let _ = Reflect::set(&history, &method, &wrapper);
    }
}
