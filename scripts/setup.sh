#!/usr/bin/env bash
# Installs what reftrack needs, idempotently, saying what it does. Each step checks first and
# installs only what is missing, so a second run is quick and quiet.
#
#   setup.sh demo    what `npm start` needs to build and serve the demo: the wasm32 Rust target,
#                    the pinned wasm-bindgen-cli, Debian's binaryen (its wasm-split), and the npm
#                    packages of the build (binaryen, esbuild; `npm ci --omit=dev`). No browsers,
#                    PostgreSQL, drivers or wasm-pack.
#   setup.sh         what `npm test` needs as well: wasm-pack, the browsers and their drivers,
#                    PostgreSQL, and every npm package.
#   setup.sh bench   the same, and twiggy.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Debian packages, without recommends (WebKitGTK's would bring a desktop's worth of packages).
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

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

# The split build cuts the module with wasm-split (scripts/split.mjs), which only Debian's
# binaryen has; the build's wasm-opt stays npm's binaryen. Its data goes with its code by the
# linker's symbols, which binutils' c++filt demangles (scripts/split-data.mjs).
split_tools=()
[ -x /usr/bin/wasm-split ] || split_tools+=(binaryen)
command -v c++filt > /dev/null || split_tools+=(binutils)
if [ ${#split_tools[@]} -eq 0 ]; then
  say "binaryen's wasm-split and binutils' c++filt (Debian): present"
else
  say "installing debian packages: ${split_tools[*]} (wasm-split cuts the split build; c++filt names its symbols)"
  apt_install "${split_tools[@]}"
fi

# npm ci only when package-lock.json changed since the last install, or when the tests need the
# development packages a demo install left out.
stamp=node_modules/.reftrack-lock.sha
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
installed=$(cat "$stamp" 2>/dev/null || true)
if [ "$mode" = demo ]; then
  if [ "$installed" = "$lock full" ] || [ "$installed" = "$lock build" ]; then
    say "npm packages: up to date"
  else
    say "installing the build's npm packages: binaryen, esbuild (npm ci --omit=dev)"
    npm ci --omit=dev --no-audit --no-fund --foreground-scripts
    echo "$lock build" > "$stamp"
  fi
  exit 0
fi
if [ "$installed" = "$lock full" ]; then
  say "npm packages: up to date"
else
  say "installing every npm package, the tests' too (npm ci)"
  npm ci --no-audit --no-fund
  echo "$lock full" > "$stamp"
fi

wasm_pack=0.15.1
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)" = "$wasm_pack" ]; then
  say "wasm-pack $wasm_pack: present"
else
  say "installing wasm-pack $wasm_pack; this takes a few minutes"
  cargo install --locked --force wasm-pack --version "=$wasm_pack"
fi

# The browser engines the tests run in (REFTRACK_BROWSERS narrows them; by default all three):
# Debian's Chromium and chromedriver, Firefox ESR (geckodriver below), and WebKitGTK's
# WebKitWebDriver with MiniBrowser, which needs an X display: Xvfb.
browsers=${REFTRACK_BROWSERS:-chromium,firefox,webkit}
chromium=()
[ -x /usr/bin/chromium ] || chromium+=(chromium)
[ -x /usr/bin/chromedriver ] || chromium+=(chromium-driver)
if [ ${#chromium[@]} -gt 0 ]; then
  say "installing debian packages: ${chromium[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${chromium[@]}"
fi
missing=()
# The collector's tests run on a throwaway PostgreSQL cluster too (scripts/pg.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [[ $browsers == *firefox* ]]; then
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
fi
if [[ $browsers == *webkit* ]]; then
  [ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
  command -v xvfb-run >/dev/null || missing+=(xvfb)
  command -v xauth >/dev/null || missing+=(xauth)
fi
if [ ${#missing[@]} -eq 0 ]; then
  say "debian packages for the browsers ($browsers) and PostgreSQL: present"
else
  say "installing debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
fi

# geckodriver from crates.io (npm's geckodriver package downloads a binary at first run).
geckodriver=0.37.1
if [[ $browsers == *firefox* ]]; then
  if [ "$(geckodriver --version 2>/dev/null | awk 'NR==1 {print $2}' || true)" = "$geckodriver" ]; then
    say "geckodriver $geckodriver: present"
  else
    say "installing geckodriver $geckodriver; this takes a few minutes"
    cargo install --locked --force geckodriver --version "=$geckodriver"
  fi
fi

# `npm run bench` also wants twiggy, to show where the module's bytes go.
if [ "$mode" = bench ]; then
  if command -v twiggy >/dev/null; then
    say "twiggy: present"
  else
    say "installing twiggy (for npm run bench); this takes a few minutes"
    cargo install --locked twiggy
  fi
fi
