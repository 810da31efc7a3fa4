//! `window.reftrack`: the native API (contract §4a), its methods named by [`api::METHODS`], and
//! the version.

use crate::web::values::set;
use crate::web::{api, guard};
use alloc::string::String;
use js_sys::{Function, Object};
use wasm_bindgen::JsValue;

/// A text answer, `null` for none.
fn text(value: Option<String>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from)
}

/// `window.reftrack`: the native API (contract §4a) and the version.
pub fn api() -> Object {
    let api = Object::new();
    set(
        &api,
        "version",
        &JsValue::from_str(env!("CARGO_PKG_VERSION")),
    );
    for name in api::METHODS {
        let function: Function = match name {
            "init" => guard::function(name, |options, _, _| api::init(options).into()),
            "partnerKey" => guard::function(name, |_, _, _| text(api::partner_key())),
            "clickId" => guard::function(name, |_, _, _| text(api::click_id())),
            "signup" => guard::function(name, |input, _, _| api::signup(input).into()),
            "flush" => guard::function(name, |_, _, _| api::flush().into()),
            "captureForms" => guard::function(name, |selector, _, _| {
                api::capture_forms(selector);
                JsValue::UNDEFINED
            }),
            "consent" => guard::function(name, |granted, _, _| {
                api::consent(granted);
                JsValue::UNDEFINED
            }),
            _ => continue,
        };
        set(&api, name, &function);
    }
    #[cfg(feature = "fault-injection")]
    set(
        &api,
        "__fault",
        &guard::function("__fault", |_, _, _| {
            api::fault();
            JsValue::UNDEFINED
        }),
    );
    api
}
