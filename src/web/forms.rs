//! Form auto-capture (contract §6). One listener for `submit` in the capture phase on `document` (so
//! forms added later are covered and the page's own handlers cannot hide a submit) decides whether
//! the form is a sign-up form and reads its fields by selectors that exclude password inputs, and
//! nothing else. Nothing here prevents the submit; the signup is queued at once and goes out with
//! `keepalive`, so the form's own navigation loses nothing.

use super::browser::{clock, events};
use super::cell::Global;
use super::{delivery, guard, tracker};
use crate::core::signup::{is_email, SignupInput};
use crate::core::text::cat;
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, HtmlFormElement};

/// A form submitted again this soon with the same email is the same signup (a double click).
const REPEAT_MS: u64 = 5_000;

const EMAIL: &str = "input[type=email], input[name=email]:not([type=password])";
const NAME: &str = "[name=name]:not([type=password])";
const FIRST_NAME: &str =
    "[name=first_name]:not([type=password]), [name=firstname]:not([type=password]), \
    [name=first-name]:not([type=password]), [autocomplete=given-name]:not([type=password])";
const LAST_NAME: &str =
    "[name=last_name]:not([type=password]), [name=lastname]:not([type=password]), \
    [name=last-name]:not([type=password]), [autocomplete=family-name]:not([type=password])";
const CUSTOMER_KEY: &str = "[name=customer_key]:not([type=password])";

#[derive(Default)]
struct Capture {
    /// `None`: off. `Some(None)`: every form with an email field. `Some(Some(s))`: forms matching `s`.
    selector: Option<Option<String>>,
    /// Recent captures: (form, email, time), for the double-submit rule.
    recent: Vec<(HtmlFormElement, String, u64)>,
}

static CAPTURE: Global<Capture> = Global::empty();

/// Turns capture on (for `selector`, or every form with an email field).
pub fn capture(selector: Option<String>) {
    let first = CAPTURE.with(|c| c.selector.replace(selector).is_none());
    if first {
        let listener = guard::function("submitted", |event, _, _| {
            // Only the browser calls this listener, always with the submit event.
            if let Some(form) = event
                .unchecked_ref::<Event>()
                .target()
                .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
            {
                submitted(&form);
            }
            JsValue::UNDEFINED
        });
        events::on_document_capture("submit", &listener);
        tracker::with(|t| t.debug(&["form auto-capture on"]));
    }
}

/// The trimmed value of `form`'s first field matching `selector` — "" when it is empty, `None`
/// when there is no such field (or the selector is not one).
fn value(form: &HtmlFormElement, selector: &str) -> Option<String> {
    let field = form.query_selector(selector).ok()??;
    // `value`, which an <input>, a <select> and a <textarea> all have.
    let value = Reflect::get(&field, &JsValue::from_str("value"))
        .ok()?
        .as_string()?;
    Some(value.trim().into())
}

/// The value of `form`'s first field matching `selector`; `None` if none or empty.
fn field(form: &HtmlFormElement, selector: &str) -> Option<String> {
    value(form, selector).filter(|v| !v.is_empty())
}

/// A form was submitted. Not inlined into the listener: the listener is a function the table
/// holds, which the split build's landing module keeps; this, a gate, it leaves to the delivery
/// module (scripts/split.mjs).
#[inline(never)]
fn submitted(form: &HtmlFormElement) {
    let Some(selector) = CAPTURE.with(|c| c.selector.clone()) else {
        return;
    };
    if let Some(selector) = &selector {
        if !form.matches(selector).unwrap_or(false) {
            return;
        }
    }
    let email = value(form, EMAIL);
    if email.is_none() && selector.is_none() {
        return; // not a sign-up form: a search box, a login without email, ...
    }
    let debug = |message: &str| tracker::with(|t| t.debug(&[message]));
    let Some(email) = email.filter(|e| is_email(e)) else {
        debug("form skipped: it has no valid email address");
        return;
    };
    let now = clock::now_ms();
    let repeated = CAPTURE.with(|c| {
        c.recent
            .retain(|(_, _, at)| now.saturating_sub(*at) < REPEAT_MS);
        let seen = c.recent.iter().any(|(f, e, _)| f == form && *e == email);
        if !seen {
            c.recent.push((form.clone(), email.clone(), now));
        }
        seen
    });
    if repeated {
        debug("form skipped: the same signup was submitted moments ago");
        return;
    }
    let name =
        field(form, NAME).or_else(|| match (field(form, FIRST_NAME), field(form, LAST_NAME)) {
            (Some(first), Some(last)) => Some(cat(&[&first, " ", &last])),
            (first, last) => first.or(last),
        });
    let input = SignupInput {
        // Without a customer_key field the core takes the email, lower-cased.
        customer_key: field(form, CUSTOMER_KEY),
        email: Some(email),
        name,
        ..SignupInput::default()
    };
    debug("form captured");
    // The result is logged in debug mode; the page is not waiting for it.
    delivery::send(input);
}
