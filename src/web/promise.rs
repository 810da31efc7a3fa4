//! `promise.then(onFulfilled, onRejected)` with functions made from closures, without the generic
//! wrappers of newer js-sys versions or an async runtime (wasm-bindgen-futures).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `promise.then(on_fulfilled, on_rejected)`; `on_rejected` may be `undefined`.
pub fn then(promise: &Promise, on_fulfilled: &JsValue, on_rejected: &JsValue) -> Promise {
    Reflect::get(promise, &"then".into())
        .ok()
        .and_then(|then| then.dyn_into::<Function>().ok())
        .and_then(|then| then.call2(promise, on_fulfilled, on_rejected).ok())
        .map_or_else(|| promise.clone(), |next| next.unchecked_into())
}
