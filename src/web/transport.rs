//! Posting a signup: `fetch` with `keepalive`, a `text/plain` body (a CORS simple request, so no
//! preflight), and a timeout.
//!
//! This uses web-sys's `fetch` rather than gloo-net: gloo-net's `RequestBuilder` has no
//! `keepalive`, which every signup needs to survive the navigation that usually follows it, and
//! its `send()` only calls `fetch` when first polled, whereas the request must be on its way before
//! `createSignup()` returns (`createSignup(); location.href = '/thanks'` in one task).

use super::{guard, promise};
use crate::core::signup::{classify, Delivery};
use js_sys::{Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
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

/// Turns the answer to a [`post`] into a [`Delivery`] and hands it to `settled`; resolves with
/// what `settled` returns.
pub fn answer(request: Promise, settled: impl FnOnce(Delivery) -> JsValue + 'static) -> Promise {
    let settled = Rc::new(RefCell::new(Some(settled)));
    let on_failure = settled.clone();
    let settle = move |delivery: Delivery| match on_failure.borrow_mut().take() {
        Some(settled) => settled(delivery),
        None => JsValue::UNDEFINED,
    };
    let settle_failure = settle.clone();
    let on_response = Closure::once_into_js(move |response: JsValue| -> JsValue {
        let response = response.unchecked_into::<Response>();
        let status = response.status();
        // The body's `status` and `error`, if it is JSON; anything else counts as no body.
        let body = response
            .json()
            .unwrap_or_else(|_| Promise::resolve(&JsValue::NULL));
        let no_body = Closure::once_into_js(|_: JsValue| JsValue::NULL);
        let classified = Closure::once_into_js(move |body: JsValue| -> JsValue {
            let field = |name: &str| {
                Reflect::get(&body, &name.into())
                    .ok()
                    .and_then(|v| v.as_string())
            };
            settle(classify(
                status,
                field("status").as_deref(),
                field("error").as_deref(),
            ))
        });
        let body = promise::then(&body, &JsValue::UNDEFINED, &no_body);
        promise::then(&body, &guard::guarded(classified), &JsValue::UNDEFINED).into()
    });
    let on_error = Closure::once_into_js(move |error: JsValue| -> JsValue {
        settle_failure(Delivery::Retry(describe(&error)))
    });
    drop(settled);
    promise::then(
        &request,
        &guard::guarded(on_response),
        &guard::guarded(on_error),
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
