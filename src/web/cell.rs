//! The module's state lives in statics: the page has one tracker, one queue, one capture.

use core::cell::{RefCell, RefMut};

/// A value owned by the module for the page's life.
pub struct Global<T>(RefCell<Option<T>>);

// SAFETY: wasm32-unknown-unknown without the atomics feature runs on one thread.
unsafe impl<T> Sync for Global<T> {}

impl<T: Default> Global<T> {
    /// Empty until first used.
    pub const fn empty() -> Self {
        Global(RefCell::new(None))
    }

    /// Runs `f` on the value (made with `Default` on first use). Calls must not nest for the same
    /// value: no page function is called while a value is borrowed, so nothing can call back in.
    /// Inlined into each caller around one borrow per value type (`borrow`), not compiled once
    /// per closure.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.borrow())
    }

    #[inline(never)]
    fn borrow(&self) -> RefMut<'_, T> {
        RefMut::map(self.0.borrow_mut(), |value| {
            value.get_or_insert_with(T::default)
        })
    }
}
