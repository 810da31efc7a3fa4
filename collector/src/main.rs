//! `reftrack-collector`: see the library's documentation, and `--help`.

use reftrack_collector::Config;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::parse_from_env(std::env::args_os()) {
        Ok(config) => config,
        // `--help` and `--version` print and exit 0; a mistake prints why and exits 2.
        Err(error) => error.exit(),
    };
    // One JSON object per line on standard error; RUST_LOG filters (default: info).
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    reftrack_collector::run(config).await
}
