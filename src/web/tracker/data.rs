//! The attribution where PartnerStack's snippet shows it to the page: `growsumo.data.partner_key`,
//! `ps_partner_key` and `ps_xid`.

use crate::web::browser::page;
use crate::web::values::{get, set};
use alloc::string::String;
use wasm_bindgen::JsValue;

/// Copies the attribution into `growsumo.data`, where there is one. The tracker is not borrowed
/// while the page's object is written: a setter the page put there may call reftrack.
pub fn sync() {
    let (partner_key, click_id) = super::with(|t| {
        let a = t.attribution();
        (
            a.partner_key.as_ref().map(|k| String::from(k.as_str())),
            a.click_id.as_ref().map(|c| String::from(c.as_str())),
        )
    });
    let data = get(&get(&page::window(), "growsumo"), "data");
    if !data.is_object() {
        return;
    }
    let key = partner_key.map_or(JsValue::NULL, JsValue::from);
    set(&data, "partner_key", &key);
    set(&data, "ps_partner_key", &key);
    set(
        &data,
        "ps_xid",
        &click_id.map_or(JsValue::NULL, JsValue::from),
    );
}
