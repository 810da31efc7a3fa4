//! `window.po` (or the name in `window.__partnerObject`), Partnero Universal's function:
//! `po('program', id, 'load')`, `po('customers', 'signup', { data })`, `po('integration',
//! 'universal')` (form auto-capture) and `po('settings', …)`; anything else is warned about once.

use super::{arguments, queue};
use crate::web::tracker::notes::Note;
use crate::web::values::{get, set};
use crate::web::{api, guard, lifecycle, split, tracker};
use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

/// Defines the function and replays the calls Partnero's stub queued.
pub fn install(window: &JsValue) {
    let name = get(window, "__partnerObject")
        .as_string()
        .unwrap_or_else(|| "po".into());
    let queued = get(&get(window, &name), "q");
    let po = guard::function("po", partnero);
    set(window, &name, &po);
    set(&po, "q", &Array::new());
    // Each record of Partnero's stub is { a: arguments, q: [] }.
    for record in queue(queued).iter() {
        let _ = Reflect::apply(&po, window, &arguments(get(&record, "a")));
    }
}

/// One `po(command, …)` call of Partnero Universal.
fn partnero(command: JsValue, what: JsValue, argument: JsValue) -> JsValue {
    let command = command.as_string().unwrap_or_default();
    let what = what.as_string().unwrap_or_default();
    match (command.as_str(), what.as_str()) {
        // Accepted; none of Partnero's settings apply here.
        ("settings", _) => {}
        ("program", id) if !id.is_empty() && argument.as_string().as_deref() == Some("load") => {
            lifecycle::partnero_program(id)
        }
        ("customers", "signup") => {
            lifecycle::start();
            return split::signup(split::Kind::Po, argument, None).into();
        }
        ("integration", "universal") => api::capture_forms(JsValue::UNDEFINED),
        _ => tracker::with(|t| t.warn(Note::PoUnsupported, &command, &what)),
    }
    JsValue::UNDEFINED
}
