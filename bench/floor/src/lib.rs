//! The floor of the card's stack (see Cargo.toml): read an option through serde-wasm-bindgen,
//! decode base64, write a cookie through web-sys, serialize a struct and post it with gloo-net
//! from a future. Nothing else.
use wasm_bindgen::prelude::*;
use serde::{Deserialize, Serialize};
use base64::Engine;
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
#[derive(Deserialize, Default)]
#[serde(default)]
struct Opts { #[serde(with = "serde_wasm_bindgen::preserve")] a: JsValue, #[serde(with = "serde_wasm_bindgen::preserve")] b: JsValue }
#[derive(Serialize)]
struct Out<'a> { x: &'a str, y: Option<&'a str>, z: f64 }
#[wasm_bindgen]
pub fn run(v: JsValue) -> js_sys::Promise {
    let o: Opts = serde_wasm_bindgen::from_value(v).unwrap_or_default();
    let key = base64::engine::general_purpose::STANDARD.decode(o.a.as_string().unwrap_or_default()).unwrap_or_default();
    let doc: web_sys::HtmlDocument = web_sys::window().unwrap_throw().document().unwrap_throw().unchecked_into();
    let _ = doc.set_cookie(&String::from_utf8_lossy(&key));
    let out = serde_wasm_bindgen::to_value(&Out { x: "a", y: o.b.as_string().as_deref(), z: 1.0 }).unwrap_or_default();
    let body: String = js_sys::JSON::stringify(&out).map(String::from).unwrap_or_default();
    wasm_bindgen_futures::future_to_promise(async move {
        let init = web_sys::RequestInit::new(); init.set_method("POST"); init.set_body(&JsValue::from_str(&body));
        let req = web_sys::Request::new_with_str_and_init("/x", &init)?;
        let r = gloo_net::http::Request::from(req).send().await.map_err(|_| JsValue::NULL)?;
        Ok(JsValue::from(r.status()))
    })
}
