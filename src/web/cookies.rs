//! `document.cookie` as a [`CookieJar`]. Reading or writing can throw (a sandboxed frame without
//! `allow-same-origin`, for one); both are treated as "no cookies here".

use crate::core::cookie::CookieJar;
use wasm_bindgen::JsCast;
use web_sys::HtmlDocument;

/// The page's cookies.
pub struct DocumentJar(HtmlDocument);

impl DocumentJar {
    /// The jar of the current document, if there is a document.
    pub fn open() -> Option<Self> {
        let document = web_sys::window()?.document()?;
        document.dyn_into::<HtmlDocument>().ok().map(DocumentJar)
    }
}

impl CookieJar for DocumentJar {
    fn read(&self) -> String {
        self.0.cookie().unwrap_or_default()
    }

    fn write(&mut self, set_cookie: &str) {
        // A refused write shows up when the value is read back.
        let _ = self.0.set_cookie(set_cookie);
    }
}
