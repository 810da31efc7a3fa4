//! The layers that protect routes by where they are mounted (see `app.rs`): the bearer token of
//! the authenticated router, with its limit on failed tokens; the rate limits of the public
//! routes; the CORS and origin check of the browser routes. And the layers every answer passes:
//! request-size limits, `{"error": …}` bodies for the framework's own refusals, the refusal log.

use super::error::{ApiError, Reason};
use super::extract::{Authorized, ClientIp, StripeSigned, MAX_WEBHOOK_BODY};
use super::state::Shared;
use crate::domain::stripe;
use axum::body::to_bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Longest request target accepted (longer: `414`), and most header bytes (more: `431`).
pub const MAX_URI: usize = 8 * 1024;
/// See [`MAX_URI`].
pub const MAX_HEADERS: usize = 16 * 1024;

/// The authenticated router's layer: `Authorization: Bearer <secret>` (the scheme in any case,
/// the token compared in constant time), or `401` with the challenge. An address that keeps
/// sending wrong tokens is answered `429` with `Retry-After` before its token is even read.
pub async fn authenticated(
    State(state): State<Shared>,
    mut request: Request,
    next: Next,
) -> Response {
    let ClientIp(ip) = ClientIp::of(&state, request.extensions(), request.headers());
    let now = Instant::now();
    if let Err(seconds) = state.failed_tokens.peek(ip, now) {
        return ApiError::too_many(
            format!("too many wrong tokens from this address; retry in {seconds} s"),
            seconds,
        )
        .into_response();
    }
    let Some(secret) = &state.secret else {
        return ApiError::unauthorized("this collector has no --secret: the route is closed")
            .into_response();
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    if !same(given.as_bytes(), secret.as_bytes()) {
        let _ = state.failed_tokens.check(ip, now);
        return ApiError::unauthorized("missing or wrong bearer token").into_response();
    }
    request.extensions_mut().insert(Authorized::granted());
    next.run(request).await
}

/// Whether two tokens are equal, in time that depends on their lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The webhook router's layer: the body (at most [`MAX_WEBHOOK_BODY`]) must carry a valid
/// `Stripe-Signature` for one of `--stripe-webhook-secret`, within 300 s; otherwise `400` with
/// why, and nothing runs. An address that sends 10 bad signatures is answered `429` before its
/// body is read, one more try per 5 s. The checked body travels on as [`StripeSigned`].
pub async fn stripe_signed(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let ClientIp(ip) = ClientIp::of(&state, request.extensions(), request.headers());
    if let Err(seconds) = state.failed_tokens.peek(ip, Instant::now()) {
        return ApiError::too_many(
            format!("too many bad signatures from this address; retry in {seconds} s"),
            seconds,
        )
        .into_response();
    }
    if state.stripe_secrets.is_empty() {
        return ApiError::bad_request(
            "this collector has no --stripe-webhook-secret: Stripe's events cannot be checked",
        )
        .into_response();
    }
    let (mut parts, body) = request.into_parts();
    let bytes =
        match tokio::time::timeout(state.body_timeout, to_bytes(body, MAX_WEBHOOK_BODY)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {MAX_WEBHOOK_BODY} bytes"),
                )
                .into_response()
            }
            Err(_) => {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body did not arrive in time",
                )
                .into_response()
            }
        };
    let header = parts
        .headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = state.now_ms() / 1000;
    if let Err(refusal) = stripe::verify(header, &bytes, &state.stripe_secrets, now) {
        // An address that keeps sending bad signatures is not Stripe: limited as wrong tokens are.
        let _ = state.failed_tokens.check(ip, Instant::now());
        return ApiError::bad_request(refusal.reason()).into_response();
    }
    parts.extensions.insert(StripeSigned(bytes.clone()));
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The public write routes' layer: `--rate-limit` per client address, over it `429`.
pub async fn limit_writes(State(state): State<Shared>, request: Request, next: Next) -> Response {
    limited(state.writes.as_ref(), &state, request, next).await
}

/// The static files' layer: ten times `--rate-limit`.
pub async fn limit_reads(State(state): State<Shared>, request: Request, next: Next) -> Response {
    limited(state.reads.as_ref(), &state, request, next).await
}

async fn limited(
    limit: Option<&super::rate::RateLimit>,
    state: &Shared,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limit) = limit {
        let ClientIp(ip) = ClientIp::of(state, request.extensions(), request.headers());
        if let Err(seconds) = limit.check(ip, Instant::now()) {
            return ApiError::too_many(
                format!("too many requests from this address; retry in {seconds} s"),
                seconds,
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The browser routes' layer: a request from an origin not allowed is `403` and gets no CORS
/// headers (a browser then shows the page nothing); an allowed one gets them on every answer,
/// refusals included, so the SDK can read why and how long to wait.
pub async fn cors(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    if !origin_allowed(&state, request.headers()) {
        return ApiError::forbidden("this origin may not post signups").into_response();
    }
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
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
        // The SDK waits as long as a 429 or 503 asks.
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
    response
}

/// CORS headers on a `404` or `405` answered to an allowed origin (a mistyped path or method
/// posted from a page), which no route's own layer answered: the SDK can then read the status and
/// name it, instead of seeing no answer at all.
pub async fn cors_on_mistakes(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .filter(|_| origin_allowed(&state, request.headers()))
        .cloned();
    let mut response = next.run(request).await;
    let mistake = matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    );
    if let (Some(origin), true) = (origin, mistake) {
        let headers = response.headers_mut();
        if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    response
}

/// Whether the request's `Origin` may post signups (a request without one is no browser's
/// cross-origin request: curl, a server).
fn origin_allowed(state: &Shared, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    state.allow_origins.is_empty()
        || origin.to_str().is_ok_and(|o| {
            state
                .allow_origins
                .iter()
                .any(|a| a == o.trim_end_matches('/'))
        })
}

/// `414` for a request target over [`MAX_URI`] bytes, `431` for headers over [`MAX_HEADERS`].
/// (A head past hyper's own buffer is refused by hyper: see `server::explained`.)
pub async fn request_limits(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the request target is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADERS {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers are larger than {MAX_HEADERS} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Errors the framework answers by itself (`405`, a query that does not parse, a file not found)
/// get the same `{"error": …}` body as the routes' own.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
        text => text.to_owned(),
    };
    let mut answer = ApiError::new(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// One JSON log line per refused request — status, method, route (the pattern, so no partner key
/// or query reaches the log), origin and reason; never the body, so no email or name does either
/// — at most one a second per reason and client address, with the count of those held back.
/// Files not found are not refusals worth a line.
pub async fn log_refusals(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(file)", MatchedPath::as_str)
        .to_owned();
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(String::from);
    let ClientIp(ip) = ClientIp::of(&state, request.extensions(), request.headers());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if route == "(file)" && status == 404 {
        return response;
    }
    if let Some(Reason(reason)) = response.extensions().get::<Reason>() {
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Some(held_back) = state.refusals.admit(status, &route, ip, second) {
            tracing::warn!(status, method, route, origin, reason, held_back, "refused");
        }
    }
    response
}
