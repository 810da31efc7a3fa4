// The demo site (www/) as a newcomer meets it: its link builder makes a partner link, and the
// landing page it leads to shows the attribution.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { startCollector, launchBrowser, freshPage } from './harness.mjs';

let collector;
let browser;
before(async () => {
  collector = await startCollector({ www: join(resolve(import.meta.dirname, '../..'), 'www') });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await collector?.stop();
});

test("the demo's link builder makes a link that its landing page attributes", async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/'));
  await page.waitForFunction(() => document.getElementById('partner').textContent === 'no partner');
  await page.fill('#key', 'jane.doe@partners');
  await page.fill('#xid-input', 'clk_demo_1');
  await page.click('#builder button[type=submit]');
  const link = await page.getAttribute('#link', 'href');
  assert.match(link, /ps_partner_key=amFuZS5kb2VAcGFydG5lcnM%3D&ps_xid=clk_demo_1$/);
  await Promise.all([page.waitForURL(link), page.click('#link')]);
  await page.waitForFunction(() => document.getElementById('partner').textContent === 'jane.doe@partners');
  assert.equal(await page.textContent('#xid'), 'clk_demo_1');
  // The click id cookie's PartnerStackJS name ends in four random characters.
  const names = (await context.cookies()).map((c) => `${c.name.replace(/^(_ps_xid_.*_)[A-Za-z0-9]{4}$/, '$1XXXX')}@${c.domain}`).sort();
  assert.deepEqual(names, ['_ps_partner_key_pk_demo_acme@.acme.test', '_ps_xid_pk_demo_acme_XXXX@.acme.test',
    'growSumoPartnerKey@.acme.test', 'ps_partner_key@.acme.test', 'ps_xid@.acme.test']);
  if (process.env.REFTRACK_SCREENSHOT) await page.screenshot({ path: process.env.REFTRACK_SCREENSHOT, fullPage: true });

  // The builder warns about a key reftrack would ignore.
  await page.fill('#key', 'a;b=c');
  await page.click('#builder button[type=submit]');
  assert.match(await page.textContent('#builder-error'), /would ignore/);

  await page.click('#forget');
  await page.waitForFunction(() => document.getElementById('partner').textContent === 'no partner');
  assert.deepEqual(await context.cookies(), []);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('on the demo: a partner link, a signup, and the signup on the dashboard', async () => {
  const { context, page } = await freshPage(browser);
  const bodies = [];
  page.on('request', (r) => r.method() === 'POST' && bodies.push(r.postData()));
  await page.goto(collector.url('www.acme.test', `/?ps_partner_key=${Buffer.from('alex-smith').toString('base64')}&ps_xid=clk_dash`));
  await page.waitForFunction(() => document.getElementById('partner').textContent === 'alex-smith');
  await Promise.all([page.waitForURL(/signup\.html$/), page.click('a.button[href="/signup.html"]')]);
  await page.waitForFunction(() => /referred by alex-smith/.test(document.getElementById('referral').textContent));
  const email = `dash-${process.pid}@example.com`;
  await page.fill('#name', 'Dana Demo');
  await page.fill('#email', email);
  await page.fill('#password', 'hunter2-secret');
  await page.click('#signup button[type=submit]');
  await page.waitForFunction(() => /Welcome aboard! Signup created/.test(document.getElementById('result').textContent));
  assert.ok(bodies.length === 1 && !bodies[0].includes('hunter2'), 'the password is never sent');

  await page.goto(collector.url('www.acme.test', '/dashboard.html'));
  await page.fill('#token', 'test-secret');
  await page.click('#auth button');
  await page.waitForFunction((email) => document.getElementById('rows').textContent.includes(email), email);
  const row = await page.textContent('#rows tr:first-child');
  assert.match(row, /alex-smith/);
  assert.match(row, /clk_dash/);
  if (process.env.REFTRACK_SCREENSHOT) await page.screenshot({ path: process.env.REFTRACK_SCREENSHOT.replace('.png', '-dashboard.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("on the demo: Partnero's stub and universal capture sign up a visitor who came through ?aff=", async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/partnero.html?aff=pat-partner'));
  await page.waitForFunction(() => window.reftrack);
  const email = `pat-${process.pid}@example.com`;
  await page.fill('#first_name', 'Pat');
  await page.fill('#last_name', 'Partnero');
  await page.fill('#email', email);
  await page.fill('#password', 'never-read');
  await Promise.all([page.waitForURL(/thanks\.html/), page.click('button[type=submit]')]);
  const signups = await (async () => {
    for (let i = 0; i < 50; i++) {
      const all = await collector.signups();
      const found = all.filter((s) => s.email === email);
      if (found.length) return found;
      await page.waitForTimeout(100);
    }
    return [];
  })();
  assert.equal(signups.length, 1);
  assert.equal(signups[0].name, 'Pat Partnero');
  assert.equal(signups[0].partner_key, 'pat-partner');
  assert.equal(signups[0].public_key, 'prog_demo_acme');
  assert.ok(!JSON.stringify(signups[0]).includes('never-read'));
  await context.close();
});
