//! The compatibility globals, defined from Rust: `window.growsumo` (PartnerStackJS), `window.po`
//! (Partnero Universal) and `window.reftrack` (the native API), each a thin translation onto
//! [`super::entry`]. The calls that PartnerStack's snippet, Partnero's stub and reftrack's loader
//! snippet queued before the script arrived are replayed in order.
//!
//! PartnerStack's snippet loads the script asynchronously and, from its `onload`, calls
//! `growsumo._initialize(publicKey)` and then the page's `growsumoInit()`. A page with a plain
//! `<script async>` tag relies on the script calling `growsumoInit` itself. Either way the page's
//! function runs exactly once, after `growsumo.data` is filled: the script's `load` event fires
//! right after the script ran, in the same task, so a zero-delay timer set now fires after the
//! snippet's `onload`. If `_initialize` came first, its once-only wrapper is in place; otherwise
//! the timer starts the tracker and calls `growsumoInit` itself (or on `load`, if the page defines
//! it later).

use super::cell::Global;
use super::{delivery, entry, guard, page, values};
use crate::core::text::cat;
use alloc::string::String;
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlScriptElement;

/// `target[name]`, or `undefined` (a missing property, a throwing getter, a target that is not an
/// object).
fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or_default()
}

/// `target[name] = value`; a page's own setter that refuses is its business.
fn set(target: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

/// `target[name]` if it is an object, else a new object put there.
fn object_at(target: &JsValue, name: &str) -> JsValue {
    let value = get(target, name);
    if value.is_object() {
        return value;
    }
    let object = JsValue::from(Object::new());
    set(target, name, &object);
    object
}

/// The fields of `growsumo.data`: reftrack's attribution, and the page's for the next signup.
const DATA_FIELDS: [&str; 7] = [
    "name",
    "email",
    "customer_key",
    "customer_hash",
    "partner_key",
    "ps_partner_key",
    "ps_xid",
];

/// Defines the globals and replays the queued calls; `script` is the `<script>` element that
/// loaded the script-tag build, if any.
pub fn install(script: JsValue) {
    let window = JsValue::from(page::window());
    let script = script.dyn_into::<HtmlScriptElement>().ok();
    let src = script.as_ref().and_then(|s| s.get_attribute("src"));
    let dataset = script
        .as_ref()
        .map_or(JsValue::UNDEFINED, |s| s.dataset().into());
    super::tracker::with(|t| t.adopt_script(src, dataset));
    let loader = get(&window, "reftrack");

    let growsumo = object_at(&window, "growsumo");
    let data = object_at(&growsumo, "data");
    for field in DATA_FIELDS {
        if get(&data, field).is_undefined() {
            set(&data, field, &JsValue::NULL);
        }
    }
    // What is known already (an `init()` of the npm package on the same page, say).
    entry::sync();
    let initialize = guard::function("_initialize", |public_key, options, _| {
        entry::initialize(public_key, options);
        wrap_page_init();
        JsValue::UNDEFINED
    });
    set(&growsumo, "_initialize", &initialize);
    let this = growsumo.clone();
    let create_signup = guard::function("createSignup", move |callback, _, _| {
        let attributed = entry::partner_key();
        let input = values::growsumo_input(&get(&this, "data"), attributed.as_deref());
        delivery::signup(input, callback.dyn_into().ok()).into()
    });
    set(&growsumo, "createSignup", &create_signup);
    // PartnerStack's current snippet and docs name the same object `partnerstack`.
    set(&window, "partnerstack", &growsumo);

    let name = get(&window, "__partnerObject")
        .as_string()
        .unwrap_or_else(|| "po".into());
    let queued = get(&get(&window, &name), "q");
    let po = guard::function("po", partnero);
    set(&window, &name, &po);
    set(&po, "q", &Array::new());
    // Each record of Partnero's stub is { a: arguments, q: [] }.
    for record in queue(queued) {
        let _ = Reflect::apply(&po, &window, &arguments(get(&record, "a")));
    }

    let start = guard::function("start", |_, _, _| {
        entry::start();
        if !run_page_init() {
            let on_load = guard::function("growsumoInit", |_, _, _| {
                run_page_init();
                JsValue::UNDEFINED
            });
            let _ = page::window().add_event_listener_with_callback("load", &on_load);
        }
        JsValue::UNDEFINED
    });
    let _ = page::window().set_timeout_with_callback(&start);

    let reftrack = JsValue::from(native_api());
    set(&window, "reftrack", &reftrack);
    replay(&reftrack, get(&loader, "q"));
    replay(&growsumo, get(&growsumo, "q"));
}

/// `window.reftrack`: the native API (contract §4a) and the version.
fn native_api() -> Object {
    let api = Object::new();
    set(
        &api,
        "version",
        &JsValue::from_str(env!("CARGO_PKG_VERSION")),
    );
    let text = |value: Option<String>| value.map_or(JsValue::NULL, JsValue::from);
    let functions: [(&str, Function); 7] = [
        (
            "init",
            guard::function("init", |options, _, _| entry::init(options).into()),
        ),
        (
            "partnerKey",
            guard::function("partnerKey", move |_, _, _| text(entry::partner_key())),
        ),
        (
            "clickId",
            guard::function("clickId", move |_, _, _| text(entry::click_id())),
        ),
        (
            "signup",
            guard::function("signup", |input, _, _| entry::signup(input).into()),
        ),
        (
            "flush",
            guard::function("flush", |_, _, _| entry::flush().into()),
        ),
        (
            "captureForms",
            guard::function("captureForms", |selector, _, _| {
                entry::capture_forms(selector);
                JsValue::UNDEFINED
            }),
        ),
        (
            "consent",
            guard::function("consent", |granted, _, _| {
                entry::consent(granted);
                JsValue::UNDEFINED
            }),
        ),
    ];
    for (name, function) in functions {
        set(&api, name, &function);
    }
    #[cfg(feature = "fault-injection")]
    set(
        &api,
        "__fault",
        &guard::function("__fault", |_, _, _| {
            entry::fault();
            JsValue::UNDEFINED
        }),
    );
    api
}

/// The items of a stub's queue, if it is an array.
fn queue(value: JsValue) -> impl Iterator<Item = JsValue> {
    value
        .dyn_into::<Array>()
        .ok()
        .into_iter()
        .flat_map(|array| array.to_vec())
}

/// An `arguments` object (or any array-like) as an array.
fn arguments(value: JsValue) -> Array {
    if value.is_object() {
        Array::from(&value)
    } else {
        Array::new()
    }
}

/// Replays the calls reftrack's loader snippet queued on `target`: `[method, arguments, resolve]`,
/// each answered through its `resolve`.
fn replay(target: &JsValue, queued: JsValue) {
    for call in queue(queued) {
        let method = get(&call, "0").as_string().unwrap_or_default();
        let Ok(function) = get(target, &method).dyn_into::<Function>() else {
            continue;
        };
        let result =
            Reflect::apply(&function, target, &arguments(get(&call, "1"))).unwrap_or_default();
        if let Ok(resolve) = get(&call, "2").dyn_into::<Function>() {
            let _ = resolve.call1(&JsValue::UNDEFINED, &result);
        }
    }
}

/// Copies the attribution into `growsumo.data`, where there is one.
pub fn sync(partner_key: Option<String>, click_id: Option<String>) {
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

/// One `po(command, …)` call of Partnero Universal.
fn partnero(command: JsValue, what: JsValue, argument: JsValue) -> JsValue {
    let command = command.as_string().unwrap_or_default();
    let what = what.as_string().unwrap_or_default();
    match (command.as_str(), what.as_str()) {
        // Accepted; none of Partnero's settings apply here.
        ("settings", _) => {}
        ("program", id) if !id.is_empty() && argument.as_string().as_deref() == Some("load") => {
            entry::partnero_program(id)
        }
        ("customers", "signup") => {
            return delivery::signup(values::partnero_input(&argument), None).into()
        }
        ("integration", "universal") => entry::capture_forms(JsValue::UNDEFINED),
        _ => entry::unsupported(&cat(&["po('", &command, "', '", &what, "')"])),
    }
    JsValue::UNDEFINED
}

/// The page's `growsumoInit`, run at most once.
#[derive(Default)]
struct PageInit {
    ran: bool,
    /// The page's function, once the once-only wrapper replaced it.
    page: Option<Function>,
    /// The once-only wrapper, made once.
    wrapper: Option<Function>,
}

static PAGE_INIT: Global<PageInit> = Global::empty();

/// The page's own `growsumoInit`, if it defined one (not our wrapper).
fn page_function() -> Option<Function> {
    let f = get(&page::window(), "growsumoInit")
        .dyn_into::<Function>()
        .ok()?;
    let wrapper = PAGE_INIT.with(|p| p.wrapper.clone());
    match wrapper {
        Some(wrapper) if Object::is(&wrapper, &f) => None,
        _ => Some(f),
    }
}

/// Puts a once-only wrapper in place of the page's `growsumoInit` (`_initialize`), so that the
/// snippet's own call and the plain-tag timer cannot both run it.
fn wrap_page_init() {
    let Some(f) = page_function() else { return };
    let wrapper = PAGE_INIT.with(|p| {
        p.page = Some(f);
        p.wrapper
            .get_or_insert_with(|| {
                guard::function("growsumoInit", |_, _, _| {
                    run_page_init();
                    JsValue::UNDEFINED
                })
            })
            .clone()
    });
    set(&page::window(), "growsumoInit", &wrapper);
}

/// Runs the page's `growsumoInit` unless it ran already; its errors are reported, never passed
/// on. True once it has run.
fn run_page_init() -> bool {
    let (ran, held) = PAGE_INIT.with(|p| (p.ran, p.page.take()));
    if ran {
        return true;
    }
    let Some(f) = held.or_else(page_function) else {
        return false;
    };
    PAGE_INIT.with(|p| p.ran = true);
    if let Err(error) = f.call0(&page::window()) {
        page::report("growsumoInit", &error);
    }
    true
}
