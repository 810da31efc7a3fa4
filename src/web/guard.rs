//! Fault containment. A Rust panic aborts: the module traps and the call that hit it throws a
//! `WebAssembly.RuntimeError`. The script-tag loader hands over a `guard` function that wraps every
//! function reftrack gives the browser (timers, listeners, history wrappers), so such an error is
//! caught, reported once, and turns reftrack off instead of reaching the page. Without a guard (the
//! npm package before `init`), functions are handed over as they are.

use js_sys::Function;
use std::cell::RefCell;
use wasm_bindgen::JsValue;

thread_local! {
    static GUARD: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Installs the loader's guard.
pub fn set(guard: Function) {
    GUARD.with(|g| *g.borrow_mut() = Some(guard));
}

/// `function` wrapped by the guard, if there is one.
pub fn guarded(function: JsValue) -> JsValue {
    guarded_with(function, JsValue::UNDEFINED)
}

/// `function` wrapped by the guard, which calls `fallback` instead once reftrack is off: a wrapper
/// of the page's own function (`history.pushState`, `growsumoInit`) falls back to that function.
pub fn guarded_with(function: JsValue, fallback: JsValue) -> JsValue {
    GUARD
        .with(|g| {
            g.borrow()
                .as_ref()
                .and_then(|guard| guard.call2(&JsValue::UNDEFINED, &function, &fallback).ok())
        })
        .unwrap_or(function)
}
