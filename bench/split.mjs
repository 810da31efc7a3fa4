// The split's lower bound, measured beside the shipped split in every `npm run bench`, so the
// distance between what a landing's module holds and what a landing runs is visible.
//
// The shipped build cuts the module by construction (scripts/split.mjs): its landing module is
// everything a landing can reach without entering a gate. This cuts the same module (the `split`
// feature's, as wasm-bindgen writes it) by a profile instead: an instrumented copy (`wasm-split
// --instrument`) runs a partner link's landing in Chromium (PartnerStack's snippet,
// `?ps_partner_key=…&ps_xid=…`, so no landing report), then what a landing page may do without
// signing up (a single-page app's navigation, `partnerKey()`, the page going away), and only the
// functions that ran stay in the first module. That is no design (the first module would call into
// the second on any path the profile did not run), but it says how much of the landing module is
// code a landing can reach and did not run. Each half is optimized and the first bundled as
// scripts/build.sh does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURES, WASM_SPLIT, fixExternrefExport, splitModule } from '../scripts/split.mjs';

/**
 * Measures the lower bound; prints its own section. `named`: wasm-bindgen's output of the split
 * build (glue `reftrack.js`, module `reftrack_bg.wasm`, names kept); `sdk`: where the bench's
 * server serves builds from (`/sdk/<name>/`). Never throws: a failure is printed as the result.
 */
export async function measureSplit({ root, named, sdk, server, browser, b64, sizes, shipped, budgets }) {
  console.log('\nthe split\'s lower bound: the same module cut by what a partner link\'s landing runs (not a design; see bench/split.mjs)');
  if (!existsSync(WASM_SPLIT)) {
    console.log('  (wasm-split not installed: scripts/setup.sh installs Debian\'s binaryen)');
    return;
  }
  try {
    const dir = join(root, 'target/bench-split');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const file = (name) => join(dir, name);
    const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const bundle = (wasm, out, ...more) =>
      run('node', [join(root, 'scripts/bundle.mjs'), '--glue', named, '--wasm', wasm, '--out', out, ...more]);

    // 1. The profile: the instrumented module on a landing.
    run(WASM_SPLIT, ['--instrument', ...FEATURES, join(named, 'reftrack_bg.wasm'), '-o', file('instrumented.wasm')]);
    fixExternrefExport(file('instrumented.wasm'));
    bundle(file('instrumented.wasm'), join(sdk, 'split-profile'));
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      const Instance = WebAssembly.Instance;
      WebAssembly.Instance = function (module, imports) {
        const instance = new Instance(module, imports);
        if (instance.exports.__write_profile) window.__profiled = instance;
        return instance;
      };
      WebAssembly.Instance.prototype = Instance.prototype;
    });
    await page.goto(server.url('www.acme.test', `/attribution.html?sdk=split-profile&ps_partner_key=${b64('alex-smith')}&ps_xid=clk_bench`));
    await page.waitForFunction(() => window.bench.attributed !== undefined);
    await page.waitForLoadState('load');
    // What else a landing page does without signing up: a single-page app's navigation to another
    // partner link, the page's own reads of the attribution, and the page going away.
    await page.evaluate((key) => {
      history.pushState(null, '', `/attribution.html?sdk=split-profile&ps_partner_key=${key}&ps_xid=clk_bench_2`);
      reftrack.partnerKey();
      reftrack.clickId();
      dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }));
    }, b64('sam-jones'));
    await page.waitForTimeout(500);
    const profile = await page.evaluate(() => {
      const { memory, __write_profile: write } = window.__profiled.exports;
      const at = memory.grow(1) * 65536;
      const length = write(at, 65536);
      return Array.from(new Uint8Array(memory.buffer, at, length));
    });
    await context.close();
    writeFileSync(file('landing.profile'), Buffer.from(profile));

    // 2. The cut by the profile, each half optimized as scripts/build.sh optimizes the module.
    const { kept, moved } = splitModule(join(named, 'reftrack_bg.wasm'), dir, `--profile=${file('landing.profile')}`);
    for (const half of ['first', 'second']) {
      run(join(root, 'node_modules/.bin/wasm-opt'), ['-Oz', '--converge', '--low-memory-unused', '--strip-debug',
        '--strip-producers', '--strip-target-features', ...FEATURES, '--reorder-locals',
        file(`${half}.wasm`), '-o', file(`${half}.opt.wasm`)]);
    }
    bundle(file('first.opt.wasm'), file('landing'), '--variant', 'split', '--second', file('second.opt.wasm'));
    const landing = sizes(readFileSync(file('landing/reftrack.js'))).gzip;
    const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
    console.log(`  ${kept} functions ran and would stay in the first module, ${moved} would move`);
    console.log(`  its landing page: ${landing} B = ${kib(landing)} gzip (budget ${kib(budgets.landing)}); ` +
      `the shipped reftrack.js: ${shipped} B, ${shipped - landing} B more: code a landing can reach and did not run`);
  } catch (error) {
    console.log(`  (not measured: ${String(error.stderr ?? error.message ?? error).trim().split('\n')[0]})`);
  }
}
