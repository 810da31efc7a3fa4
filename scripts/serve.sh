#!/usr/bin/env bash
# Serves the demo site and the SDK through the reference collector on http://127.0.0.1:8080
# (override with REFTRACK_LISTEN). Expects scripts/build.sh to have run (npm start runs both).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m[start]\033[0m %s\n' "$*"; }

say "building the collector (cargo build --release -p reftrack-collector)"
cargo build --release -p reftrack-collector
listen=${REFTRACK_LISTEN:-127.0.0.1:8080}
secret=${REFTRACK_SECRET:-dev-secret}
site=${REFTRACK_SITE_URL:-http://$listen/}
say "demo:      http://$listen/"
say "sign up:   http://$listen/signup.html"
say "dashboard: http://$listen/dashboard.html   (bearer token: $secret)"
say "SDK:       http://$listen/sdk/reftrack.js"
say "a partner link (records a click, lands attributed on the sign-up page):"
say "           ${site}r/alex-smith?to=/signup.html"
say "Ctrl-C stops the server"
exec target/release/reftrack-collector --listen "$listen" --dist dist --www www \
  --db "${REFTRACK_DB:-target/demo.db}" --secret "$secret" --site-url "$site"
