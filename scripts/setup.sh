#!/usr/bin/env bash
# Installs what building and testing reftrack needs, idempotently, saying what it does. Each step
# checks first and installs only what is missing, so a second run is quick and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rust target wasm32-unknown-unknown: present"
else
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate pinned in Cargo.toml.
want=$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$want" ] || { echo "setup: no exact (=) wasm-bindgen version in Cargo.toml" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$want" ]; then
  say "wasm-bindgen-cli $want: present"
else
  say "installing wasm-bindgen-cli $want (was: ${have:-none}); this takes a few minutes"
  cargo install --locked --force wasm-bindgen-cli --version "=$want"
fi

wasm_pack=0.15.1
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)" = "$wasm_pack" ]; then
  say "wasm-pack $wasm_pack: present"
else
  say "installing wasm-pack $wasm_pack; this takes a few minutes"
  cargo install --locked --force wasm-pack --version "=$wasm_pack"
fi

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -eq 0 ]; then
  say "debian packages chromium chromium-driver: present"
else
  say "installing debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# npm ci only when package-lock.json changed since the last install.
stamp=node_modules/.reftrack-lock.sha
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock" ]; then
  say "npm packages: up to date"
else
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
  echo "$lock" > "$stamp"
fi

# `npm run bench` also wants twiggy, to show where the module's bytes go.
if [ "${1:-}" = bench ]; then
  if command -v twiggy >/dev/null; then
    say "twiggy: present"
  else
    say "installing twiggy (for npm run bench); this takes a few minutes"
    cargo install --locked twiggy
  fi
fi
