// Wraps wasm-bindgen's no-modules glue into the script-tag build: one classic script that defines
// reftrack's globals and leaves nothing else on `window`.
//
//   node scripts/bundle.mjs --glue G.js --wasm M.wasm --out DIR [--variant embed|fetch]
//
// embed (dist/, the shipped build): the module travels inside reftrack.js (one character per
//   byte, see latin1Literal) and is instantiated synchronously while the script runs, so attribution is done and
//   `growsumo.data` filled before PartnerStack's snippet calls `_initialize` from `onload`.
// fetch (used by `npm run bench` only, for comparison): reftrack.js fetches reftrack_bg.wasm
//   from its own directory and instantiates it asynchronously.
//
// The loader is the only hand-written JavaScript around the module. It keeps the page safe: if
// the module cannot run (no WebAssembly, a CSP without 'wasm-unsafe-eval') or traps later (a Rust
// panic), every global still exists, nothing throws into the page, signups resolve with
// `{ ok: false, status: "error" }`, and one warning is logged. It also replays calls that the
// loader snippet (dist/snippet.html) queued before the script arrived.
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { transform } from 'esbuild';

const { values: args } = parseArgs({
  options: {
    glue: { type: 'string' },
    wasm: { type: 'string' },
    out: { type: 'string' },
    variant: { type: 'string', default: 'embed' },
  },
});
const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url))).version;
const glue = readFileSync(args.glue, 'utf8');
// js/safety.js is an ES module for the npm entry; inlined here as a plain function.
const safetySource = readFileSync(new URL('../js/safety.js', import.meta.url), 'utf8').replace('export function', 'function');
const wasm = readFileSync(args.wasm);

// The module travels as a string of characters U+0000–U+00FF, one per byte, inside the (UTF-8)
// script. Base64 would cost a third more bytes and compresses worse: gzip of this string is within
// a few percent of gzip of the raw .wasm. Only what a string literal cannot hold is escaped.
const PLACEHOLDER = '__REFTRACK_MODULE_BYTES__';
function latin1Literal(bytes) {
  let out = '';
  for (const byte of bytes) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte === 0x22) out += '\\"';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else out += String.fromCharCode(byte);
  }
  return out;
}

const load = {
  // Synchronous: the module is ready when this script has run.
  embed: `
    var text = "${PLACEHOLDER}";
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    wasm_bindgen.initSync({ module: bytes });
    start();`,
  fetch: `
    wasm_bindgen({ module_or_path: new URL('reftrack_bg.wasm', script.src) }).then(start, failed);`,
}[args.variant];
if (!load) throw new Error(`unknown variant ${args.variant}`);

const source = `(function (w) {
  // Included twice: the first copy stays in charge.
  if (w.reftrack && w.reftrack.version) return;
  var script = document.currentScript;
  var stub = w.reftrack, growsumoStub = w.growsumo;
  ${safetySource}
  var safe = safety(), failed = safe.failed, errorResult = safe.errorResult, guard = safe.guard;
  function resolved(value) { return function () { return Promise.resolve(value); }; }
  function failedSignup(callback) {
    var result = errorResult();
    if (typeof callback == 'function') try { callback(result); } catch (e) { console.error(e); }
    return Promise.resolve(result);
  }

  ${glue}

  function start() {
    performance.mark('reftrack:ready');
    wasm_bindgen.setGuard(guard);
    wasm_bindgen.boot(script);
    publish();
  }

  function publish() {
    var api = w.reftrack = {
      version: ${JSON.stringify(version)},
      init: guard(wasm_bindgen.init, resolved()),
      partnerKey: guard(wasm_bindgen.partnerKey, function () { return null; }),
      clickId: guard(wasm_bindgen.clickId, function () { return null; }),
      signup: guard(wasm_bindgen.signup, function () { return Promise.resolve(errorResult()); }),
      flush: guard(wasm_bindgen.flush, resolved()),
      captureForms: guard(wasm_bindgen.captureForms),
      consent: guard(wasm_bindgen.consent)
    };
    if (wasm_bindgen.__fault) api.__fault = guard(wasm_bindgen.__fault);
    var g = w.growsumo = w.growsumo || {};
    g.data = g.data || { partner_key: null, ps_partner_key: null, ps_xid: null };
    g._initialize = guard(g._initialize || function () {});
    g.createSignup = guard(g.createSignup || failedSignup, failedSignup);
    var name = w.__partnerObject || 'po', po = w[name];
    w[name] = guard(typeof po == 'function' && !(po.q || []).length ? po : function () {}, function (command, what) {
      if (command == 'customers' && what == 'signup') return Promise.resolve(errorResult());
    });
    // Calls the loader snippet queued: [method, arguments, resolve].
    (stub && stub.q || []).forEach(function (call) { call[2](api[call[0]].apply(api, call[1])); });
    (growsumoStub && growsumoStub.q || []).forEach(function (call) { call[2](g[call[0]].apply(g, call[1])); });
  }

  try {
    if (typeof WebAssembly != 'object') throw new Error('this browser has no WebAssembly');
    performance.mark('reftrack:start');
    ${load}
  } catch (error) {
    failed(error);
    publish();
  }
})(window);`;

let { code } = await transform(source, { minify: true, target: 'es2017' });
if (args.variant === 'embed') {
  if (code.split(PLACEHOLDER).length !== 2) throw new Error('the module placeholder did not survive minification');
  code = code.replace(PLACEHOLDER, () => latin1Literal(wasm));
}
mkdirSync(args.out, { recursive: true });
// The byte order mark makes every browser decode the file as UTF-8, whatever the page's own
// encoding, which the embedded module depends on.
writeFileSync(join(args.out, 'reftrack.js'), `\ufeff/*! reftrack ${version} | MIT OR Apache-2.0 */\n${code}`, 'utf8');
if (args.variant === 'fetch') copyFileSync(args.wasm, join(args.out, 'reftrack_bg.wasm'));
