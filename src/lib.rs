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
mod web;

#[cfg(target_arch = "wasm32")]
pub use web::entry::*;
