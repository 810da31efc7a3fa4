//! What is owed and what was paid: `GET /v1/payouts/due`, `POST /v1/payouts`, a partner's
//! statement (`GET /v1/partners/{key}/statement`, and `.csv`) and adjustments by hand
//! (`POST /v1/partners/{key}/adjustments`). reftrack records payouts; it does not move money.

use super::days;
use super::partners::partner_key;
use crate::domain::{csv, rewards};
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::payouts::{self as ledger, Payout};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Per partner and currency: earned, reversed, adjustments and paid so far, what is due today,
/// what is pending and the soonest day some of it turns due; with `?partner_key=`, that partner
/// only, with every day its pending part turns due.
pub async fn due(
    _: Authorized,
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let partner = match query.get("partner_key").map(|k| k.trim()) {
        None | Some("") => None,
        Some(key) => Some(partner_key(key)?),
    };
    let one = partner.is_some();
    let today = state.now_iso()[..10].to_owned();
    let t = today.clone();
    let owed = state
        .store
        .read(move |db| ledger::owed(db, &t, partner.as_deref()))
        .await?;
    let mut out = format!("{{\"as_of\":\"{today}\",\"partners\":[");
    for (i, o) in owed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        o.write_json(&mut out, one);
    }
    out.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// Records a payout and settles the due entries it covers. `201` with the payout; the same
/// `reference` again with the same partner, amount and currency is `200` with the payout stored
/// (nothing changes); with another, `409`. More than is due is `422` with `due`; an amount that
/// would split an entry is `422` with the amounts around it that settle whole entries.
pub async fn create(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let payout = rewards::payout_body(&body)?;
    let at = state.now_iso();
    let p = payout.clone();
    let done = state
        .store
        .write_alone(move |db| ledger::pay(db, &p, &at))
        .await?;
    match done {
        Payout::Created(stored) => Ok((StatusCode::CREATED, Json(stored)).into_response()),
        Payout::Repeated(stored) => Ok(Json(stored).into_response()),
        Payout::Conflict(stored) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "reference {} is recorded for another payout: {} {} to {}",
                payout.reference, stored["amount"], stored["currency"], stored["partner_key"]
            ),
        )
        .with(json!({ "payout": stored }))),
        Payout::TooMuch { due } => Err(ApiError::invalid(
            "amount",
            format!(
                "amount {} is more than is due to {} in {}: {due}",
                payout.amount, payout.partner_key, payout.currency
            ),
        )
        .with(json!({ "due": due }))),
        Payout::Split { due, below, above } => Err(ApiError::invalid(
            "amount",
            format!(
                "amount {} would settle part of an entry: pay {below} or {above} (everything due is {due})",
                payout.amount
            ),
        )
        .with(json!({ "due": due, "below": below, "above": above }))),
    }
}

/// `POST /v1/partners/{key}/adjustments`: a correction by hand, `{ amount, currency, note,
/// public_key? }`, due at once; `201` with its entry.
pub async fn adjust(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let key = partner_key(&key)?;
    let adjustment = rewards::adjustment_body(&key, &body)?;
    let at = state.now_iso();
    let entry = state
        .store
        .write(move |db| ledger::adjust(db, &adjustment, &at))
        .await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

async fn statement_of(
    state: &Shared,
    key: &str,
    query: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let key = partner_key(key)?;
    let range = days(query)?;
    let today = state.now_iso()[..10].to_owned();
    let r = range.clone();
    Ok(state
        .store
        .read(move |db| ledger::statement(db, &key, &r.since, &r.until, &today))
        .await?)
}

/// A partner's statement over `since`–`until` (`YYYY-MM-DD`, both included; every day without
/// them): totals per currency and every entry and payout recorded in the range, with its
/// transaction and the running balance.
pub async fn statement(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Ok(Json(statement_of(&state, &key, &query).await?).into_response())
}

/// The statement's lines as CSV (formula-like text kept as text, numbers as numbers).
pub async fn statement_csv(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let statement = statement_of(&state, &key, &query).await?;
    let mut out = csv::STATEMENT_COLUMNS.join(",");
    out.push_str("\r\n");
    for line in statement["lines"].as_array().into_iter().flatten() {
        out.push_str(&csv::statement_line(line));
    }
    let filename = format!(
        "reftrack-statement-{}-{}-{}.csv",
        statement["partner_key"].as_str().unwrap_or_default(),
        statement["since"].as_str().unwrap_or_default(),
        statement["until"].as_str().unwrap_or_default()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response())
}
