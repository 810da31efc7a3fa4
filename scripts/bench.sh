#!/usr/bin/env bash
# `npm run bench` after setup and build: the load client built, a throwaway PostgreSQL cluster
# started for the throughput comparison (stopped and removed on exit), then bench/run.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m[bench]\033[0m %s\n' "$*"; }
say "building the load client (bench/load) and the collector"
cargo build --quiet --release -p reftrack-load -p reftrack-collector
source scripts/pg.sh
say "starting a throwaway PostgreSQL cluster for the throughput comparison"
pg_start
trap pg_stop EXIT
node bench/run.mjs
