// Signups end to end: from a referred visitor's page on www.acme.test to the collector's SQLite
// database, through navigations, failures and outages — exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCollector, launchBrowser, freshPage, b64, eventually } from './harness.mjs';

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

const ready = (page) => page.waitForFunction(() => window.reftrack && window.growsumo);
let customer = 0;
const nextCustomer = () => `cus_${process.pid}_${++customer}`;

/** A referred visitor on the signup page. */
async function referredVisitor(path = '/signup.html') {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', `${path}?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_9f8e7d`));
  await ready(page);
  return { context, page };
}

/** Records the page's POSTs to /v1/signups, with their bodies. */
function watchPosts(page) {
  const posts = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/v1/signups')) posts.push(JSON.parse(request.postData()));
  });
  return posts;
}

const stored = async (key) => (await collector.signups()).filter((s) => s.customer_key === key);

test('an attributed signup arrives with every field of the wire format', async () => {
  const { context, page } = await referredVisitor();
  const key = nextCustomer();
  const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/signups'));
  const result = await page.evaluate((key) => reftrack.signup({
    customer_key: key, email: 'jane@example.com', name: 'Jane Doe', sub_ids: ['spring'], meta: { plan: 'pro', seats: 3 },
  }), key);
  // A CORS simple request: a collector on another origin is asked no preflight.
  assert.equal((await posted).headers()['content-type'], 'text/plain;charset=UTF-8');
  assert.equal(result.ok, true);
  assert.equal(result.status, 'created');
  assert.match(result.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const [signup] = await stored(key);
  const userAgent = await page.evaluate(() => navigator.userAgent);
  // The wire format's fields, plus what the collector adds: when, and the claim's credit.
  assert.deepEqual(Object.keys(signup).sort(), [
    'created_at', 'credit', 'customer_key', 'email', 'event_id', 'meta', 'name', 'origin', 'page_url', 'partner_key',
    'public_key', 'received_at', 'referrer', 'sub_ids', 'type', 'user_agent', 'xid',
  ]);
  // clk_9f8e7d is not a click the collector recorded: a browser claim, credited as the only one.
  assert.deepEqual([signup.credit.standing, signup.credit.credited], ['claimed', true]);
  assert.equal(signup.event_id, result.event_id);
  assert.equal(signup.type, 'signup');
  assert.equal(signup.public_key, 'pk_test_123');
  assert.equal(signup.email, 'jane@example.com');
  assert.equal(signup.name, 'Jane Doe');
  assert.equal(signup.partner_key, 'alex-smith');
  assert.equal(signup.xid, 'clk_9f8e7d');
  assert.equal(signup.origin, 'www.acme.test');
  assert.equal(signup.page_url, collector.url('www.acme.test', `/signup.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_9f8e7d`));
  assert.equal(signup.referrer, null);
  assert.equal(signup.user_agent, userAgent);
  assert.deepEqual(signup.sub_ids, ['spring']);
  assert.deepEqual(signup.meta, { plan: 'pro', seats: 3 });
  assert.ok(Math.abs(Date.parse(signup.created_at) - Date.now()) < 60_000);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("createSignup the way PartnerStack's docs show it, then navigating away at once: it still arrives", async () => {
  const { context, page } = await referredVisitor();
  const key = nextCustomer();
  await Promise.all([
    page.waitForURL(/thanks\.html$/),
    page.evaluate((key) => {
      growsumo.data.name = 'Jane Doe';
      growsumo.data.email = `${key}@example.com`;
      growsumo.data.customer_key = key;
      growsumo.createSignup();
      location.href = '/thanks.html';
    }, key),
  ]);
  const [signup] = await eventually(async () => (await stored(key)).length === 1 && stored(key), 15_000);
  assert.equal(signup.partner_key, 'alex-smith');
  assert.equal(signup.email, `${key}@example.com`);
  await page.waitForTimeout(500);
  assert.equal((await stored(key)).length, 1, 'exactly once');
  await context.close();
});

test('createSignup calls its callback exactly once and returns a promise of the same result', async () => {
  const { context, page } = await referredVisitor();
  const key = nextCustomer();
  const { calls, returned } = await page.evaluate(async (key) => {
    const calls = [];
    growsumo.data.email = `${key}@example.com`;
    const returned = await growsumo.createSignup((result) => calls.push(result));
    await new Promise((ok) => setTimeout(ok, 200));
    return { calls, returned };
  }, key);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0], returned);
  assert.equal(returned.status, 'created');
  assert.equal((await stored(`${key}@example.com`)).length, 1, 'customer_key falls back to email');
  await context.close();
});

test('an endpoint answering 503 twice then 200: delivered once, with the same event_id throughout', async () => {
  const { context, page } = await referredVisitor();
  const posts = watchPosts(page);
  let failures = 0;
  await page.route('**/v1/signups', (route) => {
    if (failures < 2) {
      failures++;
      return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"down for maintenance"}' });
    }
    return route.continue();
  });
  const key = nextCustomer();
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'queued');
  assert.equal(result.ok, true);
  await eventually(async () => (await stored(key)).length === 1, 20_000);
  await page.waitForTimeout(300);
  assert.equal(posts.length, 3);
  assert.deepEqual(new Set(posts.map((p) => p.event_id)), new Set([result.event_id]));
  assert.equal((await stored(key))[0].event_id, result.event_id);
  assert.equal(await page.evaluate(() => localStorage.getItem('reftrack_queue')), null, 'the queue is empty');
  await context.close();
});

test('endpoint unreachable, page reloaded after it is back: delivered', async () => {
  const { context, page } = await referredVisitor();
  await page.route('**/v1/signups', (route) => route.abort('connectionrefused'));
  const key = nextCustomer();
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'queued');
  // One line per waiting signup, tab-separated, its event_id first.
  const queue = (await page.evaluate(() => localStorage.getItem('reftrack_queue'))).split('\n');
  assert.equal(queue.length, 1);
  assert.equal(queue[0].split('\t')[0], result.event_id);
  await page.unroute('**/v1/signups');
  await page.reload();
  await eventually(async () => (await stored(key)).length === 1, 20_000);
  assert.equal((await stored(key))[0].event_id, result.event_id);
  await eventually(async () => (await page.evaluate(() => localStorage.getItem('reftrack_queue'))) === null);
  await context.close();
});

test('a 400 is not retried, and says why', async () => {
  const { context, page } = await referredVisitor();
  const posts = watchPosts(page);
  const key = nextCustomer();
  // A real 400 from the collector: the email is invalid there (the SDK is bypassed for the field).
  await page.route('**/v1/signups', (route) => {
    const body = JSON.parse(route.request().postData());
    return route.continue({ postData: JSON.stringify({ ...body, email: 'not-an-email' }) });
  });
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.ok, false);
  assert.equal(result.status, 'rejected');
  assert.equal(result.error, 'email is not a valid email address');
  await page.waitForTimeout(3_000);
  assert.equal(posts.length, 1, 'never retried');
  assert.equal(await page.evaluate(() => localStorage.getItem('reftrack_queue')), null);
  assert.equal((await stored(key)).length, 0);
  await context.close();
});

test('an endpoint the browser cannot make a request to (credentials in its URL): queued with the reason, and reftrack keeps working', async () => {
  const { context, page } = await referredVisitor();
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const key = nextCustomer();
  const endpoint = collector.url('www.acme.test', '/v1/signups').replace('://', '://user:secret@');
  const result = await page.evaluate(async ({ key, endpoint }) => {
    await reftrack.init({ endpoint });
    return reftrack.signup({ customer_key: key });
  }, { key, endpoint });
  assert.deepEqual([result.ok, result.status, result.error], [true, 'queued', 'the request could not be started']);
  await eventually(() => warnings.some((w) => w.includes('which did not answer (the request could not be started)')));
  // Still running: the set-up fixed, the waiting signup goes out.
  const fixed = await page.evaluate(async (endpoint) => {
    await reftrack.init({ endpoint });
    await reftrack.flush();
    return reftrack.partnerKey();
  }, collector.url('www.acme.test', '/v1/signups'));
  assert.equal(fixed, 'alex-smith');
  await eventually(async () => (await stored(key)).length === 1);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('bad input gets a clear answer in the result, and nothing is sent', async () => {
  const { context, page } = await referredVisitor();
  const posts = watchPosts(page);
  const results = await page.evaluate(async () => [
    await reftrack.signup({ email: 'not-an-email' }),
    await reftrack.signup({}),
    await reftrack.signup('jane@example.com'),
    await reftrack.signup({ customer_key: 'c', meta: { nested: { no: 1 } } }),
  ]);
  assert.deepEqual(results.map((r) => [r.ok, r.status, r.error]), [
    [false, 'rejected', 'email is not a valid email address'],
    [false, 'rejected', 'customer_key (or email) is required'],
    [false, 'rejected', 'signup expects an object such as { customer_key, email }'],
    [false, 'rejected', 'meta values must be strings, numbers, booleans or null'],
  ]);
  assert.equal(posts.length, 0);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('an unattributed signup is skipped and nothing is sent', async () => {
  const { context, page } = await freshPage(browser);
  const posts = watchPosts(page);
  await page.goto(collector.url('www.acme.test', '/signup.html'));
  await ready(page);
  const key = nextCustomer();
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.deepEqual(result, { ok: false, status: 'skipped', event_id: null });
  const viaGrowsumo = await page.evaluate((key) => { growsumo.data.customer_key = key; return growsumo.createSignup(); }, key);
  assert.equal(viaGrowsumo.status, 'skipped');
  await page.waitForTimeout(300);
  assert.equal(posts.length, 0);
  assert.equal((await stored(key)).length, 0);
  await context.close();
});

test('sendUnattributed sends a signup without a partner', async () => {
  const { context, page } = await freshPage(browser);
  await page.goto(collector.url('www.acme.test', '/signup.html'));
  await ready(page);
  const key = nextCustomer();
  await page.evaluate(() => reftrack.init({ sendUnattributed: true }));
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'created');
  const [signup] = await stored(key);
  assert.equal(signup.partner_key, null);
  assert.equal(signup.xid, null);
  await context.close();
});

test('offline, then back online: the waiting signup is sent at once, before its backoff is over', async () => {
  const { context, page } = await referredVisitor();
  const key = nextCustomer();
  // The delivery module first (a flush needs it): this is the retry queue's test.
  await page.evaluate(() => reftrack.flush());
  await context.setOffline(true);
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'queued');
  // Push the retry far into the future, so that only the `online` event can explain a delivery.
  await page.evaluate(() => {
    // Fields: event_id, endpoint, created_at, attempts, next_at, body.
    const fields = localStorage.getItem('reftrack_queue').split('\t');
    fields[4] = String(Date.now() + 3_600_000);
    localStorage.setItem('reftrack_queue', fields.join('\t'));
  });
  await context.setOffline(false);
  await eventually(async () => (await stored(key)).length === 1, 5_000);
  assert.equal((await stored(key))[0].event_id, result.event_id);
  await context.close();
});

test('offline before the delivery module arrived: the signup resolves queued, waits, and is sent once back online', async () => {
  const { context, page } = await referredVisitor();
  const scripts = [];
  page.on('request', (request) => request.url().endsWith('/reftrack-delivery.js') && scripts.push(request.url()));
  const key = nextCustomer();
  await context.setOffline(true);
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'queued');
  assert.equal(result.ok, true);
  assert.match(result.error, /delivery module did not load/);
  assert.match(result.event_id, /^[0-9a-f-]{36}$/);
  // Kept in storage meanwhile, so a navigation would not lose it either.
  assert.match(await page.evaluate(() => localStorage.getItem('reftrack_waiting')), new RegExp(result.event_id));
  await context.setOffline(false);
  await eventually(async () => (await stored(key)).length === 1, 5_000);
  assert.equal((await stored(key))[0].event_id, result.event_id);
  assert.equal((await stored(key))[0].partner_key, 'alex-smith');
  await eventually(async () => (await page.evaluate(() => localStorage.getItem('reftrack_waiting'))) === null, 5_000);
  assert.ok(scripts.length >= 1, 'the delivery module was asked for');
  await context.close();
});

test('a navigation before the delivery module arrived: the next page sends the signup, with its event id', async () => {
  const { context, page } = await referredVisitor();
  // The delivery module never arrives on this page.
  await page.route('**/reftrack-delivery.js', (route) => route.abort());
  const key = nextCustomer();
  const eventId = await page.evaluate((key) => new Promise((resolve) => {
    growsumo.data.customer_key = key;
    growsumo.data.email = key + '@acme.test';
    growsumo.createSignup((result) => resolve(result.event_id));
  }), key);
  assert.equal((await stored(key)).length, 0);
  await page.unroute('**/reftrack-delivery.js');
  await page.goto(collector.url('www.acme.test', '/thanks.html'));
  await eventually(async () => (await stored(key)).length === 1, 5_000);
  const [signup] = await stored(key);
  assert.equal(signup.event_id, eventId);
  assert.equal(signup.email, key + '@acme.test');
  assert.equal(signup.partner_key, 'alex-smith');
  await context.close();
});

test('a landing downloads the landing module only; the first signup brings the delivery module', async () => {
  const { context, page } = await freshPage(browser);
  const scripts = [];
  page.on('request', (request) => /\/reftrack[^/]*\.js$/.test(request.url()) && scripts.push(new URL(request.url()).pathname));
  await page.goto(collector.url('www.acme.test', `/signup.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_landing`));
  await ready(page);
  await page.waitForLoadState('load');
  assert.deepEqual(scripts, ['/sdk/reftrack.js']);
  const key = nextCustomer();
  const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
  assert.equal(result.status, 'created');
  assert.deepEqual(scripts, ['/sdk/reftrack.js', '/sdk/reftrack-delivery.js']);
  await context.close();
});

test('debug mode: the landing brings the delivery module for its debug lines, said in order once it is there', async () => {
  const { context, page } = await freshPage(browser);
  const scripts = [];
  const logs = [];
  page.on('request', (request) => /\/reftrack[^/]*\.js$/.test(request.url()) && scripts.push(new URL(request.url()).pathname));
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(collector.url('www.acme.test', `/debug.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_debug`));
  await eventually(async () => logs.some((l) => l.startsWith('[reftrack] cookies written on domain acme.test')), 5_000);
  assert.deepEqual(scripts, ['/sdk/reftrack.js', '/sdk/reftrack-delivery.js']);
  const ours = logs.filter((l) => l.startsWith('[reftrack]'));
  const read = ours.findIndex((l) => l.startsWith('[reftrack] read partner key alex-smith from ?ps_partner_key'));
  const attributed = ours.indexOf('[reftrack] attributed to partner alex-smith');
  assert.ok(read >= 0 && attributed > read, ours.join('\n'));
  await context.close();
});
