// What a site relies on, in each browser engine (Chromium, Firefox ESR, WebKitGTK) over W3C
// WebDriver, against the real collector: attribution and the cookie domain probe on *.acme.test,
// PartnerStack's snippet with growsumoInit run once, createSignup followed by an immediate
// navigation, Partnero's stub with form auto-capture, the retry queue across a reload, a CSP
// without 'wasm-unsafe-eval', and the signed path from a partner link to the report. Chromium also
// runs the full Playwright suite (tests/e2e).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startCollector, b64, eventually, freePort, SECRET } from '../e2e/harness.mjs';
import { ENGINES, startBrowser, startProxy } from './webdriver.mjs';

const root = resolve(import.meta.dirname, '../..');
const site = mkdtempSync(join(tmpdir(), 'reftrack-engines-'));
// Every page records its uncaught errors, so that a test can say none reached the page.
// Its reftrack warnings are kept in sessionStorage too, so that they outlive a navigation.
const errors = `<script>window.errors = [];
  var warn = console.warn;
  console.warn = function (line) {
    if (String(line).indexOf('[reftrack]') === 0) sessionStorage.setItem('warnings', (sessionStorage.getItem('warnings') || '') + line + '\\n');
    return warn.apply(console, arguments);
  };
  addEventListener('error', function (e) { errors.push(String(e.message)); });
  addEventListener('unhandledrejection', function (e) { errors.push(String(e.reason)); });</script>`;
const inits = `<script>window.inits = []; function growsumoInit() { inits.push(JSON.parse(JSON.stringify(growsumo.data))); }</script>`;
const page = (head, body = '<p>page</p>') => `<!doctype html><html><head><meta charset="utf-8"><title>engines</title>${errors}${head}</head><body>${body}</body></html>`;
const snippet = readFileSync(join(root, 'tests/e2e/site/snippet.html'), 'utf8').match(/<!-- PartnerStack's[^>]*-->\s*(<script>[\s\S]*?<\/script>)/)[1];
const partnero = readFileSync(join(root, 'tests/e2e/site/universal.html'), 'utf8');
writeFileSync(join(site, 'landing.html'), page(`${inits}<script async src="/sdk/reftrack.js" data-public-key="pk_test_123"></script>`));
writeFileSync(join(site, 'snippet.html'), page(`${inits}${snippet}`));
writeFileSync(join(site, 'thanks.html'), page('', '<p>thanks</p>'));
writeFileSync(join(site, 'universal.html'), partnero.replace('<head>', `<head>${errors}`));
writeFileSync(join(site, 'csp.html'), page(`<meta http-equiv="Content-Security-Policy" content="script-src 'self' 'unsafe-inline'">${inits}${snippet}`));

// The site's server signs customer keys with it (README: signed signups).
const SIGNUP_SECRET = 'engines-signup-secret';
const sign = (customerKey) => createHmac('sha256', SIGNUP_SECRET).update(customerKey).digest('hex');

let port;
let collector;
let proxy;
const collectorArgs = () => ['--listen', `127.0.0.1:${port}`, '--signup-secret', SIGNUP_SECRET,
  '--site-url', `http://www.acme.test:${port}/`];
before(async () => {
  port = await freePort();
  collector = await startCollector({ www: site, args: collectorArgs() });
  proxy = await startProxy();
});
after(async () => {
  await collector?.stop();
  await proxy?.stop();
});

const url = (host, path) => `http://${host}:${port}${path}`;
const storedFor = async (key) => (await collector.signups()).filter((s) => s.customer_key === key || s.email === key);
for (const engine of ENGINES) {
  describe(engine, () => {
    let browser;
    const id = (name) => `${engine}_${name}_${process.pid}`;
    before(async () => {
      browser = await startBrowser(engine, proxy.port);
      console.log(`# ${engine} ${browser.version}`);
    });
    after(async () => {
      await browser?.quit();
    });

    test('attribution: the key from the link, cookies on the broadest domain, seen from another subdomain', async () => {
      await browser.goto(url('www.acme.test', `/landing.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_${engine}`));
      await browser.until('return window.reftrack && window.reftrack.partnerKey() === "alex-smith"');
      assert.equal(await browser.run('return reftrack.clickId()'), `clk_${engine}`);
      const cookies = Object.fromEntries((await browser.cookies()).map((c) => [c.name, c]));
      assert.equal(cookies.growSumoPartnerKey?.value, 'alex-smith');
      assert.equal(cookies.ps_xid?.value, `clk_${engine}`);
      assert.equal(cookies.reftrack_probe, undefined, 'the probe cookie is gone');
      // PartnerStackJS's own names for the program's cookies, which server code looks for.
      assert.equal(cookies._ps_partner_key_pk_test_123?.value, 'alex-smith');
      const clicks = Object.keys(cookies).filter((name) => /^_ps_xid_pk_test_123_[A-Za-z0-9]{4}$/.test(name));
      assert.deepEqual(clicks.map((name) => cookies[name].value), [`clk_${engine}`]);
      // The attributes, as the engine stored them (WebDriver shows what no page API does).
      for (const name of ['growSumoPartnerKey', 'ps_partner_key', 'ps_xid', '_ps_partner_key_pk_test_123', clicks[0]]) {
        const cookie = cookies[name];
        assert.match(cookie.domain, /^\.?acme\.test$/, `${name}: the probe found acme.test`);
        assert.equal(cookie.path, '/', `${name} Path`);
        assert.equal(cookie.secure, false, `${name} not Secure on http`);
        assert.equal(cookie.sameSite, 'Lax', `${name} SameSite`);
        const days = (cookie.expiry * 1000 - Date.now()) / 86_400_000;
        assert.ok(days > 89.9 && days < 90.1, `${name} lives ${days.toFixed(2)} days`);
      }
      await browser.goto(url('app.acme.test', '/landing.html'));
      await browser.until('return window.reftrack && window.inits.length === 1');
      assert.equal(await browser.run('return reftrack.partnerKey()'), 'alex-smith', 'app.acme.test sees the key');
      assert.deepEqual(await browser.run('return window.errors'), []);
    });

    test("PartnerStack's snippet: growsumoInit runs once, with growsumo.data filled", async () => {
      await browser.goto(url('www.acme.test', `/snippet.html?ps_partner_key=${b64('jane-doe')}`));
      await browser.until('return document.readyState === "complete" && window.inits.length > 0');
      await new Promise((ok) => setTimeout(ok, 300));
      const seen = await browser.run('return window.inits');
      assert.equal(seen.length, 1);
      assert.equal(seen[0].partner_key, 'jane-doe');
      assert.deepEqual(await browser.run('return window.errors'), []);
    });

    test('createSignup followed at once by a navigation: the signup still arrives (keepalive), and no delivery warning', async () => {
      const email = `${id('navigate')}@example.com`;
      await browser.goto(url('www.acme.test', `/landing.html?ps_partner_key=${b64('alex-smith')}`));
      await browser.until('return window.reftrack && window.inits.length === 1');
      await browser.run(`sessionStorage.removeItem('warnings');
        growsumo.data.email = arguments[0]; growsumo.createSignup(); location.href = '/thanks.html';`, email);
      const [signup] = await eventually(async () => { const s = await storedFor(email); return s.length && s; }, 15_000);
      assert.equal(signup.partner_key, 'alex-smith');
      assert.equal(signup.customer_key, email);
      // The navigation ended the request and the beacon took the signup: nothing to warn about.
      await browser.until('return location.pathname === "/thanks.html" && document.readyState === "complete"');
      await new Promise((ok) => setTimeout(ok, 500));
      assert.equal(await browser.run('return sessionStorage.getItem("warnings")'), null);
    });

    test("Partnero's stub with form auto-capture: the form's fields arrive, never the password", async () => {
      const email = `${id('partnero')}@example.com`;
      await browser.goto(url('www.acme.test', '/universal.html?aff=pat-partner'));
      await browser.until('return window.reftrack && window.reftrack.partnerKey() === "pat-partner"');
      await browser.run(`var f = document.getElementById('register');
        f.first_name.value = 'Pat'; f.last_name.value = 'Field'; f.email.value = arguments[0];
        f.password.value = 'p4ssw0rd-${engine}'; f.company.value = 'Secret Corp'; f.requestSubmit();`, email);
      const [signup] = await eventually(async () => { const s = await storedFor(email.toLowerCase()); return s.length && s; }, 15_000);
      assert.equal(signup.partner_key, 'pat-partner');
      assert.equal(signup.public_key, 'prog_acme');
      assert.equal(signup.name, 'Pat Field');
      assert.ok(!JSON.stringify(signup).includes('p4ssw0rd') && !JSON.stringify(signup).includes('Secret Corp'));
    });

    test('the retry queue across a reload: a signup made while the collector is down arrives once it is back', async () => {
      const key = id('queue');
      const landing = url('www.acme.test', `/landing.html?ps_partner_key=${b64('alex-smith')}`);
      await browser.goto(landing);
      await browser.until('return window.reftrack && window.inits.length === 1');
      await collector.stop();
      const result = await browser.runAsync('reftrack.signup({ customer_key: arguments[0] }).then(arguments[1])', key);
      assert.equal(result.status, 'queued', JSON.stringify(result));
      assert.ok(await browser.run('return localStorage.getItem("reftrack_queue")'), 'the signup waits in localStorage');
      collector = await startCollector({ www: site, args: collectorArgs() });
      await browser.goto(landing);
      const [signup] = await eventually(async () => { const s = await storedFor(key); return s.length && s; }, 30_000);
      assert.equal(signup.event_id, result.event_id);
      await browser.until('return localStorage.getItem("reftrack_queue") === null', 15_000);
    });

    test('the signed path: partner link, landing, signed signup, conversion by click id, report', async () => {
      const partner = `signed-${engine}`;
      const customer = `${id('signed')}@example.com`;
      await browser.goto(url('www.acme.test', `/r/${partner}?to=%2Flanding.html`));
      await browser.until(`return window.reftrack && window.reftrack.partnerKey() === "${partner}"`);
      const xid = await browser.run('return reftrack.clickId()');
      assert.match(xid, /^[A-Za-z0-9]{20}$/, 'the click id the collector issued');
      const result = await browser.runAsync(`growsumo.data.email = arguments[0]; growsumo.data.customer_hash = arguments[1];
        growsumo.createSignup().then(arguments[2])`, customer, sign(customer));
      assert.equal(result.status, 'created', JSON.stringify(result));
      const conversion = await fetch(`http://127.0.0.1:${port}/conversion/xid`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${SECRET}` },
        body: JSON.stringify({ xid, customer_key: customer, amount: 4900, currency: 'EUR' }),
      });
      assert.equal(conversion.status, 201, await conversion.text());
      const [signup] = (await storedFor(customer)).filter((r) => r.type === 'signup');
      assert.deepEqual([signup.partner_key, signup.xid, signup.credit.standing, signup.credit.credited],
        [partner, xid, 'confirmed', true]);
      const report = await (await fetch(`http://127.0.0.1:${port}/v1/partners`, { headers: { Authorization: `Bearer ${SECRET}` } })).json();
      const row = report.partners.find((p) => p.partner_key === partner);
      assert.deepEqual([row.clicks, row.signups, row.contested, row.conversions], [1, 1, 0, 1], JSON.stringify(row));
      assert.deepEqual(await browser.run('return window.errors'), []);
    });

    test("a CSP without 'wasm-unsafe-eval': no error reaches the page, signups say reftrack is off", async () => {
      await browser.goto(url('www.acme.test', '/csp.html'));
      await browser.until('return window.reftrack && window.growsumo && document.readyState === "complete"');
      const result = await browser.runAsync('reftrack.signup({ customer_key: "csp" }).then(arguments[0])');
      assert.equal(result.ok, false);
      assert.equal(result.status, 'error');
      await browser.until('return window.inits.length === 1');
      assert.deepEqual(await browser.run('return window.errors'), []);
    });
  });
}
