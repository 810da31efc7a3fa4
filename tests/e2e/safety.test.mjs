// Host-page safety of the script-tag build: whatever goes wrong inside reftrack — WebAssembly
// blocked or missing, a Rust panic — no exception reaches the page, every global exists, signups
// resolve with ok:false and an error, and one warning is logged. Also: the loader snippet queues
// calls made before the script arrives, and a second copy of the script changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startCollector, launchBrowser, freshPage, b64, eventually } from './harness.mjs';

const root = resolve(import.meta.dirname, '../..');
const faultDist = join(root, 'target/fault-dist');
let collector;
let faulty;
let snippetSite;
let browser;
before(async () => {
  collector = await startCollector();
  // The snippet's pages are put together from dist/snippet.html, so they are what users paste.
  const site = mkdtempSync(join(tmpdir(), 'reftrack-snippet-'));
  writeFileSync(join(site, 'loads.html'), snippetPage('/sdk/reftrack.js'));
  writeFileSync(join(site, 'missing.html'), snippetPage('/sdk/missing.js'));
  writeFileSync(join(site, 'hostile.html'), HOSTILE_PAGE);
  snippetSite = await startCollector({ www: site });
  if (!existsSync(join(faultDist, 'reftrack.js'))) throw new Error('run scripts/test.sh: it builds target/fault-dist');
  faulty = await startCollector({ args: ['--dist', faultDist] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
  await faulty?.stop();
  await snippetSite?.stop();
});

/** Loads `path`, then checks that reftrack failed safely. */
async function assertFailsSafely(page, warnings) {
  await page.waitForFunction(() => window.reftrack && window.growsumo && window.po);
  const outcome = await page.evaluate(async () => {
    const calls = [];
    const viaGrowsumo = await growsumo.createSignup((r) => calls.push(r));
    const viaReftrack = await reftrack.signup({ customer_key: 'c1' });
    const viaPo = await po('customers', 'signup', { data: { key: 'c2' } });
    await reftrack.init({ debug: true });
    await reftrack.flush();
    reftrack.captureForms();
    reftrack.consent(true);
    return { calls, viaGrowsumo, viaReftrack, viaPo, key: reftrack.partnerKey(), xid: reftrack.clickId() };
  });
  assert.equal(outcome.calls.length, 1, 'the createSignup callback is called once');
  for (const result of [outcome.calls[0], outcome.viaGrowsumo, outcome.viaReftrack, outcome.viaPo]) {
    assert.equal(result.ok, false);
    assert.equal(result.status, 'error');
    assert.match(result.error, /^reftrack is not running: /);
  }
  assert.equal(outcome.key, null);
  assert.equal(outcome.xid, null);
  assert.equal(warnings.filter((w) => w.startsWith('[reftrack]')).length, 1, `one warning: ${warnings.join(' | ')}`);
  assert.deepEqual(page.errors, []);
}

function watchWarnings(page) {
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  return warnings;
}

test("a CSP without 'wasm-unsafe-eval': nothing throws, signups resolve ok:false, one warning", async () => {
  const { context, page } = await freshPage(browser);
  const warnings = watchWarnings(page);
  await page.goto(collector.url('www.acme.test', `/csp.html?ps_partner_key=${b64('alex-smith')}`));
  await assertFailsSafely(page, warnings);
  assert.match(warnings.join(), /WebAssembly|Wasm|wasm/);
  assert.match(warnings.join(), /add 'wasm-unsafe-eval' to the page's script-src/, warnings.join());
  await context.close();
});

test('a browser without WebAssembly: the same', async () => {
  const { context, page } = await freshPage(browser);
  await page.addInitScript(() => { delete window.WebAssembly; });
  const warnings = watchWarnings(page);
  await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
  await assertFailsSafely(page, warnings);
  assert.match(warnings.join(), /no WebAssembly/);
  await context.close();
});

test("without WebAssembly the page's growsumoInit still runs exactly once, with PartnerStack's snippet or a plain tag", async () => {
  for (const path of ['/snippet.html', '/plain.html']) {
    const { context, page } = await freshPage(browser);
    await page.addInitScript(() => { delete window.WebAssembly; });
    await page.goto(collector.url('www.acme.test', path));
    await page.waitForFunction(() => window.reftrack && document.readyState === 'complete');
    await page.waitForTimeout(200);
    assert.equal(await page.evaluate(() => window.inits.length), 1, path);
    assert.deepEqual(page.errors, []);
    await context.close();
  }
});

test('a Rust panic: caught, reported once, and no later call hangs or throws', async () => {
  const { context, page } = await freshPage(browser);
  const warnings = watchWarnings(page);
  await page.goto(faulty.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.reftrack && window.inits.length === 1);
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'alex-smith', 'working before the fault');
  assert.equal(await page.evaluate(() => { reftrack.__fault(); return 'returned'; }), 'returned', 'the panic does not throw into the page');
  await assertFailsSafely(page, warnings);
  assert.match(warnings.join(), /RuntimeError/);
  // The page's own history.pushState still works through reftrack's wrapper.
  await page.evaluate(() => history.pushState({ n: 1 }, '', '/after-fault'));
  assert.equal(await page.evaluate(() => location.pathname), '/after-fault');
  assert.deepEqual(page.errors, []);
  await context.close();
});

/** A page with the shipped snippet (dist/snippet.html) loading `script`, then calls made at once. */
function snippetPage(script) {
  const snippet = readFileSync(join(root, 'dist/snippet.html'), 'utf8');
  assert.ok(snippet.includes('"https://your-cdn.example/reftrack/reftrack.js"'), 'the URL the README tells users to change');
  const calls = readFileSync(join(root, 'tests/e2e/site/snippet-calls.html'), 'utf8');
  return calls.replace('<!-- snippet -->', snippet.replace('https://your-cdn.example/reftrack/reftrack.js', script));
}

test('the loader snippet: calls made before the script arrives are replayed and answered', async () => {
  const { context, page } = await freshPage(browser);
  const key = `snip_${process.pid}`;
  await page.goto(snippetSite.url('www.acme.test', `/loads.html?customer=${key}&ps_partner_key=${b64('alex-smith')}`));
  const results = await page.evaluate(async () => [await window.early, await window.earlyGrowsumo, window.callbacks.length]);
  assert.equal(results[0].status, 'created');
  assert.equal(results[1].status, 'created');
  assert.equal(results[2], 1);
  const stored = await eventually(async () => {
    const all = (await snippetSite.signups()).filter((s) => s.customer_key === key || s.customer_key === `${key}@example.com`);
    return all.length === 2 && all;
  });
  assert.ok(stored.every((s) => s.public_key === 'pk_snippet' && s.partner_key === 'alex-smith'));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the loader snippet when the script cannot load: signups resolve ok:false, the callback is called, one warning', async () => {
  const { context, page } = await freshPage(browser);
  const warnings = watchWarnings(page);
  await page.goto(snippetSite.url('www.acme.test', '/missing.html?customer=lost'));
  const results = await page.evaluate(async () => [await window.early, await window.earlyGrowsumo, window.callbacks, await reftrack.signup({ customer_key: 'later' })]);
  for (const result of [results[0], results[1], results[2][0], results[3]]) {
    assert.deepEqual(result, { ok: false, status: 'error', event_id: null, error: 'reftrack.js did not load' });
  }
  assert.equal(results[2].length, 1, 'the createSignup callback is called once');
  assert.equal(warnings.filter((w) => w.startsWith('[reftrack]')).length, 1, warnings.join(' | '));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the loader snippet is under 1 KB, and a second copy of the script changes nothing', async () => {
  const snippet = readFileSync(join(root, 'dist/snippet.html'), 'utf8');
  assert.ok(statSync(join(root, 'dist/snippet.html')).size < 1024, `${snippet.length} bytes`);
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.reftrack && window.inits.length === 1);
  await page.evaluate(() => { window.reftrack.marker = 'first copy'; });
  await page.addScriptTag({ url: '/sdk/reftrack.js' });
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => window.reftrack.marker), 'first copy', 'the first copy stays in charge');
  assert.equal(await page.evaluate(() => window.inits.length), 1, 'growsumoInit still ran once');
  assert.deepEqual(page.errors, []);
  await context.close();
});

// A page that polluted Object.prototype with reftrack's option and field names, and wrapped fetch,
// history.pushState and JSON.parse, as monitoring and consent libraries do.
const HOSTILE_PAGE = `<!doctype html><meta charset="utf-8"><title>hostile</title>
<script>
  Object.prototype.endpoint = 'http://evil.example/steal';
  Object.prototype.publicKey = 'pk_evil';
  Object.prototype.customer_key = 'evil';
  Object.prototype.sendUnattributed = true;
  Object.prototype.debug = true;
  // Read by fetch from a request's init dictionary when the init does not set it: a request from
  // an ordinary object would throw ("only-if-cached" needs same-origin mode).
  Object.prototype.cache = 'only-if-cached';
  window.fetches = 0;
  const realFetch = window.fetch;
  window.fetch = function () { window.fetches++; return realFetch.apply(this, arguments); };
  const realPush = history.pushState;
  history.pushState = function () { window.pushed = true; return realPush.apply(this, arguments); };
  const realParse = JSON.parse;
  JSON.parse = function (text, reviver) { return realParse.call(JSON, text, reviver); };
  // A page's own btoa that is not the browser's: the module's bytes come from the loop instead.
  window.btoa = function () { return 'cGFnZQ=='; };
  window.inits = [];
  function growsumoInit() { inits.push(growsumo.data.partner_key); }
</script>
<script async src="/sdk/reftrack.js" data-public-key="pk_hostile"></script>
<p>hostile page</p>`;

test('a page with a polluted Object.prototype and wrapped built-ins: reftrack reads only what was given to it', async () => {
  const { context, page } = await freshPage(browser);
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(snippetSite.url('www.acme.test', `/hostile.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.inits.length === 1);
  assert.deepEqual(await page.evaluate(() => window.inits), ['alex-smith']);
  const key = `hostile_${process.pid}@example.com`;
  const result = await page.evaluate((email) => reftrack.signup({ email }), key);
  assert.equal(result.status, 'created', JSON.stringify(result));
  assert.ok(await page.evaluate(() => window.fetches) >= 1, "the page's own fetch wrapper was called");
  const [stored] = (await snippetSite.signups()).filter((s) => s.email === key);
  assert.equal(stored.public_key, 'pk_hostile');
  assert.equal(stored.customer_key, key, 'not the inherited customer_key');
  assert.equal(stored.partner_key, 'alex-smith');
  await page.evaluate(() => history.pushState({}, '', '/next'));
  assert.equal(await page.evaluate(() => window.pushed), true, "the page's pushState wrapper still runs");
  assert.ok(!logs.some((l) => l.startsWith('[reftrack]') && !l.includes('not a reftrack option')), logs.join('\n'));
  assert.deepEqual(page.errors, []);
  await context.close();
});
