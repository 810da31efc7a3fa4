//! Form auto-capture (SPEC §6): one capture-phase `submit` listener on `document`, so forms added
//! later are covered and the page's own handlers cannot hide a submit from it.
//!
//! It reads exactly the fields it needs, found by selectors that exclude password inputs, and
//! nothing else. It never calls `preventDefault`; the signup goes out with `keepalive`, so the
//! form's own navigation loses nothing.

use super::{delivery, guard, tracker};
use crate::core::signup::{is_email, SignupInput};
use js_sys::{Date, Reflect};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event};

/// A form submitted again this soon with the same email is the same signup (a double click).
const REPEAT_MS: f64 = 5_000.0;

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
    recent: Vec<(Element, String, f64)>,
}

thread_local! {
    static CAPTURE: RefCell<Capture> = RefCell::new(Capture::default());
}

/// Turns capture on (for `selector`, or every form with an email field), installing the listener
/// once.
pub fn capture(selector: Option<String>) {
    let first = CAPTURE.with(|c| c.borrow_mut().selector.replace(selector).is_none());
    if !first {
        return;
    }
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let listener = guard::guarded(Closure::<dyn Fn(Event)>::new(on_submit).into_js_value());
    let _ = document.add_event_listener_with_callback_and_bool(
        "submit",
        listener.unchecked_ref(),
        true,
    );
    tracker::with(|t| t.debug(|| "form auto-capture on".into()));
}

/// The value of the first element in `form` matching `selector`, trimmed; `None` if empty.
fn field(form: &Element, selector: &str) -> Option<String> {
    let element = form.query_selector(selector).ok().flatten()?;
    let value = Reflect::get(&element, &"value".into()).ok()?.as_string()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn on_submit(event: Event) {
    let Some(form) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    if !form.tag_name().eq_ignore_ascii_case("form") {
        return;
    }
    let Some(selector) = CAPTURE.with(|c| c.borrow().selector.clone()) else {
        return;
    };
    if let Some(selector) = &selector {
        if !form.matches(selector).unwrap_or(false) {
            return;
        }
    }
    let has_email_field = form.query_selector(EMAIL).ok().flatten().is_some();
    if !has_email_field && selector.is_none() {
        return; // not a sign-up form: a search box, a login without email, ...
    }
    let debug = |message: String| tracker::with(|t| t.debug(|| message));
    let Some(email) = field(&form, EMAIL).filter(|e| is_email(e)) else {
        debug("form skipped: it has no valid email address".into());
        return;
    };
    let now = Date::now();
    let repeated = CAPTURE.with(|c| {
        let mut c = c.borrow_mut();
        c.recent.retain(|(_, _, at)| now - at < REPEAT_MS);
        let seen = c.recent.iter().any(|(f, e, _)| *f == form && *e == email);
        if !seen {
            c.recent.push((form.clone(), email.clone(), now));
        }
        seen
    });
    if repeated {
        debug("form skipped: the same signup was submitted moments ago".into());
        return;
    }
    let name = field(&form, NAME).or_else(|| {
        let parts: Vec<String> = [field(&form, FIRST_NAME), field(&form, LAST_NAME)]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let input = SignupInput {
        customer_key: field(&form, CUSTOMER_KEY).or_else(|| Some(email.clone())),
        email: Some(email),
        name,
        ..SignupInput::default()
    };
    debug("form captured".into());
    // The result is logged in debug mode; the page is not waiting for it.
    let _ = delivery::send(Ok(input));
}
