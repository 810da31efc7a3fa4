//! `GET /v1/partners?since=&until=&public_key=`: the partner report; and the registry,
//! `POST`, `GET` and `PATCH /v1/partners/{key}`.

use super::days;
use crate::domain::registry;
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::{partners, records, report};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use reftrack::core::config::{is_public_key, PUBLIC_KEY_RULE};
use reftrack::core::partner_key::PartnerKey;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Per partner: clicks, suppressed clicks, credited customers (`signups`), contested customers,
/// conversions, `signups_per_click`, `conversion_rate` (conversions per signup), the last
/// activity and the partner's place in the registry; and clicks, signups and conversions per day.
pub async fn report(
    _: Authorized,
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let records::Days { since, until } = days(&query)?;
    let program = match query.get("public_key").map(|k| k.trim()) {
        None | Some("") => None,
        Some(key) if is_public_key(key) => Some(key.to_owned()),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "public_key must be {PUBLIC_KEY_RULE}"
            )))
        }
    };
    let (s, u, p) = (since.clone(), until.clone(), program.clone());
    let report::Report {
        partners,
        days,
        unmatched,
    } = state
        .store
        .read(move |db| report::report(db, &s, &u, p.as_deref()))
        .await?;
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    let partners: Vec<Value> = partners
        .into_iter()
        .map(|p| {
            json!({
                "partner_key": p.partner_key,
                "status": p.status,
                "registered": p.registered,
                "clicks": p.clicks,
                "suppressed_clicks": p.suppressed_clicks,
                "signups": p.signups,
                "contested": p.contested,
                "conversions": p.conversions,
                "signups_per_click": ratio(p.signups, p.clicks),
                "conversion_rate": ratio(p.conversions, p.signups),
                "revenue": p.revenue.iter().map(|r| json!({
                    "currency": r.currency,
                    "sales": r.sales,
                    "refunds": r.refunds,
                    "net": r.sales - r.refunds,
                    "paying_customers": r.paying_customers,
                })).collect::<Vec<_>>(),
                "last_activity": p.last_activity,
            })
        })
        .collect();
    let days: Vec<Value> = days
        .into_iter()
        .map(|d| {
            let revenue: serde_json::Map<String, Value> = d
                .revenue
                .into_iter()
                .map(|(c, net)| (c, net.into()))
                .collect();
            json!({ "day": d.day, "clicks": d.clicks, "signups": d.signups,
                    "conversions": d.conversions, "revenue": revenue })
        })
        .collect();
    let unmatched: Vec<Value> = unmatched
        .into_iter()
        .map(|u| json!({ "currency": u.currency, "transactions": u.transactions, "amount": u.amount }))
        .collect();
    Ok(Json(json!({
        "since": since, "until": until, "public_key": program,
        "partners": partners, "days": days, "unmatched": unmatched,
    }))
    .into_response())
}

/// `POST /v1/partners/{key}`: registers a partner (`{ name?, email?, status? }`), `201`; a key
/// so far only seen in links and claims becomes registered. `409` when it is registered already.
pub async fn register(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let key = partner_key(&key)?;
    let fields = registry::partner_fields(&body).map_err(ApiError::bad_request)?;
    let at = state.now_iso();
    let k = key.clone();
    match state
        .store
        .write(move |db| partners::register(db, &k, &fields, &at))
        .await?
    {
        Some(partner) => Ok((StatusCode::CREATED, Json(partner.to_json())).into_response()),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("partner {key} is registered already: change it with PATCH"),
        )),
    }
}

/// `GET /v1/partners/{key}`: the partner, or `404`.
pub async fn show(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let key = partner_key(&key)?;
    let k = key.clone();
    match state.store.read(move |db| partners::get(db, &k)).await? {
        Some(partner) => Ok(Json(partner.to_json()).into_response()),
        None => Err(ApiError::not_found(format!("no partner {key}"))),
    }
}

/// `PATCH /v1/partners/{key}`: changes its name, email or status (`paused` stops new credit;
/// what was credited stays), `200` with the partner, or `404`.
pub async fn change(
    _: Authorized,
    State(state): State<Shared>,
    Path(key): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let key = partner_key(&key)?;
    let fields = registry::partner_fields(&body).map_err(ApiError::bad_request)?;
    let k = key.clone();
    match state
        .store
        .write(move |db| partners::update(db, &k, &fields))
        .await?
    {
        Some(partner) => Ok(Json(partner.to_json()).into_response()),
        None => Err(ApiError::not_found(format!("no partner {key}"))),
    }
}

/// A partner key from the path, or `400`.
pub(super) fn partner_key(key: &str) -> Result<String, ApiError> {
    PartnerKey::parse(key)
        .map(|k| k.as_str().to_owned())
        .map_err(|_| ApiError::bad_request(format!("{key} is not a partner key")))
}
