//! Single-page apps: attribution runs again after `history.pushState`, `replaceState` and
//! `popstate`. The methods are wrapped once per page; whatever was there before (the browser's, or
//! another library's wrapper) is called first, with the same arguments, and its result and errors
//! pass through untouched.

use super::{facades, guard, tracker};
use js_sys::{Function, Reflect};
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Marks our wrappers, so that a second copy of reftrack on the page does not wrap them again.
const MARK: &str = "__reftrack";

fn reattribute() {
    tracker::with(|t| t.attribute());
    facades::sync_data();
}

/// Starts watching the URL (idempotent).
pub fn watch() {
    if WATCHING.with(|w| w.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(history) = Reflect::get(&window, &"history".into()) else {
        return;
    };
    for method in ["pushState", "replaceState"] {
        let Some(original) = Reflect::get(&history, &method.into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
        else {
            continue;
        };
        if Reflect::get(&original, &MARK.into()).is_ok_and(|m| m.is_truthy()) {
            continue;
        }
        let target = history.clone();
        let fallback = original.clone();
        let wrapper =
            Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
                move |state, unused, url| {
                    let result = original.call3(&target, &state, &unused, &url)?;
                    reattribute();
                    Ok(result)
                },
            )
            .into_js_value();
        let wrapper = guard::guarded_with(wrapper, fallback.into());
        let _ = Reflect::set(&wrapper, &MARK.into(), &JsValue::TRUE);
        let _ = Reflect::set(&history, &method.into(), &wrapper);
    }
    let popstate = guard::guarded(Closure::<dyn Fn()>::new(reattribute).into_js_value());
    let _ = window.add_event_listener_with_callback("popstate", popstate.unchecked_ref());
}
