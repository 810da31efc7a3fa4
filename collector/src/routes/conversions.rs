//! `POST /conversion/xid`: a server-to-server conversion, credited through its click.

use super::{new_event_id, save, saved_answer};
use crate::domain::conversion;
use crate::domain::credit::{self, Uncredited};
use crate::domain::validate::Record;
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::{records, Db, DbError};
use axum::extract::State;
use axum::response::Response;

/// Stores the conversion once, resolved to its partner; an unknown xid is `404` and stores nothing.
pub async fn create(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let record = conversion::conversion(&body, new_event_id()?).map_err(ApiError::bad_request)?;
    match save(&state, record, resolved).await? {
        Ok((saved, event_id)) => Ok(saved_answer(saved, event_id)),
        Err(_) => Err(ApiError::not_found("unknown xid")),
    }
}

/// A conversion is resolved to its partner through its click (or a signup that carried its xid).
fn resolved(
    _: &Shared,
    db: &mut Db,
    record: Record,
) -> Result<Result<Record, Uncredited>, DbError> {
    let xid = record.xid.clone().unwrap_or_default();
    Ok(match records::xid_partner(db, &xid)? {
        None => Err(Uncredited::UnknownXid),
        Some(partner) => Ok(credit::conversion(record, partner)),
    })
}
