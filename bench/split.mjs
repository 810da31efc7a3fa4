// A candidate split of today's module, measured so the landing budget's distance is visible in
// every `npm run bench`. Not a shipped build: nothing loads its second module yet.
//
// binaryen's `wasm-split` (Debian's binaryen 108; npm's binaryen has no wasm-split) cuts the
// module by a profile: an instrumented copy runs a partner link's landing (PartnerStack's snippet,
// `?ps_partner_key=…&ps_xid=…`, so no landing report) in Chromium, then what a landing page may do
// without signing up (a single-page app's navigation, `partnerKey()`, the page going away), and the
// functions that ran stay in the first module. Everything else moves to the second, behind
// placeholders.
//
// The split takes wasm-bindgen's output before binaryen's optimizations, and each half is
// optimized after: binaryen inlines a function into its only caller, which would put code the
// landing never runs (the body of a hand-made link's report, say) into a function it does run.
// Data does not split: every text stays in the first module. The first module is then bundled the
// way dist/reftrack.js is (loader, glue, imports renamed, module embedded), so its size is the
// landing page's download; the second is measured as a fetched .wasm. The exports wasm-split adds
// for the second module are prefixed `%`, so the build's renaming (scripts/imports.mjs, whose
// short names are `w0`, `wa`, …) cannot collide with them; the placeholders are imported from a
// module named `p`, which the glue does not provide, so the renaming leaves them as they are.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FEATURES = ['--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-reference-types',
  '--enable-multivalue', '--enable-sign-ext', '--enable-mutable-globals'];

/** binaryen 108 writes the export `__wbindgen_externrefs` with the funcref table's index (0):
 * pointed at the externref table (1), as wasm-bindgen's module has it. */
function fixExternrefExport(path) {
  const b = readFileSync(path);
  let at = 8;
  const uleb = () => {
    let value = 0, shift = 0, byte;
    do { byte = b[at++]; value |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  while (at < b.length) {
    const id = b[at++];
    const end = uleb() + at;
    if (id === 7) {
      for (let count = uleb(); count > 0; count--) {
        const length = uleb();
        const name = b.subarray(at, at + length).toString();
        at += length;
        const kind = b[at++];
        if (kind === 1 && name === '__wbindgen_externrefs' && b[at] === 0) b[at] = 1;
        uleb();
      }
    }
    at = end;
  }
  writeFileSync(path, b);
}

/**
 * Measures the split; prints its own section. `named`: the directory of wasm-bindgen's output with
 * names kept (glue `reftrack.js`, module `reftrack_bg.wasm`); `sdk`: where the bench's server
 * serves builds from (`/sdk/<name>/`). Never throws: a failure is printed as the section's result.
 */
export async function measureSplit({ root, named, sdk, server, browser, b64, sizes, budgets }) {
  console.log('\ncandidate split (not shipped): wasm-split by the functions a partner link\'s landing runs');
  const wasmSplit = '/usr/bin/wasm-split';
  if (!existsSync(wasmSplit)) {
    console.log('  (wasm-split not installed: scripts/setup.sh bench installs Debian\'s binaryen)');
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
    run(wasmSplit, ['--instrument', ...FEATURES, join(named, 'reftrack_bg.wasm'), '-o', file('instrumented.wasm')]);
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

    // 2. The split, each half optimized as scripts/build.sh optimizes the module.
    const report = execFileSync(wasmSplit, [...FEATURES, '--verbose', '--export-prefix=%', '--placeholder-namespace=p',
      `--profile=${file('landing.profile')}`, join(named, 'reftrack_bg.wasm'), '-o1', file('first.wasm'), '-o2', file('second.wasm')],
      { encoding: 'utf8' });
    const kept = (report.match(/^Keeping functions: (.*)$/m)?.[1] ?? '').split(', ').filter(Boolean).length;
    const moved = (report.match(/^Splitting out functions: (.*)$/m)?.[1] ?? '').split(', ').filter(Boolean).length;
    fixExternrefExport(file('first.wasm'));
    for (const half of ['first', 'second']) {
      run(join(root, 'node_modules/.bin/wasm-opt'), ['-Oz', '--converge', '--low-memory-unused', '--strip-debug',
        '--strip-producers', '--strip-target-features', ...FEATURES, '--reorder-locals',
        file(`${half}.wasm`), '-o', file(`${half}.opt.wasm`)]);
    }
    bundle(file('first.opt.wasm'), file('landing'), '--module', file('first.embedded.wasm'));
    // Both halves must still be modules a browser compiles.
    for (const half of ['first.embedded', 'second.opt']) new WebAssembly.Module(readFileSync(file(`${half}.wasm`)));
    const landing = sizes(readFileSync(file('landing/reftrack.js')));
    const second = sizes(readFileSync(file('second.opt.wasm')));
    const firstModule = sizes(readFileSync(file('first.embedded.wasm')));
    const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
    const against = (bytes, budget) => `${bytes} B = ${kib(bytes)} gzip, budget ${kib(budget)}: ` +
      (bytes <= budget ? 'within' : `OVER by ${kib(bytes - budget)}`);
    console.log(`  ${kept} functions stay in the first module, ${moved} move to the second`);
    console.log(`  first module ${firstModule.gzip} B gzip (${firstModule.raw} raw, imports renamed); second module ${second.gzip} B gzip (${second.raw} raw)`);
    console.log(`  landing page (reftrack.js with the first module embedded): ${against(landing.gzip, budgets.landing)}`);
    console.log(`  landing that signs up later (+ the second module): ${against(landing.gzip + second.gzip, budgets.both)}` +
      ', before any code to load the second');
  } catch (error) {
    console.log(`  (not measured: ${String(error.stderr ?? error.message ?? error).trim().split('\n')[0]})`);
  }
}
