//! The globals, defined from Rust: `window.growsumo` (PartnerStackJS), `window.po` (Partnero
//! Universal) and `window.reftrack` (the native API), each a thin translation onto [`super::api`],
//! [`super::lifecycle`] and [`super::delivery`]. The calls that PartnerStack's snippet, Partnero's
//! stub and reftrack's loader snippet queued before the script arrived are replayed in order.

mod growsumo;
mod po;
mod reftrack;

use super::browser::page;
use super::tracker;
use super::values::{get, set};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// The script-tag build's start, called once the module is instantiated, with the `<script>`
/// element that loaded it: defines `window.growsumo`, `window.po` and `window.reftrack` and replays
/// the calls queued before they existed.
#[wasm_bindgen]
pub fn install(script: JsValue) {
    let window = JsValue::from(page::window());
    // `document.currentScript`: the <script> element that runs, or null. Its `src` (the URL it was
    // loaded from, resolved as the browser resolved it: `<base href>` counts) and `dataset` are
    // read as properties, which need no `instanceof` check (an SVG script has no `src`).
    let src = get(&script, "src")
        .as_string()
        .filter(|src| !src.is_empty());
    tracker::with(|t| t.adopt_script(src, get(&script, "dataset")));
    let loader = get(&window, "reftrack");
    let growsumo = growsumo::install(&window);
    po::install(&window);
    let reftrack = JsValue::from(reftrack::api());
    set(&window, "reftrack", &reftrack);
    replay(&reftrack, get(&loader, "q"));
    replay(&growsumo, get(&growsumo, "q"));
}

/// `target[name]` if it is an object, else a new object put there.
fn object_at(target: &JsValue, name: &str) -> JsValue {
    let value = get(target, name);
    if value.is_object() {
        return value;
    }
    let object = JsValue::from(Object::new());
    set(target, name, &object);
    object
}

/// The items of a stub's queue, if it is an array.
fn queue(value: JsValue) -> Array {
    if Array::is_array(&value) {
        value.unchecked_into()
    } else {
        Array::new()
    }
}

/// An `arguments` object (or any array-like) as an array.
fn arguments(value: JsValue) -> Array {
    if value.is_object() {
        Array::from(&value)
    } else {
        Array::new()
    }
}

/// Replays the calls reftrack's loader snippet queued on `target`: `[method, arguments, resolve]`,
/// each answered through its `resolve`.
fn replay(target: &JsValue, queued: JsValue) {
    for call in queue(queued).iter() {
        let method = get(&call, "0").as_string().unwrap_or_default();
        let Ok(function) = get(target, &method).dyn_into::<Function>() else {
            continue;
        };
        let result =
            Reflect::apply(&function, target, &arguments(get(&call, "1"))).unwrap_or_default();
        if let Ok(resolve) = get(&call, "2").dyn_into::<Function>() {
            let _ = resolve.call1(&JsValue::UNDEFINED, &result);
        }
    }
}
