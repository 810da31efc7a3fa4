//! `fetch` and `sendBeacon`. Posting a signup: a `web_sys::Request` with `keepalive` (so it survives the navigation that
//! usually follows a signup) and a timeout, sent by gloo-net. Neither gloo-net's `RequestBuilder`
//! nor web-sys's `RequestInit` has `keepalive`, so the request is built with web-sys, the flag set
//! on the init dictionary, and the request handed over (`From<web_sys::Request>`).

use super::clock;
use crate::core::config::Value;
use crate::core::signup::Answer;
use crate::core::text::cat;
use crate::web::values;
use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};
use gloo_net::http::Request;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, RequestInit};

/// How long a request may run before it is aborted (and the signup waits in the queue).
pub const TIMEOUT_MS: u32 = 10_000;

/// The text fields of the endpoint's JSON answer (`status`: `"created"` or `"duplicate"`,
/// `error`, or `POST /v1/clicks`' `xid`), read as the page's values are ([`values::entries`]).
fn fields(json: JsValue) -> [Option<String>; 3] {
    let mut fields = [None, None, None];
    if let values::Entries::Object(entries) = values::entries(json) {
        for (name, value) in entries {
            let slot = match name.as_str() {
                "status" => 0,
                "error" => 1,
                "xid" => 2,
                _ => continue,
            };
            if let Value::Text(text) = value {
                fields[slot] = Some(text);
            }
        }
    }
    fields
}

/// What came back for one signup: the status (0 for no answer), the body's `status` and `error`,
/// `Retry-After`, or the network error.
#[derive(Debug, Default)]
pub struct Reply {
    http_status: u16,
    body_status: Option<String>,
    body_error: Option<String>,
    retry_at: Option<u64>,
    network_error: Option<String>,
    click_id: Option<String>,
    html: bool,
}

impl Reply {
    /// The click id a landing's answer carried.
    pub fn click_id(&self) -> Option<&str> {
        self.click_id.as_deref()
    }

    /// The reply as the core reads it.
    pub fn answer(&self) -> Answer<'_> {
        Answer {
            http_status: self.http_status,
            body_status: self.body_status.as_deref(),
            body_error: self.body_error.as_deref(),
            retry_at: self.retry_at,
            network_error: self.network_error.as_deref(),
            html: self.html,
        }
    }

    fn failed(error: String) -> Self {
        Reply {
            network_error: Some(error),
            ..Reply::default()
        }
    }
}

/// The post of a signup, under way.
pub type Sending = Pin<Box<dyn Future<Output = Reply>>>;

/// Starts POSTing `body` to `url` now: gloo-net's `send()` calls `fetch` when first polled, so the
/// future is polled once here, and the request is on its way before the page's call (or the submit
/// listener) returns. That first poll cannot finish the post: an answer arrives through a promise,
/// whose callbacks never run before this returns. A request that cannot even be made is left
/// unpolled; its first poll, by the task that awaits it, gives the failure.
pub fn start(url: &str, body: &str) -> Sending {
    let request = request(url, body);
    let made = request.is_some();
    let mut sending: Sending = Box::pin(post(request));
    if made {
        // Nothing is lost by this poll's waker doing nothing: the task that awaits the future
        // polls it again, with its own waker, before any answer can arrive.
        let _ = sending
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
    }
    sending
}

/// POSTs `request` (a CORS simple request: `text/plain`, no preflight) and reads what came back.
async fn post(request: Option<web_sys::Request>) -> Reply {
    let Some(request) = request else {
        return Reply::failed("the request could not be started".into());
    };
    let response = match Request::from(request).send().await {
        Ok(response) => response,
        Err(gloo_net::Error::JsError(error)) => {
            return Reply::failed(cat(&[&error.name, ": ", &error.message]))
        }
        Err(_) => return Reply::failed("network error".into()),
    };
    let retry_at = response
        .headers()
        .get("Retry-After")
        .and_then(|value| retry_at(&value));
    let html = response.headers().get("Content-Type").is_some_and(|kind| {
        kind.trim_start()
            .to_ascii_lowercase()
            .starts_with("text/html")
    });
    let http_status = response.status();
    // The body through web-sys: gloo-net's `text()` unwraps `Response.text()`'s `Result` (a body
    // already read would trap the module) and brings its panic path along: 250 B gzip.
    let text = match web_sys::Response::from(response).text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string()),
        Err(_) => None,
    };
    let [body_status, body_error, click_id] =
        fields(js_sys::JSON::parse(&text.unwrap_or_default()).unwrap_or_default());
    Reply {
        http_status,
        body_status,
        body_error,
        retry_at,
        network_error: None,
        click_id,
        html,
    }
}

/// `Retry-After` as a time: a number of seconds from now, or an HTTP date (the browser parses it).
fn retry_at(value: &str) -> Option<u64> {
    let now = clock::now_ms();
    match crate::core::text::whole_number(value.trim()) {
        Some(seconds) => Some(now.saturating_add(seconds.min(u64::MAX / 1000) * 1000)),
        None => {
            let at = js_sys::Date::parse(value);
            (at.is_finite() && at > 0.0).then_some(at as u64)
        }
    }
}

fn request(url: &str, body: &str) -> Option<web_sys::Request> {
    let init = RequestInit::new();
    // Without a prototype: fetch reads each member it does not find on the init from its
    // prototype chain, and a page may have put `cache`, `mode` or `headers` on `Object.prototype`
    // (the request would then fail to start, or go out changed).
    Object::set_prototype_of(&init, JsValue::NULL.unchecked_ref());
    init.set_method("POST");
    // A string body: fetch sends it as `text/plain;charset=UTF-8`, a CORS simple request (no
    // preflight), with no header to set.
    init.set_body(&JsValue::from_str(body));
    // web-sys has no binding for `keepalive` yet; `RequestInit` is a plain dictionary object.
    Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE).ok()?;
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

/// Hands `body` to `navigator.sendBeacon` for `url`, which the browser delivers after the page is
/// gone; false if the browser refused it.
pub fn beacon(url: &str, body: &str) -> bool {
    super::page::navigator()
        .send_beacon_with_opt_str(url, Some(body))
        .unwrap_or(false)
}
