//! The collector's HTTP routes (contract §8).

use crate::clock;
use crate::db::{Db, DbError};
use crate::limit::RateLimit;
use crate::links;
use crate::options::Options;
use crate::store::{self, Click, Saved, Store};
use crate::validate::{self, Record};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Path};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reftrack::core::cookie::{self, Attributes};
use reftrack::core::partner_key::PartnerKey;
use reftrack::core::signup::clip;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

/// Largest body accepted, in bytes: a signup with every field at its limit is about 22 KiB
/// (`validate` checks that it fits); a real one is well under 2 KiB.
pub const MAX_BODY: usize = 32 * 1024;

/// Longest request target accepted (longer: `414`), and most header bytes (more: `431`).
pub const MAX_URI: usize = 8 * 1024;
/// See [`MAX_URI`].
pub const MAX_HEADERS: usize = 16 * 1024;

/// Most rows one page of `GET /v1/signups` holds.
pub const MAX_PAGE: i64 = 1000;

/// What every handler shares.
pub struct App {
    store: Store,
    body_timeout: Duration,
    rate: Option<RateLimit>,
    secret: Option<String>,
    allow_origins: Vec<String>,
    public_keys: Vec<String>,
    site_url: Option<Url>,
    cookie_domain: Option<String>,
    cookie_days: u32,
    trusted_proxies: usize,
    verified_clicks: bool,
    clock: Option<PathBuf>,
}

impl App {
    /// Now, in ms since the epoch: the system clock, or `--clock`'s file (tests).
    fn now_ms(&self) -> i64 {
        let from_file = self.clock.as_ref().and_then(|path| {
            std::fs::read_to_string(path)
                .ok()?
                .trim()
                .parse::<i64>()
                .ok()
        });
        from_file.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        })
    }

    fn now_iso(&self) -> String {
        clock::iso8601(UNIX_EPOCH + Duration::from_millis(self.now_ms().max(0) as u64))
    }
}

type Shared = Arc<App>;

/// The collector's routes over `store`, and the shared state (the caller closes the store when
/// the server has stopped).
pub fn router(options: &Options, store: Store) -> (Router, Shared) {
    let app = Arc::new(App {
        store,
        body_timeout: Duration::from_secs(options.request_timeout),
        rate: RateLimit::new(options.rate_limit),
        secret: options.secret.clone(),
        allow_origins: options.allow_origins.clone(),
        public_keys: options.public_keys.clone(),
        site_url: options.site_url.as_deref().and_then(|u| Url::parse(u).ok()),
        cookie_domain: options.cookie_domain.clone(),
        cookie_days: options.cookie_days,
        trusted_proxies: options.trusted_proxies,
        verified_clicks: options.verified_clicks,
        clock: options.clock.clone(),
    });
    let files = crate::files::router(&options.dist, &options.www);
    let router = Router::new()
        .route(
            "/v1/signups",
            post(post_signup).get(list_signups).options(preflight),
        )
        .route("/conversion/xid", post(post_conversion))
        .route("/r/{partner_key}", get(partner_link))
        .route("/v1/customers", post(post_customer))
        .route("/v1/partners", get(partner_report))
        .route("/healthz", get(healthz))
        .with_state(app.clone())
        .merge(files)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(request_limits))
        .layer(middleware::from_fn(log_refusals))
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    (router, app)
}

impl App {
    /// Stops the writer once it has committed what it holds.
    pub fn close(&self) {
        self.store.close();
    }
}

/// The reason of a refusal, kept on the response for the log line.
#[derive(Clone)]
struct Reason(String);

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let mut response = (status, Json(json!({ "error": &message }))).into_response();
    response.extensions_mut().insert(Reason(message));
    response
}

/// One JSON log line per refused request: status, method, route (the pattern, so no partner key
/// or query reaches the log), origin and reason; never the body, so no email or name does either.
/// Files not found are not refusals worth a line.
async fn log_refusals(request: Request, next: Next) -> Response {
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
    let response = next.run(request).await;
    let missing_file = route == "(file)" && response.status() == StatusCode::NOT_FOUND;
    if let Some(Reason(reason)) = response
        .extensions()
        .get::<Reason>()
        .filter(|_| !missing_file)
    {
        let line = json!({
            "event": "refused",
            "status": response.status().as_u16(),
            "method": method,
            "route": route,
            "origin": origin,
            "reason": reason,
        });
        eprintln!("reftrack-collector: {line}");
    }
    response
}

/// Errors the framework answers by itself (`405`, a query that does not parse, a file not found)
/// get the same `{"error": …}` body as the routes' own.
async fn json_errors(request: Request, next: Next) -> Response {
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
    let mut answer = error(status, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// `414` for a request target over [`MAX_URI`] bytes, `431` for headers over [`MAX_HEADERS`],
/// each with a reason. (A head past hyper's own buffer is refused by hyper: see `serve::Explained`.)
async fn request_limits(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI {
        return error(
            StatusCode::URI_TOO_LONG,
            format!("the request target is longer than {MAX_URI} bytes"),
        );
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADERS {
        return error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers are larger than {MAX_HEADERS} bytes"),
        );
    }
    next.run(request).await
}

/// The client's address: the socket's, or behind `--trusted-proxies`, their `X-Forwarded-For`.
fn client_ip(app: &App, socket: SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    links::client_ip(socket.ip(), forwarded, app.trusted_proxies)
}

/// The refusal of a client over `--rate-limit`: `429` with `Retry-After`.
fn rate_limited(app: &App, ip: std::net::IpAddr) -> Option<Response> {
    let limit = app.rate.as_ref()?;
    let Err(seconds) = limit.check(ip, Instant::now()) else {
        return None;
    };
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests from this address; retry in {seconds} s"),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
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
        // The SDK waits as long as a 429 or 503 asks.
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
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

/// Reads the body: at most [`MAX_BODY`] bytes, within `--request-timeout`.
async fn read_body(app: &App, body: Body) -> Result<Bytes, Response> {
    match tokio::time::timeout(app.body_timeout, to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s",
                app.body_timeout.as_secs()
            ),
        )),
    }
}

/// What a route looks up in the store before a record is saved (the partner it credits, say),
/// in the same transaction; an `Err` is the answer instead.
type Resolve = fn(&App, &mut Db, Record) -> Result<Result<Record, Box<Response>>, DbError>;

/// Resolves and stores a validated record in the writer's next group commit, and answers once
/// it is committed: `201` when new, `200` with the stored record's `event_id` when the store
/// already held it.
async fn store(app: Shared, record: Record, resolve: Resolve) -> Response {
    let received_at = app.now_iso();
    let shared = app.clone();
    let saved = app
        .store
        .write(move |db| match resolve(&shared, db, record.clone())? {
            Err(refusal) => Ok(Err(refusal)),
            Ok(record) => store::save(db, &record, &received_at).map(Ok),
        })
        .await;
    match saved {
        Ok(Err(refusal)) => *refusal,
        Ok(Ok((Saved::Created, event_id))) => (
            StatusCode::CREATED,
            Json(json!({ "status": "created", "event_id": event_id })),
        )
            .into_response(),
        Ok(Ok((Saved::Duplicate, event_id))) => (
            StatusCode::OK,
            Json(json!({ "status": "duplicate", "event_id": event_id })),
        )
            .into_response(),
        Err(db) => unavailable(&db),
    }
}

async fn post_signup(
    State(app): State<Shared>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (origin, allowed) = origin_check(&app, &headers);
    if let Some(response) = rate_limited(&app, client_ip(&app, socket, &headers)) {
        return with_cors(response, origin);
    }
    if !allowed {
        return with_cors(
            error(StatusCode::FORBIDDEN, "this origin may not post signups"),
            origin,
        );
    }
    let response = match read_body(&app, body).await {
        Err(response) => response,
        Ok(bytes) => match validate::signup(&bytes) {
            Err(reason) => error(StatusCode::BAD_REQUEST, reason),
            Ok(record) => match unknown_program(&app, &record) {
                Some(refusal) => refusal,
                None => store(app, record, credit).await,
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

/// The refusal of a request without `Authorization: Bearer <secret>` (the scheme in any case,
/// the token compared in constant time), with the `WWW-Authenticate` challenge.
fn unauthorized(app: &App, headers: &HeaderMap) -> Option<Response> {
    let challenge = |message: &str| {
        let mut response = error(StatusCode::UNAUTHORIZED, message);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"reftrack\""),
        );
        Some(response)
    };
    let Some(secret) = &app.secret else {
        return challenge(
            "no secret is configured: start the collector with --secret or REFTRACK_SECRET",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    let same = given.len() == secret.len()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        return None;
    }
    challenge("missing or wrong bearer token")
}

/// Links a signup to the click it names: the click decides the partner (a different claimed
/// partner is kept beside it, visibly), and with `--verified-clicks` a partner without a recorded
/// click is stored unverified, uncounted in the report.
fn credit(
    app: &App,
    db: &mut Db,
    mut record: Record,
) -> Result<Result<Record, Box<Response>>, DbError> {
    let click = match &record.xid {
        Some(xid) => store::click_partner(db, xid)?,
        None => None,
    };
    match click {
        Some(partner) => {
            if record.partner_key.as_deref() != Some(partner.as_str()) {
                record.claimed_partner_key = record.partner_key.take();
            }
            record.partner_key = Some(partner);
        }
        None if app.verified_clicks && record.partner_key.is_some() => record.verified = false,
        None => {}
    }
    Ok(Ok(record))
}

fn unavailable(db: &DbError) -> Response {
    eprintln!("reftrack-collector: database error: {db}");
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the store is unavailable; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

async fn post_conversion(State(app): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    let record = match read_body(&app, body).await {
        Err(response) => return response,
        Ok(bytes) => match validate::conversion(&bytes, clock::uuid_v4()) {
            Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
            Ok(record) => record,
        },
    };
    store(app, record, conversion_partner).await
}

/// A conversion is resolved to its partner through its click (or a signup that carried its xid);
/// an unknown xid is refused whole.
fn conversion_partner(
    _: &App,
    db: &mut Db,
    mut record: Record,
) -> Result<Result<Record, Box<Response>>, DbError> {
    let xid = record.xid.clone().unwrap_or_default();
    Ok(match store::xid_partner(db, &xid)? {
        None => Err(Box::new(error(StatusCode::NOT_FOUND, "unknown xid"))),
        Some(partner) => {
            record
                .body
                .insert("partner_key".into(), Value::String(partner.clone()));
            record.partner_key = Some(partner);
            Ok(record)
        }
    })
}

/// A Partnero customer credits a partner this collector has seen (a click or a record).
fn known_partner(
    _: &App,
    db: &mut Db,
    record: Record,
) -> Result<Result<Record, Box<Response>>, DbError> {
    let partner = record.partner_key.as_deref().unwrap_or_default();
    Ok(if store::known_partner(db, partner)? {
        Ok(record)
    } else {
        Err(Box::new(partnero_error(
            StatusCode::BAD_REQUEST,
            "Invalid partner key",
        )))
    })
}

/// `GET /r/{partner_key}?to=`: records a click and sends the visitor to the site with the partner
/// key and the click id in the URL (and, with `--cookie-domain`, in first-party cookies).
async fn partner_link(
    State(app): State<Shared>,
    Path(partner_key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let ip = client_ip(&app, socket, &headers);
    if let Some(response) = rate_limited(&app, ip) {
        return response;
    }
    let Ok(key) = PartnerKey::parse(&partner_key) else {
        return error(
            StatusCode::NOT_FOUND,
            "no such partner link: the partner key is not valid",
        );
    };
    let destination = match links::destination(
        query.get("to").map(String::as_str),
        app.site_url.as_ref(),
        &app.allow_origins,
    ) {
        Ok(url) => url,
        Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Ok(new_id) = links::click_id() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness for a click id; retry later",
        );
    };
    let (at_ms, at) = (app.now_ms(), app.now_iso());
    let click = Click {
        partner_key: key.as_str().to_owned(),
        destination: destination.to_string(),
        referrer: header(header::REFERER).map(|r| clip(r, validate::MAX_TEXT).to_owned()),
        user_agent: clip(header(header::USER_AGENT).unwrap_or_default(), 512).to_owned(),
        ip_prefix: links::ip_prefix(ip),
        at_ms,
        at,
    };
    let saved = app
        .store
        .write(move |db| store::click(db, &click, &new_id))
        .await;
    let xid = match saved {
        Ok((xid, _)) => xid,
        Err(e) => return unavailable(&e),
    };
    let landing = links::landing(&destination, key.as_str(), &xid);
    let mut response = Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, landing.as_str())
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::empty())
        .unwrap_or_default();
    if let Some(domain) = &app.cookie_domain {
        // The SDK's own attributes, set by the response of a top-level navigation from the site's
        // own domain: the cookies Safari does not cap at 7 days.
        let attributes = Attributes {
            max_age: app.cookie_days * 86_400,
            domain: Some(domain.clone()),
            secure: destination.scheme() == "https",
        };
        for (name, value) in [
            ("growSumoPartnerKey", key.as_str()),
            ("ps_partner_key", key.as_str()),
            ("ps_xid", xid.as_str()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&cookie::set_cookie(name, value, &attributes))
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

/// A Partnero-style error: `{"message": ...}` with its status.
fn partnero_error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let mut response = (status, Json(json!({ "message": &message, "status": 0 }))).into_response();
    response.extensions_mut().insert(Reason(message));
    response
}

/// `POST /v1/customers`: Partnero's server-side customer create, stored as a signup credited to
/// the partner, answered in Partnero's shape.
async fn post_customer(State(app): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    let bytes = match read_body(&app, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let customer = match validate::partnero_customer(&bytes) {
        Ok(customer) => customer,
        Err((422, reason)) => return partnero_error(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Err((_, reason)) => return partnero_error(StatusCode::BAD_REQUEST, reason),
    };
    let program = app
        .public_keys
        .first()
        .cloned()
        .unwrap_or_else(|| "partnero".into());
    let record = validate::partnero_record(&customer, &program, clock::uuid_v4());
    let data = json!({
        "key": customer.key,
        "email": customer.email,
        "name": customer.name,
        "partner": { "key": customer.partner_key },
        "options": { "referral_url": customer.referral_url },
    });
    // An existing customer is the store's duplicate: Partnero answers 422 for it.
    let response = store(app, record, known_partner).await;
    match response.status() {
        StatusCode::CREATED => (
            StatusCode::CREATED,
            Json(json!({ "data": data, "status": 1 })),
        )
            .into_response(),
        StatusCode::OK => partnero_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The customer already exists",
        ),
        StatusCode::BAD_REQUEST => response,
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the customer could not be stored; retry later",
        ),
    }
}

/// `GET /v1/partners?since=&until=`: per partner, clicks, signups, conversions, the conversion
/// rate (signups per click) and the last activity; and the same per day.
async fn partner_report(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    let day = |name: &str, default: &str| -> Result<String, String> {
        match query.get(name).map(|d| d.trim()) {
            None | Some("") => Ok(default.to_owned()),
            Some(d) if is_day(d) => Ok(d.to_owned()),
            Some(d) => Err(format!("{name}={d}: expected a date, YYYY-MM-DD")),
        }
    };
    let (since, until) = match (day("since", "0000-01-01"), day("until", "9999-12-31")) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(reason), _) | (_, Err(reason)) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let (s, u) = (since.clone(), until.clone());
    let rows = app.store.read(move |db| store::report(db, &s, &u)).await;
    let Ok((partners, days)) = rows else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the report could not be read; retry later",
        );
    };
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
    Json(json!({ "since": since, "until": until, "partners": partners, "days": days }))
        .into_response()
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

/// `GET /v1/signups?limit=&before=`: one page of records, newest first, streamed as a JSON array
/// (at most [`MAX_PAGE`] rows, default 100). When older rows remain, `Link: <…>; rel="next"` and
/// `X-Next-Before` give the cursor of the next page. Reads use their own connection and snapshot:
/// signups keep being stored meanwhile.
async fn list_signups(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    let limit = match query.get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(limit)) if (1..=MAX_PAGE).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit must be a number from 1 to {MAX_PAGE}"),
            )
        }
    };
    let before = match query.get("before").map(|b| b.parse::<i64>()) {
        None => i64::MAX,
        Some(Ok(before)) if before > 0 => before,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "before must be the X-Next-Before of the previous page",
            )
        }
    };
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let (head, first) = tokio::sync::oneshot::channel();
    let readers = app.store.reader();
    tokio::task::spawn_blocking(move || {
        let mut head = Some(head);
        let result = readers.with(|db| {
            db.begin_read()?;
            let span = store::page(db, before, limit)?;
            let _ = head
                .take()
                .map(|h| h.send(Ok(span.map(|(low, _, older)| (low, older)))));
            let Some((low, high, _)) = span else {
                return Ok(());
            };
            let mut separator = "[";
            store::each_listed(db, low, high, |row| {
                let chunk = format!("{separator}{row}");
                separator = ",";
                chunks.blocking_send(Ok(Bytes::from(chunk))).is_ok()
            })
        });
        if let Some(head) = head {
            let _ = head.send(Err(()));
        } else if let Err(e) = result {
            eprintln!("reftrack-collector: database error: {e}");
            let _ = chunks.blocking_send(Err(std::io::Error::other(e.to_string())));
        } else {
            let _ = chunks.blocking_send(Ok(Bytes::from_static(b"]")));
        }
    });
    let span = match first.await {
        Ok(Ok(span)) => span,
        _ => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the signups could not be read; retry later",
            )
        }
    };
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store");
    if let Some((low, true)) = span {
        response = response
            .header(
                header::LINK,
                format!("</v1/signups?limit={limit}&before={low}>; rel=\"next\""),
            )
            .header("x-next-before", low.to_string());
    }
    let body = match span {
        None => Body::from("[]"),
        Some(_) => Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
            body,
            |mut body| async { body.recv().await.map(|chunk| (chunk, body)) },
        ))),
    };
    response.body(body).unwrap_or_default()
}

/// `GET /healthz`: `200` when the store answers, `503` when it does not (for load balancers).
async fn healthz(State(app): State<Shared>) -> Response {
    match app.store.read(store::ping).await {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(e) => {
            eprintln!("reftrack-collector: health check: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "the store is unreachable")
        }
    }
}
