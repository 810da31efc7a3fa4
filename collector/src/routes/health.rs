//! `GET /healthz`: whether this collector can take signups now — a real write, probed at most once
//! a second whatever the number of checks.

use crate::http::{ApiError, Shared};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::{Duration, Instant};

/// How long a probe's finding stands.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// `200 {"status":"ok"}`, or `503` with what the store said.
pub async fn check(State(state): State<Shared>) -> Result<Response, ApiError> {
    let found = {
        let mut last = state.health.lock().await;
        match &*last {
            Some((at, found)) if at.elapsed() < PROBE_EVERY => found.clone(),
            _ => {
                let found = state.store.probe().await.map_err(|e| e.to_string());
                *last = Some((Instant::now(), found.clone()));
                found
            }
        }
    };
    match found {
        Ok(()) => Ok(Json(json!({ "status": "ok" })).into_response()),
        Err(reason) => {
            tracing::error!(%reason, "health check");
            Err(ApiError::unavailable(format!(
                "the store cannot take writes: {reason}"
            )))
        }
    }
}
