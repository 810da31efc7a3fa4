//! Functions handed to the page. Each is a Rust closure behind the guard of `js/guard.js`: while
//! reftrack runs the closure answers; once the module trapped (a bug) or could not run, the guard
//! answers harmlessly instead, by the function's name, and nothing reaches the page.

use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/js/guard.js")]
extern "C" {
    /// `f` behind the guard; `name` picks its harmless answer once reftrack is off.
    fn guard(f: &JsValue, name: &str) -> Function;
    /// A function that calls `original` with the same `this` and arguments, passes on its result
    /// and errors untouched, and then calls `hook`: how the page's `history` methods are watched.
    /// (A Rust closure sees neither `this` nor a variable number of arguments.)
    #[wasm_bindgen(js_name = after)]
    pub fn call_after(original: &Function, hook: &Function) -> Function;
    /// Whether the delivery code is present ([`super::split`]): in the split build, once its
    /// second module arrived. `ask` asks the loader for it, once.
    #[cfg(feature = "split")]
    pub fn present(ask: bool) -> bool;
}

/// The one shape of every function reftrack hands to the page: up to three arguments (the most
/// any of them takes, `po(command, what, argument)`), missing ones `undefined`. One shape keeps
/// wasm-bindgen's glue to one closure adapter.
pub type Handler = dyn Fn(JsValue, JsValue, JsValue) -> JsValue;

/// What a guarded function does: a plain function, not a closure with state of its own, so every
/// function handed to the page is one closure type (one vtable, one call shim), whatever it does.
/// State lives in the layers' statics.
pub type Body = fn(JsValue, JsValue, JsValue) -> JsValue;

/// `f` as a guarded JavaScript function that lives as long as the page.
pub fn function(name: &str, f: Body) -> Function {
    let closure = Closure::<Handler>::new(f).into_js_value();
    guard(&closure, name)
}
