// The npm package's entry point: SPEC §4a over the module. `init()` loads the module once; every
// call goes through the skin's guard (js/host.js), so a module that cannot load, or traps, never
// throws into the page: it warns once and reports `status: "error"`.
import load, * as glue from './reftrack.js';
import { api, bind, fail } from './host.js';

let loading;
let loaded = false;

function ready(module) {
  if (!loading) {
    loading = (typeof WebAssembly == 'object'
      ? load(module === undefined ? undefined : { module_or_path: module })
      : Promise.reject(new Error('this browser has no WebAssembly'))
    ).then(() => {
      bind(glue);
      loaded = true;
    }, fail);
  }
  return loading;
}

/** Once loaded, a call runs at once (a signup's request starts before it returns); before, it waits. */
function whenReady(call) {
  return (...args) => (loaded ? call(...args) : ready().then(() => call(...args)));
}

export function init(options, module) {
  return ready(module).then(() => api.init(options));
}

export const partnerKey = () => api.partnerKey();
export const clickId = () => api.clickId();
export const signup = whenReady(api.signup);
export const flush = whenReady(api.flush);

export function captureForms(selector) {
  whenReady(api.captureForms)(selector);
}

export function consent(granted) {
  whenReady(api.consent)(granted);
}
