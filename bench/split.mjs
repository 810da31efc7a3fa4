// A candidate split of today's module, measured so the landing budget's distance is visible in
// every `npm run bench`. Not a shipped build: nothing loads its second module yet.
//
// binaryen's `wasm-split` (Debian's binaryen 108; npm's binaryen has no wasm-split) cuts the
// module twice:
// - by a profile: an instrumented copy runs a partner link's landing (PartnerStack's snippet,
//   `?ps_partner_key=…&ps_xid=…`, so no landing report) in Chromium, then what a landing page may
//   do without signing up (a single-page app's navigation, `partnerKey()`, the page going away),
//   and the functions that ran stay in the first module. That is a lower bound, not a design: the
//   first module would call into the second on any path the profile did not run (a warning, an
//   option the page did not pass), and a build would need a browser;
// - by construction: the first module is every function reachable from the exports and the
//   function table without entering a gate (`GATES`: signing up, sending, forms, a hand-made
//   link's report, consent) or a panic's way out. A shipped split has to guard each call into a
//   gate with a check that the second module is there; the bench prints the gates so entered.
//   This cut needs no browser, so a build can make it.
// Everything else moves to the second module, behind placeholders.
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
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { minifyImports } from '../scripts/imports.mjs';

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
 * What the landing module may leave to the second, by name (Rust paths, hashes aside): the code a
 * landing enters only to sign up, send, capture forms, report a hand-made link or take consent.
 * A shipped split guards each call into these with a check that the second module is there.
 */
const GATES = [
  // The check whether a signup waits stays: every start makes it.
  /^reftrack::web::(delivery::(?!queue::waiting\b)|forms::|browser::fetch::)/,
  /^reftrack::web::values::(signup_input|growsumo_input|partnero_input|SignupFields)/,
  /^reftrack::core::signup::/,
  /^reftrack::web::lifecycle::send_landing/,
  /^reftrack::web::tracker::cookies::<impl reftrack::web::tracker::Tracker>::consent/,
  /^(<)?(gloo_net|js_sys::futures|wasm_bindgen_futures|serde|serde_core|serde_wasm_bindgen)\b/,
];
/** A panic's ways out of the standard library. Called before the second module is there, their
 * placeholder throws, which ends reftrack through `js/guard.js` just as the panic's trap would. */
const PANICS = /^<?(core|std|alloc)(\[[0-9a-f]+\])?::(panicking::|.*::(slice_\w*fail|str_index_overflow_fail|len_mismatch_fail|panic_already_(mutably_)?borrowed|unwrap_failed|expect_failed|handle_alloc_error|capacity_overflow|handle_error|begin_panic)\b)|^(rust_begin_unwind|__rust_start_panic|__rustc::)/;

/** The module's functions from its text (wasm-dis): what each calls or takes the address of, and
 * the roots (exports and the function table's elements). */
function callGraph(wat) {
  const name = String.raw`\$(?:"((?:[^"\\]|\\.)*)"|([^\s()]+))`;
  const nameOf = (m, at = 1) => m[at] ?? m[at + 1];
  const calls = new Map();
  for (const chunk of wat.split(/\n (?=\(func )/)) {
    const head = chunk.match(new RegExp(`^\\(func ${name}`));
    if (!head) continue;
    const callees = new Set();
    for (const m of chunk.matchAll(new RegExp(`\\((?:call|return_call|ref\\.func) ${name}`, 'g'))) callees.add(nameOf(m));
    calls.set(nameOf(head), callees);
  }
  const roots = [...wat.matchAll(new RegExp(`\\(export "[^"]*" \\(func ${name}`, 'g'))].map((m) => nameOf(m));
  for (const elem of wat.match(/^ \(elem .*$/gm) ?? []) {
    roots.push(...[...elem.replace(/^ \(elem \$\S+ \(table \$\S+\) \([^)]*\) func/, '').matchAll(new RegExp(name, 'g'))].map((m) => nameOf(m)));
  }
  return { calls, roots };
}

const bare = (name) => name.replace(/::h[0-9a-f]{16}$/, '');

/** Formatting's entries in the function table (`Display`, `Debug`, `fmt::Write` impls; a panic's
 * payloads). The table holds them for `fmt::Arguments` and `dyn` formatters, which only the
 * formatting machinery calls: they are roots only once something kept reaches that machinery. */
const FORMATTING = /as (core|alloc|std)(\[[0-9a-f]+\])?::(fmt::(Display|Debug|Write)|panic::PanicPayload|any::Any)>::|^std(\[[0-9a-f]+\])?::alloc::default_alloc_error_hook/;
const FORMATTER = /^(core|alloc)(\[[0-9a-f]+\])?::fmt::(write|format)\b|Formatter>::/;

/** The first module by construction: every function reachable from the roots without entering a
 * gate or a panic's way out; `gates`: the gates so entered (the calls a shipped split guards). */
function reachable({ calls, roots }) {
  const cut = (f) => GATES.some((gate) => gate.test(f)) || PANICS.test(f);
  const keep = new Set();
  const gates = new Set();
  const walk = (stack) => {
    while (stack.length) {
      const f = stack.pop();
      if (keep.has(f) || !calls.has(f)) continue;
      keep.add(f);
      for (const callee of calls.get(f)) {
        if (!cut(callee)) stack.push(callee);
        else if (!PANICS.test(callee)) gates.add(bare(callee));
      }
    }
  };
  const live = roots.filter((f) => !cut(f));
  walk(live.filter((f) => !FORMATTING.test(f)));
  if ([...keep].some((f) => FORMATTER.test(f))) walk(live);
  return { keep, gates };
}

/** A name as wasm-split's `--keep-funcs` reads it: characters outside an identifier's as `\xx`. */
const escapeName = (name) => name.replace(/[^\w:<>$.\-*&'#@!?/|~^+=%]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * Runs the cut by construction in Chromium, so its mechanics are checked, not only its size: a
 * partner link's landing on the first module alone (a placeholder called would throw, and
 * reftrack would turn itself off), then the second module instantiated against the first's
 * exports (one memory, one table: its functions replace the placeholders), then a signup through
 * the collector. The bench's page fetches the second module itself and hands the first module
 * its placeholders, which a shipped loader would do.
 */
async function runConstructed({ dir, named, sdk, server, browser, b64 }) {
  const site = join(sdk, 'split-constructed');
  rmSync(site, { recursive: true, force: true });
  cpSync(join(dir, 'constructed.landing'), site, { recursive: true });
  cpSync(join(dir, 'constructed.second.opt.wasm'), join(site, 'second.wasm'));
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const warnings = [];
    page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
    await page.addInitScript(() => {
      const Instance = WebAssembly.Instance;
      WebAssembly.Instance = function (module, imports) {
        if (WebAssembly.Module.imports(module).some((i) => i.module === 'p')) {
          imports = { ...imports, p: new Proxy({}, { get: (_, slot) => () => { throw new Error(`placeholder ${slot} called`); } }) };
          return (window.__first = new Instance(module, imports));
        }
        return new Instance(module, imports);
      };
      WebAssembly.Instance.prototype = Instance.prototype;
    });
    await page.goto(server.url('www.acme.test', `/attribution.html?sdk=split-constructed&ps_partner_key=${b64('alex-smith')}&ps_xid=clk_split`));
    await page.waitForFunction(() => window.bench.attributed !== undefined);
    await page.waitForLoadState('load');
    const landing = await page.evaluate(() => ({ partner: bench.partner, cookie: bench.cookie, key: reftrack.partnerKey() }));
    const renamed = [...minifyImports(readFileSync(join(dir, 'constructed.first.opt.wasm')),
      readFileSync(join(named, 'reftrack.js'), 'utf8')).exports];
    const signup = await page.evaluate(async (renamed) => {
      const started = performance.now();
      const bytes = await (await fetch('/sdk/split-constructed/second.wasm')).arrayBuffer();
      // The build renamed the exports only the glue calls (scripts/imports.mjs), some of which
      // the second module imports by their long names; a shipped build would rename those
      // imports alike.
      const primary = { ...window.__first.exports };
      for (const [long, short] of renamed) primary[long] = primary[short];
      await WebAssembly.instantiate(bytes, { primary });
      const loaded = performance.now() - started;
      const result = await reftrack.signup({ customer_key: 'split-bench-1', email: 'split@acme.test' });
      return { loaded, result };
    }, renamed);
    const ok = landing.partner === 'alex-smith' && landing.cookie && landing.key === 'alex-smith' && warnings.length === 0;
    console.log(`  run in Chromium: the landing on the first module alone ${ok ? 'attributed alex-smith, no warning' : `FAILED: ${JSON.stringify({ landing, warnings })}`};` +
      ` the second module fetched and instantiated in ${signup.loaded.toFixed(1)} ms;` +
      ` then reftrack.signup → ${signup.result.ok ? `${signup.result.status} (the collector stored it)` : `FAILED: ${JSON.stringify(signup.result)}`}`);
  } catch (error) {
    console.log(`  run in Chromium: FAILED: ${String(error.message ?? error).split('\n')[0]}`);
  } finally {
    await context.close();
  }
}

/**
 * Measures the split; prints its own section. `named`: the directory of wasm-bindgen's output with
 * names kept (glue `reftrack.js`, module `reftrack_bg.wasm`); `sdk`: where the bench's server
 * serves builds from (`/sdk/<name>/`). Never throws: a failure is printed as the section's result.
 */
export async function measureSplit({ root, named, sdk, server, browser, b64, sizes, budgets }) {
  console.log('\ncandidate split (not shipped): wasm-split, by what a partner link\'s landing runs and by what it can reach');
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

    // 2. The cuts: by the profile (what a landing ran), and by construction (what a landing can
    // reach), each half optimized as scripts/build.sh optimizes the module.
    const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
    const against = (bytes, budget) => `${bytes} B = ${kib(bytes)} gzip, budget ${kib(budget)}: ` +
      (bytes <= budget ? 'within' : `OVER by ${kib(bytes - budget)}`);
    const cut = (name, keep) => {
      const out = (suffix) => file(`${name}.${suffix}`);
      const report = execFileSync(wasmSplit, [...FEATURES, '--verbose', '--export-prefix=%', '--placeholder-namespace=p',
        keep, join(named, 'reftrack_bg.wasm'), '-o1', out('first.wasm'), '-o2', out('second.wasm')], { encoding: 'utf8' });
      const count = (what) => (report.match(new RegExp(`^${what} functions: (.*)$`, 'm'))?.[1] ?? '').split(', ').filter(Boolean).length;
      fixExternrefExport(out('first.wasm'));
      for (const half of ['first', 'second']) {
        run(join(root, 'node_modules/.bin/wasm-opt'), ['-Oz', '--converge', '--low-memory-unused', '--strip-debug',
          '--strip-producers', '--strip-target-features', ...FEATURES, '--reorder-locals',
          out(`${half}.wasm`), '-o', out(`${half}.opt.wasm`)]);
      }
      bundle(out('first.opt.wasm'), out('landing'), '--module', out('first.embedded.wasm'));
      // Both halves must still be modules a browser compiles.
      for (const half of ['first.embedded', 'second.opt']) new WebAssembly.Module(readFileSync(out(`${half}.wasm`)));
      const landing = sizes(readFileSync(join(out('landing'), 'reftrack.js'))).gzip;
      const second = sizes(readFileSync(out('second.opt.wasm'))).gzip;
      console.log(`  ${count('Keeping')} functions stay in the first module, ${count('Splitting out')} move to the second (${second} B gzip)`);
      console.log(`  landing page (reftrack.js with the first module embedded): ${against(landing, budgets.landing)}`);
      console.log(`  landing that signs up later (+ the second module): ${against(landing + second, budgets.both)}` +
        ', before any code to load the second');
    };
    console.log('by the profile (a lower bound: a first module cut this way would call into the second on any path the profile missed):');
    cut('profiled', `--profile=${file('landing.profile')}`);
    const graph = callGraph(execFileSync(join(root, 'node_modules/.bin/wasm-dis'), [join(named, 'reftrack_bg.wasm')], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    const { keep, gates } = reachable(graph);
    writeFileSync(file('keep.txt'), [...keep].map(escapeName).join('\n') + '\n');
    console.log('by construction (what a landing can reach without entering a gate; a panic\'s way out ends reftrack either way):');
    console.log(`  the gates the landing module would have to guard, ${gates.size}:`);
    for (const gate of [...gates].sort()) console.log(`    ${gate}`);
    cut('constructed', `--keep-funcs=@${file('keep.txt')}`);
    await runConstructed({ dir, named, sdk, server, browser, b64 });
  } catch (error) {
    console.log(`  (not measured: ${String(error.stderr ?? error.message ?? error).trim().split('\n')[0]})`);
  }
}
