//! The handlers, one file per resource. Each extracts what it needs, applies the domain's rules,
//! stores or reads, and answers; how a route is protected is decided where it is mounted
//! (`app.rs`), not here.

pub mod clicks;
pub mod conversions;
pub mod customers;
pub mod health;
pub mod links;
pub mod partners;
pub mod payouts;
pub mod rewards;
pub mod signups;
pub mod transactions;
pub mod webhooks;

use crate::domain::credit::Uncredited;
use crate::domain::validate::Record;
use crate::http::{ApiError, Shared};
use crate::store::{records, Db, DbError, Saved};

/// What a route looks up before a record is saved (the partner it credits), in the same
/// transaction; `Err` leaves the record unstored.
type Resolve = fn(&Shared, &mut Db, Record) -> Result<Result<Record, Uncredited>, DbError>;

/// Resolves and stores a validated record in the writer's next group commit, once it is
/// committed: whether it was new, with the `event_id` stored (its own, or the one it duplicates).
async fn save(
    state: &Shared,
    record: Record,
    resolve: Resolve,
) -> Result<Result<(Saved, String), Uncredited>, ApiError> {
    let received_at = state.now_iso();
    let shared = state.clone();
    let saved = state
        .store
        .write(move |db| match resolve(&shared, db, record.clone())? {
            Err(uncredited) => Ok(Err(uncredited)),
            Ok(record) => records::save(db, &record, &received_at).map(Ok),
        })
        .await?;
    Ok(saved)
}

/// `201 {"status":"created"}` or `200 {"status":"duplicate"}`, with the `event_id` stored.
fn saved_answer(saved: Saved, event_id: String) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let (status, word) = match saved {
        Saved::Created => (StatusCode::CREATED, "created"),
        Saved::Duplicate => (StatusCode::OK, "duplicate"),
    };
    (
        status,
        axum::Json(serde_json::json!({ "status": word, "event_id": event_id })),
    )
        .into_response()
}

/// A new event id for a record the collector makes (a conversion, a Partnero customer).
fn new_event_id() -> Result<String, ApiError> {
    crate::domain::time::uuid_v4()
        .ok_or_else(|| ApiError::unavailable("no randomness for an event id; retry later"))
}

/// `since` and `until` (`YYYY-MM-DD`, both included) of a report, listing or export; every day
/// without them.
fn days(query: &std::collections::HashMap<String, String>) -> Result<records::Days, ApiError> {
    let day = |name: &str, default: &str| match query.get(name).map(|d| d.trim()) {
        None | Some("") => Ok(default.to_owned()),
        Some(d) if crate::domain::time::is_day(d) => Ok(d.to_owned()),
        Some(d) => Err(ApiError::bad_request(format!(
            "{name}={d}: expected a date, YYYY-MM-DD"
        ))),
    };
    let all = records::Days::all();
    Ok(records::Days {
        since: day("since", &all.since)?,
        until: day("until", &all.until)?,
    })
}

/// A response body streamed from the chunks a blocking reader sends.
fn streamed(
    chunks: tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>,
) -> axum::body::Body {
    axum::body::Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
        chunks,
        |mut chunks| async { chunks.recv().await.map(|chunk| (chunk, chunks)) },
    )))
}
