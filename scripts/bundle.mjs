// Bundles the script-tag build: js/tag.js + js/guard.js + wasm-bindgen's glue (--target web) into
// one classic script that leaves nothing on `window` but reftrack's globals.
//
//   node scripts/bundle.mjs --glue DIR --wasm M.wasm --out DIR [--variant embed|split|fetch]
//
// embed (dist/reftrack-full.js): the module travels inside the script (one character per byte,
//   see latin1Literal) and is instantiated synchronously while the script runs, so attribution is
//   done and `growsumo.data` filled before PartnerStack's snippet calls `_initialize` from
//   `onload`.
// split (dist/reftrack.js and dist/reftrack-delivery.js, the split build: scripts/split.mjs): the
//   landing's module is embedded and instantiated as in `embed`; the delivery module (`--second`)
//   travels in a second script that the loader adds beside the first when a call first needs it
//   (src/web/split.rs), and is instantiated against the first's exports.
// fetch (used by `npm run bench` only, for comparison): reftrack.js fetches reftrack_bg.wasm
//   from its own directory and instantiates it asynchronously.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, transform } from 'esbuild';
import { splitGlue } from './glue-split.mjs';
import { minifyImports } from './imports.mjs';

const { values: args } = parseArgs({
  options: {
    glue: { type: 'string' },
    wasm: { type: 'string' },
    out: { type: 'string' },
    variant: { type: 'string', default: 'embed' },
    name: { type: 'string', default: 'reftrack.js' },
    second: { type: 'string' },
    // Also writes the script without its module (the placeholder left in), and the module as it
    // is embedded (imports renamed), for `npm run bench`.
    loader: { type: 'string' },
    module: { type: 'string' },
  },
});
const root = resolve(import.meta.dirname, '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'))).version;

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

// The string to bytes natively where the browser can (btoa reads it as Latin-1; fromBase64:
// Chromium 140, Firefox 133, Safari 18.2): measured in Chromium 0.4 ms against 2-4 ms for the
// loop, which runs mostly in the interpreter. The loop stays for other browsers, and for a page
// whose btoa is not the browser's.
const bytesOf = `function bytesOf(text) {
    var bytes, i = 0;
    try { bytes = Uint8Array.fromBase64(btoa(text)); } catch (e) {}
    if (!bytes || bytes.length != text.length) {
      bytes = new Uint8Array(text.length);
      for (; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    }
    return bytes;
  }`;
const instantiate = {
  // Synchronous: the module is ready when this script has run.
  embed: `import { initSync } from 'reftrack-glue';
  ${bytesOf}
  export function instantiate(script, done) {
    initSync({ module: bytesOf("${PLACEHOLDER}") });
    done();
  }`,
  // The landing's module as in embed. The delivery module comes in a script beside this one
  // (script-src allows it as it allows this one; a nonce is passed on), which hands its bytes to
  // the element's \`r\`; instantiated against the first module's exports, its functions take the
  // place of the placeholders in the shared table, and what waited for it runs.
  split: `import { initSync, __delivered, __undelivered, __reftrack_helpers } from 'reftrack-glue';
  import { arrived, fail, guard, split } from ${JSON.stringify(join(root, 'js/guard.js'))};
  ${bytesOf}
  export function instantiate(script, done) {
    var wasm = initSync({ module: bytesOf("${PLACEHOLDER}") });
    split(function bring() {
      var s = document.createElement('script');
      s.src = new URL('reftrack-delivery.js', script.src);
      s.nonce = script.nonce;
      s.r = function (text, make) {
        try {
          // Its imports: the glue's it brings (\`make\`), the first module's exports, and the rest
          // of the glue's.
          var h = __reftrack_helpers(), imports = make(h), m, k;
          for (m in h.imports) {
            imports[m] = imports[m] || { __proto__: null };
            for (k in h.imports[m]) if (!(k in imports[m])) imports[m][k] = h.imports[m][k];
          }
          imports.f = wasm;
          new WebAssembly.Instance(new WebAssembly.Module(bytesOf(text)), imports);
          arrived();
        } catch (e) {
          return fail(e);
        }
        guard(__delivered, 'delivered')();
      };
      // Offline, say: what waits keeps waiting, and the module is asked for again on \`online\`
      // and by the next call that needs it.
      s.onerror = function () {
        s.remove();
        split(bring);
        guard(__undelivered, 'undelivered')('the delivery module did not load from ' + s.src + '; the signup waits and is sent once it does');
      };
      (document.head || document.documentElement).appendChild(s);
    });
    done();
  }`,
  fetch: `import load from 'reftrack-glue';
  export function instantiate(script, done, failed) {
    load({ module_or_path: new URL('reftrack_bg.wasm', script.src) }).then(done, failed);
  }`,
}[args.variant];
if (!instantiate) throw new Error(`unknown variant ${args.variant}`);

// The glue imports the guard from the copy wasm-bindgen made under snippets/; it must be the same
// module instance as tag.js's, so both resolve to js/guard.js.
const minified = minifyImports(readFileSync(args.wasm), readFileSync(join(args.glue, 'reftrack.js'), 'utf8'));
const wasm = minified.wasm;
// The split build: the glue of what only the delivery module imports goes with it.
const delivery = args.variant === 'split' &&
  splitGlue({ glue: minified.glue, second: readFileSync(args.second), minified, guardFields: minified.fields.get('guard.js') ?? [] });
// The glue imports the guard's module as a namespace (`import * as`), which esbuild builds with a
// `for...in` over its exports: on a page that put enumerable names on Object.prototype, that
// throws before reftrack starts. Named imports build no namespace object.
const namespaced = /import \* as (\w+) from (["'])(\.\/snippets\/[^"']*\/js\/guard\.js)\2;?/;
const guardImports = delivery ? delivery.guardFields : (minified.fields.get('guard.js') ?? []);
let glueSource = (delivery ? delivery.glue : minified.glue).replace(namespaced, (_, name, quote, path) =>
  `import { ${guardImports.map((f, i) => `${f} as __guard${i}`).join(', ')} } from ${quote}${path}${quote};\n` +
  `const ${name} = { __proto__: null, ${guardImports.map((f, i) => `${f}: __guard${i}`).join(', ')} };`,
).replace(/(from\s*)(["'])\.\/snippets\/[^"']*\/js\/guard\.js\2/g, (_, from) => from + JSON.stringify(join(root, 'js/guard.js')));
// The split build's placeholders (imported from `p`): the first module calls one only on a
// panic's way out (scripts/split.mjs), which must end reftrack as the panic's trap would.
if (args.variant === 'split') {
  const imports = 'const imports = __wbg_get_imports();';
  if (!glueSource.includes(imports)) throw new Error('bundle: the glue no longer builds its imports as expected');
  glueSource = glueSource.replace(imports, `${imports}
    imports.p = new Proxy({}, { get: function () { return function () { throw new Error('the delivery module was called before it arrived'); }; } });`);
}
const virtual = {
  name: 'reftrack',
  setup(b) {
    b.onResolve({ filter: /^reftrack-(glue|module)$/ }, (a) => ({ path: a.path, namespace: 'reftrack' }));
    b.onLoad({ filter: /.*/, namespace: 'reftrack' }, (a) => ({
      contents: a.path === 'reftrack-glue' ? glueSource : instantiate,
      resolveDir: root,
      loader: 'js',
    }));
  },
};

const result = await build({
  entryPoints: [join(root, 'js/tag.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2017',
  // The glue's default module path (import.meta.url) is unused: the variants pass the module.
  define: { VERSION: JSON.stringify(version), 'import.meta.url': 'undefined' },
  plugins: [virtual],
  write: false,
  legalComments: 'none',
});
for (const warning of result.warnings) console.warn(`bundle: ${warning.text}`);
let code = result.outputFiles[0].text;
if (args.loader) writeFileSync(args.loader, code);
if (args.module) writeFileSync(args.module, wasm);
if (args.variant !== 'fetch') {
  if (code.split(PLACEHOLDER).length !== 2) throw new Error('the module placeholder did not survive minification');
  code = code.replace(PLACEHOLDER, () => latin1Literal(wasm));
}
mkdirSync(args.out, { recursive: true });
// The byte order mark makes every browser decode the file as UTF-8, whatever the page's own
// encoding, which the embedded module depends on. The magic comment (Chromium's per-file compile
// hint; other engines ignore it) has every function of the file compiled on the thread that
// streams the script in, not lazily on the page's main thread at its first call; most of them run
// on every landing. Measured on the bench page, the builds taking turns (four runs of 31-61 loads
// each): the main thread's part, script start to growsumoInit, 4.2-5.6 ms shorter; the script
// starts up to 3.9 ms later (compiling in the background); navigation to growsumoInit 0.5-3.0 ms
// sooner.
writeFileSync(join(args.out, args.name),
  `\ufeff//# allFunctionsCalledOnLoad\n/*! reftrack ${version} | MIT OR Apache-2.0 */\n${code}`, 'utf8');
// The delivery module's script: its bytes handed to the loader that added it (nothing if anything
// else loads it).
if (delivery) {
  const script = await transform(`(function(s){s&&s.r&&s.r("${PLACEHOLDER}",${delivery.factory})})(document.currentScript);`,
    { minify: true, target: 'es2017', legalComments: 'none' });
  if (script.code.split(PLACEHOLDER).length !== 2) throw new Error('the delivery module placeholder did not survive minification');
  writeFileSync(join(args.out, 'reftrack-delivery.js'),
    `\ufeff/*! reftrack ${version} delivery module | MIT OR Apache-2.0 */\n` +
    script.code.replace(PLACEHOLDER, () => latin1Literal(delivery.wasm)), 'utf8');
}
if (args.variant === 'fetch') writeFileSync(join(args.out, 'reftrack_bg.wasm'), wasm);
