//! The requests in flight: each signup's post, started at once and awaited; the answer applied;
//! the page going away (`beforeunload`, `pagehide`), when every signup still unanswered is handed to
//! `sendBeacon`; and the warnings about requests that got no answer, held until what explains
//! them (the navigation, the page's `connect-src`) is known.

use super::settle;
use crate::core::retry::Pending;
use crate::core::signup::{self, Delivery, SignupResult};
use crate::web::browser::{events, fetch, page};
use crate::web::cell::Global;
use crate::web::tracker::notes;
use crate::web::{guard, tracker};
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use wasm_bindgen::JsValue;

/// How long a warning about a request that got no answer waits for what explains it.
const LATE_MS: i32 = 300;

#[derive(Default)]
struct Flight {
    /// Signups posted from this page that no answer has settled yet (a network failure does not
    /// settle one): what [`hand_over`] gives the browser when the page goes away.
    unconfirmed: Vec<Pending>,
    /// Requests posted from this page and not answered yet.
    flying: u32,
    /// The `beforeunload` listener, made once: added while a request is in flight (a listener
    /// kept for good would cost the page Firefox's back/forward cache).
    leave: Option<js_sys::Function>,
    /// The page began to go away (`beforeunload`, `pagehide`) since the last request started: a
    /// request that fails now was ended by the navigation, and the beacon carries its signup.
    leaving: bool,
    /// Warnings about requests that got no answer, held for [`LATE_MS`].
    late: Vec<String>,
    /// The endpoint of the first of the `late` warnings.
    late_endpoint: String,
    /// The last URL the page's Content-Security-Policy kept a request from (its `connect-src`).
    blocked: Option<String>,
}

static FLIGHT: Global<Flight> = Global::empty();

fn debug(pieces: &[&str]) {
    tracker::with(|t| t.debug(pieces));
}

/// Posts `pending` — the request starts now, before this returns — and, once answered, applies
/// the answer to the queue. Anything but a success is warned about once per page and reason,
/// whatever `debug` says: where signups go, what came back, what to fix.
pub(super) fn deliver(pending: Pending) -> impl Future<Output = SignupResult> {
    let sending = fetch::start(&pending.endpoint, &pending.body);
    let first = FLIGHT.with(|d| {
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

fn answered(pending: &Pending, reply: &fetch::Reply) -> SignupResult {
    let answer = reply.answer();
    let last = FLIGHT.with(|d| {
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
            notes::warn_once(warning);
        }
    }
    let delivery = signup::classify(&answer);
    if !matches!(delivery, Delivery::Retry { .. }) {
        FLIGHT.with(|d| d.unconfirmed.retain(|p| p.event_id != pending.event_id));
    }
    settle(&pending.event_id, delivery)
}

/// Adds the `beforeunload` listener (`on`), or removes it.
fn watch_leaving(on: bool) {
    let leave = FLIGHT.with(|d| {
        d.leave
            .get_or_insert_with(|| {
                guard::function("beforeunload", |_, _, _| {
                    FLIGHT.with(|d| d.leaving = true);
                    JsValue::UNDEFINED
                })
            })
            .clone()
    });
    if on {
        events::on_window("beforeunload", &leave);
    } else {
        events::off_window("beforeunload", &leave);
    }
}

/// A warning about a request to `endpoint` that got no answer, given after [`LATE_MS`]: none if
/// the page is going away by then (its navigation ended the request, and the beacon took the
/// signup); the page's `connect-src` named instead if it blocked the endpoint.
fn warn_late(warning: String, endpoint: &str) {
    let first = FLIGHT.with(|d| {
        d.late.push(warning);
        let first = d.late.len() == 1;
        if first {
            d.late_endpoint = String::from(endpoint);
        }
        first
    });
    if !first {
        return;
    }
    events::timeout(&guard::function("late", tell_late), LATE_MS);
}

/// The timer of [`warn_late`]. A named function, not a closure: the split build's landing module
/// keeps the closures the function table holds, and leaves the delivery layer's functions to the
/// delivery module (scripts/split.mjs).
fn tell_late(_: JsValue, _: JsValue, _: JsValue) -> JsValue {
    let (late, endpoint, leaving, blocked) = FLIGHT.with(|d| {
        let late = core::mem::take(&mut d.late);
        (late, d.late_endpoint.clone(), d.leaving, d.blocked.clone())
    });
    if leaving {
        debug(&["the page is going away: its signups were handed to sendBeacon"]);
    } else if let Some(origin) = page::origin_of(&endpoint).filter(|origin| {
        blocked
            .as_deref()
            .is_some_and(|b| b.starts_with(origin.as_str()))
    }) {
        notes::warn_once(signup::blocked_warning(&endpoint, &origin));
    } else {
        for warning in late {
            notes::warn_once(warning);
        }
    }
    JsValue::UNDEFINED
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
        FLIGHT.with(|d| d.blocked = Some(uri));
    }
}

/// The page is going away (`pagehide`): every signup posted from it that no answer settled yet is
/// handed to `navigator.sendBeacon`, which the browser delivers after the page is gone. Chromium
/// and WebKit keep a `keepalive` fetch through a navigation, but Firefox cancels it when the
/// navigation begins (a form's own submit, `location.href = …`); the beacon carries the same body
/// and `event_id`, so an endpoint that got both stores one. The retry queue still holds each of
/// them until a later page sees it answered.
pub fn hand_over() {
    FLIGHT.with(|d| d.leaving = true);
    if !super::allowed() {
        return;
    }
    let unconfirmed = FLIGHT.with(|d| core::mem::take(&mut d.unconfirmed));
    for pending in unconfirmed {
        let handed = fetch::beacon(&pending.endpoint, &pending.body);
        let outcome = if handed {
            " handed to sendBeacon"
        } else {
            " could not be handed to sendBeacon"
        };
        debug(&["page hidden: signup ", &pending.event_id, outcome]);
    }
}
