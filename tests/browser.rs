//! Browser tests (wasm-bindgen-test in headless Chromium, on the runner's 127.0.0.1 page), through
//! the real skin (js/host.js): cookies are really written, with their attributes, the domain probe
//! leaves an IP host-only, and the retry queue round-trips through localStorage.
#![cfg(target_arch = "wasm32")]

use js_sys::{Date, Function, Promise, Reflect};
use reftrack::core::cookie::{find_domain, CookieJar};
use reftrack::core::retry::Pending;
use reftrack::web::cookies::DocumentJar;
use reftrack::web::{scratch, storage};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DAY_MS: f64 = 86_400_000.0;

fn window() -> js_sys::Object {
    js_sys::global()
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
    DocumentJar.read()
}

fn clear_cookies() {
    let mut jar = DocumentJar;
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
    // init({ cookieDays: 30 }), as the skin hands it over.
    scratch::put(0, "ncookieDays", "30".into());
    reftrack::init("init", true, None);

    assert_eq!(reftrack::partner_key().as_deref(), Some("alex-smith"));
    assert_eq!(reftrack::click_id().as_deref(), Some("clk_9f8e"));
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
fn a_refused_key_writes_no_cookie() {
    clear_cookies();
    // "a;b=c" and "x\r\nSet-Cookie: y=1"
    for query in [
        "?ps_partner_key=YTtiPWM",
        "?ps_partner_key=eA0KU2V0LUNvb2tpZTogeT0x",
        "?gspk=%%%",
    ] {
        land_on(query);
        reftrack::init("init", true, None);
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
    let host = reftrack::web::host::read(reftrack::web::host::Page::Hostname);
    assert!(
        host == "127.0.0.1" || host == "localhost",
        "the runner serves on loopback: {host}"
    );
    let mut jar = DocumentJar;
    assert_eq!(find_domain(&host, &mut jar), None);
    assert!(!document_cookie().contains("reftrack_probe"));
}

#[wasm_bindgen_test]
fn the_document_jar_round_trips() {
    let mut jar = DocumentJar;
    jar.write("reftrack_probe=round-trip; Path=/; Max-Age=5; SameSite=Lax");
    assert!(jar.read().contains("reftrack_probe=round-trip"));
    jar.write("reftrack_probe=; Path=/; Max-Age=0");
    assert!(!jar.read().contains("reftrack_probe"));
}

#[wasm_bindgen_test]
fn the_retry_queue_round_trips_through_local_storage() {
    let storage = get(&window(), "localStorage");
    call(&storage, "removeItem", &["reftrack_queue".into()]);
    let pending = Pending {
        event_id: "2f1c1f0e-8b0c-4a55-9d7e-2b4c9b0a3f11".into(),
        endpoint: "http://127.0.0.1/v1/signups".into(),
        body: r#"{"name":"Zoë \"Z\""}"#.into(),
        created_at: 1_700_000_000_000,
        attempts: 2,
        next_at: 1_700_000_004_000,
    };
    storage::with_queue(true, |queue| queue.push(pending.clone()));
    // What the browser holds: one tab-separated line per entry, the body last.
    let text = call(&storage, "getItem", &["reftrack_queue".into()]);
    let text = text.as_string().unwrap();
    assert!(
        text.ends_with(&["\t2\t1700000004000\t", &pending.body].concat()),
        "{text}"
    );
    let read = storage::with_queue(true, |queue| queue.0.clone());
    assert_eq!(read, [pending]);
    storage::clear();
    assert!(call(&storage, "getItem", &["reftrack_queue".into()]).is_null());
}
