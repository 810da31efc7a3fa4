// Shared set-up for the end-to-end tests: the real collector on an ephemeral loopback port, and
// Debian's Chromium driven by playwright-core, with *.acme.test and *.co.uk resolved to 127.0.0.1
// so cookies can be tested across subdomains.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '../..');
export const collectorBin = join(root, 'target/release/reftrack-collector');
export const SECRET = 'test-secret';

/** Starts the collector; resolves once it prints the address it listens on. */
export async function startCollector({ www = join(root, 'tests/e2e/site'), args = [], bin = collectorBin } = {}) {
  const db = join(mkdtempSync(join(tmpdir(), 'reftrack-e2e-')), 'reftrack.db');
  const child = spawn(
    bin,
    ['--listen', '127.0.0.1:0', '--dist', join(root, 'dist'), '--www', www, '--db', db, '--secret', SECRET, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (match) ok(Number(match[1]));
    });
    child.on('exit', (code) => fail(new Error(`collector exited with ${code}`)));
  });
  return {
    port,
    db,
    /** The stored signups, newest first (GET /v1/signups with the bearer secret). */
    signups: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/v1/signups?limit=1000`, {
        headers: { Authorization: `Bearer ${SECRET}` },
      });
      if (!response.ok) throw new Error(`GET /v1/signups: ${response.status}`);
      return response.json();
    },
    /** URL of `path` on `host` (which resolves to the collector). */
    url: (host, path) => `http://${host}:${port}${path}`,
    stop: () => new Promise((ok) => {
      if (child.exitCode !== null) return ok();
      child.on('exit', ok);
      child.kill('SIGTERM');
    }),
  };
}

/** Debian's Chromium, headless, offline-friendly. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP *.acme.test 127.0.0.1, MAP *.co.uk 127.0.0.1, MAP *.blogspot.com 127.0.0.1',
      // Plain-http test hosts under public suffixes must not be upgraded or warned about.
      '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,HttpsFirstModeV2ForTypicallySecureUsers',
    ],
  });
}

/** A new page in a fresh context that records uncaught page errors in `page.errors`. */
export async function freshPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  return { context, page };
}

/** base64 as partner links carry it. */
export const b64 = (text) => Buffer.from(text, 'utf8').toString('base64');

/** The cookies reftrack writes, by name, from a context's jar. */
export async function reftrackCookies(context) {
  const names = new Set(['growSumoPartnerKey', 'ps_partner_key', 'ps_xid', 'partnero_partner', 'reftrack_probe']);
  const cookies = await context.cookies();
  // PartnerStackJS's per-program names too: _ps_partner_key_<public key>, _ps_xid_<public key>_<suffix>.
  const ours = (name) => names.has(name) || name.startsWith('_ps_partner_key_') || name.startsWith('_ps_xid_');
  return Object.fromEntries(cookies.filter((c) => ours(c.name)).map((c) => [c.name, c]));
}

/** A free loopback port, for a server whose address must be known before it starts. */
export const freePort = () => new Promise((ok) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => ok(port));
  });
});

/** Polls `probe` until it returns a truthy value or `ms` pass. */
export async function eventually(probe, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${probe}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}
