//! The console: reftrack's warnings and debug lines, and what the page's own functions threw.

use crate::core::text::cat;
use alloc::string::String;
use wasm_bindgen::JsValue;

/// What every console line of reftrack starts with.
const PREFIX: &str = "[reftrack] ";

/// A console line with the `[reftrack]` prefix and `pieces`: a warning, or a debug line.
pub fn log(warn: bool, pieces: &[&str]) {
    let mut line = String::from(PREFIX);
    for piece in pieces {
        line.push_str(piece);
    }
    let line = JsValue::from_str(&line);
    if warn {
        web_sys::console::warn_1(&line);
    } else {
        web_sys::console::log_1(&line);
    }
}

/// `console.error` of what the page's own function (`what`) threw: its business, reported, never
/// passed on.
pub fn report(what: &str, error: &JsValue) {
    web_sys::console::error_2(&JsValue::from_str(&cat(&[PREFIX, what, " threw:"])), error);
}
