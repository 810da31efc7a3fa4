// The whole loop a program owner runs, on *.acme.test against the real collector: a partner link
// records a click and lands the visitor attributed, with the cookies the redirect set (and the SDK
// leaves alone); the visitor signs up; the backend posts a conversion by click id; and the
// dashboard's report shows the partner's click, signup and conversion.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { startCollector, launchBrowser, freshPage, freePort, SECRET } from './harness.mjs';

const root = resolve(import.meta.dirname, '../..');
let collector;
let browser;
let port;

before(async () => {
  port = await freePort();
  collector = await startCollector({
    www: join(root, 'www'),
    args: ['--listen', `127.0.0.1:${port}`, '--site-url', `http://www.acme.test:${port}/`,
      '--cookie-domain', 'acme.test', '--cookie-days', '30', '--verified-clicks'],
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
  const report = await (await fetch(`http://127.0.0.1:${port}/v1/partners`, { headers: { Authorization: `Bearer ${SECRET}` } })).json();
  t.diagnostic(`GET /v1/partners: ${JSON.stringify(report)}`);
  assert.deepEqual(report.partners.map((p) => [p.partner_key, p.clicks, p.signups, p.conversions]), [['alex', 1, 1, 1]]);
  await page.goto(`http://www.acme.test:${port}/dashboard.html`);
  await page.fill('#token', SECRET);
  await page.click('#auth button');
  await page.waitForSelector('#partners tr[data-partner="alex"]');
  const row = await page.$$eval('#partners tr[data-partner="alex"] td', (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(row.slice(0, 5), ['alex', '1', '1', '1', '100.0 %']);
  assert.equal(await page.$$eval('#chart rect', (bars) => bars.length), 2, 'one day: a clicks bar and a signups bar');
  // The link builder makes /r/ links.
  await page.fill('#link-partner', 'jane-doe');
  await page.fill('#link-to', '/pricing');
  await page.click('#builder button');
  assert.equal(await page.textContent('#link'), `http://www.acme.test:${port}/r/jane-doe?to=%2Fpricing`);
  // The CSV export downloads every record.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  const csv = await (await download.createReadStream()).toArray();
  const text = Buffer.concat(csv).toString('utf8');
  assert.match(text, /^received_at,type,event_id,public_key,customer_key,email,name,partner_key,xid,verified,amount,currency,page_url\r\n/);
  assert.ok(text.includes(`"${email}"`) && text.includes('"4900","USD"'), text);
  assert.deepEqual(page.errors, []);
  await context.close();
});
