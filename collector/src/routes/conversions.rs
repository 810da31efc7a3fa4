//! `POST /conversion/xid`: a server-to-server conversion, credited through its click.

use super::{new_event_id, saved_answer};
use crate::domain::conversion;
use crate::domain::credit::{self, Uncredited};
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::money::{self, NewTransaction};
use crate::store::{records, Saved};
use axum::extract::State;
use axum::response::Response;

/// Stores the conversion once, resolved to its partner; an unknown xid is `404` and stores
/// nothing. With an `amount`, it is also a sale of that partner's, in the same transaction: one
/// per `transaction_key` (a renewal is a new one), or per conversion without one.
pub async fn create(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let record = conversion::conversion(&body, new_event_id()?).map_err(ApiError::bad_request)?;
    let received_at = state.now_iso();
    let saved = state
        .store
        .write(move |db| {
            let xid = record.xid.clone().unwrap_or_default();
            let Some(partner) = records::xid_partner(db, &xid)? else {
                return Ok(Err(Uncredited::UnknownXid));
            };
            let record = credit::conversion(record.clone(), partner);
            let (saved, event_id) = records::save(db, &record, &received_at)?;
            if let (Saved::Created, Some(amount), Some(currency)) =
                (saved, record.amount, &record.currency)
            {
                let program = money::customer_by_key(db, None, &record.customer_key)?;
                money::record(
                    db,
                    &NewTransaction {
                        source: "conversion",
                        source_id: record.transaction_key.clone().unwrap_or(event_id.clone()),
                        kind: "sale",
                        amount,
                        currency: currency.clone(),
                        unmatched: None,
                        public_key: program.map(|(public_key, _)| public_key),
                        customer_key: Some(record.customer_key.clone()),
                        reference: record.xid.clone(),
                        occurred_at: received_at.clone(),
                        body: "{}".into(),
                        partner_key: record.partner_key.clone(),
                    },
                    &received_at,
                )?;
            }
            Ok(Ok((saved, event_id)))
        })
        .await?;
    match saved {
        Ok((saved, event_id)) => Ok(saved_answer(saved, event_id)),
        Err(_) => Err(ApiError::not_found("unknown xid")),
    }
}
