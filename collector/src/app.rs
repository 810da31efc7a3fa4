//! The route table. Every route is mounted on one of three routers, and the router decides how
//! it is protected:
//!
//! | router          | protection                                                         |
//! | --------------- | ------------------------------------------------------------------ |
//! | `public`        | `--rate-limit` per client address                                  |
//! | `browser`       | `--rate-limit`, then the origin check and CORS (`--allow-origin`)  |
//! | `authenticated` | the bearer `--secret`, with a limit on wrong tokens per address    |
//! | `webhooks`      | the sender's signature over the raw body (`--stripe-webhook-secret`) |
//! | files           | ten times `--rate-limit`; read-only, inside `--dist` and `--www`   |
//!
//! A new route goes into the router whose protection it needs; nothing else protects it. The
//! handlers of authenticated routes also take [`crate::http::Authorized`], which only the
//! authenticated router's layer grants, so one mounted elsewhere by mistake refuses everything.

use crate::config::Config;
use crate::http::{files, guards, AppState, Shared};
use crate::routes::{
    clicks, conversions, customers, health, links, partners, payouts, rewards, signups,
    transactions, webhooks,
};
use crate::store::Store;
use axum::http::{header, HeaderValue};
use axum::middleware::from_fn;
use axum::middleware::from_fn_with_state as layer;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// A router whose every route gets one protection: routes are added only through
/// [`Guarded::route`], which wraps the route's handlers (not the `405` of other methods) in it.
struct Guarded {
    router: Router<Shared>,
    guard: Box<dyn Fn(MethodRouter<Shared>) -> MethodRouter<Shared>>,
}

impl Guarded {
    fn new(guard: impl Fn(MethodRouter<Shared>) -> MethodRouter<Shared> + 'static) -> Guarded {
        Guarded {
            router: Router::new(),
            guard: Box::new(guard),
        }
    }

    fn route(mut self, path: &str, handlers: MethodRouter<Shared>) -> Guarded {
        self.router = self.router.route(path, (self.guard)(handlers));
        self
    }
}

/// The collector's router over `store`, and its state (the caller closes the store when the
/// server has stopped).
pub fn app(config: &Config, store: Store) -> (Router, Shared) {
    let state = AppState::new(config, store);
    let s = state.clone();
    let public =
        Guarded::new(move |routes| routes.route_layer(layer(s.clone(), guards::limit_writes)))
            .route("/r/{partner_key}", get(links::follow))
            .route("/healthz", get(health::check));

    let s = state.clone();
    let browser = Guarded::new(move |routes| {
        routes
            .route_layer(layer(s.clone(), guards::limit_writes))
            .route_layer(layer(s.clone(), guards::cors))
    })
    .route(
        "/v1/signups",
        post(signups::create).options(signups::preflight),
    )
    .route(
        "/v1/clicks",
        post(clicks::create).options(clicks::preflight),
    );

    let s = state.clone();
    let authenticated =
        Guarded::new(move |routes| routes.route_layer(layer(s.clone(), guards::authenticated)))
            .route("/v1/signups", get(signups::list))
            .route("/v1/signups.csv", get(signups::export))
            .route("/conversion/xid", post(conversions::create))
            .route("/v1/customers", post(customers::create))
            .route("/v1/partners", get(partners::report))
            .route(
                "/v1/partners/{key}",
                post(partners::register)
                    .get(partners::show)
                    .patch(partners::change),
            )
            .route("/api/v2/transactions", post(transactions::partnerstack))
            .route("/v1/transactions", post(transactions::partnero))
            .route(
                "/v1/transactions/{id}",
                get(transactions::show).delete(transactions::partnero_delete),
            )
            .route(
                "/v1/transactions/{id}/attribute",
                post(transactions::attribute),
            )
            .route("/v1/rewards", get(rewards::list).put(rewards::set))
            .route("/v1/rewards/preview", post(rewards::preview))
            .route("/v1/payouts/due", get(payouts::due))
            .route("/v1/payouts", post(payouts::create))
            .route("/v1/partners/{key}/adjustments", post(payouts::adjust))
            .route("/v1/partners/{key}/statement", get(payouts::statement))
            .route(
                "/v1/partners/{key}/statement.csv",
                get(payouts::statement_csv),
            );

    let s = state.clone();
    let webhooks =
        Guarded::new(move |routes| routes.route_layer(layer(s.clone(), guards::stripe_signed)))
            .route("/webhooks/stripe", post(webhooks::stripe));

    let files =
        files::router(&config.dist, &config.www).layer(layer(state.clone(), guards::limit_reads));

    let router = Router::new()
        .merge(public.router)
        .merge(browser.router)
        .merge(authenticated.router)
        .merge(webhooks.router)
        .with_state(state.clone())
        .merge(files)
        .layer(from_fn(guards::json_errors))
        .layer(layer(state.clone(), guards::cors_on_mistakes))
        .layer(from_fn(guards::request_limits))
        .layer(layer(state.clone(), guards::log_refusals))
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    (router, state)
}
