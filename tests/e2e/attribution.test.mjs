// Attribution end to end: a partner link on a real host becomes first-party cookies on the
// broadest domain the browser allows, and PartnerStack's globals behave as its snippet expects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCollector, launchBrowser, freshPage, b64, reftrackCookies, eventually } from './harness.mjs';

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

const DAY = 86_400;
const ready = (page) => page.waitForFunction(() => window.reftrack && window.growsumo);

test('a landing on www.acme.test writes the three cookies on .acme.test, and app.acme.test sees them', async () => {
  const { context, page } = await freshPage(browser);
  const started = Date.now() / 1000;
  await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_9f8e`));
  await ready(page);
  const cookies = await reftrackCookies(context);
  assert.deepEqual(Object.keys(cookies).sort(), ['growSumoPartnerKey', 'ps_partner_key', 'ps_xid']);
  for (const [name, value] of [['growSumoPartnerKey', 'alex-smith'], ['ps_partner_key', 'alex-smith'], ['ps_xid', 'clk_9f8e']]) {
    const cookie = cookies[name];
    assert.equal(cookie.value, value, name);
    assert.equal(cookie.domain, '.acme.test', `${name} domain`);
    assert.equal(cookie.path, '/');
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(cookie.secure, false, 'no Secure on http');
    assert.ok(Math.abs(cookie.expires - (started + 90 * DAY)) < 120, `${name} lives 90 days`);
  }
  const other = await context.newPage();
  await other.goto(collector.url('app.acme.test', '/plain.html'));
  await ready(other);
  assert.deepEqual(await other.evaluate(() => [reftrack.partnerKey(), reftrack.clickId()]), ['alex-smith', 'clk_9f8e']);
  assert.equal(await other.evaluate(() => growsumo.data.partner_key), 'alex-smith');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("PartnerStack's snippet: growsumoInit runs once, with growsumo.data filled", async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/snippet.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_1`));
  await page.waitForFunction(() => window.inits.length > 0);
  await page.waitForLoadState('load');
  await page.waitForTimeout(200);
  const inits = await page.evaluate(() => window.inits);
  assert.equal(inits.length, 1, 'growsumoInit ran exactly once');
  assert.equal(inits[0].partner_key, 'alex-smith');
  assert.equal(inits[0].ps_partner_key, 'alex-smith');
  assert.equal(inits[0].ps_xid, 'clk_1');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the cookie domain is probed once per page, and reftrack's writes are not read back before growsumoInit", async () => {
  // A hand-made link's landing is written, then written again with the click id the collector
  // gives it. A probe is a write, a read and a delete; the jar is read once per attribution, before
  // its writes (in Chromium a read after writes waits for the browser's cookie store).
  const { context, page } = await freshPage(browser);
  await page.addInitScript(() => {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
    window.cookieCalls = [];
    const log = (call) => window.cookieCalls.push({ call, early: !(window.inits && inits.length) });
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true,
      get() {
        log('read');
        return cookie.get.call(this);
      },
      set(value) {
        log(value.split(';')[0]);
        cookie.set.call(this, value);
      },
    });
  });
  await page.goto(collector.url('www.acme.test', `/snippet.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.inits.length > 0);
  const xid = await eventually(() => page.evaluate(() => reftrack.clickId()));
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.ps_xid?.value, xid);
  for (const name of ['growSumoPartnerKey', 'ps_xid', '_ps_partner_key_pk_test_123']) {
    assert.equal(cookies[name]?.domain, '.acme.test', name);
  }
  const clicks = Object.values(cookies).filter((c) => c.name.startsWith('_ps_xid_pk_test_123_'));
  assert.deepEqual(clicks.map((c) => c.value), [xid]);
  const calls = await page.evaluate(() => window.cookieCalls);
  const shown = calls.map((c) => `${c.early ? '' : '(after) '}${c.call}`).join(' | ');
  assert.equal(calls.filter((c) => /^reftrack_probe=[^;]/.test(c.call)).length, 1, `probes: ${shown}`);
  const early = calls.filter((c) => c.early).map((c) => c.call);
  const firstWrite = early.findIndex((call) => call.startsWith('growSumoPartnerKey='));
  assert.ok(firstWrite > 0, shown);
  assert.ok(!early.slice(firstWrite).includes('read'), `read back before growsumoInit: ${shown}`);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a landing through PartnerStack's snippet throws nothing, not even an exception reftrack catches", async () => {
  // Asking an absent stub (`window.po`, the loader's `window.reftrack`) for its queue through
  // `Reflect.get` threw a TypeError that reftrack caught; the page's first exception costs the
  // engine milliseconds, here before growsumoInit. The debugger sees caught exceptions too.
  const { context, page } = await freshPage(browser);
  const cdp = await context.newCDPSession(page);
  const thrown = [];
  cdp.on('Debugger.paused', (event) => {
    thrown.push(`${event.data?.description ?? event.reason}`.split('\n')[0]);
    cdp.send('Debugger.resume').catch(() => {});
  });
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.setPauseOnExceptions', { state: 'all' });
  await page.goto(collector.url('www.acme.test', `/snippet.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.inits.length > 0);
  await eventually(() => page.evaluate(() => reftrack.clickId()));
  assert.deepEqual(thrown, []);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a plain <script async> tag: growsumoInit runs once, with growsumo.data filled', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/plain.html?gspk=${b64('legacy.partner')}`));
  await page.waitForFunction(() => window.inits.length > 0);
  await page.waitForLoadState('load');
  await page.waitForTimeout(200);
  const inits = await page.evaluate(() => window.inits);
  assert.equal(inits.length, 1);
  assert.equal(inits[0].partner_key, 'legacy.partner');
  assert.equal(inits[0].ps_xid, null);
  await context.close();
});

test('a page without a partner key: growsumoInit still runs once, with nulls', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/snippet.html'));
  await page.waitForFunction(() => window.inits.length > 0);
  await page.waitForTimeout(200);
  const inits = await page.evaluate(() => window.inits);
  assert.equal(inits.length, 1);
  assert.equal(inits[0].partner_key, null);
  assert.deepEqual(await reftrackCookies(context), {});
  await context.close();
});

test('injection attempts write no cookie and raise no page error', async () => {
  const attempts = [
    `ps_partner_key=${encodeURIComponent(b64('a;b=c'))}`,
    `ps_partner_key=${encodeURIComponent(b64('alex\r\nSet-Cookie: evil=1'))}`,
    `ps_partner_key=${encodeURIComponent(b64('<script>alert(1)</script>'))}`,
    `ps_partner_key=${encodeURIComponent(b64('x'.repeat(129)))}`,
    `ps_partner_key=${encodeURIComponent('not base64!')}`,
    `ps_partner_key=${encodeURIComponent(b64('ok'))}%00`,
    `ps_partner_key=${b64('alex-smith')}&ps_xid=${encodeURIComponent('a;domain=evil.test')}`,
  ];
  for (const query of attempts) {
    const { context, page } = await freshPage(browser);
    await page.goto(collector.url('www.acme.test', `/plain.html?${query}`));
    await ready(page);
    await page.waitForFunction(() => window.inits.length > 0);
    const cookies = await reftrackCookies(context);
    const all = await context.cookies();
    assert.ok(!all.some((c) => c.name === 'evil' || c.name === 'b' || c.domain.includes('evil')), query);
    if (query.includes('ps_xid')) {
      // The valid key is kept; the bad click id is ignored whole.
      assert.deepEqual(Object.keys(cookies).sort(), ['growSumoPartnerKey', 'ps_partner_key'], query);
    } else {
      assert.deepEqual(cookies, {}, query);
      assert.equal(await page.evaluate(() => reftrack.partnerKey()), null, query);
    }
    assert.deepEqual(page.errors, [], query);
    await context.close();
  }
});

test('last click: a new partner replaces the old one, and a stale click id is removed', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alice')}&ps_xid=clk_a`));
  await ready(page);
  await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('bob')}`));
  await ready(page);
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.growSumoPartnerKey.value, 'bob');
  assert.equal(cookies.ps_partner_key.value, 'bob');
  assert.equal(cookies.ps_xid, undefined, 'the click id of the earlier partner is gone');
  assert.equal(await page.evaluate(() => reftrack.clickId()), null);
  await context.close();
});

test("with a public key, PartnerStackJS's own cookies too: _ps_partner_key_<pk> and _ps_xid_<pk>_<suffix>, written and removed with the others", async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/program.html?ps_partner_key=${b64('alice')}&ps_xid=clk_a`));
  await ready(page);
  let cookies = await reftrackCookies(context);
  const key = cookies._ps_partner_key_pk_test_123;
  assert.equal(key?.value, 'alice', Object.keys(cookies).join());
  const clicks = Object.values(cookies).filter((c) => c.name.startsWith('_ps_xid_pk_test_123_'));
  assert.equal(clicks.length, 1, Object.keys(cookies).join());
  assert.match(clicks[0].name, /^_ps_xid_pk_test_123_[A-Za-z0-9]{4}$/);
  assert.equal(clicks[0].value, 'clk_a');
  for (const cookie of [key, clicks[0]]) {
    for (const attribute of ['domain', 'path', 'sameSite', 'secure']) {
      assert.equal(cookie[attribute], cookies.growSumoPartnerKey[attribute], `${cookie.name} ${attribute}`);
    }
    assert.ok(Math.abs(cookie.expires - cookies.growSumoPartnerKey.expires) < 5, `${cookie.name} expires with the others`);
  }
  // A page that reports a signup only when a cookie starting with _ps exists finds one.
  assert.ok(await page.evaluate(() => document.cookie.split('; ').some((c) => c.startsWith('_ps'))));
  // A new partner's hand-made link: the key follows, the stale click id goes, and the click id the
  // collector gives the landing takes its place.
  await page.goto(collector.url('www.acme.test', `/program.html?ps_partner_key=${b64('bob')}`));
  await ready(page);
  const xid = await eventually(() => page.evaluate(() => reftrack.clickId()));
  cookies = await reftrackCookies(context);
  assert.equal(cookies._ps_partner_key_pk_test_123?.value, 'bob');
  assert.deepEqual(Object.values(cookies).filter((c) => c.name.startsWith('_ps_xid_')).map((c) => c.value), [xid]);
  assert.notEqual(xid, 'clk_a');
  await page.evaluate(() => reftrack.consent(false));
  assert.deepEqual(await reftrackCookies(context), {});
  await context.close();
});

test('first click (data-attribution="first"): the stored partner is kept, lifetime untouched', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/first.html?ps_partner_key=${b64('alice')}&ps_xid=clk_a`));
  await ready(page);
  const before = await reftrackCookies(context);
  assert.equal(before.growSumoPartnerKey.value, 'alice');
  assert.ok(Math.abs(before.growSumoPartnerKey.expires - (Date.now() / 1000 + 30 * DAY)) < 120, 'data-cookie-days="30"');
  await page.waitForTimeout(1100);
  await page.goto(collector.url('www.acme.test', `/first.html?ps_partner_key=${b64('bob')}&ps_xid=clk_b`));
  await ready(page);
  const after = await reftrackCookies(context);
  assert.equal(after.growSumoPartnerKey.value, 'alice');
  assert.equal(after.ps_xid.value, 'clk_a');
  assert.equal(after.growSumoPartnerKey.expires, before.growSumoPartnerKey.expires, 'not rewritten');
  assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'alice');
  await context.close();
});

test('www.shop.co.uk shares the key with app.shop.co.uk, never with co.uk', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.shop.co.uk', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
  await ready(page);
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.growSumoPartnerKey.domain, '.shop.co.uk');
  assert.equal(cookies.reftrack_probe, undefined, 'the probe cookie is cleaned up');
  const other = await context.newPage();
  await other.goto(collector.url('app.shop.co.uk', '/plain.html'));
  await ready(other);
  assert.equal(await other.evaluate(() => reftrack.partnerKey()), 'alex-smith');
  const elsewhere = await context.newPage();
  await elsewhere.goto(collector.url('www.other.co.uk', '/plain.html'));
  await ready(elsewhere);
  assert.equal(await elsewhere.evaluate(() => reftrack.partnerKey()), null);
  await context.close();
});

test('shop.blogspot.com keeps its cookies off blogspot.com', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('shop.blogspot.com', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
  await ready(page);
  const cookies = await reftrackCookies(context);
  assert.ok(['shop.blogspot.com', '.shop.blogspot.com'].includes(cookies.growSumoPartnerKey.domain), cookies.growSumoPartnerKey.domain);
  await context.close();
});

test('options: reftrackConfig beats data-* attributes, a bad value is warned about once and defaulted', async () => {
  const { context, page } = await freshPage(browser);
  const warnings = [];
  const logs = [];
  page.on('console', (m) => (m.type() === 'warning' ? warnings : logs).push(m.text()));
  await page.goto(collector.url('www.acme.test', `/configured.html?via=${b64('viapartner')}&ref=${b64('refpartner')}`));
  await ready(page);
  await page.evaluate(() => reftrack.init({ debug: true }));
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.growSumoPartnerKey.value, 'viapartner', 'reftrackConfig.partnerParams wins over data-partner-params');
  assert.ok(Math.abs(cookies.growSumoPartnerKey.expires - (Date.now() / 1000 + 7 * DAY)) < 120, 'cookieDays 7');
  const bad = warnings.filter((w) => w.includes('attribution'));
  assert.equal(bad.length, 1, `one warning for the bad value: ${warnings}`);
  assert.match(bad[0], /^\[reftrack\] .*"last" or "first"/);
  assert.ok(logs.some((l) => l.startsWith('[reftrack] cookies written on domain acme.test')), logs.join('\n'));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('on an IP address the cookies stay host-only', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('127.0.0.1', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
  await ready(page);
  const cookies = await reftrackCookies(context);
  assert.equal(cookies.growSumoPartnerKey.domain, '127.0.0.1');
  await context.close();
});

test('cookieDomain overrides the probe; one that does not cover the host is warned about and probed instead', async () => {
  for (const [domain, expected, warns] of [['www.acme.test', '.www.acme.test', false], ['other.test', '.acme.test', true]]) {
    const { context, page } = await freshPage(browser);
    const warnings = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    await page.addInitScript((domain) => { window.reftrackConfig = { cookieDomain: domain }; }, domain);
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const cookies = await reftrackCookies(context);
    assert.equal(cookies.growSumoPartnerKey.domain, expected, domain);
    assert.equal(warnings.some((w) => w.includes(`cookieDomain ${domain} does not cover www.acme.test`)), warns, warnings.join());
    await context.close();
  }
});

test('a page in a legacy encoding (windows-1252) still runs the module embedded in the UTF-8 script', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `/legacy.html?ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.inits.length > 0);
  assert.equal(await page.evaluate(() => document.characterSet), 'windows-1252');
  assert.equal((await page.evaluate(() => window.inits))[0].partner_key, 'alex-smith');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the script-tag build opens with Chromium\'s compile hint, so its functions compile while it streams in', async () => {
  // The per-file compile hint belongs at the top of the file: its first line, after the byte order
  // mark. A banner put before it could turn it off unnoticed. Its effect is measured by the bench.
  const response = await fetch(collector.url('www.acme.test', '/sdk/reftrack.js').replace('www.acme.test', '127.0.0.1'));
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the byte order mark first');
  assert.equal(bytes.subarray(3).toString('utf8').split('\n')[0], '//# allFunctionsCalledOnLoad');
});
