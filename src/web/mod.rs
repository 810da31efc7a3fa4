//! The browser side of the module. The page is reached only through the skin, `js/host.js`: it
//! calls the exports in [`entry`] (and [`scratch::put`] to hand over JavaScript values), and the
//! module asks it for the page's facts and to carry out decisions through the imports in [`host`].
//! This layer reads those facts, hands them to the core, and carries out what the core decides.

pub mod cell;
pub mod cookies;
pub mod delivery;
pub mod entry;
pub mod forms;
pub mod host;
pub mod scratch;
pub mod storage;
pub mod tracker;
