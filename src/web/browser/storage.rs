//! `localStorage`, where the page may use it (not in a sandboxed frame, not when the visitor blocked
//! storage, not when it is full). What is stored there, and when, is the retry queue's business
//! (`delivery::queue`).

use super::page::global;
use alloc::string::String;
use wasm_bindgen::JsCast;
use web_sys::Storage;

fn local() -> Option<Storage> {
    let storage = global("localStorage");
    storage.is_object().then(|| storage.unchecked_into())
}

/// `localStorage[key]`, or `None` (absent, or storage blocked).
pub fn load(key: &str) -> Option<String> {
    local()?.get_item(key).ok().flatten()
}

/// Stores `value` under `key` (removes it for `None`); false if storage refused.
pub fn store(key: &str, value: Option<&str>) -> bool {
    let Some(storage) = local() else {
        return false;
    };
    match value {
        Some(value) => storage.set_item(key, value).is_ok(),
        None => storage.remove_item(key).is_ok(),
    }
}
