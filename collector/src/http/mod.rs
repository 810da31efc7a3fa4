//! The HTTP layer: shared state, the error type, extractors, the protecting layers, rate limits,
//! client addresses and the static files. Routes use it; it knows no route.

pub mod client_ip;
pub mod error;
pub mod extract;
pub mod files;
pub mod guards;
pub mod log;
pub mod rate;
pub mod state;

pub use error::ApiError;
pub use extract::{Authorized, ClientIp, LimitedBody, StripeSigned};
pub use state::{AppState, Shared};
