//! The retry queue's home: `localStorage` under `reftrack_queue`, or memory where storage is
//! unavailable (blocked, sandboxed, full) or not yet allowed (`consent: "pending"`).
//!
//! The queue is read from storage afresh for every change, so two tabs of one site work on the
//! same queue; an event both send is recognised by the endpoint through its `event_id`.

use crate::core::retry::RetryQueue;
use std::cell::RefCell;

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
    // A queue that no longer parses (edited by hand, older format) is dropped, not fatal.
    js_sys::JSON::parse(&text)
        .ok()
        .and_then(|value| serde_wasm_bindgen::from_value(value).ok())
        .unwrap_or_default()
}

fn save(storage: &web_sys::Storage, queue: &RetryQueue) -> bool {
    if queue.is_empty() {
        return storage.remove_item(KEY).is_ok();
    }
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let text = serde::Serialize::serialize(queue, &serializer)
        .ok()
        .and_then(|value| js_sys::JSON::stringify(&value).ok())
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
        let mut queue = load(&storage);
        for pending in std::mem::take(&mut memory.0) {
            queue.push(pending);
        }
        let result = change(&mut queue);
        if !save(&storage, &queue) {
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
