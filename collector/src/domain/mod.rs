//! Pure rules: what a valid record is (on the SDK core's own limits and messages), whom it
//! credits, where a partner link may lead, and the clock's and chance's small services. Nothing
//! here touches HTTP or a database.

pub mod balance;
pub mod conversion;
pub mod credit;
pub mod csv;
mod fields;
pub mod imports;
pub mod imports_csv;
pub mod links;
pub mod money;
pub mod partnero;
pub mod registry;
pub mod rewards;
pub mod signing;
pub mod standing;
pub mod stripe;
pub mod time;
pub mod validate;

pub use fields::MAX_TEXT;
