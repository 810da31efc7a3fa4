//! Payments through the APIs: `GET /v1/transactions/{id}` and `POST
//! /v1/transactions/{id}/attribute` (a payment, and the crediting by hand of one that matched no
//! customer when it arrived); PartnerStack's `POST /api/v2/transactions`; Partnero's
//! `POST /v1/transactions` and `DELETE /v1/transactions/{key}`.

use crate::domain::money::{self as money_api, ApiPayment};
use crate::domain::validate;
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::money::{self, Recorded};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

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
    let at = state.now_iso();
    let done = state
        .store
        .write(move |db| {
            let Some(customer) = money::customer_by_key(db, public_key.as_deref(), &customer_key)?
            else {
                return Ok(Err(format!(
                    "no customer {customer_key} (give public_key when several programs have it)"
                )));
            };
            Ok(match money::attribute(db, id, &customer, &at)? {
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

/// The program a customer created through Partnero's API belongs to (as `POST /v1/customers`).
fn program(state: &Shared) -> String {
    state
        .public_keys
        .first()
        .cloned()
        .unwrap_or_else(|| "partnero".into())
}

fn payment_json(payment: &ApiPayment, recorded: &Recorded) -> Value {
    json!({
        "id": recorded.id,
        "key": payment.key,
        "amount": payment.amount,
        "currency": payment.currency,
        "partner_key": recorded.partner_key,
        "created": recorded.created,
    })
}

/// PartnerStack's `POST /api/v2/transactions`, answered in its shape: `200 {"data": {…},
/// "message": …, "status": 200}`; the same `key` again changes nothing and answers the same.
pub async fn partnerstack(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let payment = money_api::partnerstack(&body).map_err(ApiError::bad_request)?;
    let (received_at, p) = (state.now_iso(), payment.clone());
    let recorded = state
        .store
        .write(move |db| {
            money::pay(db, "partnerstack", &p, None, &received_at, &received_at).map(|(r, _)| r)
        })
        .await?;
    Ok(Json(json!({
        "data": payment_json(&payment, &recorded),
        "message": if recorded.created { "Transaction created" } else { "Transaction exists" },
        "status": 200,
    }))
    .into_response())
}

/// Partnero's `POST /v1/transactions` (one, or a batch), answered in its shape:
/// `201 {"data": …, "status": 1}`; `422 {"message": …, "status": 0}` for what does not validate,
/// and then nothing of the batch is stored.
pub async fn partnero(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let payments = money_api::partnero(&body, &state.currency)
        .map_err(|reason| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason).partnero())?;
    let batch = payments.len() > 1;
    let (shared, received_at, p) = (state.clone(), state.now_iso(), payments.clone());
    let recorded = state
        .store
        .write(move |db| {
            p.iter()
                .map(|payment| {
                    let create_in = payment.create_customer.then(|| program(&shared));
                    money::pay(
                        db,
                        "partnero",
                        payment,
                        create_in.as_deref(),
                        &received_at,
                        &received_at,
                    )
                    .map(|(recorded, _)| recorded)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| ApiError::from(e).partnero())?;
    let data: Vec<Value> = payments
        .iter()
        .zip(&recorded)
        .map(|(payment, recorded)| payment_json(payment, recorded))
        .collect();
    let data = if batch {
        Value::Array(data)
    } else {
        data.into_iter().next().unwrap_or_default()
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({ "data": data, "status": 1 })),
    )
        .into_response())
}

/// Partnero's `DELETE /v1/transactions/{key}`: reverses that transaction with a refund of its
/// amount (never an edit of what was recorded); again, nothing more. `404` for an unknown key.
pub async fn partnero_delete(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let received_at = state.now_iso();
    let k = key.clone();
    let reversed = state
        .store
        .write(move |db| money::reverse(db, "partnero", &k, &received_at))
        .await
        .map_err(|e| ApiError::from(e).partnero())?;
    match reversed {
        Some(_) => Ok(Json(json!({ "status": 1 })).into_response()),
        None => Err(ApiError::not_found(format!("no sale {key} to reverse")).partnero()),
    }
}
