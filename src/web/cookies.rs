//! `document.cookie` as a [`CookieJar`]. Where it cannot be read or written (a sandboxed frame
//! without `allow-same-origin`), it reads as empty and writes are lost, which is how the tracker
//! notices that cookies are unavailable.

use super::host;
use crate::core::cookie::CookieJar;
use alloc::string::String;

/// The page's cookies.
pub struct DocumentJar;

impl CookieJar for DocumentJar {
    fn read(&self) -> String {
        host::cookie()
    }

    fn write(&mut self, set_cookie: &str) {
        host::set_cookie(set_cookie);
    }
}
