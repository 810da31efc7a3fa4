// Three browser engines over W3C WebDriver, with plain HTTP calls: Debian's Chromium through
// chromedriver, Firefox ESR through geckodriver, and WebKitGTK's MiniBrowser through
// WebKitWebDriver under Xvfb (MiniBrowser has no headless mode). Every request has a timeout: a
// driver that cannot start its browser hangs rather than fails.
//
// Host mapping: *.acme.test must reach the collector on 127.0.0.1. Chromium maps it with
// --host-resolver-rules; Firefox and WebKit are given a forward proxy (WebDriver's `proxy`
// capability) that sends every request to 127.0.0.1, keeping the Host the page asked for.
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { freePort } from '../e2e/harness.mjs';

/** The engines to run: REFTRACK_BROWSERS (comma-separated), by default all three. */
export const ENGINES = (process.env.REFTRACK_BROWSERS || 'chromium,firefox,webkit').split(',').map((e) => e.trim()).filter(Boolean);

const GECKODRIVER = [join(homedir(), '.cargo/bin/geckodriver'), '/usr/local/bin/geckodriver', '/usr/bin/geckodriver'].find(existsSync);
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const TIMEOUT = 60_000;

async function until(probe, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** A forward proxy on 127.0.0.1 that sends every request to 127.0.0.1 on the port asked for. */
export async function startProxy() {
  const server = createServer((req, res) => {
    const url = new URL(req.url);
    const upstream = httpRequest({
      host: '127.0.0.1', port: url.port || 80, method: req.method, path: url.pathname + url.search,
      headers: { ...req.headers, host: url.host },
    }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { port: server.address().port, stop: () => new Promise((ok) => server.close(ok)) };
}

function driverCommand(engine, port) {
  switch (engine) {
    case 'chromium': return ['/usr/bin/chromedriver', [`--port=${port}`]];
    case 'firefox':
      if (!GECKODRIVER) throw new Error('geckodriver is not installed: run scripts/setup.sh');
      return [GECKODRIVER, ['--port', String(port), '--host', '127.0.0.1']];
    case 'webkit': return ['xvfb-run', ['-a', '/usr/bin/WebKitWebDriver', `--port=${port}`]];
    default: throw new Error(`unknown engine ${engine}`);
  }
}

function capabilities(engine, proxyPort) {
  const proxy = { proxyType: 'manual', httpProxy: `127.0.0.1:${proxyPort}` };
  switch (engine) {
    case 'chromium': return {
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: '/usr/bin/chromium',
        args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.acme.test 127.0.0.1'],
      },
    };
    case 'firefox': return {
      browserName: 'firefox',
      proxy,
      'moz:firefoxOptions': {
        binary: '/usr/bin/firefox-esr',
        args: ['-headless'],
        prefs: { 'network.proxy.allow_hijacking_localhost': true, 'app.update.enabled': false, 'browser.shell.checkDefaultBrowser': false },
      },
    };
    case 'webkit': return {
      browserName: 'MiniBrowser',
      proxy,
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    };
    default: throw new Error(`unknown engine ${engine}`);
  }
}

/** A driver process for `engine`, and a browser session in it. */
export async function startBrowser(engine, proxyPort) {
  const port = await freePort();
  const [command, args] = driverCommand(engine, port);
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(base + path, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${engine} ${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  };
  const kill = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch (e) {} };
  try {
    await until(async () => (await fetch(`${base}/status`, { signal: AbortSignal.timeout(2000) })).ok, 30_000, `${engine} driver`);
    const created = await call('POST', '/session', { capabilities: { alwaysMatch: capabilities(engine, proxyPort) } });
    const session = `/session/${created.sessionId}`;
    const browser = {
      engine,
      version: created.capabilities.browserVersion,
      /** Opens `url` and waits for its load. */
      goto: (url) => call('POST', `${session}/url`, { url }),
      /** Runs `script` (a function body) in the page with `args`; returns its value. */
      run: (script, ...args) => call('POST', `${session}/execute/sync`, { script, args }),
      /** Runs `script`, whose last argument is the callback to call with the result. */
      runAsync: (script, ...args) => call('POST', `${session}/execute/async`, { script, args }),
      cookies: () => call('GET', `${session}/cookie`),
      /** Polls `script` until it returns a truthy value. */
      until: async (script, ms = 15_000, ...args) => {
        let value;
        await until(async () => (value = await browser.run(script, ...args)), ms, `${engine}: ${script}`);
        return value;
      },
      quit: async () => {
        await call('DELETE', session).catch(() => {});
        kill();
      },
    };
    await call('POST', `${session}/timeouts`, { script: 30_000, pageLoad: 30_000 });
    return browser;
  } catch (error) {
    kill();
    throw error;
  }
}
