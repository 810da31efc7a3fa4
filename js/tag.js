// The script-tag build's entry (bundled into dist/reftrack.js by scripts/bundle.mjs): one classic
// script that instantiates the module and hands it the <script> element; the module (`install`,
// src/web/globals/mod.rs) defines reftrack's globals and replays the calls queued before it arrived.
// If the module cannot run (no WebAssembly, a CSP without 'wasm-unsafe-eval', a failed fetch) or
// traps while starting, guard.js defines every global with harmless answers instead.
//
// `reftrack-module` is the build variant's way to instantiate: embedded and synchronous (dist/,
// shipped), or fetched from the script's directory (`npm run bench` only, for comparison).
import { install } from 'reftrack-glue';
import { instantiate } from 'reftrack-module';
import { install as harmless } from './guard.js';

const script = document.currentScript;
const stub = window.reftrack;
const failed = (error) => harmless(error, VERSION);

function start() {
  try {
    performance.mark('reftrack:ready');
    install(script);
  } catch (error) {
    failed(error);
  }
}

// Included twice: the first copy stays in charge.
if (!(stub && stub.version)) {
  try {
    if (typeof WebAssembly != 'object') throw new Error('this browser has no WebAssembly');
    performance.mark('reftrack:start');
    instantiate(script, start, failed);
  } catch (error) {
    failed(error);
  }
}
