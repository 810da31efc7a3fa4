//! Posting a signup: a `web_sys::Request` with `keepalive` (so it survives the navigation that
//! usually follows a signup) and a timeout, sent by gloo-net. Neither gloo-net's `RequestBuilder`
//! nor web-sys's `RequestInit` has `keepalive`, so the request is built with web-sys, the flag set
//! on the init dictionary, and the request handed over (`From<web_sys::Request>`).

use crate::core::config::Value;
use crate::core::signup::{classify, Delivery};
use crate::core::text::cat;
use gloo_net::http::Request;
use js_sys::Reflect;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use web_sys::{AbortSignal, Headers, RequestInit};

/// How long a request may run before it is aborted (and the signup waits in the queue).
pub const TIMEOUT_MS: u32 = 10_000;

/// The parts of the endpoint's JSON answer that matter: `{"status": "created" | "duplicate"}` or
/// `{"error": "..."}`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Answer {
    status: Value,
    error: Value,
}

/// A text field of the answer.
fn field(value: &Value) -> Option<&str> {
    match value {
        Value::Text(text) => Some(text),
        _ => None,
    }
}

/// POSTs `body` to `url` as a CORS simple request (`text/plain`, no preflight) and classifies the
/// answer: delivered, refused, or to be retried (an HTTP error, a network error, the timeout).
pub async fn post(url: &str, body: &str) -> Delivery {
    let request = match request(url, body) {
        Some(request) => request,
        None => return Delivery::Retry("the request could not be started".into()),
    };
    let response = match Request::from(request).send().await {
        Ok(response) => response,
        Err(gloo_net::Error::JsError(error)) => {
            return Delivery::Retry(cat(&[&error.name, ": ", &error.message]))
        }
        Err(_) => return Delivery::Retry("network error".into()),
    };
    let text = response.text().await.unwrap_or_default();
    let answer: Answer = js_sys::JSON::parse(&text)
        .ok()
        .and_then(|json| serde_wasm_bindgen::from_value(json).ok())
        .unwrap_or_default();
    classify(
        response.status(),
        field(&answer.status),
        field(&answer.error),
    )
}

fn request(url: &str, body: &str) -> Option<web_sys::Request> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    // web-sys has no binding for `keepalive` yet; `RequestInit` is a plain dictionary object.
    Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE).ok()?;
    let headers = Headers::new().ok()?;
    headers
        .set("Content-Type", "text/plain;charset=UTF-8")
        .ok()?;
    init.set_headers(&headers);
    if let Some(signal) = timeout() {
        init.set_signal(Some(&signal));
    }
    web_sys::Request::new_with_str_and_init(url, &init).ok()
}

/// `AbortSignal.timeout(TIMEOUT_MS)` where the browser has it (Safari since 16): without it the
/// request runs as long as the browser lets it.
fn timeout() -> Option<AbortSignal> {
    let class = Reflect::get(&js_sys::global(), &JsValue::from_str("AbortSignal")).ok()?;
    Reflect::has(&class, &JsValue::from_str("timeout"))
        .ok()?
        .then(|| AbortSignal::timeout_with_u32(TIMEOUT_MS))
}
