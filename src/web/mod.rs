//! The browser skin: the only code that touches `window`, `document` or JavaScript values. It
//! reads what the core needs (the URL, the cookies, the options), hands it over, and carries out the
//! core's decisions.

pub mod console;
pub mod cookies;
pub mod delivery;
pub mod entry;
pub mod facades;
pub mod forms;
pub mod guard;
pub mod history;
pub mod options;
pub mod promise;
pub mod storage;
pub mod tracker;
pub mod transport;
