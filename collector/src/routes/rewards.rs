//! Reward rules: `GET` and `PUT /v1/rewards`, and `POST /v1/rewards/preview` (what a proposed
//! rule would have earned over a date range, changing nothing).

use super::days;
use crate::domain::rewards::{self, Invalid};
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::{ledger, preview};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::invalid(e.field, e.reason)
    }
}

/// The rules in force, one per program, partner and event.
pub async fn list(_: Authorized, State(state): State<Shared>) -> Result<Response, ApiError> {
    let rules = state.store.read(ledger::rules).await?;
    let rules: Vec<Value> = rules.iter().map(ledger::StoredRule::to_json).collect();
    Ok(Json(json!({ "rules": rules })).into_response())
}

/// Sets the rule of its slot (program, partner, event) from now on: transactions and signups
/// recorded after it earn by it; what was recorded before keeps what it earned. `200` with the
/// stored rule; `422` naming the field that does not validate.
pub async fn set(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let rule = rewards::rule_body(&body)?;
    let at = state.now_iso();
    let stored = state
        .store
        .write(move |db| ledger::set_rule(db, &rule, &at))
        .await?;
    Ok(Json(stored.to_json()).into_response())
}

/// The rule's fields, with `since` and `until` (`YYYY-MM-DD`, both included, UTC): per partner
/// and currency, the payments (or signups) it would have rewarded, what it would have earned and
/// reversed, its net, and the ledger's net for the same (`current_net`).
pub async fn preview(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let (rule, since, until) = rewards::preview_body(&body)?;
    let query: HashMap<String, String> = [("since", since), ("until", until)]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?)))
        .collect();
    let range = days(&query)?;
    let end = format!("{}~", range.until);
    let (r, since) = (rule.clone(), range.since.clone());
    let partners = state
        .store
        .read(move |db| preview::preview(db, &r, &since, &end, None))
        .await?;
    let mut totals: Vec<(String, i64, i64, i64)> = Vec::new();
    for p in &partners {
        let currency = p["currency"].as_str().unwrap_or_default();
        let i = match totals.iter().position(|t| t.0 == currency) {
            Some(i) => i,
            None => {
                totals.push((currency.to_owned(), 0, 0, 0));
                totals.len() - 1
            }
        };
        totals[i].1 += p["earned"].as_i64().unwrap_or(0);
        totals[i].2 += p["reversed"].as_i64().unwrap_or(0);
        totals[i].3 += p["current_net"].as_i64().unwrap_or(0);
    }
    totals.sort();
    let totals: Vec<Value> = totals
        .into_iter()
        .map(|(currency, earned, reversed, current)| {
            json!({ "currency": currency, "earned": earned, "reversed": reversed,
                    "net": earned - reversed, "current_net": current })
        })
        .collect();
    Ok(Json(json!({
        "since": range.since, "until": range.until, "rule": rule.to_json(),
        "partners": partners, "totals": totals,
    }))
    .into_response())
}
