//! Signups from the page to the endpoint, exactly once: validation, the unattributed rule, the
//! retry queue, and the flushes on load, on `online`, on a timer and on `flush()`.
//!
//! The skin posts (`host::post`) and reports each answer back by token ([`answered`]); a signup's
//! or a flush's promise is settled by id (`host::settle`) once its outcome is known.

use super::cell::Global;
use super::host::{self, Page};
use super::{entry, storage, tracker};
use crate::core::config::Consent;
use crate::core::retry::Pending;
use crate::core::signup::{self, classify, Delivery, SignupInput, SignupResult, Status, Visit};
use crate::core::text::cat;
use alloc::string::String;
use alloc::vec::Vec;

/// How long the skin lets a request run before aborting it.
const TIMEOUT_MS: u64 = 10_000;
/// After this long without an answer (the page went away mid-request) a sent signup is due again.
const RESEND_GRACE_MS: u64 = TIMEOUT_MS + 5_000;

/// A request on its way.
struct Flight {
    token: u32,
    event_id: String,
    /// The promise of the signup that made it, if it is settled by this answer.
    request: Option<u32>,
    /// Part of the running flush.
    flushed: bool,
}

/// A flush waiting for its requests' answers.
struct Flush {
    /// The promise of `flush()`, if any.
    request: Option<u32>,
    outstanding: usize,
}

#[derive(Default)]
struct Deliveries {
    last_token: u32,
    flights: Vec<Flight>,
    flush: Option<Flush>,
}

static DELIVERIES: Global<Deliveries> = Global::empty();

fn debug(message: impl FnOnce() -> String) {
    tracker::with(|t| t.debug(message));
}

/// Whether the queue may be persisted and sent: not while consent is pending.
fn allowed() -> bool {
    tracker::with(|t| t.config().consent == Consent::Granted)
}

/// Settles promise `request` (if any) with `result`.
fn answer(request: Option<u32>, result: &SignupResult) {
    if let Some(id) = request {
        host::settle(
            id,
            result.ok,
            result.status.as_str(),
            result.event_id.clone(),
            result.error.clone(),
        );
    }
}

/// Sends a signup; settles promise `request` with its result. The request is on its way when
/// this returns.
pub fn send(input: Result<SignupInput, String>, request: Option<u32>) {
    let pending = match prepare(input) {
        Ok(pending) => pending,
        Err(result) => return answer(request, &result),
    };
    let event_id = pending.event_id.clone();
    let allowed = allowed();
    storage::with_queue(allowed, |queue| {
        if let Some(dropped) = queue.push(pending.clone()) {
            debug(|| cat(&["retry queue full: dropped ", &dropped.event_id]));
        }
        if allowed {
            queue.mark_sending(&event_id, host::now_ms(), RESEND_GRACE_MS);
        }
    });
    if !allowed {
        let waiting = Delivery::Retry("consent is pending: the signup waits in memory".into());
        return answer(request, &settle(&event_id, waiting));
    }
    attempt(&pending, request, false);
}

/// Posts `pending`; its answer comes back through [`answered`].
fn attempt(pending: &Pending, request: Option<u32>, flushed: bool) {
    let token = DELIVERIES.with(|d| {
        d.last_token += 1;
        d.flights.push(Flight {
            token: d.last_token,
            event_id: pending.event_id.clone(),
            request,
            flushed,
        });
        d.last_token
    });
    if !host::post(token, &pending.endpoint, &pending.body) {
        answered(
            token,
            0,
            None,
            None,
            Some("the request could not be started".into()),
        );
    }
}

/// The answer to request `token`: an HTTP status with the body's `status` and `error`, or status
/// 0 and the network error (`TypeError: Failed to fetch`, `AbortError: …` after the timeout).
pub fn answered(
    token: u32,
    status: u16,
    body_status: Option<String>,
    body_error: Option<String>,
    error: Option<String>,
) {
    let flight = DELIVERIES.with(|d| {
        let at = d.flights.iter().position(|f| f.token == token)?;
        Some(d.flights.swap_remove(at))
    });
    let Some(flight) = flight else { return };
    let delivery = match status {
        0 => Delivery::Retry(error.unwrap_or_else(|| "network error".into())),
        _ => classify(status, body_status.as_deref(), body_error.as_deref()),
    };
    answer(flight.request, &settle(&flight.event_id, delivery));
    if flight.flushed {
        let finished = DELIVERIES.with(|d| {
            let flush = d.flush.as_mut()?;
            flush.outstanding -= 1;
            if flush.outstanding > 0 {
                return None;
            }
            d.flush.take()
        });
        if let Some(flush) = finished {
            settle_flush(flush.request);
            schedule();
        }
    }
}

/// Validates and builds the signup; `Err` is the final result (rejected or skipped).
fn prepare(input: Result<SignupInput, String>) -> Result<Pending, SignupResult> {
    let rejected = |error: String| {
        debug(|| cat(&["signup rejected: ", &error]));
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
    let page_url = host::read(Page::Href);
    let endpoint = endpoint(option.as_deref(), script_src.as_deref(), &page_url)
        .ok_or_else(|| rejected("the endpoint is not a valid URL".into()))?;
    let mut random = [0u8; 16];
    host::random_bytes(&mut random);
    let event_id = signup::uuid_v4(random);
    let (origin, referrer) = (host::read(Page::Hostname), host::read(Page::Referrer));
    let (user_agent, created_at) = (host::read(Page::UserAgent), host::read(Page::IsoNow));
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
    let now = host::now_ms();
    Ok(Pending {
        event_id,
        endpoint,
        body,
        created_at: now,
        attempts: 0,
        next_at: now,
    })
}

/// The endpoint as an absolute URL: the option resolved against the page, or `/v1/signups` on the
/// origin the script was loaded from (the page's own origin for the npm package).
fn endpoint(option: Option<&str>, script_src: Option<&str>, page_url: &str) -> Option<String> {
    match option {
        Some(endpoint) => host::resolve_url(endpoint, page_url),
        None => {
            let script = host::resolve_url(script_src.unwrap_or(page_url), page_url)?;
            host::resolve_url("/v1/signups", &script)
        }
    }
}

/// Applies an answer to the queue and turns it into the result.
fn settle(event_id: &str, delivery: Delivery) -> SignupResult {
    let allowed = allowed();
    let (status, reason, outcome) = match delivery {
        Delivery::Delivered(status) => (status, None, " delivered"),
        Delivery::Refused(reason) => (Status::Rejected, Some(reason), " refused by the endpoint: "),
        Delivery::Retry(reason) => (Status::Queued, Some(reason), " queued for retry: "),
    };
    let retry = status == Status::Queued;
    // A signup waiting for consent stays as it is; any other answer changes the queue.
    if allowed || !retry {
        storage::with_queue(allowed, |queue| {
            if retry {
                queue.failed(event_id, host::now_ms(), host::random());
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

fn settle_flush(request: Option<u32>) {
    if let Some(id) = request {
        host::settle(id, true, "", None, None);
    }
}

/// Sends every signup that is due (at once; the endpoint dedupes by `event_id`); expired ones
/// are dropped. Settles promise `request` when all have been answered or failed.
///
/// `force` sends every waiting signup, whatever its backoff: for `online` (the reason it failed is
/// likely gone) and for an explicit `reftrack.flush()`. Page loads and the timer send only what is
/// due, which also leaves a request still in flight from the previous page its grace period.
pub fn flush(force: bool, request: Option<u32>) {
    if !allowed() || DELIVERIES.with(|d| d.flush.is_some()) {
        return settle_flush(request);
    }
    let now = host::now_ms();
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
        return settle_flush(request);
    }
    DELIVERIES.with(|d| {
        d.flush = Some(Flush {
            request,
            outstanding: due.len(),
        })
    });
    for pending in &due {
        attempt(pending, None, true);
    }
}

/// Arms one timer for the next due signup, replacing the previous one.
fn schedule() {
    let next = storage::with_queue(allowed(), |queue| queue.next_due());
    arm_timer(next);
}

/// Arms the flush timer for `next`, or disarms it.
fn arm_timer(next: Option<u64>) {
    let delay = next.map_or(-1.0, |next| {
        next.saturating_sub(host::now_ms()).min(i32::MAX as u64) as f64
    });
    host::arm(delay);
}

/// On start: send what earlier pages left (the skin's `watch` listens for `online`).
pub fn resume() {
    flush(false, None);
}
