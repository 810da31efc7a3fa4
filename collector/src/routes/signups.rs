//! `POST /v1/signups` (contract §7) and `GET /v1/signups` (the paged, streamed listing).

use super::{days, save, saved_answer, streamed};
use crate::domain::credit::{self, Standing, Uncredited};
use crate::domain::csv;
use crate::domain::signing::{self, Signature};
use crate::domain::validate::{self, Record};
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::{clicks, partners, records, Db, DbError};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::Response;
use reftrack::core::signup::BAD_CUSTOMER_HASH;
use std::collections::HashMap;

/// Most rows one page of `GET /v1/signups` holds.
pub const MAX_PAGE: i64 = 1000;

/// `POST /v1/signups`: a claim from the SDK, stored once per `event_id`. Every new claim is
/// `201`, a second one for a known customer too, so the answer tells nobody who is a customer;
/// who is credited is decided from all the customer's claims (`domain::credit`).
pub async fn create(
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let mut record = validate::signup(&body).map_err(ApiError::bad_request)?;
    unknown_program(&state, record.public_key.as_deref().unwrap_or_default())?;
    let secret = state.signup_secret.as_deref();
    match signing::check(
        secret,
        &record.customer_key,
        record.customer_hash.as_deref(),
    ) {
        Signature::Wrong => {
            return Err(ApiError::forbidden(format!(
                "{BAD_CUSTOMER_HASH}: the site's server must sign the customer key with the \
                 collector's --signup-secret (hex of HMAC-SHA256)"
            )))
        }
        Signature::Valid => record.standing = Standing::Confirmed,
        Signature::Absent => record.standing = Standing::Claimed,
    }
    let (saved, event_id) = save(&state, record, claimed)
        .await?
        .map_err(|_| ApiError::bad_request("the signup could not be stored"))?;
    Ok(saved_answer(saved, event_id))
}

/// `OPTIONS /v1/signups`: the browser routes' layer answers the preflight.
pub async fn preflight() {}

/// The refusal of a signup for a program this collector does not take (`--public-key`), so that
/// a mistyped key is caught on the first signup rather than stored under a program nobody reads.
pub(super) fn unknown_program(state: &Shared, key: &str) -> Result<(), ApiError> {
    if state.public_keys.is_empty() || state.public_keys.iter().any(|k| k == key) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "unknown public key {key}: this collector takes signups for {}",
        state.public_keys.join(", ")
    )))
}

/// A claim's standing: its click (which decides the partner), its partner's place in the
/// registry, and whether the site's server signed it (set before, from `customer_hash`).
fn claimed(
    state: &Shared,
    db: &mut Db,
    mut record: Record,
) -> Result<Result<Record, Uncredited>, DbError> {
    let click = match &record.xid {
        Some(xid) => clicks::click_partner(db, xid)?,
        None => None,
    };
    let clicked = credit::through_click(&mut record, click);
    let partner = match &record.partner_key {
        Some(key) => Some(partners::on_use(
            db,
            key,
            state.registered_only,
            &state.now_iso(),
        )?),
        None => None,
    };
    let confirmed = record.standing == Standing::Confirmed;
    record.standing = credit::standing(state.policy, partner, confirmed, clicked);
    Ok(Ok(record))
}

/// `GET /v1/signups.csv?since=&until=`: every record received in the range, newest first, as a
/// CSV a spreadsheet opens safely (formula-like text kept as text), streamed from one snapshot.
pub async fn export(
    _: Authorized,
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let days = days(&query)?;
    let filename = format!("reftrack-records-{}-{}.csv", days.since, days.until);
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let readers = state.store.reader();
    let slot = readers.slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut header = csv::RECORD_COLUMNS.join(",");
        header.push_str("\r\n");
        if chunks.blocking_send(Ok(Bytes::from(header))).is_err() {
            return;
        }
        let result = readers.with(|db| {
            db.begin_read()?;
            records::each_listed(db, 0, i64::MAX, &days, |row| {
                chunks
                    .blocking_send(Ok(Bytes::from(csv::record_line(&row))))
                    .is_ok()
            })
        });
        if let Err(error) = result {
            tracing::error!(%error, "database error");
            let _ = chunks.blocking_send(Err(std::io::Error::other(error.to_string())));
        }
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(streamed(body))
        .unwrap_or_default())
}

/// `GET /v1/signups?limit=&before=&since=&until=&count=`: one page of records (with `count=1`,
/// `X-Total-Count`: how many the range holds), newest first, streamed as a JSON array
/// (at most [`MAX_PAGE`] rows, default 100). When older rows remain, `Link: <…>; rel="next"` and
/// `X-Next-Before` give the cursor of the next page. Reads use their own connection and snapshot:
/// signups keep being stored meanwhile.
pub async fn list(
    _: Authorized,
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = match query.get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(limit)) if (1..=MAX_PAGE).contains(&limit) => limit,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "limit must be a number from 1 to {MAX_PAGE}"
            )))
        }
    };
    let before = match query.get("before").map(|b| b.parse::<i64>()) {
        None => i64::MAX,
        Some(Ok(before)) if before > 0 => before,
        Some(_) => {
            return Err(ApiError::bad_request(
                "before must be the X-Next-Before of the previous page",
            ))
        }
    };
    let days = days(&query)?;
    let count = query.get("count").is_some_and(|c| c == "1" || c == "true");
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let (head, first) = tokio::sync::oneshot::channel();
    let readers = state.store.reader();
    let slot = readers.slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut head = Some(head);
        let result = readers.with(|db| {
            db.begin_read()?;
            let total = match count {
                true => Some(records::count(db, &days)?),
                false => None,
            };
            let span = records::page(db, before, limit, &days)?;
            let _ = head
                .take()
                .map(|h| h.send(Ok((span.map(|(low, _, older)| (low, older)), total))));
            let Some((low, high, _)) = span else {
                return Ok(());
            };
            let mut separator = "[";
            records::each_listed(db, low, high, &days, |row| {
                let chunk = format!("{separator}{row}");
                separator = ",";
                chunks.blocking_send(Ok(Bytes::from(chunk))).is_ok()
            })
        });
        if let Some(head) = head {
            let _ = head.send(Err(result.err()));
        } else if let Err(error) = result {
            tracing::error!(%error, "database error");
            let _ = chunks.blocking_send(Err(std::io::Error::other(error.to_string())));
        } else {
            let _ = chunks.blocking_send(Ok(Bytes::from_static(b"]")));
        }
    });
    let (span, total) = match tokio::time::timeout(state.store_timeout(), first).await {
        Ok(Ok(Ok(head))) => head,
        Ok(Ok(Err(Some(error)))) => return Err(error.into()),
        _ => {
            return Err(ApiError::unavailable(
                "the signups could not be read; retry later",
            ))
        }
    };
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store");
    if let Some(total) = total {
        response = response.header("x-total-count", total.to_string());
    }
    if let Some((low, true)) = span {
        let range = match (query.get("since"), query.get("until")) {
            (None, None) => String::new(),
            (since, until) => format!(
                "&since={}&until={}",
                since.map_or("", String::as_str),
                until.map_or("", String::as_str)
            ),
        };
        response = response
            .header(
                header::LINK,
                format!("</v1/signups?limit={limit}&before={low}{range}>; rel=\"next\""),
            )
            .header("x-next-before", low.to_string());
    }
    let body = match span {
        None => Body::from("[]"),
        Some(_) => streamed(body),
    };
    Ok(response.body(body).unwrap_or_default())
}
