//! Signups from the page to the endpoint, exactly once: validation, the unattributed rule, the
//! retry queue, and the flushes on load, on `online`, on a timer and on `flush()`.
//!
//! A signup is validated, put in the retry queue and its request started while the page's call
//! runs (`fetch::start`); only the answer is awaited (gloo-net, driven by
//! wasm-bindgen-futures). Whatever happens to the page after that — a navigation, a form's own
//! submit — the queue still holds the signup until an answer settles it.

mod flight;
mod prepare;
pub mod queue;

pub use flight::{hand_over, violated};
pub use prepare::endpoint;

use crate::core::config::Consent;
use crate::core::retry::Pending;
use crate::core::signup::{Delivery, SignupInput, SignupResult, Status};
use crate::web::browser::{clock, console, events, fetch};
use crate::web::cell::Global;
use crate::web::{guard, tracker, values};
use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::pin::Pin;
use flight::deliver;
use js_sys::{Array, Function, Promise};
use prepare::{current_endpoint, prepare, program_of};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// After this long without an answer (the page went away mid-request) a sent signup is due again.
const RESEND_GRACE_MS: u64 = fetch::TIMEOUT_MS as u64 + 5_000;

/// Asynchronous work, boxed: every task goes through one instance of `future_to_promise`.
pub type Task = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Runs `task`; its promise resolves with what the task returns.
pub fn promise(task: Task) -> Promise {
    future_to_promise(task)
}

#[derive(Default)]
struct Flushes {
    /// A flush is under way: another waits for nothing.
    flushing: bool,
    /// The flush timer: its callback, made once, and the armed timeout.
    timer: Option<(Function, Option<i32>)>,
}

static FLUSHES: Global<Flushes> = Global::empty();

fn debug(pieces: &[&str]) {
    tracker::with(|t| t.debug(pieces));
}

/// Whether the queue may be persisted and sent: not while consent is pending.
pub(crate) fn allowed() -> bool {
    tracker::with(|t| t.config().consent == Consent::Granted)
}

/// A signup: validated and queued now; the promise resolves with its `SignupResult` once the
/// endpoint answered or the signup waits for a retry. `callback` (`growsumo.createSignup`'s) is
/// called once with the result first. `event_id`: the one a signup that waited for the delivery
/// code was given ([`crate::web::split`]); a new one otherwise.
pub fn signup(
    input: Result<SignupInput, String>,
    callback: Option<Function>,
    event_id: Option<String>,
) -> Promise {
    // The request starts here, before the page's call returns.
    let delivering = enqueue(input, event_id).map(deliver);
    promise(Box::pin(async move {
        let result = match delivering {
            Ok(delivering) => delivering.await,
            Err(result) => result,
        };
        let result = values::to_js(&result);
        if let Some(callback) = callback {
            if let Err(error) = callback.call1(&JsValue::UNDEFINED, &result) {
                console::report("the createSignup callback", &error);
            }
        }
        Ok(result)
    }))
}

/// A signup whose result nobody waits for (form auto-capture): it is logged in debug mode.
pub fn send(input: SignupInput) {
    if let Ok(pending) = enqueue(Ok(input), None) {
        // Started before the submit listener returns, so before the form's own navigation.
        let _ = in_background(pending);
    }
}

/// Posts `pending` now (see [`deliver`]); the promise resolves once the answer is applied. One
/// task shape for the form's signups and the flushes'.
fn in_background(pending: Pending) -> Promise {
    let delivering = deliver(pending);
    promise(Box::pin(async move {
        delivering.await;
        Ok(JsValue::UNDEFINED)
    }))
}

/// Validates, builds and queues a signup. `Err` is its final result when it is not to be sent now
/// (rejected, skipped, or waiting for consent).
fn enqueue(
    input: Result<SignupInput, String>,
    event_id: Option<String>,
) -> Result<Pending, SignupResult> {
    let pending = prepare(input, event_id)?;
    let event_id = pending.event_id.clone();
    let allowed = allowed();
    queue::with_queue(allowed, |queue| {
        if let Some(dropped) = queue.push(pending.clone()) {
            debug(&["retry queue full: dropped ", &dropped.event_id]);
        }
        if allowed {
            queue.mark_sending(&event_id, clock::now_ms(), RESEND_GRACE_MS);
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

/// Applies an answer to the queue and turns it into the result.
pub(crate) fn settle(event_id: &str, delivery: Delivery) -> SignupResult {
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
        queue::with_queue(allowed, |queue| {
            if retry {
                queue.failed(event_id, clock::now_ms(), clock::random(), not_before);
            } else {
                queue.remove(event_id);
            }
        });
        if retry {
            schedule();
        }
    }
    let reason_text = reason.as_deref().unwrap_or_default();
    debug(&["signup ", event_id, outcome, reason_text]);
    SignupResult::new(status, Some(String::from(event_id)), reason)
}

/// Sends every signup that is due (at once; the endpoint dedupes by `event_id`); expired ones
/// are dropped. Done when all have been answered or failed.
///
/// `force` sends every waiting signup, whatever its backoff: for `online` (the reason it failed is
/// likely gone) and for an explicit `reftrack.flush()`. Page loads and the timer send only what is
/// due, which also leaves a request still in flight from the previous page its grace period.
pub async fn flush(force: bool) {
    if !allowed() || FLUSHES.with(|d| core::mem::replace(&mut d.flushing, true)) {
        return;
    }
    let now = clock::now_ms();
    let (due, expired, next) = queue::with_queue(true, |queue| {
        let expired = queue.expire(now);
        let due = queue.start_due(now, force, RESEND_GRACE_MS);
        (due, expired, queue.next_due())
    });
    for pending in expired {
        debug(&[
            "signup ",
            &pending.event_id,
            " dropped: not delivered within a day",
        ]);
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
                in_background(pending)
            })
            .collect();
        let _ = JsFuture::from(Promise::all(&sending)).await;
        schedule();
    }
    FLUSHES.with(|d| d.flushing = false);
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
    let next = queue::with_queue(allowed(), |queue| queue.next_due());
    arm_timer(next);
}

/// Arms the flush timer for `next`, or disarms it.
fn arm_timer(next: Option<u64>) {
    let (tick, armed) = FLUSHES.with(|d| {
        let (tick, armed) = d.timer.get_or_insert_with(|| {
            let tick = guard::function("tick", |_, _, _| flush_later(false).into());
            (tick, None)
        });
        (tick.clone(), armed.take())
    });
    if let Some(handle) = armed {
        events::clear_timeout(handle);
    }
    let Some(next) = next else { return };
    let delay = next.saturating_sub(clock::now_ms()).min(i32::MAX as u64) as i32;
    let handle = events::timeout(&tick, delay);
    FLUSHES.with(|d| {
        if let Some((_, armed)) = &mut d.timer {
            *armed = handle;
        }
    });
}

/// On start, when [`queue::waiting`] says something does: send what earlier pages left
/// (`online` is watched by the lifecycle). The check stays with the caller, so the usual landing,
/// with nothing waiting, reads storage once and never enters this code (a split module can leave
/// it out of the first half; see bench/split.mjs).
#[inline(never)]
pub fn resume() {
    let _ = flush_later(false);
}
