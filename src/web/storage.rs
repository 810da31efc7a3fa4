//! The retry queue's home: `localStorage` under `reftrack_queue`, or memory where storage is
//! unavailable (blocked, sandboxed, full) or not yet allowed (`consent: "pending"`).
//!
//! The queue is read from storage afresh for every change, so two tabs of one site work on the
//! same queue; an event both send is recognised by the endpoint through its `event_id`.

use crate::core::retry::{Pending, RetryQueue};
use js_sys::{Array, Object, Reflect};
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};

const KEY: &str = "reftrack_queue";

thread_local! {
    /// The queue while storage cannot be used.
    static MEMORY: RefCell<RetryQueue> = RefCell::new(RetryQueue::default());
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn load(storage: &web_sys::Storage) -> RetryQueue {
    let Some(text) = storage.get_item(KEY).ok().flatten() else {
        return RetryQueue::default();
    };
    // Entries that no longer parse (edited by hand, an older format) are dropped, not fatal.
    let entries = js_sys::JSON::parse(&text)
        .ok()
        .and_then(|v| v.dyn_into::<Array>().ok());
    RetryQueue(entries.map_or_else(Vec::new, |a| a.iter().filter_map(|e| from_js(&e)).collect()))
}

// The queue is (de)serialized by hand: serde's deserializer would bring float formatting for its
// error messages, a large share of the module, for a record of six fields.
fn from_js(entry: &JsValue) -> Option<Pending> {
    let text = |name: &str| Reflect::get(entry, &name.into()).ok()?.as_string();
    let number = |name: &str| {
        let n = Reflect::get(entry, &name.into()).ok()?.as_f64()?;
        (n.is_finite() && n >= 0.0).then_some(n as u64)
    };
    Some(Pending {
        event_id: text("event_id")?,
        endpoint: text("endpoint")?,
        body: text("body")?,
        created_at: number("created_at")?,
        attempts: number("attempts")?.min(u64::from(u32::MAX)) as u32,
        next_at: number("next_at")?,
    })
}

fn to_js(pending: &Pending) -> JsValue {
    let entry = Object::new();
    let fields: [(&str, JsValue); 6] = [
        ("event_id", pending.event_id.as_str().into()),
        ("endpoint", pending.endpoint.as_str().into()),
        ("body", pending.body.as_str().into()),
        ("created_at", (pending.created_at as f64).into()),
        ("attempts", pending.attempts.into()),
        ("next_at", (pending.next_at as f64).into()),
    ];
    for (name, value) in fields {
        let _ = Reflect::set(&entry, &name.into(), &value);
    }
    entry.into()
}

fn save(storage: &web_sys::Storage, queue: &RetryQueue) -> bool {
    if queue.is_empty() {
        return storage.remove_item(KEY).is_ok();
    }
    let entries: Array = queue.0.iter().map(to_js).collect();
    let text = js_sys::JSON::stringify(&entries)
        .ok()
        .and_then(|text| text.as_string());
    text.is_some_and(|text| storage.set_item(KEY, &text).is_ok())
}

/// Applies `change` to the queue. With `persist` false (consent pending) only memory is used.
/// Whatever memory holds moves to storage as soon as storage can be used.
pub fn with_queue<R>(persist: bool, change: impl FnOnce(&mut RetryQueue) -> R) -> R {
    let storage = local_storage().filter(|_| persist);
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let Some(storage) = storage else {
            return change(&mut memory);
        };
        let stored = load(&storage);
        let mut queue = stored.clone();
        for pending in std::mem::take(&mut memory.0) {
            queue.push(pending);
        }
        let result = change(&mut queue);
        // Most page loads find the queue empty and leave it so: no write then.
        if queue != stored && !save(&storage, &queue) {
            *memory = queue;
        }
        result
    })
}

/// Deletes the stored queue and empties memory (`consent(false)`).
pub fn clear() {
    MEMORY.with(|memory| memory.borrow_mut().0.clear());
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(KEY);
    }
}
