//! The browser, one API per file, through web-sys and js-sys. Nothing here holds reftrack's state
//! or decides anything (gloo's rule): each function is one browser call made safe to use on any
//! page, so that a new browser API has one obvious home and the layers above read as reftrack's
//! own logic.

pub mod clock;
pub mod console;
pub mod cookies;
pub mod events;
pub mod fetch;
pub mod page;
pub mod storage;
