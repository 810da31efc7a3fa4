// The script-tag build's entry (bundled into dist/reftrack.js by scripts/bundle.mjs): one classic
// script that instantiates the module, defines reftrack's globals and replays calls the loader
// snippet (dist/snippet.html) queued before it arrived. If the module cannot run (no WebAssembly,
// a CSP without 'wasm-unsafe-eval'), every global still exists and answers harmlessly.
//
// `reftrack-module` is the build variant's way to instantiate: embedded and synchronous (dist/,
// shipped), or fetched from the script's directory (`npm run bench` only, for comparison).
import {
  answered, boot, captureForms, clickId, consent, flush, init, navigated, online, partnerKey,
  partneroProgram, put as putEntry, signup, start, submitted, tick, unsupported, __fault,
} from 'reftrack-glue';
import { instantiate } from 'reftrack-module';
import { api, bind, fail, guard, install, put, ATTRIBUTES } from './host.js';

// The module's exports by name (not `import * as`, which would keep all of the glue, including
// the asynchronous loader this build does not use).
const exports = {
  answered, boot, captureForms, clickId, consent, flush, init, navigated, online, partnerKey,
  partneroProgram, put: putEntry, signup, start, submitted, tick, unsupported,
};

const w = window;
const script = document.currentScript;
const stub = w.reftrack;
const growsumoStub = w.growsumo;

function ready() {
  bind(exports);
  performance.mark('reftrack:ready');
  // The tag's data-* options; the module keeps those that name an option.
  const dataset = (script && script.dataset) || {};
  Object.keys(dataset).forEach((name) => put(ATTRIBUTES, name, dataset[name]));
  boot(script ? script.getAttribute('src') : undefined);
}

function publish() {
  install();
  const reftrack = (w.reftrack = Object.assign({ version: VERSION }, api));
  if (__fault) reftrack.__fault = guard(__fault);
  // Calls the loader snippet queued: [method, arguments, resolve].
  const replay = (target, queued) => (queued || []).forEach((call) => call[2](target[call[0]].apply(target, call[1])));
  replay(reftrack, stub && stub.q);
  replay(w.growsumo, growsumoStub && growsumoStub.q);
}

// Included twice: the first copy stays in charge.
if (!(stub && stub.version)) {
  try {
    if (typeof WebAssembly != 'object') throw new Error('this browser has no WebAssembly');
    performance.mark('reftrack:start');
    instantiate(script, () => {
      ready();
      publish();
    }, (error) => {
      fail(error);
      publish();
    });
  } catch (error) {
    fail(error);
    publish();
  }
}
