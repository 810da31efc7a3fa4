//! The pure core: plain Rust with no browser in sight. Everything here builds and is tested
//! natively; the web layer fetches the URL, the cookies and the time, and passes them in.

pub mod attribution;
pub mod config;
pub mod cookie;
pub mod out;
pub mod partner_key;
pub mod retry;
pub mod signup;
pub mod text;
