// Wraps wasm-bindgen's no-modules glue into the script-tag build: one classic script that defines
// reftrack's globals and leaves nothing else on `window`.
//
//   node scripts/bundle.mjs --glue G.js --wasm M.wasm --out DIR [--variant embed|fetch]
//
// embed (dist/, the shipped build): the module travels inside reftrack.js as base64 and is
//   instantiated synchronously while the script runs, so attribution is done and
//   `growsumo.data` filled before PartnerStack's snippet calls `_initialize` from `onload`.
// fetch (used by `npm run bench` only, for comparison): reftrack.js fetches reftrack_bg.wasm
//   from its own directory and instantiates it asynchronously.
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
const wasm = readFileSync(args.wasm);

// What runs once the module is instantiated: hand the script element to Rust (it reads the
// data-* options and defines window.growsumo), then hang the native API on window.reftrack.
const start = `
  wasm_bindgen.boot(script);
  window.reftrack = {
    init: wasm_bindgen.init,
    partnerKey: wasm_bindgen.partnerKey,
    clickId: wasm_bindgen.clickId,
    signup: wasm_bindgen.signup,
    flush: wasm_bindgen.flush,
    captureForms: wasm_bindgen.captureForms,
    consent: wasm_bindgen.consent
  };`;

const load = {
  embed: `
  var text = atob(${JSON.stringify(wasm.toString('base64'))});
  var bytes = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  wasm_bindgen.initSync({ module: bytes });
  ${start}`,
  fetch: `
  wasm_bindgen({ module_or_path: new URL('reftrack_bg.wasm', script.src) })
    .then(function () { ${start} })
    .catch(fail);`,
}[args.variant];
if (!load) throw new Error(`unknown variant ${args.variant}`);

const source = `(function () {
  var script = document.currentScript;
  function fail(error) { console.warn('[reftrack] not started: ' + error); }
  ${glue}
  try { ${load} } catch (error) { fail(error); }
})();`;

const { code } = await transform(source, { minify: true, target: 'es2017' });
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'reftrack.js'), `/*! reftrack ${version} | MIT OR Apache-2.0 */\n${code}`);
if (args.variant === 'fetch') copyFileSync(args.wasm, join(args.out, 'reftrack_bg.wasm'));
