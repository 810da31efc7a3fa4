//! reftrack: partner/affiliate referral tracking for websites.
//!
//! A visitor who arrives through a partner's link (`?ps_partner_key=<base64>&ps_xid=<click>`) is
//! attributed to that partner in first-party cookies, so that a later signup can be credited. The
//! crate is split in two: [`core`] holds every decision as plain, natively tested Rust; `web` (only
//! built for `wasm32`) drives it with the page's facts, which it gets from — and whose decisions it
//! hands to — the JavaScript skin `js/host.js`, through imports and exports of strings and numbers.
#![deny(missing_docs)]
// The shipped module is `no_std`: std's panic and formatting machinery would be a large share of
// it. Natively (the collector, the tests) std is linked as usual, and so it is for the browser
// tests (feature `std`, as wasm-bindgen-test links std).
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(target_arch = "wasm32")]
pub use web::entry::*;

// dlmalloc is a quarter of the module; reftrack allocates a few kilobytes per page, single-threaded.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without the atomics feature runs on one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// A panic (a bug) traps: the skin's guard catches the `RuntimeError` and turns reftrack off
/// without disturbing the page (see js/host.js). With the `std` feature (browser tests, where
/// wasm-bindgen-test links std) std's handler is used instead.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo) -> ! {
    ::core::arch::wasm32::unreachable()
}
