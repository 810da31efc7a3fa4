#!/usr/bin/env bash
# Builds the script-tag build (dist/) and the npm package (pkg/). See docs/contract.md §1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m[build]\033[0m %s\n' "$*"; }

# binaryen from npm (see package.json): measured, its output is smaller than Debian's binaryen 108
# with the same flags. The features are the ones rustc 1.95 emits for wasm32-unknown-unknown, all
# in every current browser. --low-memory-unused holds for Rust's output (the stack comes first);
# the producers and target-features sections are metadata no browser reads. --reorder-locals
# after the rest: locals numbered by use compress better (brotli -47 B, measured).
wasm_opt() {
  node_modules/.bin/wasm-opt -Oz --converge --low-memory-unused --strip-producers \
    --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-multivalue --enable-sign-ext --enable-mutable-globals \
    --reorder-locals "$@"
}
out=target/bindgen

# A panic's location names its source file, a dependency's by its path under cargo's registry,
# which differs from machine to machine. Named from the crate's directory on, the module is the
# same bytes wherever it is built, and shorter (-109 B gzip over the split build's two files).
remap=""
for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap+=" --remap-path-prefix=${dir}="; done
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${remap# }"

say "compiling the wasm module (cargo build --release --target wasm32-unknown-unknown)"
cargo build --release --target wasm32-unknown-unknown -p reftrack

say "generating the glue (wasm-bindgen --target web)"
rm -rf "$out" && mkdir -p "$out"
# The script-tag build instantiates the module it carries: no default path to fetch it from.
# `--encode-into always`: every browser that runs the module (reference types: Chromium 96,
# Firefox 79, Safari 15) has TextEncoder.encodeInto, so the glue carries no fallback for it.
wasm-bindgen --target web --no-typescript --omit-default-module-path --encode-into always --out-dir "$out" \
  target/wasm32-unknown-unknown/release/reftrack.wasm

say "optimizing the module (wasm-opt -Oz, binaryen from npm)"
wasm_opt "$out/reftrack_bg.wasm" -o "$out/reftrack_bg.opt.wasm"

say "bundling dist/reftrack-full.js (the whole module embedded, instantiated synchronously)"
node scripts/bundle.mjs --glue "$out" --wasm "$out/reftrack_bg.opt.wasm" --out dist --name reftrack-full.js \
  --loader "$out/loader.min.js" --module "$out/reftrack_bg.embedded.wasm"

# The split build (src/web/split.rs): its own target directory, so that neither build's features
# undo the other's compilation.
split=target/split-bindgen
say "compiling the split build's module (cargo build --features split)"
# Linked with --emit-relocs: the linker's symbols and relocations say which constant data each
# function refers to, so the cut moves the delivery code's data with it (scripts/split-data.mjs).
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS -C link-arg=--emit-relocs" \
  cargo build --release --target wasm32-unknown-unknown -p reftrack --features split --target-dir target/split
rm -rf "$split" && mkdir -p "$split"
wasm-bindgen --target web --no-typescript --omit-default-module-path --encode-into always --out-dir "$split" \
  target/split/wasm32-unknown-unknown/release/reftrack.wasm
say "cutting it in two (scripts/split.mjs: the landing's module and the delivery module)"
node scripts/split.mjs --wasm "$split/reftrack_bg.wasm" --out "$split"
wasm_opt "$split/first.wasm" -o "$split/first.opt.wasm"
wasm_opt "$split/second.wasm" -o "$split/second.opt.wasm"
say "bundling dist/reftrack.js (the landing's module embedded) and dist/reftrack-delivery.js"
node scripts/bundle.mjs --variant split --glue "$split" --wasm "$split/first.opt.wasm" \
  --second "$split/second.opt.wasm" --out dist --module "$split/first.embedded.wasm"

say "building the npm package into pkg/ (wasm-bindgen --target web, from the same module)"
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --encode-into always --out-dir pkg --out-name reftrack \
  target/wasm32-unknown-unknown/release/reftrack.wasm
wasm_opt pkg/reftrack_bg.wasm -o pkg/reftrack_bg.wasm
cp README.md pkg/README.md
node scripts/package.mjs

say "copying the loader snippet and the globals' types into dist/"
cp js/snippet.html dist/snippet.html
cp js/types.d.ts dist/types.d.ts
cp js/globals.d.ts dist/reftrack.d.ts
say "done: dist/ $(ls dist | tr '\n' ' ')| pkg/ $(ls pkg | tr '\n' ' ')"
