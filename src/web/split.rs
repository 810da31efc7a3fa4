//! The split build: a landing module (attribution, the globals) and a delivery module that the
//! loader brings when a call first needs it (`present` in `js/guard.js`). A call that needs the
//! delivery code waits here until it arrives, in order; in the builds of one module (the npm
//! package, `dist/reftrack-full.js`) the code is always present and every call runs at once:
//! without the `split` feature the waiting compiles away to direct calls.
//!
//! The calls that wait are the gates `scripts/split.mjs` finds: a signup, a flush, form capture,
//! a hand-made link's report and the retry queue's resumption. Nothing else may call into the
//! delivery code before it is present.
//!
//! A signup that waits loses nothing: it gets its event id at once, and is kept in `localStorage`
//! (`reftrack_waiting`, a copy of its input) until the delivery code has queued it. A navigation
//! before the delivery module arrived leaves it to the next page; a delivery module that cannot
//! load (offline) resolves its promise as `queued`, and it is tried again on `online` and by the
//! next call that needs it.

use super::{delivery, tracker, values};
use alloc::string::String;
use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};

/// The three ways in for a signup, by what they read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `reftrack.signup(input)`.
    Signup,
    /// `growsumo.createSignup(callback)`: `growsumo.data`.
    CreateSignup,
    /// `po('customers', 'signup', argument)`.
    Po,
}

/// The signup itself, with the delivery code present.
fn send(
    kind: Kind,
    input: &JsValue,
    callback: Option<Function>,
    event_id: Option<String>,
) -> Promise {
    let input = match kind {
        Kind::Signup => values::signup_input(input),
        Kind::CreateSignup => {
            let attributed = tracker::with(|t| {
                t.attribution()
                    .partner_key
                    .as_ref()
                    .map(|k| String::from(k.as_str()))
            });
            values::growsumo_input(input, attributed.as_deref())
        }
        Kind::Po => values::partnero_input(input),
    };
    delivery::signup(input, callback, event_id)
}

/// `flush()`: every signup in the retry queue tried now, whatever its backoff, once the delivery
/// code is present.
pub fn flush() -> Promise {
    if present() {
        return delivery::flush_later(true);
    }
    let flush = |_, _, _| delivery::flush_later(true).into();
    let undefined = || JsValue::UNDEFINED;
    promise(flush, undefined(), undefined(), undefined()).unchecked_into()
}

#[cfg(feature = "split")]
pub use waiting::{delivered, forget, present, promise, resume, retry, run, signup, undelivered};
#[cfg(not(feature = "split"))]
pub use whole::{forget, present, promise, resume, retry, run, signup};

/// A build of one module: the delivery code is always present, and every call runs at once.
#[cfg(not(feature = "split"))]
mod whole {
    use super::{send, Kind};
    use crate::web::guard::Body;
    use js_sys::{Function, Promise};
    use wasm_bindgen::JsValue;

    /// Whether the delivery code is present: always.
    #[inline(always)]
    pub fn present() -> bool {
        true
    }

    /// Runs `body` at once.
    #[inline(always)]
    pub fn run(body: Body) {
        body(JsValue::UNDEFINED, JsValue::UNDEFINED, JsValue::UNDEFINED);
    }

    /// `body(a, b, c)`, at once.
    #[inline(always)]
    pub fn promise(body: Body, a: JsValue, b: JsValue, c: JsValue) -> JsValue {
        body(a, b, c)
    }

    /// A signup, at once.
    #[inline(always)]
    pub fn signup(kind: Kind, input: JsValue, callback: Option<Function>) -> Promise {
        send(kind, &input, callback, None)
    }

    /// Nothing waits: nothing to resume.
    #[inline(always)]
    pub fn resume() {}

    /// Nothing waits: nothing to retry.
    #[inline(always)]
    pub fn retry() {}

    /// Nothing waits: nothing to forget.
    #[inline(always)]
    pub fn forget() {}
}

/// The split build: calls wait for the second module.
#[cfg(feature = "split")]
mod waiting {
    use super::{send, Kind};
    use crate::core::config::Consent;
    use crate::core::signup::{uuid_v4, Status};
    use crate::web::browser::{clock, storage};
    use crate::web::cell::Global;
    use crate::web::guard::{self, Body};
    use crate::web::tracker::{self, notes};
    use crate::web::values::{detached, set};
    use alloc::string::String;
    use alloc::vec::Vec;
    use js_sys::{Array, Function, Object, Promise, JSON};
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::{JsCast, JsValue};

    /// Where waiting signups are kept until the delivery code has queued them.
    const KEY: &str = "reftrack_waiting";

    /// A call waiting for the delivery code.
    enum Call {
        /// A function and its arguments, and how its promise resolves (if it has one).
        Run(Body, [JsValue; 3], Option<Function>),
        /// A signup, its event id, and how its promise resolves (taken once it resolved early).
        Signup {
            kind: Kind,
            input: JsValue,
            callback: Option<Function>,
            event_id: String,
            resolve: Option<Function>,
        },
    }

    #[derive(Default)]
    struct Waiting {
        calls: Vec<Call>,
        /// The signups an earlier page left in storage are among `calls`.
        resumed: bool,
    }

    static WAITING: Global<Waiting> = Global::empty();

    /// Whether the delivery code is present, without asking for it: for what has nothing to do
    /// without it (the page going away with no request in flight).
    pub fn present() -> bool {
        guard::present(false)
    }

    /// A promise, and the function that resolves it.
    fn deferred() -> (Promise, Option<Function>) {
        let mut resolve = None;
        let promise = Promise::new(&mut |r, _| resolve = Some(r));
        (promise, resolve)
    }

    fn wait(call: Call) {
        WAITING.with(|w| w.calls.push(call));
        // Asked after the call is in line: the module may be there before this returns.
        guard::present(true);
    }

    /// Runs `body` once the delivery code is present: now, or when it arrives (asked for here).
    pub fn run(body: Body) {
        if guard::present(true) {
            body(JsValue::UNDEFINED, JsValue::UNDEFINED, JsValue::UNDEFINED);
        } else {
            wait(Call::Run(body, Default::default(), None));
        }
    }

    /// `body(a, b, c)`, a promise, once the delivery code is present: now, or a promise that
    /// follows it from when the code arrives.
    pub fn promise(body: Body, a: JsValue, b: JsValue, c: JsValue) -> JsValue {
        if present() {
            return body(a, b, c);
        }
        let (promise, resolve) = deferred();
        wait(Call::Run(body, [a, b, c], resolve));
        promise.into()
    }

    /// A signup: at once if the delivery code is present; else given its event id, kept in
    /// storage, and sent once the code arrives.
    pub fn signup(kind: Kind, input: JsValue, callback: Option<Function>) -> Promise {
        if present() {
            return send(kind, &input, callback, None);
        }
        let event_id = uuid_v4(clock::random_bytes());
        // Not in storage while consent is pending: then it waits in memory, as the retry queue.
        if tracker::with(|t| t.config().consent == Consent::Granted) {
            keep(kind, &event_id, &input);
        }
        let (promise, resolve) = deferred();
        wait(Call::Signup {
            kind,
            input,
            callback,
            event_id,
            resolve,
        });
        promise
    }

    /// The signups kept in storage: `[[kind, event_id, input], …]`.
    fn kept() -> Array {
        storage::load(KEY)
            .and_then(|text| JSON::parse(&text).ok())
            .filter(Array::is_array)
            .map_or_else(Array::new, JsCast::unchecked_into)
    }

    /// Adds a signup to those kept in storage (a copy of its input, so the page changing it
    /// later, or a `toJSON` on its prototypes, changes nothing).
    fn keep(kind: Kind, event_id: &str, input: &JsValue) {
        let list = kept();
        let record = Array::of3(
            &JsValue::from(kind as u8),
            &JsValue::from(event_id),
            &detached(input),
        );
        list.push(&record);
        let list = detached(&list);
        if let Ok(text) = JSON::stringify(&list) {
            storage::store(KEY, Some(&String::from(text)));
        }
    }

    /// On start: the signups an earlier page left waiting (a navigation before its delivery
    /// module arrived) wait again here, and the delivery module is asked for.
    pub fn resume() {
        if WAITING.with(|w| core::mem::replace(&mut w.resumed, true))
            || storage::load(KEY).is_none()
        {
            return;
        }
        let kinds = [Kind::Signup, Kind::CreateSignup, Kind::Po];
        for record in kept().iter() {
            let record: Array = record.unchecked_into();
            let kind = record
                .get(0)
                .as_f64()
                .and_then(|k| kinds.get(k as usize).copied());
            let (Some(kind), Some(event_id)) = (kind, record.get(1).as_string()) else {
                continue;
            };
            wait(Call::Signup {
                kind,
                input: record.get(2),
                callback: None,
                event_id,
                resolve: None,
            });
        }
    }

    /// Asks for the delivery module again (the page is back online) if anything waits for it: a
    /// call, or a warning or debug line.
    pub fn retry() {
        if WAITING.with(|w| !w.calls.is_empty()) || tracker::with(|t| t.notes_waiting()) {
            guard::present(true);
        }
    }

    /// `consent(false)`: the kept signups leave storage (they still wait in memory, those of an
    /// earlier page too: read first if the start has not read them yet).
    pub fn forget() {
        resume();
        storage::store(KEY, None);
    }

    /// The loader's call once the delivery module is instantiated: the debug notes that waited
    /// are said, what waited runs, in order, and the kept signups, now in the retry queue, leave
    /// storage.
    #[wasm_bindgen(js_name = __delivered)]
    pub fn delivered() {
        for (note, a, b) in tracker::with(|t| t.take_notes()) {
            notes::say(&note, &a, &b);
        }
        // The signups an earlier page left, if the start has not read them yet (it reads them
        // in a task of its own): they leave storage below, so they are read first.
        resume();
        let calls = WAITING.with(|w| core::mem::take(&mut w.calls));
        for call in calls {
            match call {
                Call::Run(body, [a, b, c], resolve) => {
                    let result = body(a, b, c);
                    if let Some(resolve) = resolve {
                        let _ = resolve.call1(&JsValue::UNDEFINED, &result);
                    }
                }
                Call::Signup {
                    kind,
                    input,
                    callback,
                    event_id,
                    resolve,
                } => {
                    let result = send(kind, &input, callback, Some(event_id));
                    if let Some(resolve) = resolve {
                        let _ = resolve.call1(&JsValue::UNDEFINED, &result);
                    }
                }
            }
        }
        storage::store(KEY, None);
    }

    /// The loader's call when the delivery module did not load (`reason`): each waiting signup's
    /// promise resolves as `queued` (its callback is called with that), and it keeps waiting.
    #[wasm_bindgen(js_name = __undelivered)]
    pub fn undelivered(reason: String) {
        // One signup at a time, taken out of the list, so the page's callbacks run with nothing
        // borrowed; only those waiting now (a callback that signs up again adds one that waits).
        let waiting = WAITING.with(|w| {
            w.calls
                .iter()
                .filter(|call| {
                    matches!(
                        call,
                        Call::Signup {
                            resolve: Some(_),
                            ..
                        }
                    )
                })
                .count()
        });
        for _ in 0..waiting {
            let next = WAITING.with(|w| {
                w.calls.iter_mut().find_map(|call| match call {
                    Call::Signup {
                        event_id,
                        resolve,
                        callback,
                        ..
                    } => Some((resolve.take()?, callback.take(), event_id.clone())),
                    Call::Run(..) => None,
                })
            });
            let Some((resolve, callback, event_id)) = next else {
                break;
            };
            let result = Object::new();
            set(&result, "ok", &JsValue::TRUE);
            set(&result, "status", &JsValue::from(Status::Queued.as_str()));
            set(&result, "event_id", &JsValue::from(event_id.as_str()));
            set(&result, "error", &JsValue::from(reason.as_str()));
            if let Some(callback) = callback {
                let _ = callback.call1(&JsValue::UNDEFINED, &result);
            }
            let _ = resolve.call1(&JsValue::UNDEFINED, &result);
        }
    }
}
