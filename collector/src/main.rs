//! `reftrack-collector`: the reference endpoint for reftrack. It receives signups into SQLite,
//! serves the SDK build (`dist/`) at `/sdk/` and the demo site (`www/`) at `/`, so the whole loop
//! runs on one machine.

mod clock;
mod links;
mod options;
mod routes;
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
    let store = match store::Store::open(&options.db) {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "reftrack-collector: cannot open database {}: {error}",
                options.db.display()
            );
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
    let app = routes::router(&options, store);
    match listener.local_addr() {
        // Tests start the collector on port 0 and read the real address from this line.
        Ok(addr) => println!("reftrack-collector listening on http://{addr}"),
        Err(error) => eprintln!("reftrack-collector: {error}"),
    }
    for line in setup_report(&options) {
        eprintln!("reftrack-collector: {line}");
    }
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
    {
        eprintln!("reftrack-collector: {error}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// What the collector serves and what its set-up lacks, said at start so that a mistake shows
/// before the first signup is lost to it.
fn setup_report(options: &Options) -> Vec<String> {
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
        format!("storing in {}", options.db.display()),
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
