//! The retry queue's home: `localStorage` under `reftrack_queue`, or memory where storage is
//! unavailable (blocked, sandboxed, full) or not yet allowed (`consent: "pending"`).
//!
//! The queue is read from storage afresh for every change, so two tabs of one site work on the
//! same queue; an event both send is recognised by the endpoint through its `event_id`.

use super::cell::Global;
use super::host;
use crate::core::retry::RetryQueue;

const KEY: &str = "reftrack_queue";

/// The queue while storage cannot be used.
static MEMORY: Global<RetryQueue> = Global::empty();

/// Applies `change` to the queue. With `persist` false (consent pending) only memory is used.
/// Whatever memory holds moves to storage as soon as storage can be used.
pub fn with_queue<R>(persist: bool, change: impl FnOnce(&mut RetryQueue) -> R) -> R {
    MEMORY.with(|memory| {
        if !persist {
            return change(memory);
        }
        let stored =
            host::load(KEY).map_or_else(RetryQueue::default, |t| RetryQueue::from_json(&t));
        let mut queue = stored.clone();
        for pending in core::mem::take(&mut memory.0) {
            queue.push(pending);
        }
        let result = change(&mut queue);
        // Most page loads find the queue empty and leave it so: no write then.
        if queue != stored {
            let text = (!queue.is_empty()).then(|| queue.to_json());
            if !host::store(KEY, text) {
                *memory = queue;
            }
        }
        result
    })
}

/// Deletes the stored queue and empties memory (`consent(false)`).
pub fn clear() {
    MEMORY.with(|memory| memory.0.clear());
    host::store(KEY, None);
}
