// Partnero compatibility, form auto-capture, consent, single-page apps and debug logging, in
// Chromium against the real collector.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCollector, launchBrowser, freshPage, b64, eventually, reftrackCookies } from './harness.mjs';

let collector;
let browser;
before(async () => {
  collector = await startCollector();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
});

let n = 0;
const unique = (prefix) => `${prefix}_${process.pid}_${++n}`;
const stored = async (key) => (await collector.signups()).filter((s) => s.customer_key === key);

test("Partnero's stub: a signup queued before load is delivered, with the program id as public key", async () => {
  const { context, page } = await freshPage(browser);
  const key = unique('pat');
  await page.goto(collector.url('www.acme.test', `/partnero.html?aff=partner_pat&queued_signup=${key}`));
  const [signup] = await eventually(async () => (await stored(key)).length === 1 && stored(key));
  assert.equal(signup.public_key, 'prog_acme');
  assert.equal(signup.partner_key, 'partner_pat');
  assert.equal(signup.name, 'Pat Queued');
  assert.equal(signup.email, `${key}@example.com`);
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.partnero_partner.value, 'partner_pat', '?aff= writes partnero_partner');
  assert.equal(cookies.partnero_partner.domain, '.acme.test');
  assert.equal(cookies.growSumoPartnerKey.value, 'partner_pat');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("po('customers', 'signup') after load: partner.key overrides the attributed partner", async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/partnero.html?aff=partner_pat'));
  await page.waitForFunction(() => window.reftrack);
  const key = unique('override');
  const result = await page.evaluate((key) => po('customers', 'signup', {
    data: { key, name: 'Olive Override', email: `${key}@example.com`, partner: { key: 'partner_override' } },
  }), key);
  assert.equal(result.status, 'created');
  const [signup] = await stored(key);
  assert.equal(signup.partner_key, 'partner_override');
  const bad = await page.evaluate(() => po('customers', 'signup', { data: { key: 'x', partner: { key: 'a;b' } } }));
  assert.equal(bad.status, 'rejected');
  assert.match(bad.error, /partner\.key/);
  await context.close();
});

test('universal capture: name, email and partner arrive; the password never leaves the form; the form POST arrives intact', async () => {
  const { context, page } = await freshPage(browser);
  const sdkBodies = [];
  let formPost;
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/signups')) sdkBodies.push(r.postData() ?? '');
  });
  await page.route('**/register', (route) => {
    formPost = route.request().postData();
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>registered</p>' });
  });
  await page.goto(collector.url('www.acme.test', `/universal.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.reftrack);
  const email = `${unique('una')}@example.com`;
  await page.fill('[name=first_name]', 'Una');
  await page.fill('[name=last_name]', 'Universal');
  await page.fill('[name=email]', email);
  await page.fill('[name=password]', 'p4ssw0rd-never-sent');
  await page.fill('[name=company]', 'Secret Corp');
  await Promise.all([page.waitForURL(/\/register$/), page.click('button')]);
  const [signup] = await eventually(async () => (await stored(email)).length === 1 && stored(email));
  assert.equal(signup.name, 'Una Universal');
  assert.equal(signup.email, email);
  assert.equal(signup.partner_key, 'alex-smith');
  assert.equal(signup.public_key, 'prog_acme');
  assert.equal(sdkBodies.length, 1);
  assert.ok(!sdkBodies[0].includes('p4ssw0rd'), 'the password is in no request the SDK made');
  assert.ok(!sdkBodies[0].includes('Secret Corp'), 'nor any field it does not use');
  const form = new URLSearchParams(formPost);
  assert.equal(form.get('password'), 'p4ssw0rd-never-sent', "the form's own POST is intact");
  assert.equal(form.get('email'), email);
  await context.close();
});

test('a form inserted after load is captured, and a double submit gives one signup', async () => {
  const { context, page } = await freshPage(browser);
  const posts = [];
  page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/v1/signups') && posts.push(r));
  await page.goto(collector.url('www.acme.test', `/signup.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.reftrack);
  const email = `${unique('late')}@example.com`;
  await page.evaluate((email) => {
    reftrack.captureForms('form.late');
    const form = document.createElement('form');
    form.className = 'late';
    form.innerHTML = `<input name="name" value="Lee Late"><input type="email" name="email" value="${email}"><input type="password" name="password" value="hidden">`;
    form.addEventListener('submit', (e) => e.preventDefault()); // an app that handles the submit itself
    document.body.appendChild(form);
    form.requestSubmit();
    form.requestSubmit();
  }, email);
  const [signup] = await eventually(async () => (await stored(email)).length === 1 && stored(email));
  assert.equal(signup.name, 'Lee Late');
  await page.waitForTimeout(500);
  assert.equal(posts.length, 1, 'one signup for a double submit');
  // The original #signup form does not match the selector, so it is not captured.
  await page.evaluate(() => document.getElementById('signup').requestSubmit());
  await page.waitForTimeout(300);
  assert.equal(posts.length, 1);
  await context.close();
});

test('consent pending: no cookie, nothing stored, no request until consent(true); consent(false) clears', async () => {
  const { context, page } = await freshPage(browser);
  const posts = [];
  page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/v1/signups') && posts.push(r));
  await page.goto(collector.url('www.acme.test', `/consent.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_c`));
  await page.waitForFunction(() => window.reftrack);
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'alex-smith', 'the key lives in memory');
  const key = unique('consent');
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'queued');
  assert.deepEqual(await reftrackCookies(context), {});
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  await page.waitForTimeout(300);
  assert.equal(posts.length, 0, 'no request before consent');

  await page.evaluate(() => reftrack.consent(true));
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.growSumoPartnerKey.value, 'alex-smith');
  assert.equal(cookies.ps_xid.value, 'clk_c');
  await eventually(async () => (await stored(key)).length === 1);

  await page.route('**/v1/signups', (route) => route.abort('connectionrefused'));
  await page.evaluate(() => reftrack.signup({ customer_key: 'waiting' }));
  assert.ok(await page.evaluate(() => localStorage.getItem('reftrack_queue')));
  await page.evaluate(() => reftrack.consent(false));
  assert.deepEqual(await reftrackCookies(context), {});
  assert.equal(await page.evaluate(() => localStorage.getItem('reftrack_queue')), null);
  await context.close();
});

test("consent pending: a hand-made link's landing is reported only after consent(true), once", async () => {
  const { context, page } = await freshPage(browser);
  const landings = [];
  page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/v1/clicks') && landings.push(r.postDataJSON()));
  await page.goto(collector.url('www.acme.test', `/consent.html?ps_partner_key=${b64('lee-consent')}`));
  await page.waitForFunction(() => window.reftrack && reftrack.partnerKey() === 'lee-consent');
  await page.waitForTimeout(300);
  assert.equal(landings.length, 0, 'no report while consent is pending');
  await page.evaluate(() => reftrack.consent(true));
  await page.waitForFunction(() => /^[A-Za-z0-9]{20}$/.test(reftrack.clickId() || ''));
  assert.deepEqual(landings.map((l) => [l.partner_key, l.public_key]), [['lee-consent', 'pk_test_123']]);
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.ps_xid.value, await page.evaluate(() => reftrack.clickId()));
  await page.evaluate(() => reftrack.consent(true));
  await page.waitForTimeout(300);
  assert.equal(landings.length, 1, 'one report per landing');
  await context.close();
});

test('respectGpc: Global Privacy Control counts as a refusal', async () => {
  const { context, page } = await freshPage(browser);
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  await page.goto(collector.url('www.acme.test', `/gpc.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.reftrack);
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'alex-smith');
  assert.deepEqual(await reftrackCookies(context), {});
  await context.close();
});

test('single-page apps: pushState to a partner URL attributes, and the other wrapper still runs', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/spa.html'));
  await page.waitForFunction(() => window.reftrack && window.growsumo);
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), null);
  await page.evaluate((q) => history.pushState({ page: 2 }, '', `/pricing?${q}`), `ps_partner_key=${b64('spa-partner')}&ps_xid=clk_spa`);
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'spa-partner');
  assert.equal(await page.evaluate(() => growsumo.data.ps_xid), 'clk_spa');
  assert.equal((await reftrackCookies(context)).growSumoPartnerKey.value, 'spa-partner');
  assert.deepEqual(await page.evaluate(() => [window.routerCalls, history.state, location.pathname]), [
    [`/pricing?ps_partner_key=${b64('spa-partner')}&ps_xid=clk_spa`], { page: 2 }, '/pricing',
  ]);
  await page.evaluate((q) => history.replaceState(null, '', `/x?${q}`), `ps_partner_key=${b64('replaced')}`);
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'replaced');
  await page.evaluate(() => history.back());
  await page.waitForFunction(() => location.pathname === '/spa.html');
  // popstate re-ran attribution; the URL has no key, so the stored one stays.
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'replaced');
  // Errors of the real pushState still reach the caller.
  const error = await page.evaluate(() => { try { history.pushState(null, '', 'https://elsewhere.example/'); } catch (e) { return e.name; } });
  assert.equal(error, 'SecurityError');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('debug mode logs each decision with a [reftrack] prefix; without it reftrack is silent', async () => {
  for (const [path, debug] of [['/debug.html', true], ['/signup.html', false]]) {
    const { context, page } = await freshPage(browser);
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    await page.goto(collector.url('www.acme.test', `${path}?ps_partner_key=${b64('alex-smith')}&ps_xid=${encodeURIComponent('bad id')}`));
    await page.waitForFunction(() => window.reftrack);
    await page.evaluate(() => reftrack.signup({ customer_key: `debug_${Date.now()}` }));
    const ours = logs.filter((l) => l.startsWith('[reftrack]'));
    if (debug) {
      const text = ours.join('\n');
      assert.match(text, /read partner key alex-smith from \?ps_partner_key/);
      assert.match(text, /ignored \?ps_xid: it contains ' '|ignored \?ps_xid: it contains the character U\+0020/);
      assert.match(text, /cookies written on domain acme\.test/);
      assert.match(text, /signup [0-9a-f-]{36} delivered/);
    } else {
      assert.deepEqual(ours, [], 'silent without debug');
    }
    await context.close();
  }
});

test('data-auto-capture turns capture on for its selector; a form without a valid email is skipped, saying why', async () => {
  const { context, page } = await freshPage(browser);
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  const posts = [];
  page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/v1/signups') && posts.push(r.postData()));
  await page.goto(collector.url('www.acme.test', `/autocapture.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.reftrack);
  const key = unique('ava');
  await page.fill('#good [name=email]', `${key}@example.com`);
  await page.fill('#good [name=customer_key]', key);
  await page.click('#good button');
  const [signup] = await eventually(async () => (await stored(key)).length === 1 && stored(key));
  assert.equal(signup.name, 'Ava Attribute');
  assert.equal(signup.email, `${key}@example.com`, 'customer_key from [name=customer_key], email kept');
  await page.click('#no-email button');
  await page.waitForTimeout(300);
  assert.equal(posts.length, 1, 'the form without a valid email sent nothing');
  assert.ok(logs.includes('[reftrack] form skipped: it has no valid email address'), logs.join('\n'));
  await context.close();
});
