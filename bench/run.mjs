// `npm run bench`: what reftrack costs a page. Sizes of dist/ (raw, gzip -9, brotli), and, in
// headless Chromium against the real collector, the time from navigation start to attribution
// for each way of loading the module (SPEC §1 "Drop-in timing"). Figures are printed, not judged:
// the tests check behaviour, this measures cost.
import { readFileSync, readdirSync, mkdirSync, rmSync, cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { startCollector, launchBrowser, b64, SECRET } from '../tests/e2e/harness.mjs';
import { load } from './load.mjs';

const root = resolve(import.meta.dirname, '..');
const LOADS = Number(process.env.BENCH_LOADS ?? 21);

function sizes(file) {
  const raw = readFileSync(file);
  return {
    raw: raw.length,
    gzip: gzipSync(raw, { level: 9 }).length,
    brotli: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

function sizeTable(title, dir) {
  console.log(`\n${title}`);
  console.log('file                      raw      gzip    brotli');
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const name of readdirSync(dir).sort()) {
    const s = sizes(join(dir, name));
    for (const k of Object.keys(total)) total[k] += s[k];
    console.log(`${name.padEnd(22)}${String(s.raw).padStart(7)}${String(s.gzip).padStart(10)}${String(s.brotli).padStart(10)}`);
  }
  console.log(`${'total'.padEnd(22)}${String(total.raw).padStart(7)}${String(total.gzip).padStart(10)}${String(total.brotli).padStart(10)}`);
  return total;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// Both ways of loading the module, built from the same wasm-bindgen output as dist/.
const variants = join(root, 'target/bench-sdk');
rmSync(variants, { recursive: true, force: true });
mkdirSync(variants, { recursive: true });
cpSync(join(root, 'dist'), join(variants, 'embed'), { recursive: true });
execFileSync('node', [
  join(root, 'scripts/bundle.mjs'), '--variant', 'fetch',
  '--glue', join(root, 'target/bindgen/reftrack.js'),
  '--wasm', join(root, 'target/bindgen/reftrack_bg.opt.wasm'),
  '--out', join(variants, 'fetch'),
]);

console.log('reftrack bench');
const shipped = sizeTable('dist/ (the script-tag build)', join(root, 'dist'));
const fetchSizes = sizeTable('alternative: module fetched from reftrack_bg.wasm', join(variants, 'fetch'));

// The variants' parent as --dist (the later flag wins): /sdk/embed/ and /sdk/fetch/.
const server = await startCollector({ www: join(root, 'bench/site'), args: ['--dist', variants] });
const browser = await launchBrowser();
const timings = {};
for (const variant of ['embed', 'fetch']) {
  timings[variant] = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext(); // cold cache every load
    const page = await context.newPage();
    await page.goto(server.url('www.acme.test', `/attribution.html?sdk=${variant}&ps_partner_key=${b64('alex-smith')}`));
    await page.waitForFunction(() => window.bench.attributed !== undefined);
    const result = await page.evaluate(() => window.bench);
    if (!result.cookie || result.partner !== 'alex-smith') throw new Error(`${variant}: not attributed`);
    timings[variant].push(result.attributed);
    await context.close();
  }
}

// Signup round trip: reftrack.signup() in Chromium → collector (SQLite commit) → result.
const ROUND_TRIPS = Number(process.env.BENCH_SIGNUPS ?? 50);
const roundTrips = [];
{
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url('www.acme.test', `/attribution.html?sdk=embed&ps_partner_key=${b64('alex-smith')}`));
  await page.waitForFunction(() => window.bench.attributed !== undefined);
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const { ms, status } = await page.evaluate(async (key) => {
      const t0 = performance.now();
      const result = await reftrack.signup({ customer_key: key });
      return { ms: performance.now() - t0, status: result.status };
    }, `bench_${Date.now()}_${i}`);
    if (status !== 'created') throw new Error(`round trip ${i}: ${status}`);
    roundTrips.push(ms);
  }
  await context.close();
}
await browser.close();

// Collector throughput on loopback, and the stored count against the acknowledged count.
const throughput = await load({ port: server.port, clients: 32, seconds: Number(process.env.BENCH_SECONDS ?? 10) });
const listed = await (await fetch(`http://127.0.0.1:${server.port}/v1/signups?limit=100000`, {
  headers: { Authorization: `Bearer ${SECRET}` },
})).json();
const storedLoad = listed.filter((s) => s.public_key === 'pk_bench_load').length;
await server.stop();

console.log(`\ntime from navigation start to attribution (growsumoInit with data filled, cookie written), PartnerStack snippet, cold cache, median of ${LOADS}`);
for (const variant of ['embed', 'fetch']) {
  const t = timings[variant];
  console.log(`${variant.padEnd(8)} median ${median(t).toFixed(1)} ms   min ${Math.min(...t).toFixed(1)}   max ${Math.max(...t).toFixed(1)}`);
}
console.log(`\nscript tag downloads (gzip): embed ${shipped.gzip} B, fetch ${fetchSizes.gzip} B`);
console.log(`\nsignup round trip (reftrack.signup in Chromium → collector → result), median of ${ROUND_TRIPS}: ${median(roundTrips).toFixed(2)} ms (min ${Math.min(...roundTrips).toFixed(2)}, max ${Math.max(...roundTrips).toFixed(2)})`);
console.log(`collector throughput, 32 concurrent clients for ${throughput.elapsed.toFixed(1)} s on loopback: ${throughput.perSecond.toFixed(0)} signups/s acknowledged (${throughput.acknowledged} acknowledged, ${throughput.failed} failed, ${storedLoad} stored${storedLoad === throughput.acknowledged ? ' = acknowledged' : ' ≠ acknowledged!'})`);
if (storedLoad !== throughput.acknowledged) process.exitCode = 1;
