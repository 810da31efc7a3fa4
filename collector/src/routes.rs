//! The collector's HTTP routes (contract §8).

use crate::clock;
use crate::options::Options;
use crate::store::{Saved, Store};
use crate::validate::{self, Record};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// What every handler shares.
pub struct App {
    store: Store,
    secret: Option<String>,
    allow_origins: Vec<String>,
    public_keys: Vec<String>,
}

type Shared = Arc<App>;

/// The collector's routes over `store`.
pub fn router(options: &Options, store: Store) -> Router {
    let app = Arc::new(App {
        store,
        secret: options.secret.clone(),
        allow_origins: options.allow_origins.clone(),
        public_keys: options.public_keys.clone(),
    });
    // The demo and the SDK change on every rebuild: always revalidate.
    let no_cache = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    let files = Router::new()
        .nest_service("/sdk", ServeDir::new(&options.dist))
        .fallback_service(ServeDir::new(&options.www))
        .layer(no_cache);
    Router::new()
        .route(
            "/v1/signups",
            post(post_signup).get(list_signups).options(preflight),
        )
        .route("/conversion/xid", post(post_conversion))
        .with_state(app)
        .merge(files)
        .layer(middleware::from_fn(log_refusals))
}

/// The reason of a refusal, kept on the response for the log line.
#[derive(Clone)]
struct Reason(String);

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let mut response = (status, Json(json!({ "error": &message }))).into_response();
    response.extensions_mut().insert(Reason(message));
    response
}

/// One log line per refused request: status, route, reason and origin — never the body, so no
/// email or name reaches the log. Files not found are not refusals worth a line.
async fn log_refusals(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let response = next.run(request).await;
    if let Some(Reason(reason)) = response.extensions().get::<Reason>() {
        eprintln!(
            "reftrack-collector: refused {} {method} {path} origin={origin}: {reason}",
            response.status().as_u16()
        );
    }
    response
}

/// The `Origin` of a browser request, and whether it may post signups.
fn origin_check(app: &App, headers: &HeaderMap) -> (Option<HeaderValue>, bool) {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser's cross-origin request (curl, a server): nothing to check.
        return (None, true);
    };
    let allowed = app.allow_origins.is_empty()
        || origin.to_str().is_ok_and(|o| {
            app.allow_origins
                .iter()
                .any(|a| a == o.trim_end_matches('/'))
        });
    (Some(origin.clone()), allowed)
}

/// CORS headers for `origin`. They are sent on refusals too, so that the SDK can read the reason
/// and drop the signup instead of retrying what will never be accepted.
fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}

async fn preflight(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let (origin, allowed) = origin_check(&app, &headers);
    if !allowed {
        return with_cors(
            error(StatusCode::FORBIDDEN, "this origin may not post signups"),
            origin,
        );
    }
    with_cors(StatusCode::NO_CONTENT.into_response(), origin)
}

/// Reads the body, at most [`MAX_BODY`] bytes.
async fn read_body(body: Body) -> Result<Bytes, Response> {
    to_bytes(body, MAX_BODY).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    })
}

/// Stores a validated record (blocking SQLite work off the async threads) and answers.
async fn store(app: Shared, record: Record) -> Response {
    let received_at = clock::iso8601(SystemTime::now());
    let event_id = record.event_id.clone();
    let saved = tokio::task::spawn_blocking(move || app.store.save(&record, &received_at)).await;
    match saved {
        Ok(Ok(Saved::Created)) => (
            StatusCode::CREATED,
            Json(json!({ "status": "created", "event_id": event_id })),
        )
            .into_response(),
        Ok(Ok(Saved::Duplicate)) => (
            StatusCode::OK,
            Json(json!({ "status": "duplicate", "event_id": event_id })),
        )
            .into_response(),
        Ok(Err(db)) => {
            eprintln!("reftrack-collector: database error: {db}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the signup could not be stored; retry later",
            )
        }
        Err(join) => {
            eprintln!("reftrack-collector: {join}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; retry later",
            )
        }
    }
}

async fn post_signup(State(app): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let (origin, allowed) = origin_check(&app, &headers);
    if !allowed {
        return with_cors(
            error(StatusCode::FORBIDDEN, "this origin may not post signups"),
            origin,
        );
    }
    let response = match read_body(body).await {
        Err(response) => response,
        Ok(bytes) => match validate::signup(&bytes) {
            Err(reason) => error(StatusCode::BAD_REQUEST, reason),
            Ok(record) => match unknown_program(&app, &record) {
                Some(refusal) => refusal,
                None => store(app, record).await,
            },
        },
    };
    with_cors(response, origin)
}

/// The refusal of a signup for a program this collector does not take (`--public-key`), so that
/// a mistyped key is caught on the first signup rather than stored under a program nobody reads.
fn unknown_program(app: &App, record: &Record) -> Option<Response> {
    let key = record.public_key.as_deref().unwrap_or_default();
    if app.public_keys.is_empty() || app.public_keys.iter().any(|k| k == key) {
        return None;
    }
    Some(error(
        StatusCode::FORBIDDEN,
        format!(
            "unknown public key {key}: this collector takes signups for {}",
            app.public_keys.join(", ")
        ),
    ))
}

/// The refusal of a request without `Authorization: Bearer <secret>` (compared in constant time).
fn unauthorized(app: &App, headers: &HeaderMap) -> Option<Response> {
    let Some(secret) = &app.secret else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "no secret is configured: start the collector with --secret or REFTRACK_SECRET",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == secret.len()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    (!same).then(|| error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"))
}

async fn post_conversion(State(app): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    match read_body(body).await {
        Err(response) => response,
        Ok(bytes) => match validate::conversion(&bytes, clock::uuid_v4()) {
            Err(reason) => error(StatusCode::BAD_REQUEST, reason),
            Ok(record) => store(app, record).await,
        },
    }
}

async fn list_signups(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    let limit = match query.get("limit").map(|l| l.parse::<u32>()) {
        None => 1000,
        Some(Ok(limit)) if (1..=100_000).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "limit must be a number from 1 to 100000",
            )
        }
    };
    match tokio::task::spawn_blocking(move || app.store.list(limit)).await {
        Ok(Ok(rows)) => Json(Value::Array(rows)).into_response(),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the signups could not be read; retry later",
        ),
    }
}
