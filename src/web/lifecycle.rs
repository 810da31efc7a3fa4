//! The tracker's life on the page: its start (explicit — `init`, `growsumo._initialize`,
//! Partnero's `program … load` — or implicit, by the first call that needs the attribution), what
//! follows every start, and what it watches from then on: the URL of a single-page app, the
//! network, the page going away, and the page's Content-Security-Policy.
//!
//! Callers start the tracker; the layers below (`delivery`, `forms`, `tracker`) never call up.

use super::browser::{events, fetch};
use super::cell::Global;
use super::tracker::notes::Note;
use super::tracker::{self, data};
use super::{delivery, forms, guard, split, values};
use crate::core::attribution;
use crate::core::config::AutoCapture;
use crate::core::partner_key::ClickId;
use crate::core::text::decimal;
use alloc::string::String;
use wasm_bindgen::JsValue;

/// Starts with what is known so far unless something already did, followed by what follows
/// every start. The script-tag build calls it after its first task (a plain `<script>` tag that
/// nobody initializes), and everything that needs the attribution calls it first.
pub fn start() {
    if tracker::with(|t| t.ensure_started()) {
        started();
    }
}

/// An explicit start: `options` merged into those of earlier calls, and `public_key` (for
/// `growsumo._initialize`); `caller` names the call in warnings.
pub fn start_with(caller: &str, options: JsValue, public_key: Option<&JsValue>) {
    let public_key = public_key.map(values::classify);
    tracker::with(|t| t.start(caller, options, public_key));
    started();
}

/// `po('program', id, 'load')`: Partnero mode for program `id`.
pub fn partnero_program(id: &str) {
    tracker::with(|t| {
        t.note(Note::Partnero, id, "");
        t.partnero(id.into());
    });
    started();
}

/// What follows every start: `growsumo.data` filled, the retry queue resumed, the page watched,
/// and forms captured if the options say so.
fn started() {
    data::sync();
    watch();
    report_landing();
    // In a task of its own: the page's own start (`growsumoInit`) does not wait for the storage
    // reads (the delivery code resumes first if it arrives before).
    let later = guard::function("resume", |_, _, _| {
        resume();
        JsValue::UNDEFINED
    });
    events::timeout(&later, 0);
    capture_configured();
}

/// Form auto-capture, if the options ask for it.
fn capture_configured() {
    if let AutoCapture::Forms(selector) = tracker::with(|t| t.config().auto_capture.clone()) {
        if split::present() {
            forms::capture(selector);
        } else {
            split::run(|_, _, _| {
                capture_configured();
                JsValue::UNDEFINED
            });
        }
    }
}

static WATCHING: Global<bool> = Global::empty();

/// Watches, once per page, the URL (single-page apps: `pushState`, `replaceState`, `popstate`),
/// the network (`online`), the page going away (`pagehide`) and the page's policy violations.
fn watch() {
    if WATCHING.with(|w| core::mem::replace(w, true)) {
        return;
    }
    let navigated = guard::function("navigated", |_, _, _| {
        tracker::with(|t| t.attribute());
        data::sync();
        report_landing();
        JsValue::UNDEFINED
    });
    events::after_history_change(&navigated);
    events::on_window("popstate", &navigated);
    let online = guard::function("online", |_, _, _| {
        if !split::present() {
            // Signups waiting for the delivery module: it is asked for again.
            split::retry();
            if !delivery::queue::waiting() {
                return JsValue::UNDEFINED;
            }
        }
        tracker::with(|t| t.note(Note::BackOnline, "", ""));
        split::flush().into()
    });
    events::on_window("online", &online);
    // Without the delivery code no request is in flight: nothing to hand over or to blame.
    let hidden = guard::function("pagehide", |_, _, _| {
        if split::present() {
            delivery::hand_over();
        }
        JsValue::UNDEFINED
    });
    events::on_window("pagehide", &hidden);
    let violated = guard::function("securitypolicyviolation", |event, _, _| {
        if split::present() {
            delivery::violated(&event);
        }
        JsValue::UNDEFINED
    });
    events::on_window("securitypolicyviolation", &violated);
}

/// `consent(granted)` after the tracker applied it: a landing held back is reported and waiting
/// signups are sent, or the retry queue is deleted.
pub fn consented(granted: bool) {
    if granted {
        report_landing();
        resume();
    } else {
        delivery::queue::clear();
        split::forget();
    }
}

/// Sends what earlier pages left, if anything waits: the usual landing reads one storage key.
fn resume() {
    split::resume();
    if delivery::queue::waiting() {
        split::run(|_, _, _| {
            delivery::resume();
            JsValue::UNDEFINED
        });
    }
}

/// Reports a landing through a hand-made partner link (a partner key in the URL, no click id) to
/// the collector's `POST /v1/clicks`, at most once per landing, and keeps the click id it answers
/// as `ps_xid`, so that a signup later on this visit is backed by a recorded click.
pub fn report_landing() {
    if tracker::with(|t| t.landing_to_report()) {
        // Taken when the report runs: at once, or once the delivery code is present.
        split::run(|_, _, _| {
            send_landing();
            JsValue::UNDEFINED
        });
    }
}

/// The report itself, apart from the check every start makes: a landing without a partner key, or
/// with a click id in its link, never runs this code (the split build leaves it to the delivery
/// module).
#[inline(never)]
fn send_landing() {
    let Some(landing) = tracker::with(|t| t.take_landing()) else {
        return;
    };
    let (option, script_src) = tracker::with(|t| {
        (
            t.config().endpoint.clone(),
            t.script_src().map(String::from),
        )
    });
    let signups = delivery::endpoint(option.as_deref(), script_src.as_deref(), &landing.page_url);
    let Some(url) = signups.as_deref().and_then(attribution::clicks_url) else {
        tracker::with(|t| {
            t.debug(&["landing not reported: the endpoint is not a collector's …/v1/signups"])
        });
        return;
    };
    let Some(body) = values::to_json(&landing) else {
        return;
    };
    // Through the one instance of `future_to_promise` that every task goes through.
    let _ = delivery::promise(alloc::boxed::Box::pin(async move {
        let reply = fetch::start(&url, &body).await;
        match reply.click_id().map(ClickId::parse) {
            Some(Ok(click_id)) => {
                tracker::with(|t| t.adopt_click(&landing.partner_key, click_id));
                data::sync();
            }
            _ => tracker::with(|t| {
                t.debug(&[
                    "landing not counted as a click: ",
                    &url,
                    " answered ",
                    &decimal(reply.answer().http_status.into()),
                ])
            }),
        }
        Ok(JsValue::UNDEFINED)
    }));
}
