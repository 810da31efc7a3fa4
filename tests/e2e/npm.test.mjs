// The npm package as a front-end developer uses it: bundled by real bundlers (esbuild and Vite),
// which must print no warning, run in Chromium against the collector; and its types checked by tsc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { build as viteBuild } from 'vite';
import { startCollector, launchBrowser, freshPage, b64, eventually } from './harness.mjs';

const root = resolve(import.meta.dirname, '../..');
let site;
let collector;
let browser;

/** Bundler warnings: any fails the tests below. */
const warnings = { esbuild: [], vite: [] };

before(async () => {
  site = mkdtempSync(join(tmpdir(), 'reftrack-npm-'));
  const built = await build({
    entryPoints: [join(root, 'tests/npm/app.js')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outfile: join(site, 'app/app.js'),
    alias: { reftrack: join(root, 'pkg/index.js') },
    logLevel: 'silent',
  });
  warnings.esbuild.push(...built.warnings.map((w) => w.text));
  // The same app built by Vite, which emits reftrack_bg.wasm as an asset by itself.
  const viteRoot = join(site, 'vite-src');
  mkdirSync(viteRoot, { recursive: true });
  copyFileSync(join(root, 'tests/npm/app.js'), join(viteRoot, 'app.js'));
  writeFileSync(join(viteRoot, 'index.html'), '<!doctype html><meta charset="utf-8"><title>vite app</title><script type="module" src="./app.js"></script><p>app</p>');
  const collect = (m) => warnings.vite.push(String(m));
  await viteBuild({
    root: viteRoot,
    base: '/vite/',
    logLevel: 'warn',
    customLogger: { info() {}, warn: collect, warnOnce: collect, error: collect, clearScreen() {}, hasErrorLogged: () => false, hasWarned: false },
    resolve: { alias: { reftrack: join(root, 'pkg/index.js') } },
    build: { outDir: join(site, 'vite'), emptyOutDir: true },
  });
  // The bundler leaves `new URL('reftrack_bg.wasm', import.meta.url)` alone: ship the file beside it.
  copyFileSync(join(root, 'pkg/reftrack_bg.wasm'), join(site, 'app/reftrack_bg.wasm'));
  const page = '<!doctype html><meta charset="utf-8"><title>npm app</title><script type="module" src="app.js"></script><p>app</p>';
  writeFileSync(join(site, 'app/index.html'), page);
  // The same bundle without its .wasm (a deploy that forgot it: 404).
  await build({
    entryPoints: [join(root, 'tests/npm/app.js')], bundle: true, format: 'esm', target: 'es2022',
    outfile: join(site, 'broken/app.js'), alias: { reftrack: join(root, 'pkg/index.js') }, logLevel: 'error',
  });
  writeFileSync(join(site, 'broken/index.html'), page);
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
  assert.deepEqual((await context.cookies()).map((c) => c.name).sort(), ['growSumoPartnerKey', 'ps_partner_key', 'ps_xid']);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('esbuild and Vite bundle the package without a warning', () => {
  assert.deepEqual(warnings, { esbuild: [], vite: [] });
});

test('an app bundled with Vite delivers an attributed signup', async () => {
  const { context, page } = await freshPage(browser);
  const key = `vite_${process.pid}`;
  await page.goto(collector.url('www.acme.test', `/vite/?customer=${key}&ps_partner_key=${b64('alex-smith')}`));
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

test('importing the package outside a browser (server-side rendering) does not throw, and calls answer harmlessly', () => {
  // Node has no window or document: an SSR framework imports the module before any page exists.
  const script = `
    const m = await import(${JSON.stringify(join(root, 'pkg/index.js'))});
    console.log(JSON.stringify([m.partnerKey(), m.clickId(), typeof m.init, typeof m.signup]));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [null, null, 'function', 'function']);
});
