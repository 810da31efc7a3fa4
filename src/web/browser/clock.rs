//! The clock and randomness: `Date`, `Math.random` and `crypto.getRandomValues`.

use super::page::global;
use alloc::string::String;
use js_sys::{Date, Math};
use wasm_bindgen::JsCast;
use web_sys::Crypto;

/// The time now, ISO 8601 (`new Date().toISOString()`).
pub fn iso_now() -> String {
    Date::new_0().to_iso_string().into()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    Date::now() as u64
}

/// `Math.random()`.
pub fn random() -> f64 {
    Math::random()
}

/// 16 bytes from `crypto.getRandomValues` (`Math.random` where there is no `crypto`).
pub fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let crypto = global("crypto");
    let filled = crypto.is_object()
        && crypto
            .unchecked_into::<Crypto>()
            .get_random_values_with_u8_array(&mut bytes)
            .is_ok();
    if !filled {
        for byte in &mut bytes {
            *byte = (random() * 256.0) as u8;
        }
    }
    bytes
}
