//! Signups from the page to the endpoint, exactly once: validation, the unattributed rule, the
//! retry queue, and the flushes on load, on `online` and on a timer.

use super::{entry, guard, promise, storage, tracker, transport};
use crate::core::config::Consent;
use crate::core::retry::Pending;
use crate::core::signup::{self, Delivery, MetaValue, SignupInput, SignupResult, Status, Visit};
use js_sys::{Array, Date, Math, Object, Promise, Reflect};
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// After this long without an answer (the page went away mid-request) a sent signup is due again.
const RESEND_GRACE_MS: u64 = transport::TIMEOUT_MS as u64 + 5_000;

thread_local! {
    static FLUSHING: Cell<bool> = const { Cell::new(false) };
    static TIMER: Cell<Option<i32>> = const { Cell::new(None) };
    static LISTENING: Cell<bool> = const { Cell::new(false) };
}

fn now() -> u64 {
    Date::now() as u64
}

fn debug(message: impl FnOnce() -> String) {
    tracker::with(|t| t.debug(message));
}

/// Whether the queue may be persisted and sent: not while consent is pending.
fn allowed() -> bool {
    tracker::with(|t| t.config().consent == Consent::Granted)
}

/// A result as the JavaScript object of SPEC §4 (`null`s included).
pub fn to_js(result: &SignupResult) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &key.into(), &value);
    };
    set("ok", result.ok.into());
    set("status", result.status.as_str().into());
    set(
        "event_id",
        result
            .event_id
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str),
    );
    if let Some(error) = &result.error {
        set("error", error.as_str().into());
    }
    object.into()
}

/// Sends a signup; resolves with its result (as JavaScript). The request is on its way when this
/// returns.
pub fn send(input: Result<SignupInput, String>) -> Promise {
    let pending = match prepare(input) {
        Ok(pending) => pending,
        Err(result) => return Promise::resolve(&to_js(&result)),
    };
    let event_id = pending.event_id.clone();
    let allowed = allowed();
    storage::with_queue(allowed, |queue| {
        if let Some(dropped) = queue.push(pending.clone()) {
            debug(|| ["retry queue full: dropped ", &dropped.event_id].concat());
        }
        if allowed {
            queue.mark_sending(&event_id, now(), RESEND_GRACE_MS);
        }
    });
    if !allowed {
        let waiting = Delivery::Retry("consent is pending: the signup waits in memory".into());
        return Promise::resolve(&to_js(&settle(&event_id, waiting)));
    }
    attempt(&pending)
}

/// Posts `pending` and settles it with the answer; resolves with the result.
fn attempt(pending: &Pending) -> Promise {
    let event_id = pending.event_id.clone();
    let settled = move |delivery: Delivery| to_js(&settle(&event_id, delivery));
    match transport::post(&pending.endpoint, &pending.body) {
        Ok(request) => transport::answer(request, settled),
        Err(_) => Promise::resolve(&settled(Delivery::Retry(
            "the request could not be started".into(),
        ))),
    }
}

/// Validates and builds the signup; `Err` is the final result (rejected or skipped).
fn prepare(input: Result<SignupInput, String>) -> Result<Pending, SignupResult> {
    let rejected = |error: String| {
        debug(|| ["signup rejected: ", &error].concat());
        SignupResult::new(Status::Rejected, None, Some(error))
    };
    let input = input.map_err(rejected)?;
    entry::ensure_started();
    let (config, attribution, script_src) = tracker::with(|t| {
        (
            t.config().clone(),
            t.attribution().clone(),
            t.script_src().map(str::to_owned),
        )
    });
    let attributed = attribution
        .partner_key
        .as_ref()
        .map(|k| k.as_str().to_owned());
    let attributed = attributed.as_deref();
    let partner_key = signup::partner_for(&input, attributed).map_err(|e| rejected(e.reason()))?;
    if partner_key.is_none() && !config.send_unattributed {
        debug(|| "signup skipped: no partner key (sendUnattributed is off)".into());
        return Err(SignupResult::new(Status::Skipped, None, None));
    }
    // The click id belongs to the attributed partner, not to one the signup names instead.
    let xid = attribution
        .click_id
        .filter(|_| partner_key.as_deref() == attributed)
        .map(|c| c.as_str().to_owned());
    let window = web_sys::window().ok_or_else(|| rejected("no window".into()))?;
    let location = window.location();
    let page_url = location.href().unwrap_or_default();
    let endpoint = endpoint(config.endpoint.as_deref(), script_src.as_deref(), &page_url)
        .ok_or_else(|| rejected("the endpoint is not a valid URL".into()))?;
    let referrer = window
        .document()
        .map(|d| d.referrer())
        .filter(|r| !r.is_empty());
    let visit = Visit {
        event_id: signup::uuid_v4(random_bytes(&window)),
        public_key: config.public_key,
        partner_key,
        xid,
        origin: location.hostname().unwrap_or_default(),
        page_url,
        referrer,
        user_agent: window.navigator().user_agent().unwrap_or_default(),
        created_at: String::from(Date::new_0().to_iso_string()),
    };
    let signup = signup::build(input, visit).map_err(|invalid| rejected(invalid.reason()))?;
    let body = signup.to_json();
    Ok(Pending {
        event_id: signup.event_id,
        endpoint,
        body,
        created_at: now(),
        attempts: 0,
        next_at: now(),
    })
}

/// The endpoint as an absolute URL: the option resolved against the page, or `/v1/signups` on the
/// origin the script was loaded from (the page's own origin for the npm package).
fn endpoint(option: Option<&str>, script_src: Option<&str>, page_url: &str) -> Option<String> {
    let url = match option {
        Some(endpoint) => web_sys::Url::new_with_base(endpoint, page_url).ok()?,
        None => {
            let base = script_src.unwrap_or(page_url);
            let origin = web_sys::Url::new_with_base(base, page_url).ok()?.origin();
            web_sys::Url::new_with_base("/v1/signups", &origin).ok()?
        }
    };
    Some(url.href())
}

/// 16 random bytes from `crypto.getRandomValues`, or `Math.random` where there is no crypto.
fn random_bytes(window: &web_sys::Window) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let filled = window
        .crypto()
        .ok()
        .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for byte in &mut bytes {
            *byte = (Math::random() * 256.0) as u8;
        }
    }
    bytes
}

/// Applies an answer to the queue and turns it into the result.
fn settle(event_id: &str, delivery: Delivery) -> SignupResult {
    let id = Some(event_id.to_owned());
    let allowed = allowed();
    match delivery {
        Delivery::Delivered(status) => {
            storage::with_queue(allowed, |queue| queue.remove(event_id));
            debug(|| ["signup ", event_id, " delivered"].concat());
            SignupResult::new(status, id, None)
        }
        Delivery::Refused(reason) => {
            storage::with_queue(allowed, |queue| queue.remove(event_id));
            debug(|| ["signup ", event_id, " refused by the endpoint: ", &reason].concat());
            SignupResult::new(Status::Rejected, id, Some(reason))
        }
        Delivery::Retry(reason) => {
            if allowed {
                storage::with_queue(allowed, |queue| {
                    queue.failed(event_id, now(), Math::random())
                });
                schedule();
            }
            debug(|| ["signup ", event_id, " queued for retry: ", &reason].concat());
            SignupResult::new(Status::Queued, id, Some(reason))
        }
    }
}

/// Sends every signup that is due (at once; the endpoint dedupes by `event_id`); expired ones
/// are dropped. Resolves when all have been answered or failed.
///
/// `force` sends every waiting signup, whatever its backoff: for `online` (the reason it failed is
/// likely gone) and for an explicit `reftrack.flush()`. Page loads and the timer send only what is
/// due, which also leaves a request still in flight from the previous page its grace period.
pub fn flush(force: bool) -> Promise {
    if !allowed() || FLUSHING.with(|f| f.replace(true)) {
        return Promise::resolve(&JsValue::UNDEFINED);
    }
    let now = now();
    let (due, expired, next) = storage::with_queue(true, |queue| {
        let expired = queue.expire(now);
        let due = if force {
            queue.0.clone()
        } else {
            queue.due(now)
        };
        for pending in &due {
            queue.mark_sending(&pending.event_id, now, RESEND_GRACE_MS);
        }
        (due, expired, queue.next_due())
    });
    for pending in expired {
        debug(|| {
            [
                "signup ",
                &pending.event_id,
                " dropped: not delivered within a day",
            ]
            .concat()
        });
    }
    if due.is_empty() {
        // The usual page load: nothing to send, one storage read, no write.
        FLUSHING.with(|f| f.set(false));
        arm_timer(next);
        return Promise::resolve(&JsValue::UNDEFINED);
    }
    let attempts: Array = due.iter().map(|p| JsValue::from(attempt(p))).collect();
    let done = guard::guarded(Closure::once_into_js(|| {
        FLUSHING.with(|f| f.set(false));
        schedule();
    }));
    promise::then(&Promise::all(&attempts), &done, &JsValue::UNDEFINED)
}

fn flush_due() {
    let _ = flush(false);
}

/// Arms one timer for the next due signup, replacing the previous one.
fn schedule() {
    let next = storage::with_queue(allowed(), |queue| queue.next_due());
    arm_timer(next);
}

/// Arms the flush timer for `next` (replacing the previous one), or disarms it.
fn arm_timer(next: Option<u64>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(timer) = TIMER.with(|t| t.take()) {
        window.clear_timeout_with_handle(timer);
    }
    let Some(next) = next else {
        return;
    };
    let delay = next.saturating_sub(now()).min(i32::MAX as u64) as i32;
    let callback = guard::guarded(Closure::once_into_js(flush_due));
    if let Ok(timer) = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), delay)
    {
        TIMER.with(|t| t.set(Some(timer)));
    }
}

/// On start: listen for `online` (once per page) and send what earlier pages left.
pub fn resume() {
    if !LISTENING.with(|l| l.replace(true)) {
        if let Some(window) = web_sys::window() {
            let online = Closure::<dyn Fn()>::new(|| {
                debug(|| "back online: sending waiting signups".into());
                let _ = flush(true);
            });
            let online = guard::guarded(online.into_js_value());
            let _ = window.add_event_listener_with_callback("online", online.unchecked_ref());
        }
    }
    flush_due();
}

/// Reads `reftrack.signup({...})`'s argument.
pub fn input_from_js(value: &JsValue) -> Result<SignupInput, String> {
    if !value.is_object() || value.is_function() {
        return Err("signup expects an object such as { customer_key, email }".into());
    }
    let field = |name: &str| Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let mut input = input_from_fields(&field)?;
    let sub_ids = field("sub_ids");
    if !sub_ids.is_undefined() && !sub_ids.is_null() {
        let array = sub_ids
            .dyn_ref::<Array>()
            .ok_or("sub_ids must be an array of strings")?;
        for item in array.iter() {
            input
                .sub_ids
                .push(text(&item).ok_or("sub_ids must be an array of strings")?);
        }
    }
    let meta = field("meta");
    if !meta.is_undefined() && !meta.is_null() {
        let object = meta
            .dyn_ref::<Object>()
            .filter(|_| !meta.is_function())
            .ok_or("meta must be an object")?;
        for key in Object::keys(object).iter() {
            let item = Reflect::get(object, &key).unwrap_or(JsValue::NULL);
            let value = if let Some(s) = item.as_string() {
                MetaValue::Text(s)
            } else if item.as_f64().is_some_and(f64::is_finite) {
                // JavaScript writes the number; Rust never formats a float.
                MetaValue::Number(text(&item).unwrap_or_else(|| "null".into()))
            } else if let Some(b) = item.as_bool() {
                MetaValue::Bool(b)
            } else if item.is_null() || item.is_undefined() {
                MetaValue::Null
            } else {
                return Err("meta values must be strings, numbers, booleans or null".into());
            };
            input
                .meta
                .insert(key.as_string().unwrap_or_default(), value);
        }
    }
    Ok(input)
}

/// Reads `customer_key`, `email` and `name` through `field` (an object's properties, or
/// `growsumo.data`'s).
pub fn input_from_fields(field: &dyn Fn(&str) -> JsValue) -> Result<SignupInput, String> {
    let optional = |name: &str| -> Result<Option<String>, String> {
        let value = field(name);
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        text(&value)
            .map(Some)
            .ok_or_else(|| [name, " must be a string"].concat())
    };
    Ok(SignupInput {
        customer_key: optional("customer_key")?,
        email: optional("email")?,
        name: optional("name")?,
        ..SignupInput::default()
    })
}

/// A string, or a number as JavaScript writes it (customer ids are often numeric).
fn text(value: &JsValue) -> Option<String> {
    value.as_string().or_else(|| {
        value
            .as_f64()
            .filter(|n| n.is_finite())
            .and_then(|_| js_sys::JSON::stringify(value).ok())
            .and_then(|s| s.as_string())
    })
}
