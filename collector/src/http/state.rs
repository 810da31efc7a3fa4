//! What every handler and layer shares: the store, the settings it acts on, the limiters.

use super::client_ip::Proxies;
use super::log::RefusalLog;
use super::rate::RateLimit;
use crate::config::Config;
use crate::domain::credit::Policy;
use crate::domain::time;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use url::Url;

/// Failed tokens an address may send in a burst, then one per [`FAILED_TOKEN_SECONDS`].
pub const FAILED_TOKEN_BURST: f64 = 10.0;
/// See [`FAILED_TOKEN_BURST`].
pub const FAILED_TOKEN_SECONDS: f64 = 5.0;

/// The shared state.
pub type Shared = Arc<AppState>;

/// The collector's state.
pub struct AppState {
    /// The records, clicks and everything else stored.
    pub store: Store,
    /// How long a request body may take (`--request-timeout`).
    pub body_timeout: Duration,
    /// The public write routes' limit (`--rate-limit`).
    pub writes: Option<RateLimit>,
    /// The static files' limit (ten times `--rate-limit`).
    pub reads: Option<RateLimit>,
    /// Failed bearer tokens per address.
    pub failed_tokens: RateLimit,
    /// Bearer token of the authenticated routes.
    pub secret: Option<String>,
    /// Origins allowed to post signups; empty means any.
    pub allow_origins: Vec<String>,
    /// Programs whose signups are taken; empty means any.
    pub public_keys: Vec<String>,
    /// Where partner links lead by default.
    pub site_url: Option<Url>,
    /// The domain partner-link redirects set the attribution cookies on.
    pub cookie_domain: Option<String>,
    /// Lifetime of those cookies, in days.
    pub cookie_days: u32,
    /// The site's reverse proxies.
    pub proxies: Proxies,
    /// What decides a claim's standing (`--verified-clicks`, `--require-signed-signups`).
    pub policy: Policy,
    /// The key signed customer keys are checked with (`--signup-secret`).
    pub signup_secret: Option<String>,
    /// Credit only registered partners (`--registered-partners-only`).
    pub registered_only: bool,
    /// Visitors one network may bring one partner per hour (`--clicks-per-address`).
    pub clicks_per_address: u32,
    /// The signing secrets of Stripe's webhook endpoint (`--stripe-webhook-secret`).
    pub stripe_secrets: Vec<String>,
    /// The currency of amounts that name none (Partnero's), `--currency`.
    pub currency: String,
    /// Which of Stripe's modes is recorded (`--stripe-livemode`); the other is acknowledged.
    pub stripe_livemode: bool,
    /// The refusal log's limiter.
    pub refusals: RefusalLog,
    /// The last write probe of `/healthz`: when, and what it found.
    pub health: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    db_timeout: Duration,
    clock: Option<PathBuf>,
}

impl AppState {
    /// The state for `config` over `store`.
    pub fn new(config: &Config, store: Store) -> Shared {
        Arc::new(AppState {
            store,
            body_timeout: Duration::from_secs(config.request_timeout),
            writes: RateLimit::new(config.rate_limit),
            reads: RateLimit::new(config.rate_limit.saturating_mul(10)),
            failed_tokens: RateLimit::with_burst(1.0 / FAILED_TOKEN_SECONDS, FAILED_TOKEN_BURST),
            secret: config.secret.clone(),
            allow_origins: config.allow_origins.clone(),
            public_keys: config.public_keys.clone(),
            site_url: config.site_url.as_deref().and_then(|u| Url::parse(u).ok()),
            cookie_domain: config.cookie_domain.clone(),
            cookie_days: config.cookie_days,
            proxies: Proxies::new(&config.trusted_proxies_at, config.trusted_hops),
            policy: Policy {
                verified_clicks: config.verified_clicks,
                require_signed: config.require_signed_signups,
            },
            signup_secret: config.signup_secret.clone(),
            registered_only: config.registered_partners_only,
            clicks_per_address: config.clicks_per_address,
            stripe_secrets: config.stripe_webhook_secrets.clone(),
            stripe_livemode: config.stripe_livemode,
            currency: config.currency.clone(),
            refusals: RefusalLog::default(),
            health: tokio::sync::Mutex::new(None),
            db_timeout: Duration::from_secs(config.db_timeout),
            clock: config.clock.clone(),
        })
    }

    /// Now, in ms since the epoch: the system clock, or `--clock`'s file (tests).
    pub fn now_ms(&self) -> i64 {
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

    /// Now, as ISO 8601 text.
    pub fn now_iso(&self) -> String {
        time::iso8601(UNIX_EPOCH + Duration::from_millis(self.now_ms().max(0) as u64))
    }

    /// How long a database call may take (`--db-timeout`).
    pub fn store_timeout(&self) -> Duration {
        self.db_timeout
    }

    /// Stops the writer once it has committed what it holds.
    pub fn close(&self) {
        self.store.close();
    }
}
