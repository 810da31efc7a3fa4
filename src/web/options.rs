//! JavaScript values and script-tag attributes turned into option [`Source`]s for the core.

use crate::core::config::{Source, SourceKind, Value, OPTION_NAMES};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

/// An options value that is neither an object nor absent (a string, say): the caller warns.
#[derive(Debug)]
pub struct NotAnObject;

/// Reads an options object (`init(options)`, `window.reftrackConfig`). `Err` when `value` is
/// neither an object nor absent, so the caller can warn.
pub fn from_object(value: &JsValue, kind: SourceKind) -> Result<Source, NotAnObject> {
    let mut source = Source::new(kind);
    if value.is_undefined() || value.is_null() {
        return Ok(source);
    }
    let object = value
        .dyn_ref::<Object>()
        .filter(|_| !value.is_function())
        .ok_or(NotAnObject)?;
    for key in Object::keys(object).iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        let item = Reflect::get(object, &key).unwrap_or(JsValue::UNDEFINED);
        if let Some(value) = to_value(&item) {
            source.set(&name, value);
        }
    }
    Ok(source)
}

/// `window.reftrackConfig`, set by the page before the script runs.
pub fn global() -> Result<Source, NotAnObject> {
    let config = web_sys::window()
        .and_then(|w| Reflect::get(&w, &"reftrackConfig".into()).ok())
        .unwrap_or(JsValue::UNDEFINED);
    from_object(&config, SourceKind::Global)
}

/// The script tag's `data-*` attributes for the known options (`data-cookie-days` → `cookieDays`).
pub fn from_attributes(script: &HtmlElement) -> Source {
    let dataset = script.dataset();
    let mut source = Source::new(SourceKind::Attribute);
    for name in OPTION_NAMES {
        if let Some(text) = dataset.get(name) {
            source.set(name, Value::Text(text));
        }
    }
    source
}

/// A JavaScript value as an option [`Value`]; `None` for `undefined` and `null` (not given).
fn to_value(value: &JsValue) -> Option<Value> {
    if value.is_undefined() || value.is_null() {
        return None;
    }
    Some(if let Some(text) = value.as_string() {
        Value::Text(text)
    } else if let Some(number) = value.as_f64() {
        Value::Number(number)
    } else if let Some(flag) = value.as_bool() {
        Value::Bool(flag)
    } else if let Some(array) = value.dyn_ref::<Array>() {
        let items: Option<Vec<String>> = array.iter().map(|item| item.as_string()).collect();
        items.map_or(Value::Other("an array with non-string items"), Value::List)
    } else if value.is_function() {
        Value::Other("a function")
    } else {
        Value::Other("an object")
    })
}
