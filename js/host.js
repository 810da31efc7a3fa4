// The browser skin: the only JavaScript between the page and reftrack's Rust module.
//
// It does what Rust cannot do cheaply from WebAssembly and decides nothing: it reads the page
// (URL, cookies, storage, form fields) when the module asks, carries out what the module decided
// (write this cookie, post this body, arm this timer, log this line), turns JavaScript values into
// the flat (tag + name, text) entries the module reads, and keeps the objects a page holds
// (promises, callbacks, `growsumo`, `po`). Every decision — options, attribution, cookie strings
// and domains, the signup body, validation, the retry queue and its backoff, which form fields
// count — is made in Rust (src/core/, driven by src/web/).
//
// The functions marked "import" are the module's imports (src/web/host.rs); `bind` hands this file
// the module's exports. Used by the script-tag build (js/tag.js) and the npm package (js/index.js).
//
// Host-page safety: every call into the module goes through `guard`. If the module cannot run or
// traps (a Rust panic), reftrack turns itself off, warns once, settles every promise it handed out
// with `{ ok: false, status: "error" }`, and from then on every call answers harmlessly; wrappers
// of the page's own functions keep calling them.

const PREFIX = '[reftrack] ';
const w = globalThis; // the window; importing this file outside a browser (SSR) must not throw
let rt; // the module's exports
let broken; // why reftrack is off, once it is
let lastId = 0;
/** Promises handed out and not settled yet: id → [resolve, isSignup]. */
const waiting = new Map();

/** Hands over the module's exports. */
export function bind(exports) {
  rt = exports;
}

/** Turns reftrack off for good (the first reason is the one reported). */
export function fail(error) {
  if (broken) return;
  broken = error || 'unknown error';
  console.warn(PREFIX + 'not running: ' + broken);
  clearTimeout(timer);
  waiting.forEach(([resolve, isSignup]) => resolve(isSignup ? errorResult() : undefined));
  waiting.clear();
}

/** The result of a signup made while reftrack is off. */
function errorResult() {
  return { ok: false, status: 'error', event_id: null, error: 'reftrack is not running: ' + broken };
}

/**
 * `f`, unless reftrack is off; then `fallback`. An error — a trap (a Rust panic), or anything else
 * on reftrack's side — turns reftrack off instead of reaching the page. The page's own functions
 * never run inside a guard: wrappers call them outside it.
 */
export function guard(f, fallback) {
  return function () {
    if (!broken && rt) {
      try {
        return f.apply(this, arguments);
      } catch (e) {
        fail(e);
      }
    }
    return fallback && fallback.apply(this, arguments);
  };
}

// ---- values in: JavaScript values as the module's (slot, tag + name, text) entries ----

/** Scratch slots of the module (src/web/scratch.rs). */
const CALL = 0, GLOBAL = 1, FIELDS = 3, META = 4;
export const ATTRIBUTES = 2;

/**
 * Puts `value` as entry `name` of `slot`: the module's `put(slot, tag + name, text)`, the tag one
 * letter for the kind of value (src/web/scratch.rs; `null` and `undefined` are z).
 */
export function put(slot, name, value) {
  const type = typeof value;
  const entry = (tag, text) => rt.put(slot, tag + name, text);
  if (value == null) entry('z', '');
  else if (type == 'string') entry('s', value);
  else if (type == 'boolean') entry('b', value ? 'true' : 'false');
  // JavaScript writes the number, so Rust never formats a float.
  else if (type == 'number' && isFinite(value)) entry('n', String(value));
  else if (Array.isArray(value) && value.every((item) => typeof item == 'string')) {
    entry('a', '');
    value.forEach((item) => entry('l', item));
  } else {
    entry('o', Array.isArray(value) ? 'an array with non-string items' : type == 'function' ? 'a function' : type == 'object' ? 'an object' : 'a ' + type);
  }
}

/** Puts an object's own properties; false when `value` is neither an object nor absent. */
function putAll(slot, value) {
  if (value == null) return true;
  if (typeof value != 'object') return false;
  Object.keys(value).forEach((name) => put(slot, name, value[name]));
  return true;
}

/** A signup's fields (`reftrack.signup`'s argument). False when `input` is not an object. */
function putSignup(input) {
  if (input === null || typeof input != 'object') return false;
  ['customer_key', 'email', 'name', 'sub_ids'].forEach((name) => put(FIELDS, name, input[name]));
  const meta = input.meta;
  if (meta !== null && typeof meta == 'object') putAll(META, meta);
  else if (meta != null) put(FIELDS, 'meta', meta);
  return true;
}

// ---- promises out ----

/** A promise the module settles later through `settle(id, …)`; `send(id)` starts the work. */
function request(isSignup, send) {
  const id = ++lastId;
  const promise = new Promise((resolve) => waiting.set(id, [resolve, isSignup]));
  send(id);
  return promise;
}

/** import: settles request `id`: a signup with its result (SPEC §4), a flush with nothing. */
export function settle(id, ok, status, eventId, error) {
  const entry = waiting.get(id);
  if (!entry) return;
  waiting.delete(id);
  if (!entry[1]) return entry[0]();
  const result = { ok, status, event_id: eventId ?? null };
  if (error != null) result.error = error;
  entry[0](result);
}

const resolved = (value) => () => Promise.resolve(value);
const failedSignup = () => Promise.resolve(errorResult());

// ---- the native API (SPEC §4a) ----

/** `reftrack.*`, every function guarded. */
export const api = {
  init: guard((options) => {
    rt.init('init', putAll(CALL, options), undefined);
    return Promise.resolve();
  }, resolved()),
  partnerKey: guard(() => rt.partnerKey() ?? null, () => null),
  clickId: guard(() => rt.clickId() ?? null, () => null),
  signup: guard((input) => request(true, (id) => rt.signup(id, putSignup(input))), failedSignup),
  flush: guard(() => request(false, (id) => rt.flush(id)), resolved()),
  captureForms: guard((selector) => rt.captureForms(typeof selector == 'string' ? selector : undefined)),
  consent: guard((granted) => rt.consent(!!granted)),
};

// ---- page state the module reads (imports) ----

/** import: `document.cookie`; "" where reading throws (a sandboxed frame). */
export function cookie() {
  try {
    return document.cookie;
  } catch (e) {
    return '';
  }
}

/** import: writes one `Set-Cookie`-style string; a refused write shows when read back. */
export function setCookie(text) {
  try {
    document.cookie = text;
  } catch (e) {}
}

/** import: one fact about the page, by number (src/web/host.rs `Page`). */
export function page(what) {
  switch (what) {
    case 0: return location.href;
    case 1: return location.hostname;
    case 2: return location.protocol;
    case 3: return document.referrer;
    case 4: return navigator.userAgent;
    case 5: return new Date().toISOString();
    default: return navigator.globalPrivacyControl ? 'true' : '';
  }
}

/** import: the first value of query parameter `name`, decoded, or nothing. */
export function param(name) {
  return new URLSearchParams(location.search).get(name) ?? undefined;
}

/** import: `window.reftrackConfig` into the GLOBAL slot; false when it is not an object. */
export function globalOptions() {
  return putAll(GLOBAL, w.reftrackConfig);
}

/** import: `url` resolved against `base`, or nothing if either is not a URL. */
export function resolveUrl(url, base) {
  try {
    return new URL(url, base).href;
  } catch (e) {}
}

/** import: fills `bytes` from `crypto.getRandomValues` (Math.random where there is none). */
export function randomBytes(bytes) {
  try {
    crypto.getRandomValues(bytes);
  } catch (e) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.random() * 256;
  }
}

/** import: `Date.now()`. */
export function now() {
  return Date.now();
}

/** import: `Math.random()`. */
export function random() {
  return Math.random();
}

/** import: `localStorage[key]`, or nothing (absent, or storage blocked). */
export function load(key) {
  try {
    return localStorage.getItem(key) ?? undefined;
  } catch (e) {}
}

/** import: stores `value` under `key` (removes it when there is no value); false if refused. */
export function store(key, value) {
  try {
    value == null ? localStorage.removeItem(key) : localStorage.setItem(key, value);
    return true;
  } catch (e) {
    return false;
  }
}

/** import: a console line; warnings always, debug lines only when the module says so. */
export function log(warn, message) {
  console[warn ? 'warn' : 'log'](PREFIX + message);
}

// ---- what the module asks the page to do (imports) ----

/** import: copies the attribution into `growsumo.data`, where there is one. */
export function sync(partnerKey, clickId) {
  try {
    const data = w.growsumo && w.growsumo.data;
    if (data && typeof data == 'object') {
      data.partner_key = data.ps_partner_key = partnerKey ?? null;
      data.ps_xid = clickId ?? null;
    }
  } catch (e) {} // a page's own setter: its business
}

const answered = guard((...args) => rt.answered(...args));

/**
 * import: POSTs `body` to `url` (a CORS simple request with `keepalive`, so it survives the
 * navigation that usually follows a signup; aborted after 10 s) and reports the answer to the
 * module as `answered(token, status, body.status, body.error, network error)`. False if the
 * request could not be started.
 */
export function post(token, url, body) {
  try {
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), 10000);
    const text = (value) => (typeof value == 'string' ? value : undefined);
    fetch(url, { method: 'POST', body, keepalive: true, signal: abort.signal, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } })
      .then(
        (response) =>
          response.json().then(
            (json) => answered(token, response.status, text(json && json.status), text(json && json.error)),
            () => answered(token, response.status),
          ),
        (error) => answered(token, 0, undefined, undefined, (error && error.name) + ': ' + (error && error.message)),
      )
      .finally(() => clearTimeout(timeout));
    return true;
  } catch (e) {
    return false;
  }
}

let timer;
const tick = guard(() => rt.tick());

/** import: arms the one flush timer for `ms` from now (replacing the last), or disarms it (< 0). */
export function arm(ms) {
  clearTimeout(timer);
  if (ms >= 0) timer = setTimeout(tick, ms);
}

let watching;
const navigated = guard(() => rt.navigated());

/**
 * import: watches the URL (single-page apps) and the network. `pushState` and `replaceState` are
 * wrapped once per page: whatever was there (the browser's, another library's wrapper) runs first
 * with the same `this` and arguments, and its result and errors pass through untouched.
 */
export function watch() {
  if (watching) return;
  watching = 1;
  const history = w.history;
  ['pushState', 'replaceState'].forEach((method) => {
    const original = history[method];
    // A second copy of reftrack on the page does not wrap our wrapper.
    if (typeof original != 'function' || original.__reftrack) return;
    (history[method] = function () {
      const result = original.apply(this, arguments);
      navigated();
      return result;
    }).__reftrack = 1;
  });
  w.addEventListener('popstate', navigated);
  w.addEventListener('online', guard(() => rt.online()));
}

// ---- form auto-capture (SPEC §6): the module picks the fields; these read them ----

let capturing;
let form; // the form being submitted, while the module looks at it
const formIds = new WeakMap();
let forms = 0;

/** import: one capture-phase `submit` listener on `document`, so later forms are covered too. */
export function capture() {
  if (capturing) return;
  capturing = 1;
  document.addEventListener(
    'submit',
    guard((event) => {
      const target = event.target;
      if (!target || target.tagName != 'FORM') return;
      if (!formIds.has(target)) formIds.set(target, ++forms);
      form = target;
      try {
        rt.submitted(formIds.get(target));
      } finally {
        form = undefined;
      }
    }),
    true,
  );
}

/** import: whether the submitted form matches `selector` (false for an invalid selector). */
export function formMatches(selector) {
  try {
    return form.matches(selector);
  } catch (e) {
    return false;
  }
}

/**
 * import: the trimmed value of the first field of the submitted form matching `selector` — ""
 * when it is empty, nothing when there is no such field. Only the fields the module names are read.
 */
export function formField(selector) {
  try {
    const field = form.querySelector(selector);
    if (field) return String(field.value ?? '').trim();
  } catch (e) {}
}

// ---- the compatibility globals: growsumo (PartnerStackJS) and po (Partnero Universal) ----

let initRan;
let pageInit; // the page's own growsumoInit, once our once-only wrapper replaced it
let initWrapper;

function pageFunction() {
  const f = w.growsumoInit;
  return typeof f == 'function' && f != initWrapper ? f : undefined;
}

/** Puts a once-only wrapper in place of the page's `growsumoInit` (`_initialize`), so the
 * snippet's own call and the plain-tag timer cannot both run it. */
function wrapPageInit() {
  const f = pageFunction();
  if (f) {
    pageInit = f;
    w.growsumoInit = initWrapper = runPageInit;
  }
}

/** Runs the page's `growsumoInit` at most once; its errors are reported, never passed on. */
function runPageInit() {
  const f = pageInit || pageFunction();
  if (initRan || !f) return;
  initRan = 1;
  pageInit = undefined;
  try {
    f();
  } catch (e) {
    console.error(PREFIX + 'growsumoInit threw:', e);
  }
}

/**
 * Defines `window.growsumo` and `window.po` (keeping what a page set earlier), replays the calls
 * Partnero's stub queued, and arms the plain-tag start.
 *
 * PartnerStack's snippet loads the script asynchronously and, from its `onload`, calls
 * `growsumo._initialize(publicKey)` and then the page's `growsumoInit()`. A page with a plain
 * `<script async>` tag relies on the script calling `growsumoInit` itself. Either way the page's
 * function runs exactly once, after `growsumo.data` is filled: the script's `load` event fires
 * right after the script ran, in the same task, so a zero-delay timer set now fires after the
 * snippet's `onload`. If `_initialize` came first, its once-only wrapper is in place; otherwise
 * the timer starts the tracker and calls `growsumoInit` itself (or on `load`, if the page defines
 * it later).
 */
export function install() {
  const g = (w.growsumo = w.growsumo || {});
  const data = (g.data = g.data || {});
  ['name', 'email', 'customer_key', 'partner_key', 'ps_partner_key', 'ps_xid'].forEach((field) => {
    if (data[field] === undefined) data[field] = null;
  });
  // Even with reftrack off, the once-only wrapper goes in, so the page's function runs once.
  g._initialize = guard((publicKey, options) => {
    rt.init('growsumo._initialize', putAll(CALL, options), typeof publicKey == 'string' ? publicKey : undefined);
    wrapPageInit();
  }, wrapPageInit);
  g.createSignup = guard((callback) => {
    const sent = request(true, (id) => {
      const fields = g.data || {};
      ['customer_key', 'email', 'name'].forEach((name) => put(FIELDS, name, fields[name]));
      rt.signup(id, true);
    });
    return typeof callback == 'function' ? sent.then(calling(callback)) : sent;
  }, (callback) => failedSignup().then(typeof callback == 'function' ? calling(callback) : (r) => r));

  const name = w.__partnerObject || 'po';
  const queued = (w[name] && w[name].q) || [];
  const po = (w[name] = guard(partnero, (command, what) => {
    if (command == 'customers' && what == 'signup') return failedSignup();
  }));
  po.q = [];
  // Each record of Partnero's stub is { a: arguments, q: [] }.
  queued.forEach((record) => po.apply(w, record.a));

  setTimeout(
    guard(() => {
      rt.start();
      runPageInit();
      if (!initRan) w.addEventListener('load', runPageInit);
    }, runPageInit),
  );
}

/** Calls the page's `createSignup` callback once with the result, which is passed on. */
function calling(callback) {
  return (result) => {
    try {
      callback(result);
    } catch (e) {
      console.error(PREFIX + 'the createSignup callback threw:', e);
    }
    return result;
  };
}

/** One `po(command, …)` call of Partnero Universal. */
function partnero(command, what, argument) {
  if (command == 'settings') return; // accepted; none of Partnero's settings apply here
  if (command == 'program' && typeof what == 'string' && what && argument == 'load') return rt.partneroProgram(what);
  if (command == 'customers' && what == 'signup') {
    return request(true, (id) => {
      const data = (argument && argument.data) || {};
      put(FIELDS, 'customer_key', data.key);
      put(FIELDS, 'email', data.email);
      put(FIELDS, 'name', data.name);
      if (data.partner != null) put(FIELDS, 'partner_key', data.partner.key);
      rt.signup(id, true);
    });
  }
  if (command == 'integration' && what == 'universal') return rt.captureForms(undefined);
  rt.unsupported("po('" + command + "', '" + what + "')");
}
