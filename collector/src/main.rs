//! `reftrack-collector`: the reference endpoint for reftrack. It receives signups into SQLite,
//! serves the SDK build (`dist/`) at `/sdk/` and the demo site (`www/`) at `/`, so the whole loop
//! runs on one machine.

mod clock;
mod db;
mod files;
mod limit;
mod links;
mod options;
mod routes;
mod serve;
mod store;
mod validate;

use options::Options;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let options =
        match Options::from_args_and_env(std::env::args().skip(1), |name| std::env::var(name).ok())
        {
            Ok(Some(options)) => options,
            Ok(None) => {
                print!("{}", options::HELP);
                return ExitCode::SUCCESS;
            }
            Err(message) => {
                eprintln!("reftrack-collector: {message}\n\n{}", options::HELP);
                return ExitCode::from(2);
            }
        };
    let target = options.db.clone();
    let store = match tokio::task::spawn_blocking(move || store::Store::open(&target)).await {
        Ok(Ok(store)) => store,
        Ok(Err(error)) => {
            eprintln!(
                "reftrack-collector: cannot open the database ({}): {error}",
                options.db
            );
            return ExitCode::from(1);
        }
        Err(error) => {
            eprintln!("reftrack-collector: {error}");
            return ExitCode::from(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "reftrack-collector: cannot listen on {}: {error}",
                options.listen
            );
            return ExitCode::from(1);
        }
    };
    let (app, state) = routes::router(&options, store);
    match listener.local_addr() {
        // Tests start the collector on port 0 and read the real address from this line.
        Ok(addr) => println!("reftrack-collector listening on http://{addr}"),
        Err(error) => eprintln!("reftrack-collector: {error}"),
    }
    let max_connections = serve::connection_cap(options.max_connections);
    for line in setup_report(&options, max_connections) {
        eprintln!("reftrack-collector: {line}");
    }
    let limits = serve::Limits {
        header_timeout: std::time::Duration::from_secs(options.request_timeout),
        max_connections,
        drain: std::time::Duration::from_secs(options.drain_seconds),
    };
    serve::serve(listener, app, limits, shutdown()).await;
    // Every request has been answered or abandoned: let the writer commit what it holds.
    let _ = tokio::task::spawn_blocking(move || state.close()).await;
    ExitCode::SUCCESS
}

/// What the collector serves and what its set-up lacks, said at start so that a mistake shows
/// before the first signup is lost to it.
fn setup_report(options: &Options, max_connections: usize) -> Vec<String> {
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
    vec![
        folder(&options.dist, "/sdk/", "run npm run build"),
        folder(&options.www, "/", "the demo site"),
        format!("storing in {}", options.db),
        match options.rate_limit {
            0 => "no --rate-limit: any client may post as fast as it can".into(),
            n => format!(
                "at most {n} requests per second per address on POST /v1/signups and /r/ \
                 (bursts of {})",
                n * limit::BURST_SECONDS
            ),
        },
        format!(
            "at most {max_connections} connections at once; a request's headers, then its \
             body, must each arrive within {t} s; idle connections close after {t} s",
            t = options.request_timeout
        ),
        match options.secret {
            Some(_) => "the authenticated routes take the --secret bearer token".into(),
            None => "no --secret: GET /v1/signups and POST /conversion/xid answer 401".into(),
        },
        format!(
            "signups taken from origins: {}",
            list(&options.allow_origins, "any (no --allow-origin)")
        ),
        format!(
            "signups taken for public keys: {}",
            list(&options.public_keys, "any (no --public-key)")
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
