//! The collector's HTTP routes (contract §8).

use crate::clock;
use crate::links;
use crate::options::Options;
use crate::store::Click;
use crate::store::{Saved, Store};
use crate::validate::{self, Record};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Path};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reftrack::core::cookie::{self, Attributes};
use reftrack::core::partner_key::PartnerKey;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

/// Largest body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// What every handler shares.
pub struct App {
    store: Store,
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

/// The collector's routes over `store`.
pub fn router(options: &Options, store: Store) -> Router {
    let app = Arc::new(App {
        store,
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
        .route("/r/{partner_key}", get(partner_link))
        .route("/v1/customers", post(post_customer))
        .route("/v1/partners", get(partner_report))
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

/// What a route looks up in the store before a record is saved (the partner it credits, say); an
/// `Err` is the answer instead.
type Resolve = fn(&App, Record) -> Result<Record, Box<Response>>;

/// Resolves and stores a validated record — the SQLite work off the async threads, in one
/// blocking task — and answers.
async fn store(app: Shared, record: Record, resolve: Resolve) -> Response {
    let received_at = app.now_iso();
    let event_id = record.event_id.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let record = resolve(&app, record)?;
        Ok::<_, Box<Response>>(app.store.save(&record, &received_at))
    })
    .await;
    let saved = match saved {
        Ok(Err(response)) => return *response,
        Ok(Ok(saved)) => Ok(saved),
        Err(join) => Err(join),
    };
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

/// Links a signup to the click it names: the click decides the partner (a different claimed
/// partner is kept beside it, visibly), and with `--verified-clicks` a partner without a recorded
/// click is stored unverified, uncounted in the report.
fn credit(app: &App, mut record: Record) -> Result<Record, Box<Response>> {
    let click = match &record.xid {
        Some(xid) => app
            .store
            .click_partner(xid)
            .map_err(|e| Box::new(unavailable(&e)))?,
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
    Ok(record)
}

fn unavailable(db: &rusqlite::Error) -> Response {
    eprintln!("reftrack-collector: database error: {db}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the store is unavailable; retry later",
    )
}

async fn post_conversion(State(app): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    if let Some(response) = unauthorized(&app, &headers) {
        return response;
    }
    let record = match read_body(body).await {
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
fn conversion_partner(app: &App, mut record: Record) -> Result<Record, Box<Response>> {
    let xid = record.xid.clone().unwrap_or_default();
    match app.store.xid_partner(&xid) {
        Err(e) => Err(Box::new(unavailable(&e))),
        Ok(None) => Err(Box::new(error(StatusCode::NOT_FOUND, "unknown xid"))),
        Ok(Some(partner)) => {
            record
                .body
                .insert("partner_key".into(), Value::String(partner.clone()));
            record.partner_key = Some(partner);
            Ok(record)
        }
    }
}

/// A Partnero customer credits a partner this collector has seen (a click or a record).
fn known_partner(app: &App, record: Record) -> Result<Record, Box<Response>> {
    let partner = record.partner_key.as_deref().unwrap_or_default();
    match app.store.known_partner(partner) {
        Err(e) => Err(Box::new(unavailable(&e))),
        Ok(false) => Err(Box::new(partnero_error(
            StatusCode::BAD_REQUEST,
            "Invalid partner key",
        ))),
        Ok(true) => Ok(record),
    }
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
    let forwarded = header(header::HeaderName::from_static("x-forwarded-for"));
    let ip = links::client_ip(socket.ip(), forwarded, app.trusted_proxies);
    let Ok(new_id) = links::click_id() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness for a click id; retry later",
        );
    };
    let (at_ms, at) = (app.now_ms(), app.now_iso());
    let saved = {
        let app = app.clone();
        let (key, dest) = (key.as_str().to_owned(), destination.to_string());
        let referrer = header(header::REFERER).map(String::from);
        let agent = header(header::USER_AGENT).unwrap_or_default().to_owned();
        let prefix = links::ip_prefix(ip);
        tokio::task::spawn_blocking(move || {
            let click = Click {
                partner_key: &key,
                destination: &dest,
                referrer: referrer.as_deref(),
                user_agent: &agent,
                ip_prefix: &prefix,
                at_ms,
                at: &at,
            };
            app.store.click(&click, &new_id)
        })
        .await
    };
    let xid = match saved {
        Ok(Ok((xid, _))) => xid,
        Ok(Err(e)) => return unavailable(&e),
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; retry later",
            )
        }
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
    let bytes = match read_body(body).await {
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
    let rows = tokio::task::spawn_blocking(move || app.store.report(&s, &u)).await;
    let Ok(Ok((partners, days))) = rows else {
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
