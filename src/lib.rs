//! reftrack: partner/affiliate referral tracking for websites.
//!
//! A visitor who arrives through a partner's link (`?ps_partner_key=<base64>&ps_xid=<click>`) is
//! attributed to that partner in first-party cookies, so that a later signup can be credited. The
//! crate is split in two: [`core`] holds every decision as plain, natively tested Rust; `web` (only
//! built for `wasm32`) drives it from the browser through web-sys and js-sys: it reads the URL,
//! writes the cookies, defines the globals (`growsumo`, `reftrack`, `po`), captures sign-up forms
//! and posts signups with gloo-net. The only JavaScript around it instantiates the module and
//! guards the page against a module that cannot run or traps (`js/guard.js`).
#![deny(missing_docs)]

extern crate alloc;

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(target_arch = "wasm32")]
pub use web::api::*;
#[cfg(target_arch = "wasm32")]
pub use web::globals::install;

// dlmalloc is a large share of a small module; reftrack allocates a few kilobytes per page, on one
// thread.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without the atomics feature runs on one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
