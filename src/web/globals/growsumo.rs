//! `window.growsumo` (and `window.partnerstack`, the same object), as PartnerStackJS defines it:
//! `data`, `_initialize(publicKey, options)` and `createSignup(callback)`, and the page's
//! `growsumoInit`, run exactly once.
//!
//! PartnerStack's snippet loads the script asynchronously and, from its `onload`, calls
//! `growsumo._initialize(publicKey)` and then the page's `growsumoInit()`. A page with a plain
//! `<script async>` tag relies on the script calling `growsumoInit` itself. Either way the page's
//! function runs exactly once, after `growsumo.data` is filled: the script's `load` event fires
//! right after the script ran, in the same task, so a zero-delay timer set now fires after the
//! snippet's `onload`. If `_initialize` came first, its once-only wrapper is in place; otherwise
//! the timer starts the tracker and calls `growsumoInit` itself (or on `load`, if the page defines
//! it later).

use super::object_at;
use crate::web::browser::{console, events, page};
use crate::web::cell::Global;
use crate::web::tracker::data;
use crate::web::values::{get, set};
use crate::web::{guard, lifecycle, split};
use js_sys::{Function, Object};
use wasm_bindgen::{JsCast, JsValue};

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

/// The `window.growsumo` object reftrack defined, whose `data` `createSignup` reads.
static GROWSUMO: Global<JsValue> = Global::empty();

/// Defines `window.growsumo` (keeping what the snippet put there) and returns it.
pub fn install(window: &JsValue) -> JsValue {
    let growsumo = object_at(window, "growsumo");
    let data = object_at(&growsumo, "data");
    for field in DATA_FIELDS {
        if get(&data, field).is_undefined() {
            set(&data, field, &JsValue::NULL);
        }
    }
    // What is known already (an `init()` of the npm package on the same page, say).
    data::sync();
    let initialize = guard::function("_initialize", |public_key, options, _| {
        lifecycle::start_with("growsumo._initialize", options, Some(&public_key));
        wrap_page_init();
        JsValue::UNDEFINED
    });
    set(&growsumo, "_initialize", &initialize);
    GROWSUMO.with(|g| *g = growsumo.clone());
    let create_signup = guard::function("createSignup", |callback, _, _| {
        lifecycle::start();
        let data = GROWSUMO.with(|g| get(g, "data"));
        split::signup(split::Kind::CreateSignup, data, callback.dyn_into().ok()).into()
    });
    set(&growsumo, "createSignup", &create_signup);
    // PartnerStack's current snippet and docs name the same object `partnerstack`.
    set(window, "partnerstack", &growsumo);

    let start = guard::function("start", |_, _, _| {
        lifecycle::start();
        if !run_page_init() {
            let on_load = guard::function("growsumoInit", |_, _, _| {
                run_page_init();
                JsValue::UNDEFINED
            });
            events::on_window("load", &on_load);
        }
        JsValue::UNDEFINED
    });
    events::timeout(&start, 0);

    growsumo
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
        console::report("growsumoInit", &error);
    }
    true
}
