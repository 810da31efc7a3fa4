// Set-up mistakes a new user makes, end to end against the real collector: none loses a signup
// silently. A refusal that describes the deployment (a wrong endpoint, an origin or program not
// allowed) keeps the signup waiting and says once, without debug, what to fix; once the set-up is
// fixed the signup is delivered. Also the PartnerStack and Partnero details a migrating site
// relies on, the customer key taken from an email, and the README's CSP header as written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:http';
import { startCollector, launchBrowser, freshPage, b64, eventually } from './harness.mjs';

const root = resolve(import.meta.dirname, '../..');
let site;
let browser;
before(async () => {
  site = mkdtempSync(join(tmpdir(), 'reftrack-setup-'));
  const page = (body, head = '') => `<!doctype html><meta charset="utf-8"><title>setup</title>${head}<body>${body}</body>`;
  writeFileSync(join(site, 'plain.html'), page('<p>plain</p>', '<script async src="/sdk/reftrack.js" data-public-key="pk_test_123"></script>'));
  writeFileSync(join(site, 'bare.html'), page('<p>no key</p>', '<script async src="/sdk/reftrack.js"></script>'));
  writeFileSync(join(site, 'wrong-path.html'), page('<p>wrong endpoint</p>', '<script async src="/sdk/reftrack.js" data-public-key="pk_test_123" data-endpoint="/wrong/v1/signups"></script>'));
  writeFileSync(join(site, 'connect-src.html'), page('<p>connect-src</p>', `<meta http-equiv="Content-Security-Policy" content="script-src 'self' 'wasm-unsafe-eval'; connect-src http://elsewhere.test"><script async src="/sdk/reftrack.js" data-public-key="pk_test_123"></script>`));
  writeFileSync(join(site, 'typo.html'), page('<p>typo</p>', '<script async src="/sdk/reftrack.js" data-public-key="pk_tset_123"></script>'));
  const partnero = readFileSync(join(root, 'tests/e2e/site/partnero.html'), 'utf8');
  writeFileSync(join(site, 'partnero.html'), partnero);
  mkdirSync(join(site, 'aff/alex-smith'), { recursive: true });
  writeFileSync(join(site, 'aff/alex-smith/index.html'), partnero);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** A page whose console warnings from reftrack are collected. */
async function watchedPage() {
  const { context, page } = await freshPage(browser);
  page.warnings = [];
  page.on('console', (m) => m.type() === 'warning' && m.text().startsWith('[reftrack]') && page.warnings.push(m.text()));
  return { context, page };
}

const ready = (page) => page.waitForFunction(() => window.reftrack && window.growsumo && window.reftrack.version);
let n = 0;
const customer = () => `setup_${process.pid}_${++n}`;

test('an endpoint that answers 200 with an HTML page (a static server, an SPA fallback): the signup is not taken as delivered, one warning, delivered once fixed', async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    await page.route('**/v1/signups', (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Acme</title>' }));
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const key = customer();
    const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
    assert.equal(result.status, 'queued', JSON.stringify(result));
    const endpoint = collector.url('www.acme.test', '/v1/signups');
    assert.deepEqual(page.warnings, [
      `[reftrack] signups go to ${endpoint}, which answered 200 with an HTML page, not the collector's answer: set \`endpoint\` to your collector's signup route (…/v1/signups); they wait in the retry queue`,
    ]);
    assert.equal((await page.evaluate(() => localStorage.getItem('reftrack_queue'))).split('\n').length, 1);
    await page.unroute('**/v1/signups');
    await page.evaluate(() => reftrack.flush());
    const stored = await eventually(async () => {
      const all = (await collector.signups()).filter((s) => s.customer_key === key);
      return all.length === 1 && all;
    });
    assert.equal(stored[0].event_id, result.event_id);
    assert.equal(await page.evaluate(() => localStorage.getItem('reftrack_queue')), null);
    assert.deepEqual(page.errors, []);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('a wrong endpoint (404): the signup waits, one warning says to set `endpoint`, and it is delivered once the endpoint answers', async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    // The endpoint answers 404 (a script served from a CDN that has no /v1/signups), until fixed.
    await page.route('**/v1/signups', (route) => route.fulfill({ status: 404, contentType: 'text/html', body: 'Not Found' }));
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const key = customer();
    const results = await page.evaluate(async (key) => [
      await reftrack.signup({ customer_key: key }),
      await reftrack.signup({ customer_key: `${key}_b` }),
    ], key);
    for (const result of results) {
      assert.equal(result.status, 'queued', JSON.stringify(result));
      assert.equal(result.ok, true);
    }
    const endpoint = collector.url('www.acme.test', '/v1/signups');
    assert.deepEqual(page.warnings, [
      `[reftrack] signups go to ${endpoint}, which answered 404: set \`endpoint\` to your collector's signup route (…/v1/signups); they wait in the retry queue`,
    ]);
    assert.equal((await page.evaluate(() => localStorage.getItem('reftrack_queue'))).split('\n').length, 2);
    await page.unroute('**/v1/signups');
    await page.evaluate(() => reftrack.flush());
    const stored = await eventually(async () => {
      const all = (await collector.signups()).filter((s) => s.customer_key.startsWith(key));
      return all.length === 2 && all;
    });
    assert.deepEqual(stored.map((s) => s.event_id).sort(), results.map((r) => r.event_id).sort());
    assert.equal(await page.evaluate(() => localStorage.getItem('reftrack_queue')), null);
    assert.deepEqual(page.errors, []);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('a disallowed origin (403): the signup waits, one warning names the origin to allow, and it is delivered after the collector restarts with it allowed', async () => {
  const first = await startCollector({ www: site, args: ['--allow-origin', 'https://somewhere-else.example'] });
  const port = first.port;
  let second;
  try {
    const { context, page } = await watchedPage();
    await page.goto(first.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const key = customer();
    const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
    assert.equal(result.status, 'queued', JSON.stringify(result));
    assert.equal(result.error, 'this origin may not post signups');
    const origin = `http://www.acme.test:${port}`;
    assert.deepEqual(page.warnings, [
      `[reftrack] signups go to ${origin}/v1/signups, which answered 403 (this origin may not post signups): ` +
        `allow this page's origin on the collector (--allow-origin ${origin}) and check \`publicKey\`; they wait in the retry queue`,
    ]);
    await first.stop();
    second = await startCollector({ www: site, args: ['--listen', `127.0.0.1:${port}`, '--allow-origin', origin] });
    assert.equal(second.port, port);
    await page.evaluate(() => reftrack.flush());
    const [stored] = await eventually(async () => {
      const all = (await second.signups()).filter((s) => s.customer_key === key);
      return all.length === 1 && all;
    });
    assert.equal(stored.event_id, result.event_id);
    assert.equal(stored.partner_key, 'alex-smith');
    assert.deepEqual(page.errors, []);
    await context.close();
  } finally {
    await first.stop();
    await second?.stop();
  }
});

test("the collector's rate limit (429): the signups over it wait for Retry-After and are delivered, none dropped", async () => {
  // One signup per second per address, bursts of five: the sixth and seventh are refused with 429.
  const collector = await startCollector({ www: site, args: ['--rate-limit', '1'] });
  try {
    const { context, page } = await watchedPage();
    const answers = [];
    page.on('response', (r) => r.url().endsWith('/v1/signups') && answers.push([r.status(), r.headers()['retry-after']]));
    // A link with a click id: the landing is not reported, so the burst is the signups' alone.
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_rate`));
    await ready(page);
    const key = customer();
    const results = await page.evaluate(async (key) => {
      const out = [];
      for (let i = 0; i < 7; i++) out.push(await reftrack.signup({ customer_key: `${key}_${i}` }));
      return out;
    }, key);
    assert.deepEqual(results.map((r) => r.status), ['created', 'created', 'created', 'created', 'created', 'queued', 'queued']);
    assert.deepEqual(answers.slice(5, 7), [[429, '1'], [429, '1']], 'the browser reads Retry-After (exposed by CORS)');
    await eventually(async () => (await collector.signups()).filter((s) => s.customer_key.startsWith(key)).length === 7, 20_000);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('a 400 is rejected with a warning, without debug', async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    await page.route('**/v1/signups', (route) => {
      const body = JSON.parse(route.request().postData());
      return route.continue({ postData: JSON.stringify({ ...body, email: 'not-an-email' }) });
    });
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const result = await page.evaluate(() => reftrack.signup({ customer_key: 'will-be-refused' }));
    assert.equal(result.status, 'rejected');
    assert.equal(result.ok, false);
    const endpoint = collector.url('www.acme.test', '/v1/signups');
    assert.deepEqual(page.warnings, [
      `[reftrack] a signup was refused by ${endpoint}, which answered 400 (email is not a valid email address): it is not sent again`,
    ]);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('a missing or malformed public key is warned about at the call that passed it', async () => {
  const collector = await startCollector({ www: site });
  try {
    for (const [call, expected] of [
      ['growsumo._initialize()', '[reftrack] growsumo._initialize left the program without a public key (pass it, or set publicKey, window.reftrackConfig.publicKey or data-public-key): signups will be refused'],
      ['growsumo._initialize(12345)', '[reftrack] growsumo._initialize was given a number as the public key; expected a public key: 1-128 characters of A-Z a-z 0-9 _ - .'],
      ["growsumo._initialize('pk with spaces <b>')", '[reftrack] growsumo._initialize was given "pk with spaces <b>" as the public key; expected a public key: 1-128 characters of A-Z a-z 0-9 _ - .'],
      ['reftrack.init()', '[reftrack] init left the program without a public key (pass it, or set publicKey, window.reftrackConfig.publicKey or data-public-key): signups will be refused'],
      ["po('program', 'prog acme', 'load')", `[reftrack] po('program', "prog acme", 'load') was given a program id that is not a public key; expected a public key: 1-128 characters of A-Z a-z 0-9 _ - .`],
    ]) {
      const { context, page } = await watchedPage();
      await page.goto(collector.url('www.acme.test', '/bare.html'));
      await ready(page);
      await page.evaluate(call);
      // Said once the delivery module, which holds the texts, is there (contract §1).
      await eventually(async () => page.warnings.length > 0, 5_000);
      assert.deepEqual(page.warnings, [expected], call);
      // Once: the same call again says nothing more.
      await page.evaluate(call);
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)));
      assert.deepEqual(page.warnings, [expected], call);
      assert.deepEqual(page.errors, []);
      await context.close();
    }
    // A good key draws no warning, and brings nothing for one.
    const { context, page } = await watchedPage();
    const scripts = [];
    page.on('request', (request) => request.url().endsWith('/reftrack-delivery.js') && scripts.push(request.url()));
    await page.goto(collector.url('www.acme.test', '/bare.html'));
    await ready(page);
    await page.evaluate(() => growsumo._initialize('pk_test_123'));
    assert.deepEqual(page.warnings, []);
    assert.deepEqual(scripts, []);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('--public-key refuses another program: the typo is caught on the first signup', async () => {
  const collector = await startCollector({ www: site, args: ['--public-key', 'pk_test_123'] });
  try {
    const { context, page } = await watchedPage();
    await page.goto(collector.url('www.acme.test', `/typo.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const result = await page.evaluate(() => reftrack.signup({ customer_key: 'typo-customer' }));
    assert.equal(result.status, 'queued');
    assert.equal(result.error, 'unknown public key pk_tset_123: this collector takes signups for pk_test_123');
    assert.equal(page.warnings.length, 1);
    assert.match(page.warnings[0], /answered 403 \(unknown public key pk_tset_123: this collector takes signups for pk_test_123\)/);
    assert.equal((await collector.signups()).length, 0);
    // The right key goes through.
    const { context: other, page: right } = await watchedPage();
    await right.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(right);
    assert.equal((await right.evaluate(() => reftrack.signup({ customer_key: 'right-customer' }))).status, 'created');
    await other.close();
    await context.close();
  } finally {
    await collector.stop();
  }
});

test("PartnerStack: the page's growsumo.data.partner_key wins, and window.partnerstack is window.growsumo", async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}&ps_xid=clk_alex`));
    await ready(page);
    assert.equal(await page.evaluate(() => window.partnerstack === window.growsumo), true);
    assert.equal(await page.evaluate(() => growsumo.data.partner_key), 'alex-smith');
    const key = customer();
    const result = await page.evaluate((key) => {
      Object.assign(partnerstack.data, { partner_key: 'jane-doe', customer_key: key, email: 'jane@example.com' });
      return growsumo.createSignup();
    }, key);
    assert.equal(result.status, 'created');
    const [stored] = (await collector.signups()).filter((s) => s.customer_key === key);
    assert.equal(stored.partner_key, 'jane-doe');
    assert.equal(stored.xid, null, "the click id belongs to the attributed partner");
    // Left as reftrack filled it, the attributed key and its click id go.
    const second = customer();
    await page.evaluate((key) => {
      Object.assign(growsumo.data, { partner_key: 'alex-smith', customer_key: key });
      return growsumo.createSignup();
    }, second);
    const [attributed] = (await collector.signups()).filter((s) => s.customer_key === second);
    assert.equal(attributed.partner_key, 'alex-smith');
    assert.equal(attributed.xid, 'clk_alex');
    await context.close();
  } finally {
    await collector.stop();
  }
});

test("Partnero: the refer-a-friend cookie partnero_referral attributes a signup, and /aff/<key> links are read", async () => {
  const collector = await startCollector({ www: site });
  try {
    // Refer-a-friend: no partner cookie, only Partnero's referral cookie.
    const { context, page } = await watchedPage();
    await context.addCookies([{ name: 'partnero_referral', value: 'friend_7', domain: 'www.acme.test', path: '/' }]);
    await page.goto(collector.url('www.acme.test', '/partnero.html'));
    await ready(page);
    const key = customer();
    const result = await page.evaluate((key) => po('customers', 'signup', { data: { key, email: 'f@example.com' } }), key);
    assert.equal(result.status, 'created');
    const [referred] = (await collector.signups()).filter((s) => s.customer_key === key);
    assert.equal(referred.partner_key, 'friend_7');
    await context.close();

    // A path-style partner link.
    const { context: linked, page: landing } = await watchedPage();
    await landing.goto(collector.url('www.acme.test', '/aff/alex-smith/'));
    await ready(landing);
    await landing.waitForFunction(() => reftrack.partnerKey() === 'alex-smith');
    const cookies = Object.fromEntries((await linked.cookies()).map((c) => [c.name, c.value]));
    assert.equal(cookies.partnero_partner, 'alex-smith');
    assert.equal(cookies.ps_partner_key, 'alex-smith');
    assert.deepEqual(landing.errors, []);
    await linked.close();
  } finally {
    await collector.stop();
  }
});

test('a customer key taken from the email is lower-cased: Jane@Example.com and jane@example.com are one customer', async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    await page.goto(collector.url('www.acme.test', `/plain.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const user = customer();
    const [first, second, given] = await page.evaluate(async (user) => [
      await reftrack.signup({ email: `${user}.Jane@Example.com` }),
      await reftrack.signup({ email: `${user}.jane@example.com` }),
      await reftrack.signup({ customer_key: `${user}_Cus_42`, email: `${user}.Other@Example.com` }),
    ], user);
    // Each signup is a claim of its own (201); the two emails name one customer, credited once.
    assert.deepEqual([first.status, second.status, given.status], ['created', 'created', 'created']);
    const stored = (await collector.signups()).filter((s) => s.customer_key.startsWith(user) || s.customer_key.startsWith(user.toLowerCase()));
    const keys = stored.map((s) => s.customer_key).sort();
    assert.deepEqual(keys, [`${user}.jane@example.com`, `${user}.jane@example.com`, `${user}_Cus_42`].sort());
    const jane = stored.filter((s) => s.customer_key.endsWith('example.com'));
    assert.deepEqual(jane.map((s) => s.credit.credited).sort(), [false, true], 'one customer, credited once');
    assert.deepEqual(jane.map((s) => s.email).sort(), [`${user}.Jane@Example.com`, `${user}.jane@example.com`].sort(), 'the email as given');
    await context.close();
  } finally {
    await collector.stop();
  }
});

/**
 * A page served by a server of its own with the Content-Security-Policy `policy` (a CDN and a
 * collector, both the local collector, stand for `https://your-cdn.example` and
 * `https://collector.your-site.example`) and the markup `html`: a signup through it is created,
 * with no violation, warning or error.
 */
async function signupUnderPolicy(policy, html) {
  const collector = await startCollector({ www: site });
  const cdn = collector.url('cdn.acme.test', '');
  const endpointOrigin = collector.url('collector.acme.test', '');
  policy = policy.replaceAll('https://your-cdn.example', cdn).replaceAll('https://collector.your-site.example', endpointOrigin);
  const body = html.replaceAll('https://your-cdn.example/reftrack/reftrack.js', `${cdn}/sdk/reftrack.js`)
    .replaceAll('https://collector.your-site.example', endpointOrigin);
  const server = createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': policy });
    response.end(`<!doctype html><meta charset="utf-8"><title>csp</title>${body}<p>csp</p>`);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const { context, page } = await watchedPage();
    const violations = [];
    const scripts = [];
    page.on('console', (m) => /Content Security Policy|Refused to/.test(m.text()) && violations.push(m.text()));
    page.on('request', (r) => r.url().endsWith('.js') && scripts.push(new URL(r.url()).pathname));
    await page.goto(`http://www.acme.test:${server.address().port}/csp.html?ps_partner_key=${b64('alex-smith')}`);
    await ready(page);
    const key = customer();
    const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
    assert.equal(result.status, 'created', JSON.stringify(result));
    assert.equal(await page.evaluate(() => reftrack.partnerKey()), 'alex-smith');
    const [stored] = (await collector.signups()).filter((s) => s.customer_key === key);
    assert.equal(stored.public_key, 'pk_XXXX');
    assert.deepEqual(scripts, ['/sdk/reftrack.js', '/sdk/reftrack-delivery.js']);
    assert.deepEqual(violations, []);
    assert.deepEqual(page.warnings, []);
    assert.deepEqual(page.errors, []);
    await context.close();
  } finally {
    server.close();
    await collector.stop();
  }
}

test("the README's CSP header, as written there, lets the snippet work", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Content-Security-Policy'));
  await signupUnderPolicy(section.match(/^Content-Security-Policy: (.+)$/m)[1], section.match(/```html\n([\s\S]*?)```/)[1]);
});

test('a policy that allows scripts by nonce only lets the delivery module load too (its nonce is passed on)', async () => {
  await signupUnderPolicy("script-src 'nonce-r4nd0m' 'wasm-unsafe-eval'; connect-src https://collector.your-site.example",
    `<script nonce="r4nd0m">window.reftrackConfig = { publicKey: 'pk_XXXX', endpoint: 'https://collector.your-site.example/v1/signups' };</script>
    <script nonce="r4nd0m" async src="https://your-cdn.example/reftrack/reftrack.js"></script>`);
});

test('a signup queued while `endpoint` was wrong goes to the endpoint configured now, once the set-up is fixed', async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    const posts = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname));
    await page.goto(collector.url('www.acme.test', `/wrong-path.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const key = customer();
    const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
    assert.equal(result.status, 'queued', JSON.stringify(result));
    assert.match(page.warnings.join(), /answered 405/);
    // The site fixes its set-up: the same program, the default endpoint.
    await page.goto(collector.url('www.acme.test', '/plain.html'));
    await ready(page);
    await page.evaluate(() => reftrack.flush());
    const [stored] = await eventually(async () => {
      const all = (await collector.signups()).filter((s) => s.customer_key === key);
      return all.length === 1 && all;
    });
    assert.equal(stored.event_id, result.event_id);
    assert.equal(posts.at(-1), '/v1/signups');
    assert.equal(await page.evaluate(() => localStorage.getItem('reftrack_queue')), null);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('every rejected signup is warned about once, without debug', async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    await page.goto(collector.url('www.acme.test', '/plain.html'));
    await ready(page);
    const results = await page.evaluate(() => Promise.all([
      reftrack.signup({ customer_key: 'c1', email: true }),
      reftrack.signup({ customer_key: 'c2', email: true }),
      reftrack.signup({ customer_key: 'c3', sub_ids: 'one' }),
    ]));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    assert.deepEqual(page.warnings, [
      '[reftrack] a signup was rejected: email must be a string',
      '[reftrack] a signup was rejected: sub_ids must be an array of strings',
    ]);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test('a relative `endpoint` resolves against the script, as the default does: the collector that serves the script', async () => {
  const collector = await startCollector({ www: site });
  try {
    const script = collector.url('collector.acme.test', '/sdk/reftrack.js');
    writeFileSync(join(site, 'relative.html'), `<!doctype html><meta charset="utf-8"><title>relative</title><script async src="${script}" data-public-key="pk_test_123" data-endpoint="/v1/signups"></script><p>relative</p>`);
    const { context, page } = await watchedPage();
    const posts = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(r.url()));
    await page.goto(collector.url('www.acme.test', `/relative.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const key = customer();
    const result = await page.evaluate((key) => reftrack.signup({ customer_key: key }), key);
    assert.equal(result.status, 'created', JSON.stringify(result));
    assert.deepEqual(posts.filter((u) => u.endsWith('/v1/signups')), [collector.url('collector.acme.test', '/v1/signups')]);
    assert.deepEqual(page.warnings, []);
    await context.close();
  } finally {
    await collector.stop();
  }
});

test("a page whose CSP leaves the endpoint out of connect-src: the warning names connect-src, and the signup waits", async () => {
  const collector = await startCollector({ www: site });
  try {
    const { context, page } = await watchedPage();
    await page.goto(collector.url('www.acme.test', `/connect-src.html?ps_partner_key=${b64('alex-smith')}`));
    await ready(page);
    const result = await page.evaluate(() => reftrack.signup({ customer_key: 'blocked' }));
    assert.equal(result.status, 'queued', JSON.stringify(result));
    const endpoint = collector.url('www.acme.test', '/v1/signups');
    const origin = collector.url('www.acme.test', '');
    await eventually(async () => page.warnings.length > 0);
    await page.waitForTimeout(500);
    assert.deepEqual(page.warnings, [
      `[reftrack] signups go to ${endpoint}, which the page's Content-Security-Policy does not allow: add ${origin} to its connect-src; they wait in the retry queue`,
    ]);
    await context.close();
  } finally {
    await collector.stop();
  }
});
