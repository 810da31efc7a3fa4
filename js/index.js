// The npm package's entry point: contract §4a over the module. `init()` loads the module once; every
// call goes through the guard (js/guard.js), so a module that cannot load, or traps, never throws
// into the page: it warns once and answers harmlessly (`status: "error"` for signups).
import load, * as glue from './reftrack.js';
import { fail, guard } from './guard.js';

let loading;
let loaded = false;
const api = {};
['init', 'partnerKey', 'clickId', 'signup', 'flush', 'captureForms', 'consent'].forEach((name) => {
  api[name] = guard((...args) => glue[name](...args), name);
});

function ready(module) {
  if (!loading) {
    const loaded_ = typeof WebAssembly == 'object'
      ? load(module === undefined ? undefined : { module_or_path: module })
      : Promise.reject(new Error('this browser has no WebAssembly'));
    loading = loaded_.then(() => {
      loaded = true;
    }, fail);
  }
  return loading;
}

/** Once loaded, a call runs at once (a signup is queued before it returns); before, it waits. */
const whenReady = (name) => (...args) => (loaded ? api[name](...args) : ready().then(() => api[name](...args)));

export function init(options, module) {
  return ready(module).then(() => api.init(options));
}

export const partnerKey = () => (loaded ? api.partnerKey() : null);
export const clickId = () => (loaded ? api.clickId() : null);
export const signup = whenReady('signup');
export const flush = whenReady('flush');

export function captureForms(selector) {
  whenReady('captureForms')(selector);
}

export function consent(granted) {
  whenReady('consent')(granted);
}
