// The npm package as a front-end developer uses it: bundled by real bundlers (esbuild, Vite,
// webpack 5 and Rollup, each set up as the README says),
// which must print no warning, run in Chromium against the collector; and its types checked by tsc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { build as viteBuild } from 'vite';
import webpack from 'webpack';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { importMetaAssets } from '@web/rollup-plugin-import-meta-assets';
import { startCollector, launchBrowser, freshPage, b64, eventually } from './harness.mjs';

const root = resolve(import.meta.dirname, '../..');
let site;
let collector;
let browser;

/** Bundler warnings: any fails the tests below. */
const warnings = { esbuild: [], vite: [], webpack: [], rollup: [] };

/** A project as a developer has it: the app's sources, and reftrack installed under node_modules. */
function project() {
  const dir = mkdtempSync(join(tmpdir(), 'reftrack-app-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(join(root, 'pkg'), join(dir, 'node_modules/reftrack'), 'dir');
  for (const file of ['app.js', 'main-esbuild.js']) copyFileSync(join(root, 'tests/npm', file), join(dir, file));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>app</title><script type="module" src="./app.js"></script><p>app</p>');
  return dir;
}

const page = (script = 'app.js') => `<!doctype html><meta charset="utf-8"><title>npm app</title><script type="module" src="${script}"></script><p>app</p>`;

before(async () => {
  site = mkdtempSync(join(tmpdir(), 'reftrack-npm-'));
  const app = project();
  // esbuild, set up as the README says: the .wasm imported as a file, its URL passed to init().
  const built = await build({
    entryPoints: [join(app, 'main-esbuild.js')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    splitting: true,
    outdir: join(site, 'app'),
    loader: { '.wasm': 'file' },
    logLevel: 'silent',
  });
  warnings.esbuild.push(...built.warnings.map((w) => w.text));
  writeFileSync(join(site, 'app/index.html'), page('main-esbuild.js'));
  // Vite, unchanged: it emits reftrack_bg.wasm as an asset by itself.
  const collect = (m) => warnings.vite.push(String(m));
  await viteBuild({
    root: app,
    base: '/vite/',
    logLevel: 'warn',
    customLogger: { info() {}, warn: collect, warnOnce: collect, error: collect, clearScreen() {}, hasErrorLogged: () => false, hasWarned: false },
    build: { outDir: join(site, 'vite'), emptyOutDir: true },
  });
  // webpack 5, unchanged: `new URL('reftrack_bg.wasm', import.meta.url)` becomes an asset.
  const stats = await new Promise((ok, fail) => webpack({
    mode: 'production',
    context: app,
    entry: './app.js',
    output: { path: join(site, 'webpack'), filename: 'app.js' },
  }, (error, result) => (error ? fail(error) : ok(result))));
  warnings.webpack.push(...stats.compilation.warnings.map(String), ...stats.compilation.errors.map(String));
  writeFileSync(join(site, 'webpack/index.html'), page());
  // Rollup, with the two plugins the README names: node-resolve and import-meta-assets.
  const bundle = await rollup({
    input: join(app, 'app.js'),
    plugins: [nodeResolve(), importMetaAssets()],
    onwarn: (warning) => warnings.rollup.push(String(warning.message)),
  });
  await bundle.write({ dir: join(site, 'rollup'), format: 'es' });
  writeFileSync(join(site, 'rollup/index.html'), page());
  // An esbuild bundle without its .wasm (a deploy that forgot it: 404).
  await build({
    entryPoints: [join(app, 'app.js')], bundle: true, format: 'esm', target: 'es2022',
    outfile: join(site, 'broken/app.js'), logLevel: 'error',
  });
  writeFileSync(join(site, 'broken/index.html'), page());
  collector = await startCollector({ www: site });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
});

test('an app bundled with esbuild delivers an attributed signup', async () => {
  const { context, page } = await freshPage(browser);
  const key = `npm_${process.pid}`;
  await page.goto(collector.url('www.acme.test', `/app/?customer=${key}&ps_partner_key=${b64('alex-smith')}&ps_xid=clk_npm`));
  await page.waitForFunction(() => document.body.dataset.done === 'yes');
  const app = await page.evaluate(() => window.app);
  assert.equal(app.partnerKey, 'alex-smith');
  assert.equal(app.clickId, 'clk_npm');
  assert.equal(app.result.status, 'created');
  const [signup] = await eventually(async () => {
    const found = (await collector.signups()).filter((s) => s.customer_key === key);
    return found.length && found;
  });
  assert.equal(signup.public_key, 'pk_npm_app');
  assert.equal(signup.partner_key, 'alex-smith');
  assert.equal(signup.event_id, app.result.event_id);
  const names = (await context.cookies()).map((c) => c.name.replace(/^(_ps_xid_.*_)[A-Za-z0-9]{4}$/, '$1XXXX')).sort();
  assert.deepEqual(names, ['_ps_partner_key_pk_npm_app', '_ps_xid_pk_npm_app_XXXX', 'growSumoPartnerKey', 'ps_partner_key', 'ps_xid']);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('esbuild, Vite, webpack and Rollup bundle the package without a warning', () => {
  assert.deepEqual(warnings, { esbuild: [], vite: [], webpack: [], rollup: [] });
});

for (const [bundler, dir] of [['Vite', 'vite'], ['webpack 5', 'webpack'], ['Rollup', 'rollup']]) {
  test(`an app bundled with ${bundler} delivers an attributed signup`, async () => {
    const { context, page } = await freshPage(browser);
    const key = `${dir}_${process.pid}`;
    await page.goto(collector.url('www.acme.test', `/${dir}/?customer=${key}&ps_partner_key=${b64('alex-smith')}`));
    await page.waitForFunction(() => document.body.dataset.done === 'yes');
    const app = await page.evaluate(() => window.app);
    assert.equal(app.partnerKey, 'alex-smith');
    assert.equal(app.result.status, 'created', JSON.stringify(app.result));
    const [signup] = await eventually(async () => {
      const found = (await collector.signups()).filter((s) => s.customer_key === key);
      return found.length && found;
    });
    assert.equal(signup.public_key, 'pk_npm_app');
    assert.deepEqual(page.errors, []);
    await context.close();
  });
}

test('a missing .wasm (404): init resolves, the signup resolves ok:false with an error, one warning', async () => {
  const { context, page } = await freshPage(browser);
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.goto(collector.url('www.acme.test', `/broken/?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => document.body.dataset.done === 'yes');
  const app = await page.evaluate(() => window.app);
  assert.equal(app.partnerKey, null);
  assert.equal(app.result.ok, false);
  assert.equal(app.result.status, 'error');
  assert.match(app.result.error, /^reftrack is not running: /);
  assert.equal(warnings.filter((w) => w.startsWith('[reftrack]')).length, 1, warnings.join('\n'));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the types check: tsc --noEmit on a TypeScript usage example', () => {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tests/npm')], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});

test('the package manifest: exports, types, files, sideEffects', async () => {
  const { readFileSync } = await import('node:fs');
  const manifest = JSON.parse(readFileSync(join(root, 'pkg/package.json'), 'utf8'));
  assert.equal(manifest.name, 'reftrack');
  assert.equal(manifest.types, './index.d.ts');
  assert.equal(manifest.exports['.'].import, './index.js');
  assert.equal(manifest.sideEffects, false);
  for (const file of manifest.files) assert.ok(spawnSync('test', ['-f', join(root, 'pkg', file)]).status === 0, file);
  const types = readFileSync(join(root, 'pkg/index.d.ts'), 'utf8');
  for (const name of ['init', 'partnerKey', 'clickId', 'signup', 'captureForms', 'consent', 'flush']) {
    assert.match(types, new RegExp(`/\\*\\*[^/]*\\*/\\s*export function ${name}\\(`), `${name} has a doc comment`);
  }
});

test("the package's module imports carry short names, the same in the .wasm and the glue", () => {
  // wasm-bindgen's names (`__wbg_getItem_5a1b…`, 16 hex digits each) cost 2.5 KB gzip in the .wasm.
  const module = new WebAssembly.Module(readFileSync(join(root, 'pkg/reftrack_bg.wasm')));
  const imports = WebAssembly.Module.imports(module);
  assert.ok(imports.length > 50, `${imports.length} imports`);
  const hashed = imports.filter((i) => /[0-9a-f]{16}/.test(i.name) || i.module.length > 3);
  assert.deepEqual(hashed, [], 'no hashed import or module name');
  const glue = readFileSync(join(root, 'pkg/reftrack.js'), 'utf8');
  for (const { module: from, name } of imports.filter((i) => i.kind === 'function')) {
    assert.ok(glue.includes(`"${from}":`) && (glue.includes(`${name}: function`) || ['guard', 'after'].includes(name)), `${from}.${name} in the glue`);
  }
  // The exports only the glue calls (closure adapters, malloc, the externref table) are short too;
  // the API keeps its names, and the module's declared exports follow.
  const exported = WebAssembly.Module.exports(module).map((e) => e.name);
  assert.deepEqual(exported.filter((name) => /[0-9a-f]{16}|^__wbindgen_|^__externref_|^wasm_bindgen__/.test(name)), [], 'no long export name');
  for (const name of ['init', 'partnerKey', 'clickId', 'signup', 'captureForms', 'consent', 'flush', 'memory']) assert.ok(exported.includes(name), name);
  const declared = readFileSync(join(root, 'pkg/reftrack_bg.wasm.d.ts'), 'utf8');
  for (const [, name] of declared.matchAll(/export const (\w+):/g)) assert.ok(exported.includes(name), `${name} declared and exported`);
  assert.doesNotMatch(glue, /wasm_bindgen__convert__closures|__wbindgen_malloc/);
});

test('importing the package outside a browser (server-side rendering) does not throw, and calls answer harmlessly', () => {
  // Node has no window or document: an SSR framework imports the module before any page exists.
  const script = `
    const m = await import(${JSON.stringify(join(root, 'pkg/index.js'))});
    console.log(JSON.stringify([m.partnerKey(), m.clickId(), typeof m.init, typeof m.signup]));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [null, null, 'function', 'function']);
});

test("the API's methods are one list: window.reftrack (built from src/web/api.rs) is what index.js, guard.js, the loader snippet and the types name", async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/vite/'));
  await page.addScriptTag({ url: '/sdk/reftrack.js' });
  await page.waitForFunction(() => window.reftrack && window.reftrack.version);
  const methods = (await page.evaluate(() => Object.keys(reftrack).filter((k) => typeof reftrack[k] == 'function'))).sort();
  await context.close();
  const read = (file) => readFileSync(join(root, file), 'utf8');
  const names = (text) => [...text.matchAll(/['"](\w+)['"]/g)].map((m) => m[1]);
  const lists = {
    'js/index.js': names(read('js/index.js').match(/\[([^\]]*)\]\.forEach/)[1]),
    'js/guard.js': names(read('js/guard.js').match(/guarded\(reftrack, \[([^\]]*)\]\)/)[1]),
    'js/snippet.html': [...names(read('js/snippet.html').match(/\[([^\]]*)\]\.forEach/)[1]),
      ...[...read('js/snippet.html').matchAll(/r\.(\w+)=/g)].map((m) => m[1])],
    'js/index.d.ts': [...read('js/index.d.ts').matchAll(/^export function (\w+)/gm)].map((m) => m[1]),
    'js/types.d.ts': [...read('js/types.d.ts').match(/interface ReftrackApi \{([\s\S]*?)\n\}/)[1].matchAll(/^  (\w+)\(/gm)].map((m) => m[1]),
  };
  for (const [file, list] of Object.entries(lists)) assert.deepEqual([...list].sort(), methods, file);
});
