//! The floor of the card's stack (see Cargo.toml): read an option with js-sys (`Object.entries`, as
//! the module reads every inbound value), decode base64, write a cookie through web-sys, serialize
//! a map with serde through serde-wasm-bindgen and post it with gloo-net from a future. Nothing
//! else.
use wasm_bindgen::prelude::*;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use base64::Engine;
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
struct Out<'a> { x: &'a str, y: Option<&'a str>, z: f64 }
impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("x", self.x)?; m.serialize_entry("y", &self.y)?; m.serialize_entry("z", &self.z)?;
        m.end()
    }
}
/// An option's own property, as the module reads one.
fn option(v: &JsValue, name: &str) -> JsValue {
    let Ok(entries) = js_sys::Object::entries_typed::<JsValue>(v.unchecked_ref()) else { return JsValue::UNDEFINED };
    let entries: &js_sys::Array = entries.unchecked_ref();
    entries.iter().map(|e| e.unchecked_into::<js_sys::Array>())
        .find(|p| p.get(0).as_string().as_deref() == Some(name)).map_or(JsValue::UNDEFINED, |p| p.get(1))
}
#[wasm_bindgen]
pub fn run(v: JsValue) -> js_sys::Promise {
    let (a, b) = (option(&v, "a"), option(&v, "b"));
    let key = base64::engine::general_purpose::STANDARD.decode(a.as_string().unwrap_or_default()).unwrap_or_default();
    let doc: web_sys::HtmlDocument = web_sys::window().unwrap_throw().document().unwrap_throw().unchecked_into();
    let _ = doc.set_cookie(&String::from_utf8_lossy(&key));
    let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    let out = Out { x: "a", y: b.as_string().as_deref(), z: 1.0 }.serialize(&ser).unwrap_or_default();
    let body: String = js_sys::JSON::stringify(&out).map(String::from).unwrap_or_default();
    wasm_bindgen_futures::future_to_promise(async move {
        let init = web_sys::RequestInit::new(); init.set_method("POST"); init.set_body(&JsValue::from_str(&body));
        let req = web_sys::Request::new_with_str_and_init("/x", &init)?;
        let r = gloo_net::http::Request::from(req).send().await.map_err(|_| JsValue::NULL)?;
        Ok(JsValue::from(r.status()))
    })
}
