//! `GET /v1/transactions/{id}` and `POST /v1/transactions/{id}/attribute`: a payment, and the
//! crediting by hand of one that matched no customer when it arrived.

use crate::domain::validate;
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::money;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The transaction, or `404`.
pub async fn show(
    _: Authorized,
    State(state): State<Shared>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    match state.store.read(move |db| money::get(db, id)).await? {
        Some(transaction) => Ok(Json(transaction).into_response()),
        None => Err(ApiError::not_found(format!("no transaction {id}"))),
    }
}

/// `{ customer_key, public_key? }`: credits an unmatched transaction to that customer (and so to
/// the partner the credit rule names for it now). `200` with the transaction; `404` for an
/// unknown transaction or customer; `409` for one matched already (a matched payment is never
/// moved to another customer).
pub async fn attribute(
    _: Authorized,
    State(state): State<Shared>,
    Path(id): Path<i64>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let (customer_key, public_key) =
        validate::customer_ref(&body).map_err(ApiError::bad_request)?;
    let done = state
        .store
        .write(move |db| {
            let Some(customer) = money::customer_by_key(db, public_key.as_deref(), &customer_key)?
            else {
                return Ok(Err(format!(
                    "no customer {customer_key} (give public_key when several programs have it)"
                )));
            };
            Ok(match money::attribute(db, id, &customer)? {
                None => Err(format!("no transaction {id}")),
                Some(false) => Ok(None),
                Some(true) => Ok(money::get(db, id)?),
            })
        })
        .await?;
    match done {
        Ok(Some(transaction)) => Ok(Json(transaction).into_response()),
        Ok(None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("transaction {id} is credited already"),
        )),
        Err(reason) => Err(ApiError::not_found(reason)),
    }
}
