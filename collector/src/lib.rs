//! `reftrack-collector`: the program owner's backend for reftrack. It receives signups into SQLite
//! or PostgreSQL, records partner-link clicks, takes server-to-server conversions, reports per
//! partner, and serves the SDK build (`dist/`) at `/sdk/` and the demo site (`www/`) at `/`.
//!
//! The layers, each importing only those below it:
//! - [`app`]: the route table, where each route's protection is decided by where it is mounted;
//! - [`routes`]: the handlers, one file per resource;
//! - [`http`]: state, errors, extractors, the protecting layers, static files;
//! - [`store`]: the group-committing writer, bounded readers, queries, migrations, both engines;
//! - [`domain`]: pure rules (validation, credit, partner links);
//! - [`server`]: the accept loop, connection caps, drain; [`config`]: the flags;
//! - [`import`]: `reftrack-collector import transactions FILE.csv`.

#![deny(missing_docs)]

pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod import;
pub mod routes;
pub mod server;
pub mod store;

pub use app::app;
pub use config::Config;

use std::process::ExitCode;
use std::time::Duration;

/// Runs the collector with `config` until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> ExitCode {
    let target = config.db.clone();
    let timeout = Duration::from_secs(config.db_timeout);
    let store =
        match tokio::task::spawn_blocking(move || store::Store::open(&target, timeout)).await {
            Ok(Ok(store)) => store,
            Ok(Err(error)) => {
                eprintln!(
                    "reftrack-collector: cannot use the database ({}): {error}",
                    config.db
                );
                return ExitCode::from(1);
            }
            Err(error) => {
                eprintln!("reftrack-collector: {error}");
                return ExitCode::from(1);
            }
        };
    if let Some(path) = &config.import_xids {
        match import_xids(&store, path).await {
            Ok(line) => tracing::info!("{line}"),
            Err(error) => {
                eprintln!(
                    "reftrack-collector: cannot import {}: {error}",
                    path.display()
                );
                return ExitCode::from(1);
            }
        }
    }
    if let Some(config::Command::Import {
        what: config::Import::Transactions { file, dry_run },
    }) = &config.command
    {
        let code = import::transactions(&store, file, *dry_run).await;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        return code;
    }
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "reftrack-collector: cannot listen on {}: {error}",
                config.listen
            );
            return ExitCode::from(1);
        }
    };
    let (router, state) = app(&config, store);
    match listener.local_addr() {
        // Tests start the collector on port 0 and read the real address from this line.
        Ok(addr) => println!("reftrack-collector listening on http://{addr}"),
        Err(error) => eprintln!("reftrack-collector: {error}"),
    }
    let max_connections = server::connection_cap(config.max_connections);
    for line in setup_report(&config, max_connections) {
        tracing::info!("{line}");
    }
    let limits = server::Limits {
        header_timeout: Duration::from_secs(config.request_timeout),
        max_connections,
        drain: Duration::from_secs(config.drain_seconds),
        per_address: config.max_connections_per_address,
        proxies: state.proxies.clone(),
    };
    server::serve(listener, router, limits, shutdown()).await;
    // Every request has been answered or abandoned: let the writer commit what it holds.
    let _ = tokio::task::spawn_blocking(move || state.close()).await;
    ExitCode::SUCCESS
}

/// Loads `--import-xids`: every valid line stored (those stored before are left alone), every
/// other one logged with its number. Answers the summary line; `Err` when the file cannot be read.
async fn import_xids(store: &store::Store, path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (mut valid, mut skipped) = (Vec::new(), 0);
    for (n, line) in text.lines().enumerate() {
        match domain::imports::xid_line(line) {
            Ok(Some(xid)) => valid.push(xid),
            Ok(None) => {}
            Err(reason) => {
                skipped += 1;
                tracing::warn!(line = n + 1, reason, "a click id not imported");
            }
        }
    }
    let mut new = 0;
    for chunk in valid.chunks(500) {
        let chunk = chunk.to_vec();
        new += store
            .write(move |db| {
                chunk.iter().try_fold(0, |new, xid| {
                    store::clicks::import(db, xid).map(|added| new + usize::from(added))
                })
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(format!(
        "imported click ids from {}: {new} new, {} known already, {skipped} lines skipped",
        path.display(),
        valid.len() - new
    ))
}

/// What the collector serves and what its set-up lacks, said at start so that a mistake shows
/// before the first signup is lost to it.
fn setup_report(config: &Config, max_connections: usize) -> Vec<String> {
    let folder = |dir: &std::path::Path, route: &str, what: &str| {
        if dir.is_dir() {
            format!("serving {} at {route}", dir.display())
        } else {
            format!(
                "{} is missing: {route} serves nothing ({what})",
                dir.display()
            )
        }
    };
    let list = |items: &[String], none: &str| {
        if items.is_empty() {
            none.to_owned()
        } else {
            items.join(", ")
        }
    };
    let proxies = http::client_ip::Proxies::new(&config.trusted_proxies_at, config.trusted_hops);
    vec![
        folder(&config.dist, "/sdk/", "run npm run build"),
        folder(&config.www, "/", "the demo site"),
        format!(
            "storing in {}; each database call may take {} s",
            config.db, config.db_timeout
        ),
        match config.rate_limit {
            0 => "no --rate-limit: any client may post as fast as it can".into(),
            n => format!(
                "at most {n} requests per second per address on the public routes \
                 (bursts of {})",
                n * http::rate::BURST_SECONDS
            ),
        },
        format!(
            "at most {max_connections} connections at once, {} per address; a request's \
             headers, then its body, must each arrive within {t} s; idle connections close \
             after {t} s",
            config.max_connections_per_address,
            t = config.request_timeout
        ),
        match (proxies.any(), config.trusted_proxies_at.is_empty()) {
            (false, _) => "no --trusted-proxy: X-Forwarded-For is ignored".into(),
            (true, true) => {
                "X-Forwarded-For is read from proxies on this machine (loopback) only; \
                 name others with --trusted-proxy"
                    .into()
            }
            (true, false) => format!(
                "X-Forwarded-For is read from {}",
                config
                    .trusted_proxies_at
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        match (&config.signup_secret, config.require_signed_signups) {
            (None, _) => "no --signup-secret: every signup is a browser claim".into(),
            (Some(_), false) => "signed signups (customer_hash) are confirmed claims".into(),
            (Some(_), true) => "only signed signups (customer_hash) are credited".into(),
        },
        format!(
            "at most {} visitors per network an hour count as clicks of one partner{}",
            config.clicks_per_address,
            if config.registered_partners_only {
                "; only registered partners are credited"
            } else {
                ""
            }
        ),
        match config.secret {
            Some(_) => "the authenticated routes take the --secret bearer token".into(),
            None => "no --secret: the authenticated routes answer 401".into(),
        },
        format!(
            "signups taken from origins: {}",
            list(&config.allow_origins, "any (no --allow-origin)")
        ),
        format!(
            "signups taken for public keys: {}",
            list(&config.public_keys, "any (no --public-key)")
        ),
    ]
}

/// Resolves on SIGTERM or Ctrl-C, letting requests in flight finish.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
