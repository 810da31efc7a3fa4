//! reftrack: partner/affiliate referral tracking for websites.
//!
//! A visitor who arrives through a partner's link (`?ps_partner_key=<base64>&ps_xid=<click>`) is
//! attributed to that partner in first-party cookies, so that a later signup can be credited. The
//! crate is split in two: [`core`] holds every decision as plain, natively tested Rust; `web` (only
//! built for `wasm32`) is the thin skin that reads the page and writes cookies, and the entry points
//! below are what JavaScript calls.
#![deny(missing_docs)]

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
