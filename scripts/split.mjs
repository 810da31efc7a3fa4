// The split build's cut (scripts/build.sh): wasm-bindgen's output of the `split` feature in two
// modules that share one memory and one function table. The first (the landing's: attribution and
// the globals) is embedded in dist/reftrack.js; the second (the delivery code) in
// dist/reftrack-delivery.js, which the loader brings when a call first needs it
// (src/web/split.rs).
//
//   node scripts/split.mjs --wasm reftrack_bg.wasm --out DIR   → DIR/first.wasm, DIR/second.wasm
//
// The first module is drawn by construction, so no path a page can take calls into the second
// before it is there: every function reachable from the exports and the function table without
// entering a gate (`GATES`: signing up, sending, forms, a hand-made link's report, the retry
// queue's flush) or a panic's way out. src/web/split.rs guards every call into a gate; the gates
// the cut finds are printed, so a new one shows. The cut is binaryen's `wasm-split` (Debian's
// binaryen 108; npm's binaryen has none), on wasm-bindgen's output before any optimization:
// binaryen inlines a function into its only caller, which could put a gate's code into a function
// the landing runs. Each half is optimized after, as the one-module build is. The exports
// wasm-split adds for the second module are prefixed `%`, so the build's renaming
// (scripts/imports.mjs, whose short names are `w0`, `wa`, …) cannot collide with them; the
// placeholders are imported from a module named `p`, which the glue does not provide, so the
// renaming leaves them as they are; the loader gives them (scripts/bundle.mjs).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { importsFromGlue } from './imports.mjs';
import { cutData, stripLinking } from './split-data.mjs';

const root = resolve(import.meta.dirname, '..');
export const WASM_SPLIT = '/usr/bin/wasm-split';
/** The split build as cargo links it (`--emit-relocs`, scripts/build.sh): where its data is, and
 * which function refers to which (scripts/split-data.mjs). */
export const LINKED = join(root, 'target/split/wasm32-unknown-unknown/release/reftrack.wasm');
export const FEATURES = ['--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-reference-types',
  '--enable-multivalue', '--enable-sign-ext', '--enable-mutable-globals'];

/** binaryen 108 writes the export `__wbindgen_externrefs` with the funcref table's index (0):
 * pointed at the externref table (1), as wasm-bindgen's module has it. */
export function fixExternrefExport(path) {
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
 * What the landing module leaves to the second, by name (Rust paths, hashes aside): the code a
 * landing enters only to sign up, send, capture forms, report a hand-made link or flush the retry
 * queue. src/web/split.rs guards each call into these with a check that the second module is there.
 */
const GATES = [
  // What every start checks (whether a signup waits) and what `consent(false)` does (delete the
  // retry queue) stay: neither waits.
  /^reftrack::web::(delivery::(?!queue::(waiting|clear)\b)|forms::|browser::fetch::)/,
  /^reftrack::web::values::(signup_input|growsumo_input|partnero_input|SignupFields)/,
  // A waiting signup gets its event id at once (src/web/split.rs).
  /^reftrack::core::signup::(?!uuid_v4\b)/,
  /^reftrack::web::lifecycle::send_landing/,
  /^(<)?(gloo_net|js_sys::futures|wasm_bindgen_futures|serde|serde_core|serde_wasm_bindgen)\b/,
  // What waited runs once the delivery module is there: the loader calls it only then.
  /^(__delivered$|reftrack::web::split::waiting::delivered\b)/,
  // Debug mode's texts (src/web/tracker/notes.rs).
  /^reftrack::web::tracker::notes::say\b/,
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
 * Cuts `wasm` (wasm-bindgen's output, names kept) into `out`/first.wasm and `out`/second.wasm;
 * `keep` (optional): wasm-split's way to choose the first module's functions instead of the cut by
 * construction (`--profile=…`, for the bench's lower bound); `more`: wasm-split's other flags (`-g`
 * keeps the functions' names, for twiggy: it also makes binaryen's optimized output larger). The
 * constant data only the second module's functions refer to goes with them (scripts/split-data.mjs).
 * Returns the functions kept and moved, the bytes of data moved, and the gates entered.
 */
export function splitModule(wasm, out, keep, ...more) {
  stripLinking(wasm);
  let gates = new Set();
  if (!keep) {
    const graph = callGraph(execFileSync(join(root, 'node_modules/.bin/wasm-dis'), [wasm], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    const reached = reachable(graph);
    gates = reached.gates;
    writeFileSync(join(out, 'keep.txt'), [...reached.keep].map(escapeName).join('\n') + '\n');
    keep = `--keep-funcs=@${join(out, 'keep.txt')}`;
  }
  const report = execFileSync(WASM_SPLIT, [...FEATURES, ...more, '--verbose', '--export-prefix=%', '--placeholder-namespace=p',
    keep, wasm, '-o1', join(out, 'first.wasm'), '-o2', join(out, 'second.wasm')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  fixExternrefExport(join(out, 'first.wasm'));
  const halves = importsFromGlue(readFileSync(join(out, 'first.wasm')), readFileSync(join(out, 'second.wasm')));
  writeFileSync(join(out, 'first.wasm'), halves.first);
  writeFileSync(join(out, 'second.wasm'), halves.second);
  const functions = (what) => (report.match(new RegExp(`^${what} functions: (.*)$`, 'm'))?.[1] ?? '').split(', ').filter(Boolean);
  const kept = functions('Keeping');
  const data = cutData({ linked: LINKED, kept, first: join(out, 'first.wasm'), second: join(out, 'second.wasm') });
  return { kept: kept.length, moved: functions('Splitting out').length, data, gates: [...gates].sort() };
}

if (process.argv[1] === import.meta.filename) {
  const { values: args } = parseArgs({ options: { wasm: { type: 'string' }, out: { type: 'string' } } });
  const { kept, moved, data, gates } = splitModule(args.wasm, args.out);
  console.log(`${kept} functions in the landing's module, ${moved} in the delivery module, with ${data} bytes of the ` +
    'constant data only they refer to; the gates between them (src/web/split.rs guards each):');
  for (const gate of gates) console.log(`  ${gate}`);
}
