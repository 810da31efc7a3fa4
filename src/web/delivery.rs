//! Signups from the page to the endpoint, exactly once: validation, the unattributed rule, the
//! retry queue, and the flushes on load, on `online`, on a timer and on `flush()`.
//!
//! A signup is validated, put in the retry queue and its request started while the page's call
//! runs (`transport::start`); only the answer is awaited (gloo-net, driven by
//! wasm-bindgen-futures). Whatever happens to the page after that — a navigation, a form's own
//! submit — the queue still holds the signup until an answer settles it.

use super::cell::Global;
use super::guard;
use super::{entry, page, storage, tracker, transport, values};
use crate::core::attribution;
use crate::core::config::Consent;
use crate::core::partner_key::ClickId;
use crate::core::retry::Pending;
use crate::core::signup::{self, Delivery, SignupInput, SignupResult, Status, Visit};
use crate::core::text::{cat, decimal};
use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::pin::Pin;
use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// After this long without an answer (the page went away mid-request) a sent signup is due again.
const RESEND_GRACE_MS: u64 = transport::TIMEOUT_MS as u64 + 5_000;

/// Asynchronous work, boxed: every task goes through one instance of `future_to_promise`.
pub type Task = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Runs `task`; its promise resolves with what the task returns.
pub fn promise(task: Task) -> Promise {
    future_to_promise(task)
}

#[derive(Default)]
struct Deliveries {
    /// A flush is under way: another waits for nothing.
    flushing: bool,
    /// Signups posted from this page that no answer has settled yet (a network failure does not
    /// settle one): what [`hand_over`] gives the browser when the page goes away.
    unconfirmed: alloc::vec::Vec<Pending>,
    /// The flush timer: its callback, made once, and the armed timeout.
    timer: Option<(Function, Option<i32>)>,
    /// Requests posted from this page and not answered yet.
    flying: u32,
    /// The `beforeunload` listener, made once: added while a request is in flight (a listener
    /// kept for good would cost the page Firefox's back/forward cache).
    leave: Option<Function>,
    /// The page began to go away (`beforeunload`, `pagehide`) since the last request started: a
    /// request that fails now was ended by the navigation, and the beacon carries its signup.
    leaving: bool,
    /// Warnings about requests that got no answer, held for [`LATE_MS`]: the navigation that ended
    /// them, or the policy violation that blocked them, is known by then.
    late: alloc::vec::Vec<String>,
    /// The endpoint that the page's Content-Security-Policy blocked (its `connect-src`).
    blocked: Option<String>,
}

/// How long a warning about a request that got no answer waits for what explains it.
const LATE_MS: i32 = 300;

static DELIVERIES: Global<Deliveries> = Global::empty();

fn debug(message: impl FnOnce() -> String) {
    tracker::with(|t| t.debug(message));
}

/// Whether the queue may be persisted and sent: not while consent is pending.
fn allowed() -> bool {
    tracker::with(|t| t.config().consent == Consent::Granted)
}

/// A signup: validated and queued now; the promise resolves with its `SignupResult` once the
/// endpoint answered or the signup waits for a retry. `callback` (`growsumo.createSignup`'s) is
/// called once with the result first.
pub fn signup(input: Result<SignupInput, String>, callback: Option<Function>) -> Promise {
    // The request starts here, before the page's call returns.
    let delivering = queue(input).map(deliver);
    promise(Box::pin(async move {
        let result = match delivering {
            Ok(delivering) => delivering.await,
            Err(result) => result,
        };
        let result = values::to_js(&result);
        if let Some(callback) = callback {
            if let Err(error) = callback.call1(&JsValue::UNDEFINED, &result) {
                page::report("the createSignup callback", &error);
            }
        }
        Ok(result)
    }))
}

/// A signup whose result nobody waits for (form auto-capture): it is logged in debug mode.
pub fn send(input: SignupInput) {
    if let Ok(pending) = queue(Ok(input)) {
        // Started before the submit listener returns, so before the form's own navigation.
        let delivering = deliver(pending);
        let _ = promise(Box::pin(async move {
            delivering.await;
            Ok(JsValue::UNDEFINED)
        }));
    }
}

/// Validates, builds and queues a signup. `Err` is its final result when it is not to be sent now
/// (rejected, skipped, or waiting for consent).
fn queue(input: Result<SignupInput, String>) -> Result<Pending, SignupResult> {
    let pending = prepare(input)?;
    let event_id = pending.event_id.clone();
    let allowed = allowed();
    storage::with_queue(allowed, |queue| {
        if let Some(dropped) = queue.push(pending.clone()) {
            debug(|| cat(&["retry queue full: dropped ", &dropped.event_id]));
        }
        if allowed {
            queue.mark_sending(&event_id, page::now_ms(), RESEND_GRACE_MS);
        }
    });
    if !allowed {
        let waiting = Delivery::Retry {
            reason: "consent is pending: the signup waits in memory".into(),
            not_before: None,
        };
        return Err(settle(&event_id, waiting));
    }
    Ok(pending)
}

/// Posts `pending` — the request starts now, before this returns — and, once answered, applies
/// the answer to the queue. Anything but a success is warned about once per page and reason,
/// whatever `debug` says: where signups go, what came back, what to fix.
fn deliver(pending: Pending) -> impl Future<Output = SignupResult> {
    let sending = transport::start(&pending.endpoint, &pending.body);
    let first = DELIVERIES.with(|d| {
        d.unconfirmed.push(pending.clone());
        d.leaving = false;
        d.flying += 1;
        d.flying == 1
    });
    if first {
        watch_leaving(true);
    }
    async move {
        let reply = sending.await;
        answered(&pending, &reply)
    }
}

fn answered(pending: &Pending, reply: &transport::Reply) -> SignupResult {
    let answer = reply.answer();
    let last = DELIVERIES.with(|d| {
        d.flying = d.flying.saturating_sub(1);
        d.flying == 0
    });
    if last {
        watch_leaving(false);
    }
    if let Some(warning) = signup::warning(&pending.endpoint, &page::origin(), &answer) {
        if answer.http_status == 0 {
            warn_late(warning, &pending.endpoint);
        } else {
            tracker::with(|t| t.warn_once(warning));
        }
    }
    let delivery = signup::classify(&answer);
    if !matches!(delivery, Delivery::Retry { .. }) {
        DELIVERIES.with(|d| d.unconfirmed.retain(|p| p.event_id != pending.event_id));
    }
    settle(&pending.event_id, delivery)
}

/// Adds the `beforeunload` listener (`on`), or removes it.
fn watch_leaving(on: bool) {
    let leave = DELIVERIES.with(|d| {
        d.leave
            .get_or_insert_with(|| {
                guard::function("beforeunload", |_, _, _| {
                    DELIVERIES.with(|d| d.leaving = true);
                    JsValue::UNDEFINED
                })
            })
            .clone()
    });
    let window = page::window();
    let _ = if on {
        window.add_event_listener_with_callback("beforeunload", &leave)
    } else {
        window.remove_event_listener_with_callback("beforeunload", &leave)
    };
}

/// A warning about a request to `endpoint` that got no answer, given after [`LATE_MS`]: none if
/// the page is going away by then (its navigation ended the request, and the beacon took the
/// signup); the page's `connect-src` named instead if it blocked the endpoint.
fn warn_late(warning: String, endpoint: &str) {
    let first = DELIVERIES.with(|d| {
        d.late.push(warning);
        d.late.len() == 1
    });
    let endpoint = String::from(endpoint);
    if !first {
        return;
    }
    let told = guard::function("late", move |_, _, _| {
        let (late, leaving, blocked) = DELIVERIES.with(|d| {
            (core::mem::take(&mut d.late), d.leaving, d.blocked.clone())
        });
        if leaving {
            debug(|| "the page is going away: its signups were handed to sendBeacon".into());
        } else if blocked.is_some() {
            let origin = page::origin_of(&endpoint).unwrap_or_default();
            tracker::with(|t| t.warn_once(signup::blocked_warning(&endpoint, &origin)));
        } else {
            for warning in late {
                tracker::with(|t| t.warn_once(warning));
            }
        }
        JsValue::UNDEFINED
    });
    let _ = page::window().set_timeout_with_callback_and_timeout_and_arguments_0(&told, LATE_MS);
}

/// A `securitypolicyviolation` event: when the page's `connect-src` blocked a request, the
/// warning about it says so (the request itself only fails, as an unreachable endpoint does).
pub fn violated(event: &JsValue) {
    let read = |name: &str| {
        js_sys::Reflect::get(event, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    if read("effectiveDirective").starts_with("connect-src")
        || read("violatedDirective").starts_with("connect-src")
    {
        let uri = read("blockedURI");
        DELIVERIES.with(|d| d.blocked = Some(uri));
    }
}

/// The page is going away (`pagehide`): every signup posted from it that no answer settled yet is
/// handed to `navigator.sendBeacon`, which the browser delivers after the page is gone. Chromium
/// and WebKit keep a `keepalive` fetch through a navigation, but Firefox cancels it when the
/// navigation begins (a form's own submit, `location.href = …`); the beacon carries the same body
/// and `event_id`, so an endpoint that got both stores one. The retry queue still holds each of
/// them until a later page sees it answered.
pub fn hand_over() {
    if !allowed() {
        return;
    }
    let unconfirmed = DELIVERIES.with(|d| {
        d.leaving = true;
        core::mem::take(&mut d.unconfirmed)
    });
    let navigator = page::window().navigator();
    for pending in unconfirmed {
        let handed = navigator.send_beacon_with_opt_str(&pending.endpoint, Some(&pending.body));
        debug(|| {
            let outcome = if handed.unwrap_or(false) {
                " handed to sendBeacon"
            } else {
                " could not be handed to sendBeacon"
            };
            cat(&["page hidden: signup ", &pending.event_id, outcome])
        });
    }
}

/// Validates and builds the signup; `Err` is the final result (rejected or skipped).
fn prepare(input: Result<SignupInput, String>) -> Result<Pending, SignupResult> {
    let rejected = |error: String| {
        tracker::with(|t| t.warn_once(cat(&["a signup was rejected: ", &error])));
        SignupResult::new(Status::Rejected, None, Some(error))
    };
    let input = input.map_err(rejected)?;
    entry::start();
    let (public_key, option, send_unattributed, attribution, script_src) = tracker::with(|t| {
        let config = t.config();
        (
            config.public_key.clone(),
            config.endpoint.clone(),
            config.send_unattributed,
            t.attribution().clone(),
            t.script_src().map(String::from),
        )
    });
    let attributed = attribution.partner_key.as_ref().map(|k| k.as_str());
    let partner_key = signup::partner_for(&input, attributed).map_err(|e| rejected(e.reason()))?;
    if partner_key.is_none() && !send_unattributed {
        debug(|| "signup skipped: no partner key (sendUnattributed is off)".into());
        return Err(SignupResult::new(Status::Skipped, None, None));
    }
    // The click id belongs to the attributed partner, not to one the signup names instead.
    let xid = attribution
        .click_id
        .as_ref()
        .filter(|_| partner_key.as_deref() == attributed)
        .map(|c| c.as_str());
    let page_url = page::href();
    let endpoint = endpoint(option.as_deref(), script_src.as_deref(), &page_url)
        .ok_or_else(|| rejected("the endpoint is not a valid URL".into()))?;
    let event_id = signup::uuid_v4(page::random_bytes());
    let (origin, referrer) = (page::hostname(), page::referrer());
    let (user_agent, created_at) = (page::user_agent(), page::iso_now());
    let visit = Visit {
        event_id: &event_id,
        public_key: public_key.as_deref(),
        partner_key: partner_key.as_deref(),
        xid,
        origin: &origin,
        page_url: &page_url,
        referrer: Some(referrer.as_str()).filter(|r| !r.is_empty()),
        user_agent: &user_agent,
        created_at: &created_at,
    };
    let body = signup::build(&input, &visit).map_err(|invalid| rejected(invalid.reason()))?;
    let body = values::to_json(&body)
        .ok_or_else(|| rejected("the signup could not be written as JSON".into()))?;
    let now = page::now_ms();
    Ok(Pending {
        event_id,
        endpoint,
        body,
        created_at: now,
        attempts: 0,
        next_at: now,
    })
}

/// Reports a landing through a hand-made partner link (a partner key in the URL, no click id) to
/// the collector's `POST /v1/clicks`, at most once per landing, and keeps the click id it answers
/// as `ps_xid`, so that a signup later on this visit is backed by a recorded click.
pub fn report_landing() {
    let Some((landing, option, script_src)) = tracker::with(|t| {
        let landing = t.take_landing()?;
        Some((
            landing,
            t.config().endpoint.clone(),
            t.script_src().map(String::from),
        ))
    }) else {
        return;
    };
    let signups = endpoint(option.as_deref(), script_src.as_deref(), &landing.page_url);
    let Some(url) = signups.as_deref().and_then(attribution::clicks_url) else {
        debug(|| "landing not reported: the endpoint is not a collector's …/v1/signups".into());
        return;
    };
    let Some(body) = values::to_json(&landing) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let reply = transport::post(&url, &body).await;
        match reply.click_id().map(ClickId::parse) {
            Some(Ok(click_id)) => {
                tracker::with(|t| t.adopt_click(&landing.partner_key, click_id));
                entry::sync();
            }
            _ => debug(|| {
                cat(&[
                    "landing not counted as a click: ",
                    &url,
                    " answered ",
                    &decimal(reply.answer().http_status.into()),
                ])
            }),
        }
    });
}

/// The endpoint as an absolute URL: the option, or `/v1/signups`, resolved against the URL the
/// script was loaded from (the page's own URL for the npm package). A relative `endpoint` thus
/// lands where the default does: `/api/signups` on the collector that serves the script.
fn endpoint(option: Option<&str>, script_src: Option<&str>, page_url: &str) -> Option<String> {
    let script = page::resolve_url(script_src.unwrap_or(page_url), page_url)?;
    page::resolve_url(option.unwrap_or("/v1/signups"), &script)
}

/// Where the page's set-up sends signups of `program` now: the endpoint it configures if the
/// program is the page's, `None` for another program's signup (it keeps its own).
fn current_endpoint(program: Option<&str>) -> Option<String> {
    let (public_key, option, script_src) = tracker::with(|t| {
        let config = t.config();
        (
            config.public_key.clone(),
            config.endpoint.clone(),
            t.script_src().map(String::from),
        )
    });
    if program != public_key.as_deref() {
        return None;
    }
    endpoint(option.as_deref(), script_src.as_deref(), &page::href())
}

/// The program (`public_key`) a queued signup's body names.
fn program_of(body: &str) -> Option<String> {
    let json = js_sys::JSON::parse(body).ok()?;
    values::property(&json, "public_key").as_string()
}

/// Applies an answer to the queue and turns it into the result.
fn settle(event_id: &str, delivery: Delivery) -> SignupResult {
    let allowed = allowed();
    let (status, reason, outcome, not_before) = match delivery {
        Delivery::Delivered(status) => (status, None, " delivered", None),
        Delivery::Refused(reason) => (
            Status::Rejected,
            Some(reason),
            " refused by the endpoint: ",
            None,
        ),
        Delivery::Retry { reason, not_before } => (
            Status::Queued,
            Some(reason),
            " queued for retry: ",
            not_before,
        ),
    };
    let retry = status == Status::Queued;
    // A signup waiting for consent stays as it is; any other answer changes the queue.
    if allowed || !retry {
        storage::with_queue(allowed, |queue| {
            if retry {
                queue.failed(event_id, page::now_ms(), page::random(), not_before);
            } else {
                queue.remove(event_id);
            }
        });
        if retry {
            schedule();
        }
    }
    let reason_text = reason.as_deref().unwrap_or_default();
    debug(|| cat(&["signup ", event_id, outcome, reason_text]));
    SignupResult::new(status, Some(String::from(event_id)), reason)
}

/// Sends every signup that is due (at once; the endpoint dedupes by `event_id`); expired ones
/// are dropped. Done when all have been answered or failed.
///
/// `force` sends every waiting signup, whatever its backoff: for `online` (the reason it failed is
/// likely gone) and for an explicit `reftrack.flush()`. Page loads and the timer send only what is
/// due, which also leaves a request still in flight from the previous page its grace period.
pub async fn flush(force: bool) {
    if !allowed() || DELIVERIES.with(|d| core::mem::replace(&mut d.flushing, true)) {
        return;
    }
    let now = page::now_ms();
    let (due, expired, next) = storage::with_queue(true, |queue| {
        let expired = queue.expire(now);
        let due = queue.start_due(now, force, RESEND_GRACE_MS);
        (due, expired, queue.next_due())
    });
    for pending in expired {
        debug(|| {
            cat(&[
                "signup ",
                &pending.event_id,
                " dropped: not delivered within a day",
            ])
        });
    }
    if due.is_empty() {
        // The usual page load: nothing to send, one storage read, no write.
        arm_timer(next);
    } else {
        let sending: Array = due
            .into_iter()
            .map(|mut pending| {
                // A signup queued while the set-up was wrong goes where it points now.
                if let Some(now) = current_endpoint(program_of(&pending.body).as_deref()) {
                    pending.endpoint = now;
                }
                let delivering = deliver(pending);
                promise(Box::pin(async move {
                    delivering.await;
                    Ok(JsValue::UNDEFINED)
                }))
            })
            .collect();
        let _ = JsFuture::from(Promise::all(&sending)).await;
        schedule();
    }
    DELIVERIES.with(|d| d.flushing = false);
}

/// Runs a flush in the background.
pub fn flush_later(force: bool) -> Promise {
    promise(Box::pin(async move {
        flush(force).await;
        Ok(JsValue::UNDEFINED)
    }))
}

/// Arms one timer for the next due signup, replacing the previous one.
fn schedule() {
    let next = storage::with_queue(allowed(), |queue| queue.next_due());
    arm_timer(next);
}

/// Arms the flush timer for `next`, or disarms it.
fn arm_timer(next: Option<u64>) {
    let window = page::window();
    let (tick, armed) = DELIVERIES.with(|d| {
        let (tick, armed) = d.timer.get_or_insert_with(|| {
            let tick = guard::function("tick", |_, _, _| flush_later(false).into());
            (tick, None)
        });
        (tick.clone(), armed.take())
    });
    if let Some(handle) = armed {
        window.clear_timeout_with_handle(handle);
    }
    let Some(next) = next else { return };
    let delay = next.saturating_sub(page::now_ms()).min(i32::MAX as u64) as i32;
    let handle = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(&tick, delay)
        .ok();
    DELIVERIES.with(|d| {
        if let Some((_, armed)) = &mut d.timer {
            *armed = handle;
        }
    });
}

/// On start: send what earlier pages left (`online` is watched by the entry).
pub fn resume() {
    let _ = flush_later(false);
}
