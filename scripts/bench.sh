#!/usr/bin/env bash
# `npm run bench` after setup and build: the load client built, a throwaway PostgreSQL cluster
# started for the throughput comparison (stopped and removed on exit), then bench/run.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m[bench]\033[0m %s\n' "$*"; }
say "building the load client (bench/load) and the collector"
cargo build --quiet --release -p reftrack-load -p reftrack-collector
# The throughput baseline: the collector as of the last commit before its layers, built once from
# this repository's own history into target/ (skipped, and said, when the history is not there).
baseline=6efc6a2
if git cat-file -e "$baseline^{commit}" 2>/dev/null; then
  dir=target/baseline-$baseline
  if [ ! -x "$dir/release/reftrack-collector" ]; then
    say "building the collector as of $baseline, the throughput baseline (once)"
    rm -rf target/baseline-src
    git worktree add --quiet --detach target/baseline-src "$baseline"
    cargo build --quiet --release -p reftrack-collector --manifest-path target/baseline-src/Cargo.toml \
      --target-dir "$dir/build"
    mkdir -p "$dir/release" && cp "$dir/build/release/reftrack-collector" "$dir/release/"
    git worktree remove --force target/baseline-src
  fi
  export REFTRACK_BASELINE_BIN=$PWD/$dir/release/reftrack-collector REFTRACK_BASELINE_REV=$baseline
else
  say "no commit $baseline in this clone: throughput is measured without the before figure"
fi
source scripts/pg.sh
say "starting a throwaway PostgreSQL cluster for the throughput comparison"
pg_start
trap pg_stop EXIT
node bench/run.mjs
