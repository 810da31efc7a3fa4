//! Posting a signup: `fetch` with `keepalive`, a `text/plain` body (a CORS simple request, so no
//! preflight), and a timeout.
//!
//! This uses web-sys's `fetch` rather than gloo-net: gloo-net's `RequestBuilder` has no
//! `keepalive`, which every signup needs to survive the navigation that usually follows it, and
//! its `send()` only calls `fetch` when first polled, whereas the request must be on its way before
//! `createSignup()` returns (`createSignup(); location.href = '/thanks'` in one task).

use crate::core::signup::{classify, Delivery};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestInit, Response};

/// How long an attempt may take before it counts as failed.
pub const TIMEOUT_MS: i32 = 10_000;

/// Starts the POST now and returns `fetch`'s promise.
pub fn post(endpoint: &str, body: &str) -> Result<Promise, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    // web-sys's RequestInit has no keepalive setter either.
    Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
    let headers = Object::new();
    Reflect::set(
        &headers,
        &"Content-Type".into(),
        &"text/plain;charset=UTF-8".into(),
    )?;
    init.set_headers(&headers);
    let controller = AbortController::new()?;
    init.set_signal(Some(&controller.signal()));
    let abort = Closure::once_into_js(move || controller.abort());
    window
        .set_timeout_with_callback_and_timeout_and_arguments_0(abort.unchecked_ref(), TIMEOUT_MS)?;
    Ok(window.fetch_with_str_and_init(endpoint, &init))
}

/// Waits for the answer to a [`post`] and says what it means.
pub async fn answer(request: Promise) -> Delivery {
    let response = match JsFuture::from(request).await {
        Ok(response) => response.unchecked_into::<Response>(),
        Err(error) => return Delivery::Retry(describe(&error)),
    };
    let body = match response.json() {
        Ok(json) => JsFuture::from(json).await.unwrap_or(JsValue::NULL),
        Err(_) => JsValue::NULL,
    };
    let field = |name: &str| {
        Reflect::get(&body, &name.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    classify(
        response.status(),
        field("status").as_deref(),
        field("error").as_deref(),
    )
}

/// A network error as text: `TypeError: Failed to fetch`, `AbortError: ...` (the timeout).
fn describe(error: &JsValue) -> String {
    let name = Reflect::get(error, &"name".into())
        .ok()
        .and_then(|v| v.as_string());
    let message = Reflect::get(error, &"message".into())
        .ok()
        .and_then(|v| v.as_string());
    match (name, message) {
        (Some(name), Some(message)) => [name.as_str(), ": ", message.as_str()].concat(),
        _ => "network error".into(),
    }
}
