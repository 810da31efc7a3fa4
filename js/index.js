// The npm package's entry point: SPEC §4a over wasm-bindgen's module. `init()` loads the module
// once; every call is guarded so that a module that cannot load, or traps, never throws into the
// page: it warns once and reports `status: "error"`.
import load, * as wasm from './reftrack.js';
import { safety } from './safety.js';

let loading;
let loaded = false;
const { failed, errorResult, guard } = safety();

function ready(module) {
  if (!loading) {
    loading = (typeof WebAssembly == 'object'
      ? load(module === undefined ? undefined : { module_or_path: module })
      : Promise.reject(new Error('this browser has no WebAssembly'))
    ).then(() => {
      wasm.setGuard(guard);
      loaded = true;
    }, failed);
  }
  return loading;
}

export function init(options, module) {
  return ready(module).then(() => guard(wasm.init, () => undefined)(options)).then(() => undefined);
}

export function partnerKey() {
  return loaded ? guard(wasm.partnerKey, () => null)() : null;
}

export function clickId() {
  return loaded ? guard(wasm.clickId, () => null)() : null;
}

export function signup(input) {
  const send = () => guard(wasm.signup, () => Promise.resolve(errorResult()))(input);
  // Once loaded, the request starts before this returns (so a navigation right after loses nothing).
  return loaded ? send() : ready().then(send);
}

export function captureForms(selector) {
  if (loaded) guard(wasm.captureForms)(selector);
  else ready().then(() => guard(wasm.captureForms)(selector));
}

export function consent(granted) {
  if (loaded) guard(wasm.consent)(granted);
  else ready().then(() => guard(wasm.consent)(granted));
}

export function flush() {
  return ready().then(() => guard(wasm.flush, () => undefined)());
}
