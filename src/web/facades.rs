//! The compatibility globals, as thin translations onto the tracker and delivery:
//! `window.growsumo` (PartnerStackJS) and `window.po` (Partnero Universal). `window.reftrack` is the
//! native API itself (`entry`), hung on `window` by the loader.
//!
//! PartnerStack's snippet loads the script asynchronously and, from its `onload`, calls
//! `growsumo._initialize(publicKey)` and then the page's `growsumoInit()`. A page that uses a plain
//! `<script async>` tag instead relies on the script calling `growsumoInit` itself. Both must run
//! the page's function exactly once, after `growsumo.data` is filled. The script's `load` event
//! fires right after the script ran, in the same task, so a zero-delay timer set while the script
//! runs fires after the snippet's `onload`: if `_initialize` came first, the snippet path is
//! taken; otherwise the timer starts the tracker and calls `growsumoInit` itself.

use super::{delivery, entry, forms, guard, promise, tracker};
use crate::core::signup::SignupInput;
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The page's `growsumoInit`, run at most once.
#[derive(Default)]
struct PageInit {
    ran: bool,
    /// The page's own function, once we have put our once-only wrapper in its place.
    original: Option<Function>,
    wrapper: Option<Function>,
}

thread_local! {
    static PAGE_INIT: RefCell<PageInit> = RefCell::new(PageInit::default());
}

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// `target[name]` if it is an object; otherwise a new object stored there.
fn object_at(target: &JsValue, name: &str) -> Object {
    let key = JsValue::from_str(name);
    match Reflect::get(target, &key)
        .ok()
        .and_then(|v| v.dyn_into::<Object>().ok())
    {
        Some(object) => object,
        None => {
            let object = Object::new();
            let _ = Reflect::set(target, &key, &object);
            object
        }
    }
}

/// Defines `window.growsumo` (keeping fields a page set earlier) and arms the plain-tag start.
pub fn install() {
    let Some(window) = window() else { return };
    let growsumo = object_at(&window, "growsumo");
    let data = object_at(&growsumo, "data");
    for field in [
        "name",
        "email",
        "customer_key",
        "partner_key",
        "ps_partner_key",
        "ps_xid",
    ] {
        if Reflect::get(&data, &field.into()).map_or(true, |v| v.is_undefined()) {
            let _ = Reflect::set(&data, &field.into(), &JsValue::NULL);
        }
    }
    let initialize = Closure::<dyn Fn(JsValue, JsValue)>::new(initialize).into_js_value();
    let _ = Reflect::set(&growsumo, &"_initialize".into(), &initialize);
    let create_signup = Closure::<dyn Fn(JsValue) -> Promise>::new(create_signup).into_js_value();
    let _ = Reflect::set(&growsumo, &"createSignup".into(), &create_signup);
    let autostart = guard::guarded(Closure::once_into_js(autostart));
    let _ = window.set_timeout_with_callback(autostart.unchecked_ref());
}

/// Defines `window.po` (Partnero Universal's global, or the name in `window.__partnerObject`) and
/// replays the calls its stub queued, in order.
pub fn install_po() {
    let Some(window) = window() else { return };
    let name = Reflect::get(&window, &"__partnerObject".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "po".into());
    let stub = Reflect::get(&window, &name.as_str().into()).unwrap_or(JsValue::UNDEFINED);
    let queued = Reflect::get(&stub, &"q".into())
        .ok()
        .and_then(|q| q.dyn_into::<js_sys::Array>().ok());
    let global = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> JsValue>::new(po).into_js_value();
    let _ = Reflect::set(&global, &"q".into(), &js_sys::Array::new());
    let _ = Reflect::set(&window, &name.as_str().into(), &global);
    // Each stub record is `{ a: arguments, q: [] }`.
    for record in queued.iter().flat_map(|q| q.iter()) {
        let Ok(arguments) = Reflect::get(&record, &"a".into()) else {
            continue;
        };
        let arg = |i: u32| Reflect::get_u32(&arguments, i).unwrap_or(JsValue::UNDEFINED);
        po(arg(0), arg(1), arg(2));
    }
}

/// One `po(command, …)` call.
fn po(command: JsValue, first: JsValue, second: JsValue) -> JsValue {
    let command = command.as_string().unwrap_or_default();
    let first_text = first.as_string().unwrap_or_default();
    match (command.as_str(), first_text.as_str()) {
        ("settings", _) => JsValue::UNDEFINED, // accepted; none of Partnero's settings apply here
        ("program", program)
            if !program.is_empty() && second.as_string().as_deref() == Some("load") =>
        {
            tracker::with(|t| {
                t.debug(|| ["Partnero mode: program ", program].concat());
                t.partnero(program.to_owned());
            });
            entry::started();
            JsValue::UNDEFINED
        }
        ("customers", "signup") => {
            let data = Reflect::get(&second, &"data".into()).unwrap_or(JsValue::UNDEFINED);
            let field =
                |name: &str| Reflect::get(&data, &name.into()).unwrap_or(JsValue::UNDEFINED);
            let input = delivery::input_from_fields(&|name| {
                field(if name == "customer_key" { "key" } else { name })
            })
            .and_then(|mut input: SignupInput| {
                let partner =
                    Reflect::get(&field("partner"), &"key".into()).unwrap_or(JsValue::UNDEFINED);
                if !partner.is_undefined() && !partner.is_null() {
                    input.partner_key =
                        Some(partner.as_string().ok_or("partner.key must be a string")?);
                }
                Ok(input)
            });
            delivery::send(input).into()
        }
        ("integration", "universal") => {
            entry::ensure_started();
            forms::capture(None);
            JsValue::UNDEFINED
        }
        _ => {
            tracker::with(|t| {
                t.warn_once(
                    [
                        "po('",
                        &command,
                        "', '",
                        &first_text,
                        "') is not supported; ignored",
                    ]
                    .concat(),
                )
            });
            JsValue::UNDEFINED
        }
    }
}

/// `growsumo._initialize(publicKey, options?)`.
fn initialize(public_key: JsValue, options: JsValue) {
    tracker::with(|t| t.start("growsumo._initialize", &options, public_key.as_string()));
    entry::started();
    wrap_page_init();
}

/// `growsumo.createSignup(callback?)`: a signup from `growsumo.data`. The callback is called once
/// with the result, after the endpoint answered or the signup was queued.
fn create_signup(callback: JsValue) -> Promise {
    let data = window()
        .and_then(|w| Reflect::get(&w, &"growsumo".into()).ok())
        .and_then(|g| Reflect::get(&g, &"data".into()).ok())
        .unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| Reflect::get(&data, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let sent = delivery::send(delivery::input_from_fields(&field));
    let Some(callback) = callback.dyn_into::<Function>().ok() else {
        return sent;
    };
    let call_back = Closure::once_into_js(move |result: JsValue| -> JsValue {
        if let Err(error) = callback.call1(&JsValue::UNDEFINED, &result) {
            web_sys::console::error_2(
                &"[reftrack] the createSignup callback threw:".into(),
                &error,
            );
        }
        result
    });
    promise::then(&sent, &guard::guarded(call_back), &JsValue::UNDEFINED)
}

/// Plain-tag path: start if nobody did, then run the page's `growsumoInit` — now, or when the
/// page has finished loading if it is not defined yet.
fn autostart() {
    entry::ensure_started();
    if page_init_pending() {
        run_page_init_once();
        if page_init_pending() {
            let later = guard::guarded(Closure::once_into_js(run_page_init_once));
            if let Some(window) = window() {
                let _ = window.add_event_listener_with_callback("load", later.unchecked_ref());
            }
        }
    }
}

/// Copies the tracker's attribution into `growsumo.data`.
pub fn sync_data() {
    let Some(window) = window() else { return };
    let Some(data) = Reflect::get(&window, &"growsumo".into())
        .and_then(|g| Reflect::get(&g, &"data".into()))
        .ok()
        .filter(|d| d.is_object())
    else {
        return;
    };
    let (key, click) = tracker::with(|t| {
        let a = t.attribution();
        (
            a.partner_key
                .as_ref()
                .map(|k| JsValue::from_str(k.as_str())),
            a.click_id.as_ref().map(|c| JsValue::from_str(c.as_str())),
        )
    });
    let key = key.unwrap_or(JsValue::NULL);
    let _ = Reflect::set(&data, &"partner_key".into(), &key);
    let _ = Reflect::set(&data, &"ps_partner_key".into(), &key);
    let _ = Reflect::set(&data, &"ps_xid".into(), &click.unwrap_or(JsValue::NULL));
}

fn page_init_pending() -> bool {
    PAGE_INIT.with(|p| !p.borrow().ran)
}

/// The page's `growsumoInit`, unless it is our own wrapper.
fn page_function() -> Option<Function> {
    let current = Reflect::get(&window()?.into(), &"growsumoInit".into()).ok()?;
    let function = current.dyn_into::<Function>().ok()?;
    let ours = PAGE_INIT.with(|p| p.borrow().wrapper.as_ref() == Some(&function));
    (!ours).then_some(function)
}

/// Puts a once-only wrapper in place of the page's `growsumoInit`, so the snippet's own call and
/// our timer cannot both run it.
fn wrap_page_init() {
    let Some(original) = page_function() else {
        return;
    };
    let once = Closure::<dyn Fn()>::new(run_page_init_once).into_js_value();
    let wrapper: Function = guard::guarded_with(once, original.clone().into()).unchecked_into();
    if let Some(window) = window() {
        let _ = Reflect::set(&window, &"growsumoInit".into(), &wrapper);
    }
    PAGE_INIT.with(|p| {
        let mut p = p.borrow_mut();
        p.original = Some(original);
        p.wrapper = Some(wrapper);
    });
}

fn run_page_init_once() {
    if !page_init_pending() {
        return;
    }
    let saved = PAGE_INIT.with(|p| p.borrow_mut().original.take());
    let Some(function) = saved.or_else(page_function) else {
        return;
    };
    PAGE_INIT.with(|p| p.borrow_mut().ran = true);
    if let Err(error) = function.call0(&JsValue::UNDEFINED) {
        // The page's own error: report it, but never let it escape through reftrack.
        web_sys::console::error_2(&"[reftrack] growsumoInit threw:".into(), &error);
    }
}
