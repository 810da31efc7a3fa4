// The whole loop a program owner runs, on *.acme.test against the real collector: a partner link
// records a click and lands the visitor attributed, with the cookies the redirect set (and the SDK
// leaves alone); the visitor signs up; the backend posts a conversion by click id; and the
// dashboard's report shows the partner's click, signup and conversion.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join, resolve } from 'node:path';
import { startCollector, launchBrowser, freshPage, freePort, b64, eventually, SECRET } from './harness.mjs';

// The site's server signs customer keys with this (README: signed signups).
const SIGNUP_SECRET = 'e2e-signup-secret';
const sign = (customerKey) => createHmac('sha256', SIGNUP_SECRET).update(customerKey).digest('hex');
const get = async (path) => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { Authorization: `Bearer ${SECRET}` } })).json();

const root = resolve(import.meta.dirname, '../..');
let collector;
let browser;
let port;

before(async () => {
  port = await freePort();
  collector = await startCollector({
    www: join(root, 'www'),
    args: ['--listen', `127.0.0.1:${port}`, '--site-url', `http://www.acme.test:${port}/`,
      '--cookie-domain', 'acme.test', '--cookie-days', '30', '--verified-clicks',
      '--signup-secret', SIGNUP_SECRET],
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
});

test('a partner link, a signup, a conversion by xid: the dashboard shows 1 click, 1 signup, 1 conversion for alex', async (t) => {
  const { context, page } = await freshPage(browser);
  // The partner's link, on the site's own domain (go.acme.test), to the sign-up page.
  const response = await page.goto(`http://go.acme.test:${port}/r/alex?to=/signup.html`);
  assert.equal(response.status(), 200);
  const landed = new URL(page.url());
  assert.equal(landed.host, `www.acme.test:${port}`);
  assert.equal(landed.pathname, '/signup.html');
  assert.equal(landed.searchParams.get('ps_partner_key'), Buffer.from('alex').toString('base64'));
  const xid = landed.searchParams.get('ps_xid');
  assert.match(xid, /^[A-Za-z0-9]{16,}$/);
  await page.waitForFunction(() => window.reftrack && reftrack.partnerKey() === 'alex');
  assert.equal(await page.evaluate(() => reftrack.clickId()), xid);

  // The cookies are the redirect's: on acme.test, for 30 days (--cookie-days), not rewritten by
  // the SDK (which would write its own 90 days).
  const cookies = Object.fromEntries((await context.cookies()).map((c) => [c.name, c]));
  for (const [name, value] of [['growSumoPartnerKey', 'alex'], ['ps_partner_key', 'alex'], ['ps_xid', xid]]) {
    assert.equal(cookies[name]?.value, value, name);
    assert.equal(cookies[name].domain, '.acme.test', name);
    const days = (cookies[name].expires * 1000 - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days < 30.1, `${name} lives ${days.toFixed(2)} days: the redirect's, left alone`);
  }

  // The visitor signs up.
  const email = `partners-${process.pid}@example.com`;
  const signup = await page.evaluate((email) => reftrack.signup({ email, name: 'Alex Referred' }), email);
  assert.equal(signup.status, 'created', JSON.stringify(signup));

  // The backend reports a paid conversion by click id.
  const conversion = await fetch(`http://127.0.0.1:${port}/conversion/xid`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${SECRET}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ xid, customer_key: email, amount: 4900, currency: 'USD' }),
  });
  assert.equal(conversion.status, 201, await conversion.text());
  const stored = (await collector.signups()).filter((s) => s.customer_key === email);
  assert.deepEqual(stored.map((s) => [s.type, s.partner_key, s.xid, s.verified ?? 'verified']).sort(), [
    ['conversion', 'alex', xid, 'verified'],
    ['signup', 'alex', xid, 'verified'],
  ]);

  // The report, as the API gives it (printed for the record), and on the dashboard.
  const report = await get('/v1/partners');
  t.diagnostic(`GET /v1/partners: ${JSON.stringify(report)}`);
  const alex = report.partners.find((p) => p.partner_key === 'alex');
  assert.deepEqual([alex.clicks, alex.signups, alex.conversions, alex.contested], [1, 1, 1, 0]);
  await page.goto(`http://www.acme.test:${port}/dashboard.html`);
  await page.fill('#token', SECRET);
  await page.click('#auth button');
  await page.waitForSelector('#partners tr[data-partner="alex"]');
  const row = await page.$$eval('#partners tr[data-partner="alex"] td', (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(row.slice(0, 8), ['alex (unregistered)', '1', '0', '1', '0', '1', '100.0 %', '100.0 %']);
  assert.equal(row[8], '$49.00', 'the conversion of 4900 USD cents, as revenue');
  assert.equal(await page.$$eval('#chart rect', (bars) => bars.length), 3, 'one day: a clicks, a signups and a conversions bar');
  assert.equal(await page.$$eval('#chart polyline', (lines) => lines.length), 1, 'the net revenue line');
  // The link builder makes /r/ links.
  await page.fill('#link-partner', 'jane-doe');
  await page.fill('#link-to', '/pricing');
  await page.click('#builder button');
  assert.equal(await page.textContent('#link'), `http://www.acme.test:${port}/r/jane-doe?to=%2Fpricing`);
  // The CSV export downloads every record.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  const csv = await (await download.createReadStream()).toArray();
  const text = Buffer.concat(csv).toString('utf8');
  assert.match(text, /^received_at,type,event_id,public_key,customer_key,email,name,partner_key,xid,verified,credited,standing,contested,amount,currency,transaction_key,page_url\r\n/);
  assert.ok(text.includes(`"${email}"`) && text.includes('4900,"USD"'), text);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a partner's hand-made link: the landing is counted as one click, and the signup is backed by it", async () => {
  const { context, page } = await freshPage(browser);
  const reported = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/clicks')) reported.push(r.postDataJSON()); });
  await page.goto(`http://www.acme.test:${port}/signup.html?ps_partner_key=${b64('sam')}`);
  await page.waitForFunction(() => window.reftrack && /^[A-Za-z0-9]{20}$/.test(reftrack.clickId() || ''));
  const xid = await page.evaluate(() => reftrack.clickId());
  assert.equal(reported.length, 1, 'one request for the landing');
  assert.equal(reported[0].partner_key, 'sam');
  assert.equal(reported[0].public_key, 'pk_demo_acme');
  const cookies = Object.fromEntries((await context.cookies()).map((c) => [c.name, c.value]));
  assert.equal(cookies.ps_xid, xid, 'kept as ps_xid');
  assert.equal(await page.evaluate(() => growsumo.data.ps_xid), xid);
  const email = `landing-${process.pid}@example.com`;
  assert.equal((await page.evaluate((email) => reftrack.signup({ email }), email)).status, 'created');
  const [stored] = (await collector.signups()).filter((s) => s.customer_key === email);
  assert.equal(stored.xid, xid);
  assert.equal(stored.credit.standing, 'clicked', JSON.stringify(stored));
  assert.equal(stored.credit.credited, true);
  const sam = (await get('/v1/partners')).partners.find((p) => p.partner_key === 'sam');
  assert.deepEqual([sam.clicks, sam.signups], [1, 1]);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a signed signup is confirmed; one with a wrong customer_hash is rejected, not queued', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(`http://www.acme.test:${port}/r/lee?to=/signup.html`);
  await page.waitForFunction(() => window.reftrack && reftrack.partnerKey() === 'lee');
  const email = `signed-${process.pid}@example.com`;
  const signed = await page.evaluate(([email, hash]) => {
    growsumo.data.email = email;
    growsumo.data.customer_hash = hash;
    return growsumo.createSignup();
  }, [email, sign(email)]);
  assert.equal(signed.status, 'created', JSON.stringify(signed));
  const [stored] = (await collector.signups()).filter((s) => s.customer_key === email);
  assert.deepEqual([stored.credit.standing, stored.credit.credited], ['confirmed', true]);
  assert.equal(stored.customer_hash, undefined, 'the proof is checked, not stored');

  const other = `forged-${process.pid}@example.com`;
  const forged = await page.evaluate(([other, hash]) => reftrack.signup({ email: other, customer_hash: hash }), [other, sign(email)]);
  assert.equal(forged.ok, false);
  assert.equal(forged.status, 'rejected');
  assert.match(forged.error, /^customer_hash does not match customer_key/);
  const queue = await page.evaluate(() => localStorage.getItem('reftrack_queue'));
  assert.ok(!queue || !queue.includes(forged.event_id), 'not kept for a retry');
  assert.equal((await collector.signups()).filter((s) => s.customer_key === other).length, 0);
  await context.close();
});

test('the dashboard with 110 records: pages through the server, a password token never pre-filled, fits a 390 px phone', async () => {
  for (let n = 0; n < 110; n++) {
    const body = { event_id: `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`, type: 'signup', public_key: 'pk_demo_acme',
      customer_key: `paging_${n}`, name: n === 0 ? '=HYPERLINK("http://evil.example","Jane")' : `Person ${n}`, partner_key: 'paging' };
    // The collector takes bursts of 100 from one address: past them, wait as it asks.
    let response;
    while ((response = await fetch(`http://127.0.0.1:${port}/v1/signups`, { method: 'POST', body: JSON.stringify(body) })).status === 429) {
      await new Promise((ok) => setTimeout(ok, 1000 * Number(response.headers.get('retry-after') ?? 1)));
    }
    assert.equal(response.status, 201);
  }
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`http://www.acme.test:${port}/dashboard.html`);
  assert.equal(await page.getAttribute('#token', 'type'), 'password');
  assert.equal(await page.inputValue('#token'), '', 'not pre-filled');
  await page.fill('#token', SECRET);
  await page.click('#auth button');
  await page.waitForFunction(() => /^records 1–100 of \d+/.test(document.getElementById('page').textContent));
  const total = Number((await page.textContent('#page')).match(/of (\d+)/)[1]);
  assert.ok(total >= 110, `${total}`);
  assert.equal(await page.$$eval('#rows tr', (rows) => rows.length), 100);
  await page.click('#next');
  await page.waitForFunction(() => /^records 101–/.test(document.getElementById('page').textContent));
  assert.equal(await page.$$eval('#rows tr', (rows) => rows.length), total - 100);
  assert.equal(await page.isDisabled('#next'), true);
  await page.click('#previous');
  await page.waitForFunction(() => /^records 1–100/.test(document.getElementById('page').textContent));
  // Names are shown as text, and nothing makes the phone's page scroll sideways.
  assert.ok((await page.textContent('#rows')).includes('Person 1'));
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scroll at 390 px');
  const navBottom = await page.evaluate(() => document.querySelector('header').getBoundingClientRect().right);
  assert.ok(navBottom <= 390, `the navigation fits: ${navBottom}`);
  // The date range applies to the list: a range with nothing in it shows nothing.
  await page.fill('#since', '2001-01-01');
  await page.fill('#until', '2001-01-02');
  await page.click('#auth button');
  await page.waitForFunction(() => document.getElementById('page').textContent === 'no records in this range');
  await context.close();
});

// A signed signup claiming `customer` for `partner`, as the site's server would post it.
const claim = (customer, partner, eventId) => fetch(`http://127.0.0.1:${port}/v1/signups`, {
  method: 'POST',
  body: JSON.stringify({ event_id: eventId, type: 'signup', public_key: 'pk_demo_acme',
    customer_key: customer, customer_hash: sign(customer), partner_key: partner }),
});
// A PartnerStack sale of `amount` cents (USD) by `customer`.
const sale = (customer, amount, key) => fetch(`http://127.0.0.1:${port}/api/v2/transactions`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${SECRET}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ customer_key: customer, amount, currency: 'USD', key }),
});

test('the money view: a rule set on the dashboard, a sale, a payout recorded with its reference, the statement as CSV', async () => {
  const customer = 'money_1';
  assert.equal((await claim(customer, 'money-partner', '00000000-0000-4000-9100-000000000001')).status, 201);
  const { context, page } = await freshPage(browser);
  await page.goto(`http://www.acme.test:${port}/dashboard.html`);
  await page.fill('#token', SECRET);
  await page.click('#auth button');
  // A 20 % rule for every program's sales, due at once.
  await page.selectOption('#rule-on', 'sale');
  await page.selectOption('#rule-kind', 'percent');
  await page.fill('#rule-value', '2000');
  await page.fill('#rule-holding', '0');
  await page.click('#rule button[type=submit]');
  await page.waitForFunction(() => /^Rule \d+ set/.test(document.getElementById('rule-status').textContent));
  // The rules are shown once the load that follows the save has answered.
  await page.waitForSelector('#rules tr td');
  assert.deepEqual(await page.$$eval('#rules tr td', (cells) => cells.slice(0, 6).map((c) => c.textContent)),
    ['every program', 'default', 'sale', '20 %', 'lifetime', '0']);
  assert.equal((await sale(customer, 10000, 'money_sale_1')).status, 200);
  await page.click('#auth button');
  const row = '#money tr[data-partner="money-partner"] td';
  await page.waitForSelector(row);
  let cells = await page.$$eval(row, (tds) => tds.map((c) => c.textContent));
  assert.deepEqual(cells.slice(0, 7), ['money-partner (USD)', '$20.00', '$0.00', '$0.00', '$0.00', '$20.00', '$0.00']);
  // Paid with the transfer's reference: the payout settles the commission.
  await page.click('#money tr[data-partner="money-partner"] button:text("Pay")');
  assert.equal(await page.inputValue('#payout-amount'), '2000');
  await page.fill('#payout-reference', 'wire-2026-12-001');
  await page.click('#payout button[type=submit]');
  await page.waitForFunction(() => /^Recorded: \$20\.00 to money-partner/.test(document.getElementById('payout-status').textContent));
  await page.waitForFunction(() => {
    const cells = document.querySelectorAll('#money tr[data-partner="money-partner"] td');
    return cells.length && cells[4].textContent === '$20.00' && cells[5].textContent === '$0.00';
  });
  // The statement, as CSV: the commission with its sale, and the payout with its reference.
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.click('#money tr[data-partner="money-partner"] button:text("Statement CSV")')]);
  const text = Buffer.concat(await (await download.createReadStream()).toArray()).toString('utf8');
  const lines = text.trim().split('\r\n');
  assert.match(lines[0], /^recorded_at,type,id,kind,on,amount,currency,balance,state/);
  assert.equal(lines.length, 3, text);
  assert.ok(lines[1].includes('"earned","sale",2000,"USD",2000,"paid"') && lines[1].includes('"money_sale_1"'), lines[1]);
  assert.ok(lines[2].includes('"payout"') && lines[2].includes('"wire-2026-12-001"'), lines[2]);
  // What 50 % would have earned, beside what was: nothing is changed by asking.
  await page.fill('#rule-value', '5000');
  await page.click('#rule-preview');
  await page.waitForSelector('#preview tr');
  const preview = await page.$$eval('#preview tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.deepEqual(preview.find((r) => r[0] === 'money-partner (USD)'), ['money-partner (USD)', '1', '$50.00', '$0.00', '$50.00', '$20.00']);
  const rules = await get('/v1/rewards');
  assert.equal(rules.rules.length, 1, 'the preview stored nothing');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the dashboard shows the newest answer: a slow earlier load does not overwrite a later one', async () => {
  // The money view's 20 % rule is in place. A commission appears between two loads; the first
  // load's answer (from before it) is held back until the second load has been shown.
  const customer = 'late_1';
  assert.equal((await claim(customer, 'late-partner', '00000000-0000-4000-9200-000000000001')).status, 201);
  const { context, page } = await freshPage(browser);
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  let first = true;
  await page.route('**/v1/payouts/due*', async (route) => {
    if (!first) return route.continue();
    first = false;
    // Answered now, before the sale (the test's own request: www.acme.test is the browser's name).
    const response = await route.fetch({ url: route.request().url().replace('www.acme.test', '127.0.0.1') });
    await held;
    await route.fulfill({ response });
  });
  await page.goto(`http://www.acme.test:${port}/dashboard.html`);
  await page.fill('#token', SECRET);
  await page.click('#auth button');
  await eventually(() => !first); // the first load has asked
  assert.equal((await sale(customer, 5000, 'late_sale_1')).status, 200);
  await page.click('#auth button');
  const row = '#money tr[data-partner="late-partner"] td';
  await page.waitForSelector(row);
  const stale = page.waitForResponse((r) => r.url().includes('/v1/payouts/due'));
  release();
  await stale;
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
  const cells = await page.$$eval(row, (tds) => tds.map((c) => c.textContent));
  assert.deepEqual(cells.slice(0, 2), ['late-partner (USD)', '$10.00'], 'the later answer stays');
  assert.deepEqual(page.errors, []);
  await context.close();
});
