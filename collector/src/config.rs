//! The collector's settings: every flag declared once, with its environment variable and its
//! default, and `--help` made from the same declaration. A flag given wins over its variable.

use crate::store::Target;
use clap::Parser;
use ipnet::IpNet;
use std::path::PathBuf;

/// reftrack-collector: receives reftrack signups and serves the SDK and the demo site.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "reftrack-collector",
    version,
    about,
    max_term_width = 100,
    args_override_self = true
)]
pub struct Config {
    /// Where to listen (port 0 picks a free port; the first line printed says which).
    #[arg(long, env = "REFTRACK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// An SQLite file, created if missing, or a PostgreSQL URL
    /// (postgres://user:password@host:port/database) that several collectors share.
    #[arg(long, env = "REFTRACK_DB", default_value = "reftrack.db", value_parser = target, global = true)]
    pub db: Target,

    /// Bearer token of the authenticated routes; without it they answer 401.
    #[arg(long, env = "REFTRACK_SECRET", hide_env_values = true, value_parser = non_empty)]
    pub secret: Option<String>,

    /// An origin allowed to post signups; repeatable (the variable: comma-separated). Default: any.
    #[arg(long = "allow-origin", env = "REFTRACK_ALLOW_ORIGIN", value_delimiter = ',', value_parser = origin)]
    pub allow_origins: Vec<String>,

    /// A program whose signups are taken; repeatable. Default: any.
    #[arg(long = "public-key", env = "REFTRACK_PUBLIC_KEY", value_delimiter = ',', value_parser = public_key)]
    pub public_keys: Vec<String>,

    /// The site partner links lead to by default (default: the first --allow-origin); with
    /// --allow-origin, the origins they may lead to.
    #[arg(long, env = "REFTRACK_SITE_URL", value_parser = site_url)]
    pub site_url: Option<String>,

    /// Partner links also set the attribution cookies on this domain (only when the collector is
    /// reached through the site's own domain).
    #[arg(long, env = "REFTRACK_COOKIE_DOMAIN", value_parser = cookie_domain)]
    pub cookie_domain: Option<String>,

    /// Lifetime of those cookies, in days.
    #[arg(long, env = "REFTRACK_COOKIE_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=400))]
    pub cookie_days: u32,

    /// The address (or network, in CIDR notation) of a reverse proxy of the site's own; repeatable.
    /// X-Forwarded-For is read only on connections from these addresses.
    #[arg(long = "trusted-proxy", env = "REFTRACK_TRUSTED_PROXY", value_delimiter = ',', value_parser = network)]
    pub trusted_proxies_at: Vec<IpNet>,

    /// How many rightmost X-Forwarded-For hops the trusted proxies append (0: every hop that is
    /// itself a --trusted-proxy is skipped). Without --trusted-proxy, only a proxy on this
    /// machine (loopback) is trusted.
    #[arg(
        long = "trusted-proxies",
        env = "REFTRACK_TRUSTED_PROXIES",
        default_value_t = 0
    )]
    pub trusted_hops: usize,

    /// Credit a partner only through a recorded click of its link (or a signed signup).
    #[arg(long, env = "REFTRACK_VERIFIED_CLICKS")]
    pub verified_clicks: bool,

    /// The secret the site's server signs customer keys with: a signup whose customer_hash is
    /// hex(HMAC-SHA256(secret, customer_key)) is confirmed by the site, and beats browser claims.
    #[arg(long, env = "REFTRACK_SIGNUP_SECRET", hide_env_values = true, value_parser = non_empty)]
    pub signup_secret: Option<String>,

    /// Store unsigned signups, but never credit a partner for them (needs --signup-secret).
    #[arg(
        long,
        env = "REFTRACK_REQUIRE_SIGNED_SIGNUPS",
        requires = "signup_secret"
    )]
    pub require_signed_signups: bool,

    /// Credit only partners registered through POST /v1/partners/{key}; links and claims naming
    /// any other key are recorded as unattributed.
    #[arg(long, env = "REFTRACK_REGISTERED_PARTNERS_ONLY")]
    pub registered_partners_only: bool,

    /// Visitors (user agents) one network (/24, /48) may bring one partner per hour as clicks;
    /// more are counted as suppressed.
    #[arg(long, env = "REFTRACK_CLICKS_PER_ADDRESS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub clicks_per_address: u32,

    /// The signing secret (whsec_…) of the Stripe webhook endpoint that points at
    /// /webhooks/stripe; repeatable, so that a rotated secret and its successor both work.
    #[arg(long = "stripe-webhook-secret", env = "REFTRACK_STRIPE_WEBHOOK_SECRET", hide_env_values = true, value_delimiter = ',', value_parser = non_empty)]
    pub stripe_webhook_secrets: Vec<String>,

    /// Record Stripe's live-mode events (without it, test-mode events); the others are
    /// acknowledged and ignored.
    #[arg(long, env = "REFTRACK_STRIPE_LIVEMODE")]
    pub stripe_livemode: bool,

    /// The currency of amounts that name none (Partnero's transactions take the program's).
    #[arg(long, env = "REFTRACK_CURRENCY", default_value = "USD", value_parser = currency, global = true)]
    pub currency: String,

    /// Click ids issued elsewhere (a CSV file: xid,partner_key,clicked_at), loaded at start so that
    /// conversions and signups naming them are credited, as if clicked here.
    #[arg(long, env = "REFTRACK_IMPORT_XIDS")]
    pub import_xids: Option<PathBuf>,

    /// Requests per second per client address on the public routes, with a burst of 5 seconds'
    /// worth (static files: ten times as many); 0: no limit.
    #[arg(long, env = "REFTRACK_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,

    /// Connections served at once; more wait to be accepted (lowered to fit the open-file limit).
    #[arg(long, env = "REFTRACK_MAX_CONNECTIONS", default_value_t = 1024, value_parser = at_least_one)]
    pub max_connections: usize,

    /// Connections one client address may hold open at once (trusted proxies are not counted).
    #[arg(long, env = "REFTRACK_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64, value_parser = at_least_one)]
    pub max_connections_per_address: usize,

    /// Seconds a request's headers, and then its body, may take to arrive; a connection idle that
    /// long is closed.
    #[arg(long, env = "REFTRACK_REQUEST_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout: u64,

    /// Seconds any database call may take; past it the request is answered 503 and nothing of it
    /// is stored.
    #[arg(long, env = "REFTRACK_DB_TIMEOUT", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub db_timeout: u64,

    /// On SIGTERM, how long requests in flight may take to finish.
    #[arg(long, env = "REFTRACK_DRAIN_SECONDS", default_value_t = 10)]
    pub drain_seconds: u64,

    /// For tests: read the time (ms since the epoch) from this file.
    #[arg(long, env = "REFTRACK_CLOCK", hide = true)]
    pub clock: Option<PathBuf>,

    /// Served at /sdk/.
    #[arg(long, env = "REFTRACK_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Served at /.
    #[arg(long, env = "REFTRACK_WWW", default_value = "www")]
    pub www: PathBuf,

    /// Without a command, the collector serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the collector can do besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Imports into the store (--db), then exits.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: Import,
    },
}

/// What can be imported.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Import {
    /// Payments from a CSV file whose header names its columns: customer_key and/or email,
    /// amount (major units, 49.00) or amount_minor (minor units, 4900), currency, key (the
    /// transaction's own id: a key imported before is skipped), date (optional). Prints what it
    /// created, skipped and could not match, with line numbers.
    Transactions {
        /// The CSV file.
        file: PathBuf,
        /// Read and match every line, store nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

impl Config {
    /// The settings from `args` (the program name first) and the environment, with the defaults
    /// that depend on other flags filled in.
    pub fn parse_from_env<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut config = Config::try_parse_from(args)?;
        if config.site_url.is_none() {
            config.site_url = config.allow_origins.first().map(|o| format!("{o}/"));
        }
        Ok(config)
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number above 0".into()),
    }
}

fn target(text: &str) -> Result<Target, String> {
    Ok(Target::parse(text))
}

fn currency(text: &str) -> Result<String, String> {
    crate::domain::money::currency(text)
}

fn non_empty(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("expected a token".into());
    }
    Ok(text.to_owned())
}

fn origin(text: &str) -> Result<String, String> {
    Ok(text.trim_end_matches('/').to_owned())
}

fn public_key(key: &str) -> Result<String, String> {
    if !reftrack::core::config::is_public_key(key) {
        return Err(format!(
            "expected {}",
            reftrack::core::config::PUBLIC_KEY_RULE
        ));
    }
    Ok(key.to_owned())
}

fn site_url(url: &str) -> Result<String, String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url.to_owned()),
        _ => Err("expected an http(s) URL".into()),
    }
}

fn cookie_domain(domain: &str) -> Result<String, String> {
    Ok(domain.trim_start_matches('.').to_owned())
}

/// An address (`10.0.0.5`, a host of its own) or a network (`10.0.0.0/8`).
fn network(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| "expected an IP address or a network in CIDR notation (10.0.0.0/8)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["reftrack-collector"];
        all.extend_from_slice(args);
        Config::parse_from_env(all).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.db, Target::Sqlite("reftrack.db".into()));
        assert_eq!(c.secret, None);
        assert!(c.allow_origins.is_empty() && c.trusted_proxies_at.is_empty());
        assert_eq!(
            (c.rate_limit, c.db_timeout, c.max_connections_per_address),
            (20, 5, 64)
        );
        assert_eq!(c.clicks_per_address, 3);
        assert!(!c.require_signed_signups && !c.registered_partners_only);
        assert_eq!(
            (c.dist, c.www),
            (PathBuf::from("dist"), PathBuf::from("www"))
        );
    }

    #[test]
    fn flags_repeat_and_fill_their_defaults() {
        let c = parse(&[
            "--allow-origin",
            "http://a.test/",
            "--allow-origin=http://b.test",
            "--db",
            "postgres://u@h/d",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy=192.0.2.7",
        ])
        .unwrap();
        assert_eq!(c.allow_origins, ["http://a.test", "http://b.test"]);
        assert_eq!(c.site_url.as_deref(), Some("http://a.test/"));
        assert_eq!(c.db, Target::Postgres("postgres://u@h/d".into()));
        let nets: Vec<String> = c.trusted_proxies_at.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32"]);
    }

    #[test]
    fn a_flag_given_twice_takes_the_last_and_repeatable_ones_add_up() {
        let c = parse(&[
            "--dist",
            "a",
            "--dist",
            "b",
            "--allow-origin",
            "http://a.test",
            "--allow-origin",
            "http://b.test",
        ])
        .unwrap();
        assert_eq!(c.dist, PathBuf::from("b"));
        assert_eq!(c.allow_origins, ["http://a.test", "http://b.test"]);
    }

    #[test]
    fn the_import_command_takes_the_database_before_or_after() {
        let c = parse(&[
            "import",
            "transactions",
            "pay.csv",
            "--db",
            "x.db",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(c.db, Target::Sqlite("x.db".into()));
        assert!(matches!(
            c.command,
            Some(Command::Import {
                what: Import::Transactions { dry_run: true, .. }
            })
        ));
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(parse(&["--listen"]).unwrap_err().contains("--listen"));
        assert!(parse(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(parse(&["--public-key", "pk <b>"])
            .unwrap_err()
            .contains("expected a public key: 1-128 characters"));
        assert!(parse(&["--trusted-proxy", "nope"])
            .unwrap_err()
            .contains("CIDR"));
        assert!(parse(&["--cookie-days", "0"]).is_err());
        assert!(parse(&["--require-signed-signups"])
            .unwrap_err()
            .contains("--signup-secret"));
        assert!(parse(&["--clicks-per-address", "0"]).is_err());
        assert!(parse(&["--site-url", "ftp://x"])
            .unwrap_err()
            .contains("http(s)"));
    }
}
