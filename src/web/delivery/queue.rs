//! The retry queue's home: `localStorage` under `reftrack_queue`, or memory where storage is
//! unavailable (blocked, sandboxed, full) or not yet allowed (`consent: "pending"`).
//!
//! The queue is read from storage afresh for every change, so two tabs of one site work on the
//! same queue; an event both send is recognised by the endpoint through its `event_id`.

use crate::core::retry::RetryQueue;
use crate::web::browser::storage;
use crate::web::cell::Global;

const KEY: &str = "reftrack_queue";

/// The queue while storage cannot be used.
static MEMORY: Global<RetryQueue> = Global::empty();

/// Applies `change` to the queue. With `persist` false (consent pending) only memory is used.
/// Whatever memory holds moves to storage as soon as storage can be used.
pub fn with_queue<R>(persist: bool, change: impl FnOnce(&mut RetryQueue) -> R) -> R {
    let (mut queue, stored) = open(persist);
    let result = change(&mut queue);
    close(queue, stored);
    result
}

/// The queue to change, and what storage held (`None`: memory only). Not inlined: it is the same
/// for every change.
#[inline(never)]
fn open(persist: bool) -> (RetryQueue, Option<RetryQueue>) {
    let memory = MEMORY.with(core::mem::take);
    if !persist {
        return (memory, None);
    }
    let stored = storage::load(KEY).map_or_else(RetryQueue::default, |t| RetryQueue::from_text(&t));
    let mut queue = stored.clone();
    for pending in memory.0 {
        queue.push(pending);
    }
    (queue, Some(stored))
}

/// Stores the changed queue where it came from; in memory if storage refuses it.
#[inline(never)]
fn close(queue: RetryQueue, stored: Option<RetryQueue>) {
    let kept = match stored {
        // Most page loads find the queue empty and leave it so: no write then.
        Some(stored) if queue == stored => return,
        Some(_) => !storage::store(KEY, (!queue.is_empty()).then(|| queue.to_text()).as_deref()),
        None => true,
    };
    if kept {
        MEMORY.with(|memory| *memory = queue);
    }
}

/// Whether a signup waits, in memory or in storage: one storage read, nothing parsed. An emptied
/// queue is removed from storage ([`close`]), so stored text means signups.
pub fn waiting() -> bool {
    MEMORY.with(|memory| !memory.0.is_empty()) || storage::load(KEY).is_some()
}

/// Deletes the stored queue and empties memory (`consent(false)`).
pub fn clear() {
    MEMORY.with(|memory| memory.0.clear());
    storage::store(KEY, None);
}
