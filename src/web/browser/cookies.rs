//! `document.cookie` as a [`CookieJar`], through web-sys's `HtmlDocument`. Where it cannot be read
//! or written (a sandboxed frame without `allow-same-origin`), it reads as empty and writes are
//! lost, which is how the tracker notices that cookies are unavailable.

use super::page;
use crate::core::cookie::CookieJar;
use alloc::string::String;
use wasm_bindgen::JsCast;
use web_sys::HtmlDocument;

/// The page's cookies.
pub struct DocumentJar;

/// `document.cookie` is on every HTML document; no `instanceof` check is needed to reach it.
fn document() -> HtmlDocument {
    page::document().unchecked_into()
}

impl CookieJar for DocumentJar {
    fn read(&self) -> String {
        document().cookie().unwrap_or_default()
    }

    fn write(&mut self, set_cookie: &str) {
        // A refused write shows when the jar is read back.
        let _ = document().set_cookie(set_cookie);
    }
}
