//! The browser side of the module, the only code that touches the page: web-sys and js-sys read
//! the URL, the cookies, storage and forms and define the globals; serde-wasm-bindgen carries
//! values across the boundary; gloo-net posts signups. This layer gathers the page's facts, hands
//! them to the core, and carries out what the core decides.
//!
//! Every function handed to the page (the globals' methods, listeners, timers) goes through the
//! guard of `js/guard.js` ([`guard::function`]), so a module that traps never throws into the page.

pub mod api;
pub mod browser;
pub mod cell;
pub mod delivery;
pub mod forms;
pub mod globals;
pub mod guard;
pub mod lifecycle;
pub mod split;
pub mod tracker;
pub mod values;

#[cfg(test)]
mod tests;
