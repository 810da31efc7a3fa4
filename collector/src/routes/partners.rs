//! `GET /v1/partners?since=&until=`: the partner report.

use crate::http::{ApiError, Authorized, Shared};
use crate::store::report;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Per partner: clicks, signups, conversions, the conversion rate (signups per click) and the
/// last activity; and the same per day.
pub async fn report(
    _: Authorized,
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let day = |name: &str, default: &str| -> Result<String, ApiError> {
        match query.get(name).map(|d| d.trim()) {
            None | Some("") => Ok(default.to_owned()),
            Some(d) if is_day(d) => Ok(d.to_owned()),
            Some(d) => Err(ApiError::bad_request(format!(
                "{name}={d}: expected a date, YYYY-MM-DD"
            ))),
        }
    };
    let (since, until) = (day("since", "0000-01-01")?, day("until", "9999-12-31")?);
    let (s, u) = (since.clone(), until.clone());
    let (partners, days) = state
        .store
        .read(move |db| report::report(db, &s, &u))
        .await?;
    let partners: Vec<Value> = partners
        .into_iter()
        .map(|p| {
            let rate = (p.clicks > 0).then(|| p.signups as f64 / p.clicks as f64);
            json!({
                "partner_key": p.partner_key,
                "clicks": p.clicks,
                "signups": p.signups,
                "conversions": p.conversions,
                "conversion_rate": rate,
                "last_activity": p.last_activity,
            })
        })
        .collect();
    let days: Vec<Value> = days
        .into_iter()
        .map(|d| json!({ "day": d.day, "clicks": d.clicks, "signups": d.signups, "conversions": d.conversions }))
        .collect();
    Ok(
        Json(json!({ "since": since, "until": until, "partners": partners, "days": days }))
            .into_response(),
    )
}

fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}
