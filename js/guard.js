// The guard between reftrack's module and the page. Every function the module hands to the page
// (the globals' methods, its listeners and timers) is wrapped by `guard`: when the module traps (a
// Rust panic) or throws, reftrack turns itself off, warns once, and from then on each function
// gives its harmless answer — signups resolve `{ ok: false, status: "error" }`, the rest do
// nothing. `install` defines the globals with those answers when the module cannot run at all
// (no WebAssembly, a CSP without 'wasm-unsafe-eval', a 404). Nothing here decides anything else.
const w = globalThis; // importing this file outside a browser (SSR) must not throw
let broken; // why reftrack is off, once it is
let stop;
const stopped = new Promise((resolve) => (stop = resolve));

export const failed = () => Promise.resolve({ ok: false, status: 'error', event_id: null, error: 'reftrack is not running: ' + broken });

/** Turns reftrack off for good; the first reason is the one reported. */
export function fail(error) {
  if (broken) return;
  broken = String(error || 'unknown error');
  // A Content-Security-Policy that blocks WebAssembly: say which source lets it run.
  if (/Content Security Policy|CSP|unsafe-eval/i.test(broken)) broken += " (add 'wasm-unsafe-eval' to the page's script-src)";
  console.warn('[reftrack] not running: ' + broken);
  stop();
}

function call(callback, result) {
  try {
    if (typeof callback == 'function') callback(result);
  } catch (e) {
    console.error('[reftrack] the createSignup callback threw:', e);
  }
  return result;
}

// The page's growsumoInit, run once, for when the module cannot (the module runs it otherwise).
let initRan, pageInit;
function runPageInit() {
  const f = pageInit || w.growsumoInit;
  if (initRan || typeof f != 'function') return;
  initRan = 1;
  try {
    f();
  } catch (e) {
    console.error('[reftrack] growsumoInit threw:', e);
  }
}

const none = () => {};
const resolved = () => Promise.resolve();
/** The harmless answer of each function, by the name the module gives it. */
const harmless = {
  init: resolved,
  flush: resolved,
  signup: failed,
  partnerKey: () => null,
  clickId: () => null,
  createSignup: (callback) => failed().then((result) => call(callback, result)),
  po: (command, what) => (command == 'customers' && what == 'signup' ? failed() : undefined),
  // Wraps the page's growsumoInit so that the snippet's own call and the timer run it once.
  _initialize() {
    if (typeof w.growsumoInit == 'function' && w.growsumoInit != runPageInit) pageInit = w.growsumoInit;
    w.growsumoInit = runPageInit;
  },
};

/** `f`, or its harmless answer once reftrack is off; a promise it returned settles harmlessly too. */
export function guard(f, name) {
  const fallback = harmless[name] || none;
  return function () {
    if (!broken) {
      try {
        const result = f.apply(this, arguments);
        return result instanceof Promise ? Promise.race([result, stopped.then(() => fallback.apply(this, arguments))]) : result;
      } catch (e) {
        fail(e);
      }
    }
    return fallback.apply(this, arguments);
  };
}

// The split build's delivery module (src/web/split.rs): `bring` asks its loader for it, once.
let whole = true;
let bring;
/** The split build's loader: `load()` brings the delivery module, then calls `arrived()`. */
export function split(load) {
  whole = false;
  bring = load;
}
export const arrived = () => (whole = true);
/** Whether the delivery code is present; `ask`: bring it if it is not. */
export function present(ask) {
  const load = ask && bring;
  if (load) (bring = null), load();
  return whole;
}

/** `original`, then `hook`: the page's function keeps its `this`, arguments, result and errors. */
export function after(original, hook) {
  return function () {
    const result = original.apply(this, arguments);
    hook();
    return result;
  };
}

/** The globals with their harmless answers, when the module cannot run; replays queued calls. */
export function install(error, version) {
  fail(error);
  const g = (w.growsumo = w.partnerstack = w.growsumo || {});
  g.data = g.data || {};
  const stub = w.reftrack;
  const reftrack = (w.reftrack = { version });
  const guarded = (target, names) => names.forEach((name) => (target[name] = guard(none, name)));
  guarded(reftrack, ['init', 'partnerKey', 'clickId', 'signup', 'flush', 'captureForms', 'consent']);
  guarded(g, ['_initialize', 'createSignup']);
  w[w.__partnerObject || 'po'] = guard(none, 'po');
  // The loader snippet's calls: [method, arguments, resolve].
  const replay = (target, queued) => (queued || []).forEach((c) => c[2](target[c[0]].apply(target, c[1])));
  replay(reftrack, stub && stub.q);
  replay(g, g.q);
  setTimeout(runPageInit);
}
