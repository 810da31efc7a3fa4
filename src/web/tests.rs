//! Browser tests of the web layer (wasm-bindgen-test in headless Chromium, on the runner's
//! 127.0.0.1 page): cookies written and read with their attributes, the globals defined from Rust,
//! the submit listener reading only the allowed fields, the retry queue in `localStorage`, values
//! crossing the boundary through serde, and a gloo-net post to the real collector (its address in
//! `REFTRACK_COLLECTOR`, set by scripts/test.sh).
//!
//! The tests share one page and one module, as a site does: each sets up what it relies on.

use crate::core::config::{SourceKind, Value};
use crate::core::cookie::{find_domain, CookieJar};
use crate::core::retry::Pending;
use crate::core::signup::{self, Delivery, SignupInput, Status, Visit};
use crate::web::api as reftrack;
use crate::web::browser::cookies::DocumentJar;
use crate::web::browser::{clock, fetch as transport, page};
use crate::web::delivery::queue as storage;
use crate::web::globals;
use crate::web::values;
use js_sys::{Array, Date, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DAY_MS: f64 = 86_400_000.0;

fn window() -> JsValue {
    js_sys::global().into()
}

fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &name.into()).unwrap()
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    Reflect::set(target, &name.into(), value).unwrap();
}

fn call(target: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    let function: Function = get(target, method).dyn_into().unwrap();
    let args: Array = args.iter().collect();
    function.apply(target, &args).unwrap()
}

/// A plain object with `entries`.
fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = JsValue::from(Object::new());
    for (name, value) in entries {
        set(&object, name, value);
    }
    object
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
    // The options first: landing on the same click again later leaves its cookies as they are.
    let _ = reftrack::init(object(&[("cookieDays", 30.into())]));
    land_on("?ps_partner_key=YWxleC1zbWl0aA&ps_xid=clk_9f8e");
    let _ = reftrack::init(JsValue::UNDEFINED);

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
    // What this engine's cookieStore reports: Chromium gives every attribute, Firefox and WebKit
    // only name and value (tests/engines checks the attributes in all three through WebDriver).
    for name in ["growSumoPartnerKey", "ps_partner_key", "ps_xid"] {
        let cookie = stored_cookie(name).await;
        assert!(cookie.is_object(), "{name} is visible to cookieStore");
        let reported = |field: &str| Some(get(&cookie, field)).filter(|v| !v.is_undefined());
        if let Some(path) = reported("path") {
            assert_eq!(path, JsValue::from("/"), "{name} Path");
        }
        if let Some(same_site) = reported("sameSite") {
            assert_eq!(same_site, JsValue::from("lax"), "{name} SameSite");
        }
        if let Some(secure) = reported("secure") {
            assert_eq!(secure, JsValue::FALSE, "{name} not Secure on http");
        }
        if let Some(domain) = reported("domain") {
            assert!(domain.is_null(), "{name} host-only on an IP");
        }
        if let Some(expires) = reported("expires") {
            let expected = Date::now() + 30.0 * DAY_MS;
            assert!(
                (expires.as_f64().unwrap() - expected).abs() < 60_000.0,
                "{name} Max-Age of 30 days"
            );
        }
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
        let _ = reftrack::init(JsValue::UNDEFINED);
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
    let host = page::hostname();
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
    assert!(!storage::waiting(), "an empty queue: nothing waits");
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
    let text = call(&storage, "getItem", &["reftrack_queue".into()])
        .as_string()
        .unwrap();
    assert!(
        text.ends_with(&["\t2\t1700000004000\t", &pending.body].concat()),
        "{text}"
    );
    assert!(storage::waiting(), "a stored signup waits");
    let read = storage::with_queue(true, |queue| queue.0.clone());
    assert_eq!(read, [pending.clone()]);
    // Emptied, the queue leaves storage, which is how a page load tells nothing waits.
    storage::with_queue(true, |queue| queue.remove(&pending.event_id));
    assert!(call(&storage, "getItem", &["reftrack_queue".into()]).is_null());
    assert!(!storage::waiting(), "the emptied queue: nothing waits");
    storage::with_queue(true, |queue| queue.push(pending.clone()));
    storage::clear();
    assert!(call(&storage, "getItem", &["reftrack_queue".into()]).is_null());
    assert!(!storage::waiting(), "a cleared queue: nothing waits");
}

#[wasm_bindgen_test]
fn options_cross_as_own_properties_and_wrong_types_are_described() {
    // A page that polluted Object.prototype does not configure reftrack through it.
    let prototype = get(&window(), "Object");
    let prototype = get(&prototype, "prototype");
    set(&prototype, "endpoint", &"https://evil.example/steal".into());
    let function: JsValue = Function::new_no_args("").into();
    let options = object(&[
        ("cookieDays", 7.into()),
        ("debug", JsValue::TRUE),
        (
            "partnerParams",
            Array::of2(&"ref".into(), &"via".into()).into(),
        ),
        ("clickParams", Array::of2(&"x".into(), &1.into()).into()),
        ("consent", function),
        ("cookieDomain", JsValue::NULL),
    ]);
    let source = values::options(options, SourceKind::Call).unwrap();
    Reflect::delete_property(prototype.unchecked_ref::<Object>(), &"endpoint".into()).unwrap();
    let names: Vec<&str> = source.entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cookieDays",
            "debug",
            "partnerParams",
            "clickParams",
            "consent"
        ]
    );
    assert_eq!(source.entries[0].1, Value::Number(7.0));
    assert_eq!(source.entries[1].1, Value::Bool(true));
    assert_eq!(
        source.entries[2].1,
        Value::List(vec!["ref".into(), "via".into()])
    );
    assert_eq!(
        source.entries[3].1,
        Value::Other("an array with non-string items".into())
    );
    assert_eq!(source.entries[4].1, Value::Other("a function".into()));
    assert!(values::options("not an object".into(), SourceKind::Call).is_none());
    assert!(values::options(JsValue::UNDEFINED, SourceKind::Call)
        .unwrap()
        .entries
        .is_empty());
}

#[wasm_bindgen_test]
fn signup_inputs_are_read_with_a_reason_for_each_refusal() {
    let meta = object(&[("plan", "pro".into()), ("seats", 3.into())]);
    let input = values::signup_input(&object(&[
        ("customer_key", 42.into()),
        ("email", "jane@example.com".into()),
        ("meta", meta),
    ]))
    .unwrap();
    assert_eq!(
        input.customer_key.as_deref(),
        Some("42"),
        "JavaScript writes the number"
    );
    assert_eq!(input.email.as_deref(), Some("jane@example.com"));
    assert_eq!(input.meta.len(), 2);
    let refused = |value: JsValue| values::signup_input(&value).unwrap_err();
    assert_eq!(
        refused("jane".into()),
        "signup expects an object such as { customer_key, email }"
    );
    assert_eq!(
        refused(object(&[("email", JsValue::TRUE)])),
        "email must be a string"
    );
    assert_eq!(
        refused(object(&[("sub_ids", "a".into())])),
        "sub_ids must be an array of strings"
    );
    assert_eq!(
        refused(object(&[("meta", "x".into())])),
        "meta must be an object"
    );
    assert_eq!(
        refused(object(&[(
            "meta",
            object(&[("nested", Object::new().into())])
        )])),
        "meta values must be strings, numbers, booleans or null"
    );
    let partnero = object(&[(
        "data",
        object(&[
            ("key", "cus_9".into()),
            ("customer_hash", "ab12".into()),
            ("partner", object(&[("key", "jane".into())])),
        ]),
    )]);
    let input = values::partnero_input(&partnero).unwrap();
    assert_eq!(input.customer_key.as_deref(), Some("cus_9"));
    assert_eq!(input.partner_key.as_deref(), Some("jane"));
    // The site server's signature is passed on from every facade.
    assert_eq!(input.customer_hash.as_deref(), Some("ab12"));
    let signed = object(&[
        ("customer_key", "c".into()),
        ("customer_hash", "cd34".into()),
    ]);
    let hash = |input: Result<SignupInput, String>| input.unwrap().customer_hash;
    assert_eq!(hash(values::signup_input(&signed)).as_deref(), Some("cd34"));
    assert_eq!(
        hash(values::growsumo_input(&signed, None)).as_deref(),
        Some("cd34")
    );
}

#[wasm_bindgen_test]
fn the_globals_are_defined_from_rust_and_queued_calls_replayed() {
    clear_cookies();
    land_on("?ps_partner_key=YWxleC1zbWl0aA&ps_xid=clk_globals");
    let w = window();
    // reftrack's loader snippet queued a call: [method, arguments, resolve].
    let answers = Array::new();
    let resolve: Function = Function::new_with_args("v", "this.push(v)").bind0(&answers);
    let call_args: JsValue = Array::of1(&JsValue::UNDEFINED).into();
    let queued = Array::of3(&"partnerKey".into(), &call_args, &resolve);
    set(
        &w,
        "reftrack",
        &object(&[("q", Array::of1(&queued).into())]),
    );
    // Partnero's stub queued a call too.
    let po_args = Array::of3(&"settings".into(), &"x".into(), &"y".into());
    set(
        &w,
        "po",
        &object(&[("q", Array::of1(&object(&[("a", po_args.into())])).into())]),
    );
    globals::install(JsValue::UNDEFINED);

    let reftrack_global = get(&w, "reftrack");
    assert_eq!(
        get(&reftrack_global, "version"),
        JsValue::from(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        answers.to_vec(),
        [JsValue::from("alex-smith")],
        "the queued call was answered"
    );
    assert!(get(&w, "po").is_function());
    assert_eq!(Array::from(&get(&get(&w, "po"), "q")).length(), 0);
    let growsumo = get(&w, "growsumo");
    assert!(get(&growsumo, "_initialize").is_function());
    assert!(get(&growsumo, "createSignup").is_function());
    // growsumo.data is a plain object the page can write, filled by attribution.
    let data = get(&growsumo, "data");
    assert_eq!(get(&data, "partner_key"), JsValue::from("alex-smith"));
    assert_eq!(get(&data, "ps_xid"), JsValue::from("clk_globals"));
    assert!(get(&data, "email").is_null());
    assert_eq!(
        call(&reftrack_global, "clickId", &[]),
        JsValue::from("clk_globals")
    );
    clear_cookies();
}

#[wasm_bindgen_test]
fn the_submit_listener_reads_only_the_allowed_fields() {
    let storage = get(&window(), "localStorage");
    call(&storage, "removeItem", &["reftrack_queue".into()]);
    land_on("?ps_partner_key=YWxleC1zbWl0aA");
    // Signups wait in the queue, where the test can read them: consent is pending.
    reftrack::consent(JsValue::FALSE);
    let _ = reftrack::init(JsValue::UNDEFINED);
    reftrack::capture_forms(JsValue::UNDEFINED);
    let document = page::document();
    let form = document.create_element("form").unwrap();
    // Firefox submits a form on a synthetic `submit` event too; a dialog form goes nowhere, so the
    // test page is not navigated away (which would cancel the next test's requests).
    form.set_attribute("method", "dialog").unwrap();
    form.set_inner_html(
        r#"<input type="email" name="email" value=" jane@example.com ">
           <input name="name" value="Jane Doe">
           <input type="password" name="password" value="hunter2">
           <input name="name" type="password" value="also-secret">
           <input name="company" value="Secret Corp">"#,
    );
    document.body().unwrap().append_child(&form).unwrap();
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = web_sys::Event::new_with_event_init_dict("submit", &init).unwrap();
    form.dispatch_event(&event).unwrap();
    assert!(!event.default_prevented(), "the submit is never prevented");
    form.remove();
    // Consent pending: the signup waits in memory, so it is read back from there.
    let queued = storage::with_queue(false, |queue| queue.0.clone());
    assert_eq!(queued.len(), 1, "one signup captured");
    let body = &queued[0].body;
    assert!(body.contains(r#""email":"jane@example.com""#), "{body}");
    assert!(body.contains(r#""name":"Jane Doe""#), "{body}");
    assert!(body.contains(r#""partner_key":"alex-smith""#), "{body}");
    for secret in ["hunter2", "also-secret", "Secret Corp"] {
        assert!(
            !body.contains(secret),
            "{secret} never leaves the form: {body}"
        );
    }
    reftrack::consent(JsValue::TRUE);
    storage::clear();
}

#[wasm_bindgen_test]
async fn gloo_net_posts_a_signup_to_the_collector() {
    let Some(collector) = option_env!("REFTRACK_COLLECTOR") else {
        panic!("REFTRACK_COLLECTOR is not set: scripts/test.sh starts a collector and sets it");
    };
    let event_id = signup::uuid_v4(clock::random_bytes());
    let input = SignupInput {
        customer_key: Some(event_id.clone()),
        email: Some("browser-test@example.com".into()),
        ..SignupInput::default()
    };
    let visit = Visit {
        event_id: &event_id,
        public_key: Some("pk_browser_test"),
        partner_key: Some("alex-smith"),
        xid: None,
        origin: "127.0.0.1",
        page_url: "http://127.0.0.1/",
        referrer: None,
        user_agent: "wasm-bindgen-test",
        created_at: "2026-11-23T00:00:00.000Z",
    };
    let body = values::to_json(&signup::build(&input, &visit).unwrap()).unwrap();
    let url = format!("{collector}/v1/signups");
    let post = |url: String, body: String| async move {
        let reply = transport::start(&url, &body).await;
        (
            signup::classify(&reply.answer()),
            reply.answer().http_status,
        )
    };
    assert_eq!(
        post(url.clone(), body.clone()).await,
        (Delivery::Delivered(Status::Created), 201)
    );
    assert_eq!(
        post(url.clone(), body.clone()).await,
        (Delivery::Delivered(Status::Duplicate), 200)
    );
    let (refused, status) = post(url.clone(), "{}".into()).await;
    assert!(
        matches!(refused, Delivery::Refused(_)) && status == 400,
        "{refused:?}"
    );
    // A wrong route on the collector's origin answers 405 with the CORS headers, so the SDK can
    // read and name the status; the signup waits for the set-up to be fixed.
    let (missing, status) = post(format!("{collector}/wrong/v1/signups"), body.clone()).await;
    assert!(
        matches!(missing, Delivery::Retry { .. }) && status == 405,
        "{missing:?}"
    );
    let (unreachable, status) = post("http://127.0.0.1:9/v1/signups".into(), body).await;
    assert!(
        matches!(unreachable, Delivery::Retry { .. }) && status == 0,
        "{unreachable:?}"
    );
}

#[wasm_bindgen_test]
fn the_body_is_the_contracts_json_whatever_the_page_did_to_to_json() {
    let input = values::signup_input(&object(&[
        ("customer_key", "cus_tojson".into()),
        ("email", "jane@example.com".into()),
        ("sub_ids", Array::of2(&"a".into(), &"b".into()).into()),
        (
            "meta",
            object(&[
                ("plan", "pro".into()),
                ("seats", 2.5.into()),
                ("trial", JsValue::TRUE),
            ]),
        ),
    ]))
    .unwrap();
    let visit = Visit {
        event_id: "0b0e4a4e-5a43-4c1f-9a43-6a1c2a0f3c11",
        public_key: Some("pk_test"),
        partner_key: Some("alex-smith"),
        xid: None,
        origin: "www.acme.test",
        page_url: "http://www.acme.test/",
        referrer: None,
        user_agent: "wasm-bindgen-test",
        created_at: "2026-12-07T00:00:00.000Z",
    };
    let body = signup::build(&input, &visit).unwrap();
    let expected = serde_json::to_string(&body).unwrap();
    // What Prototype.js 1.6 and others do to the built-ins' prototypes.
    let polluted = ["Array", "Object", "Date", "String"].map(|class| {
        let prototype = get(&get(&window(), class), "prototype");
        let to_json = Function::new_no_args(&format!("return '{class}-TOJSON'"));
        set(&prototype, "toJSON", &to_json);
        prototype
    });
    let written = values::to_json(&body);
    for prototype in polluted {
        Reflect::delete_property(prototype.unchecked_ref::<Object>(), &"toJSON".into()).unwrap();
    }
    assert_eq!(written.as_deref(), Some(expected.as_str()));
}
