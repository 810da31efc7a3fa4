//! The route table in-process: the router that `app()` builds, called with
//! `tower::ServiceExt::oneshot`, no socket. It checks what `app.rs` promises: every route is
//! protected by where it is mounted.

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use reftrack_collector::http::Authorized;
use reftrack_collector::store::Store;
use reftrack_collector::{app, Config};
use std::net::SocketAddr;
use std::time::Duration;
use tower::ServiceExt;

fn router(extra: &[&str]) -> Router {
    let dir = std::env::temp_dir().join(format!(
        "reftrack-app-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("reftrack.db").display().to_string();
    let mut args = vec!["reftrack-collector", "--db", &db, "--secret", "s3cret"];
    args.extend_from_slice(extra);
    let config = Config::parse_from_env(args).unwrap();
    let store = Store::open(&config.db, Duration::from_secs(5)).unwrap();
    app(&config, store).0
}

fn request(method: &str, path: &str, from: [u8; 4], token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let mut request = builder.body(Body::from("{}")).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((from, 40_000))));
    request
}

/// Every authenticated route of the table, as a client would call it.
const AUTHENTICATED: [(&str, &str); 20] = [
    ("GET", "/v1/signups"),
    ("GET", "/v1/signups.csv"),
    ("POST", "/conversion/xid"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/partners"),
    ("POST", "/v1/partners/alex"),
    ("GET", "/v1/partners/alex"),
    ("PATCH", "/v1/partners/alex"),
    ("GET", "/v1/transactions/1"),
    ("POST", "/v1/transactions/1/attribute"),
    ("POST", "/api/v2/transactions"),
    ("POST", "/v1/transactions"),
    ("DELETE", "/v1/transactions/pn_1"),
    ("GET", "/v1/rewards"),
    ("PUT", "/v1/rewards"),
    ("POST", "/v1/rewards/preview"),
    ("GET", "/v1/payouts/due"),
    ("POST", "/v1/payouts"),
    ("GET", "/v1/partners/alex/statement"),
    ("POST", "/v1/partners/alex/adjustments"),
];

#[tokio::test]
async fn every_authenticated_route_refuses_without_the_token_and_opens_with_it() {
    let app = router(&[]);
    // Each route from an address of its own: ten wrong tokens from one address are limited.
    for (n, (method, path)) in (10u8..).zip(AUTHENTICATED) {
        let reply = app
            .clone()
            .oneshot(request(method, path, [192, 0, 2, n], None))
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert!(
            reply.headers().contains_key("www-authenticate"),
            "{method} {path}"
        );
        let reply = app
            .clone()
            .oneshot(request(method, path, [192, 0, 2, 2], Some("s3cret")))
            .await
            .unwrap();
        assert_ne!(reply.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn the_public_and_browser_routes_are_rate_limited() {
    let app = router(&["--rate-limit", "1"]);
    for (method, path) in [
        ("GET", "/healthz"),
        ("POST", "/v1/signups"),
        ("POST", "/v1/clicks"),
        ("GET", "/r/alex-smith"),
    ] {
        let mut statuses = Vec::new();
        for _ in 0..7 {
            let reply = app
                .clone()
                .oneshot(request(method, path, [198, 51, 100, 7], None))
                .await
                .unwrap();
            statuses.push(reply.status().as_u16());
        }
        assert_eq!(statuses.last(), Some(&429), "{method} {path}: {statuses:?}");
    }
}

#[tokio::test]
async fn the_stripe_webhook_runs_only_behind_a_valid_signature() {
    let app = router(&["--stripe-webhook-secret", "whsec_x"]);
    let mut unsigned = request("POST", "/webhooks/stripe", [192, 0, 2, 3], Some("s3cret"));
    unsigned
        .headers_mut()
        .insert("stripe-signature", "t=1,v1=00".parse().unwrap());
    let reply = app.clone().oneshot(unsigned).await.unwrap();
    assert_eq!(
        reply.status(),
        StatusCode::BAD_REQUEST,
        "the bearer token is no signature"
    );
    // A handler that needs the signature, mounted elsewhere by mistake, refuses too.
    async fn webhook(_: reftrack_collector::http::StripeSigned) -> &'static str {
        "ran"
    }
    let wrong = Router::new().route("/oops", axum::routing::post(webhook));
    let reply = wrong
        .oneshot(request("POST", "/oops", [192, 0, 2, 9], None))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_handler_that_needs_the_token_refuses_when_mounted_without_its_router() {
    // A mistake in the table: an authenticated handler on a plain router. It fails closed.
    async fn secret(_: Authorized) -> &'static str {
        "secret"
    }
    let wrong = Router::new().route("/oops", get(secret));
    let reply = wrong
        .oneshot(request("GET", "/oops", [192, 0, 2, 9], Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let body = to_bytes(reply.into_body(), 1024).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("bearer token"));
}

#[tokio::test]
async fn a_mistyped_path_or_method_from_an_allowed_origin_is_answered_with_cors() {
    let app = router(&["--allow-origin", "https://www.acme.test"]);
    let call = |method: &str, path: &str, origin: &str| {
        let mut request = request(method, path, [192, 0, 2, 60], None);
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        app.clone().oneshot(request)
    };
    for (method, path, status) in [
        ("GET", "/v1/nothing", StatusCode::NOT_FOUND),
        ("POST", "/v1/signup", StatusCode::METHOD_NOT_ALLOWED),
        ("PUT", "/v1/clicks", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let reply = call(method, path, "https://www.acme.test").await.unwrap();
        assert_eq!(reply.status(), status, "{method} {path}");
        assert_eq!(
            reply.headers()["access-control-allow-origin"],
            "https://www.acme.test",
            "{method} {path}: the page can read the status"
        );
        let other = call(method, path, "https://evil.test").await.unwrap();
        assert_eq!(other.status(), status);
        assert!(
            !other.headers().contains_key("access-control-allow-origin"),
            "{method} {path}: no CORS for another origin"
        );
    }
}
