//! The page's facts, read through web-sys and js-sys: its window and document, its URL and query
//! parameters, the referrer, the user agent, Global Privacy Control, and URLs resolved the
//! browser's way. Every read that the browser may refuse (a sandboxed frame, a page that broke a
//! built-in) falls back to an empty answer. Plain properties (`location.href`, `navigator`,
//! `document.referrer`) are read with `Reflect.get`: each typed getter would be a binding of its
//! own in the glue and the module, for the same read.

use alloc::string::String;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Navigator, Url, UrlSearchParams, Window};

/// The page's window: the global object, taken as it is (`web_sys::window()` would check it with
/// `instanceof Window`). Outside a window (a worker, server-side rendering) the first read of the
/// page's document throws instead, and the guard answers harmlessly.
pub fn window() -> Window {
    js_sys::global().unchecked_into()
}

/// `window[name]` (`document`, `location`, `navigator`, `history`, `localStorage`, `crypto`),
/// read as a property: no binding of its own per getter. `undefined` if reading it throws
/// (`localStorage` in a sandboxed frame) or there is none.
pub fn global(name: &str) -> JsValue {
    Reflect::get(&window(), &JsValue::from_str(name)).unwrap_or_default()
}

/// `navigator`.
pub fn navigator() -> Navigator {
    global("navigator").unchecked_into()
}

/// The page's document.
pub fn document() -> Document {
    let document = global("document");
    if !document.is_object() {
        wasm_bindgen::throw_str("reftrack runs in a document");
    }
    document.unchecked_into()
}

/// `location[name]` as text (`href`, `origin`, `hostname`, `pathname`).
fn location(name: &str) -> String {
    text(&global("location"), name)
}

/// `location.href`.
pub fn href() -> String {
    location("href")
}

/// `location.origin`.
pub fn origin() -> String {
    location("origin")
}

/// `location.hostname`.
pub fn hostname() -> String {
    location("hostname")
}

/// Whether the page is on `https:` (cookies then get `Secure`).
pub fn is_https() -> bool {
    href().starts_with("https:")
}

/// `object[name]` as text; "" when it is none or reading it throws.
fn text(object: &JsValue, name: &str) -> String {
    Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default()
}

/// `document.referrer`.
pub fn referrer() -> String {
    text(&document(), "referrer")
}

/// `navigator.userAgent`.
pub fn user_agent() -> String {
    text(&navigator(), "userAgent")
}

/// `navigator.globalPrivacyControl` (not in every browser, nor in web-sys yet).
pub fn global_privacy_control() -> bool {
    Reflect::get(&navigator(), &JsValue::from_str("globalPrivacyControl"))
        .is_ok_and(|v| v.is_truthy())
}

/// The page's query parameters, as the browser decodes them (`URLSearchParams`).
pub fn search_params() -> Option<UrlSearchParams> {
    let href = href();
    Some(Url::new_with_base(&href, &href).ok()?.search_params())
}

/// The path segment after a segment named `name` (`/aff/alex` → `alex`), percent-decoded; `None`
/// when there is none, or it does not decode.
pub fn path_segment_after(name: &str) -> Option<String> {
    let path = location("pathname");
    let mut segments = path.split('/');
    segments.find(|segment| *segment == name)?;
    let segment = segments.next().filter(|s| !s.is_empty())?;
    js_sys::decode_uri_component(segment).ok().map(String::from)
}

/// `url` resolved against `base` (`new URL(url, base).href`), or `None` if it is not a URL.
pub fn resolve_url(url: &str, base: &str) -> Option<String> {
    Url::new_with_base(url, base).ok().map(|u| u.href())
}

/// The origin of `url` (`https://collector.example`), if it is an absolute URL: `url` resolved
/// against itself, which only an absolute URL survives (one constructor binding, not two).
pub fn origin_of(url: &str) -> Option<String> {
    Url::new_with_base(url, url).ok().map(|u| u.origin())
}
