#!/usr/bin/env bash
# Runs every test: native (cargo test; the collector's routes on SQLite and on PostgreSQL), browser (the web layer's wasm-bindgen tests in Chromium,
# Firefox ESR and WebKitGTK), end-to-end
# (node --test, playwright-core driving Chromium against the real collector), and the engine tests
# (W3C WebDriver driving Chromium, Firefox ESR and WebKitGTK against the real collector).
# Expects scripts/setup.sh and scripts/build.sh to have run (npm test runs all three).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
log=$(mktemp -d)

say "native tests (cargo test --workspace; the collector's route suite on SQLite)"
cargo test --workspace 2>&1 | tee "$log/native"

# The collector's route suite again, on a throwaway PostgreSQL cluster (stopped and removed on
# exit, the tests failing or not), with the tests that need two collectors on one PostgreSQL.
source scripts/pg.sh
say "starting a throwaway PostgreSQL cluster (initdb in a temporary directory)"
pg_start
trap pg_stop EXIT
say "the collector's route suite on PostgreSQL ($REFTRACK_PG)"
REFTRACK_TEST_POSTGRES=$REFTRACK_PG cargo test -p reftrack-collector --test '*' -- --include-ignored 2>&1 |
  tee "$log/postgres"
pg_stop

say "building the collector (for the browser and end-to-end tests)"
cargo build --quiet --release -p reftrack-collector

# The browser tests post to a real collector: one on a free loopback port, for this run only.
collector_db=$(mktemp -d)
target/release/reftrack-collector --listen 127.0.0.1:0 --db "$collector_db/browser.db" --dist dist \
  --www www > "$collector_db/out" 2>&1 &
collector_pid=$!
trap 'kill $collector_pid 2>/dev/null || true; rm -rf "$collector_db"; pg_stop' EXIT
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$collector_db/out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$collector_db/out"; echo "test: the collector did not start" >&2; exit 1; }

# The web layer's browser tests (src/web/tests.rs) in each engine: wasm-pack drives Chromium and
# Firefox; WebKitGTK runs through wasm-bindgen-test-runner itself (wasm-pack looks for Safari's
# safaridriver), under Xvfb.
browsers=${REFTRACK_BROWSERS:-chromium,firefox,webkit}
export REFTRACK_COLLECTOR="http://127.0.0.1:$port"
if [[ $browsers == *chromium* ]]; then
  say "browser tests in Chromium (wasm-pack test --chrome, Debian's chromedriver; collector on port $port)"
  CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --mode no-install 2>&1 | tee "$log/browser-chromium"
fi
if [[ $browsers == *firefox* ]]; then
  say "browser tests in Firefox ESR (wasm-pack test --firefox, geckodriver)"
  GECKODRIVER=$(command -v geckodriver) wasm-pack test --headless --firefox --mode no-install 2>&1 | tee "$log/browser-firefox"
fi
if [[ $browsers == *webkit* ]]; then
  say "browser tests in WebKitGTK (wasm-bindgen-test-runner, WebKitWebDriver under Xvfb)"
  SAFARIDRIVER=/usr/bin/WebKitWebDriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    WASM_BINDGEN_TEST_ONLY_WEB=1 xvfb-run -a cargo test --target wasm32-unknown-unknown 2>&1 | tee "$log/browser-webkit"
fi
unset REFTRACK_COLLECTOR
kill $collector_pid 2>/dev/null || true

# A variant of the script-tag build with `__fault()` (a deliberate panic), for the host-page safety
# tests; its own target directory keeps the shipped build's artifacts untouched.
say "building the fault-injection variant (target/fault-dist)"
cargo build --quiet --release --target wasm32-unknown-unknown -p reftrack --features fault-injection \
  --target-dir target/fault
wasm-bindgen --target web --no-typescript --out-dir target/fault/bindgen \
  target/fault/wasm32-unknown-unknown/release/reftrack.wasm
node scripts/bundle.mjs --glue target/fault/bindgen --wasm target/fault/bindgen/reftrack_bg.wasm \
  --out target/fault-dist

say "end-to-end tests (node --test tests/e2e, Chromium + collector on 127.0.0.1)"
node --test --test-concurrency=1 tests/e2e/ 2>&1 | tee "$log/e2e"

say "engine tests over WebDriver ($browsers; REFTRACK_BROWSERS narrows them)"
REFTRACK_BROWSERS=$browsers node --test --test-concurrency=1 tests/engines/ 2>&1 | tee "$log/engines"

# One closing line for the whole run.
read -r passed failed < <(cat "$log/native" "$log/postgres" "$log"/browser-* "$log/e2e" "$log/engines" | awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^# pass [0-9]+$/ { p += $3 }
  /^# fail [0-9]+$/ { f += $3 }
  END { print p + 0, f + 0 }')
rm -rf "$log"
echo
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
