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
  const names = (await context.cookies()).map((c) => `${c.name}@${c.domain}`).sort();
  assert.deepEqual(names, ['growSumoPartnerKey@.acme.test', 'ps_partner_key@.acme.test', 'ps_xid@.acme.test']);
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
