//! Console output with the `[reftrack]` prefix: warnings always, decisions only in debug mode.

/// Logs a warning the page's developer should see (a bad option, for example).
pub fn warn(message: &str) {
    web_sys::console::warn_1(&format!("[reftrack] {message}").into());
}

/// Logs one decision; callers check the `debug` option first.
pub fn debug(message: &str) {
    web_sys::console::log_1(&format!("[reftrack] {message}").into());
}
