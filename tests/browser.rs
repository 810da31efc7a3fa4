//! Browser tests (wasm-bindgen-test in headless Chromium, on the runner's 127.0.0.1 page): cookies
//! are really written, with their attributes, and the domain probe leaves an IP host-only.
#![cfg(target_arch = "wasm32")]

use js_sys::{Date, Function, Promise, Reflect};
use reftrack::core::cookie::{find_domain, CookieJar};
use reftrack::web::cookies::DocumentJar;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DAY_MS: f64 = 86_400_000.0;

fn window() -> JsValue {
    web_sys::window().unwrap().into()
}

fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &name.into()).unwrap()
}

fn call(target: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    let function: Function = get(target, method).dyn_into().unwrap();
    let args: js_sys::Array = args.iter().collect();
    function.apply(target, &args).unwrap()
}

/// Points the page's URL at `query` without reloading, as a landing would.
fn land_on(query: &str) {
    let history = get(&window(), "history");
    call(
        &history,
        "replaceState",
        &[JsValue::NULL, "".into(), query.into()],
    );
}

fn document_cookie() -> String {
    DocumentJar::open().unwrap().read()
}

fn clear_cookies() {
    let mut jar = DocumentJar::open().unwrap();
    for name in [
        "growSumoPartnerKey",
        "ps_partner_key",
        "ps_xid",
        "reftrack_probe",
    ] {
        jar.write(&format!("{name}=; Path=/; Max-Age=0"));
    }
}

/// `cookieStore.get(name)`: the one browser API that shows a cookie's attributes to script.
async fn stored_cookie(name: &str) -> JsValue {
    let store = get(&window(), "cookieStore");
    let promise: Promise = call(&store, "get", &[name.into()]).dyn_into().unwrap();
    JsFuture::from(promise).await.unwrap()
}

#[wasm_bindgen_test]
async fn cookies_are_written_with_their_attributes() {
    clear_cookies();
    land_on("?ps_partner_key=YWxleC1zbWl0aA&ps_xid=clk_9f8e");
    let options = js_sys::Object::new();
    Reflect::set(&options, &"cookieDays".into(), &JsValue::from(30)).unwrap();
    JsFuture::from(reftrack::init(options.into()))
        .await
        .unwrap();

    assert_eq!(reftrack::partner_key(), JsValue::from("alex-smith"));
    assert_eq!(reftrack::click_id(), JsValue::from("clk_9f8e"));
    let cookies = document_cookie();
    for pair in [
        "growSumoPartnerKey=alex-smith",
        "ps_partner_key=alex-smith",
        "ps_xid=clk_9f8e",
    ] {
        assert!(cookies.contains(pair), "{pair} in {cookies}");
    }
    for name in ["growSumoPartnerKey", "ps_partner_key", "ps_xid"] {
        let cookie = stored_cookie(name).await;
        assert!(cookie.is_object(), "{name} is visible to cookieStore");
        assert_eq!(get(&cookie, "path"), JsValue::from("/"), "{name} Path");
        assert_eq!(
            get(&cookie, "sameSite"),
            JsValue::from("lax"),
            "{name} SameSite"
        );
        assert_eq!(
            get(&cookie, "secure"),
            JsValue::FALSE,
            "{name} not Secure on http"
        );
        assert!(
            get(&cookie, "domain").is_null(),
            "{name} host-only on an IP"
        );
        let expires = get(&cookie, "expires").as_f64().unwrap();
        let expected = Date::now() + 30.0 * DAY_MS;
        assert!(
            (expires - expected).abs() < 60_000.0,
            "{name} Max-Age of 30 days"
        );
    }
    clear_cookies();
}

#[wasm_bindgen_test]
async fn a_refused_key_writes_no_cookie() {
    clear_cookies();
    // "a;b=c" and "x\r\nSet-Cookie: y=1"
    for query in [
        "?ps_partner_key=YTtiPWM",
        "?ps_partner_key=eA0KU2V0LUNvb2tpZTogeT0x",
        "?gspk=%%%",
    ] {
        land_on(query);
        JsFuture::from(reftrack::init(JsValue::UNDEFINED))
            .await
            .unwrap();
        let cookies = document_cookie();
        assert!(
            !cookies.contains("growSumoPartnerKey"),
            "{query}: {cookies}"
        );
        assert!(
            !cookies.contains("b=c") && !cookies.contains("y=1"),
            "{query}: {cookies}"
        );
    }
}

#[wasm_bindgen_test]
fn the_probe_leaves_an_ip_host_only() {
    clear_cookies();
    let host = web_sys::window().unwrap().location().hostname().unwrap();
    assert!(
        host == "127.0.0.1" || host == "localhost",
        "the runner serves on loopback: {host}"
    );
    let mut jar = DocumentJar::open().unwrap();
    assert_eq!(find_domain(&host, &mut jar), None);
    assert!(!document_cookie().contains("reftrack_probe"));
}

#[wasm_bindgen_test]
fn the_document_jar_round_trips() {
    let mut jar = DocumentJar::open().unwrap();
    jar.write("reftrack_probe=round-trip; Path=/; Max-Age=5; SameSite=Lax");
    assert!(jar.read().contains("reftrack_probe=round-trip"));
    jar.write("reftrack_probe=; Path=/; Max-Age=0");
    assert!(!jar.read().contains("reftrack_probe"));
}
