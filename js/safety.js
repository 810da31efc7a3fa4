// Host-page safety, shared by the script-tag loader (scripts/bundle.mjs inlines this file) and
// the npm entry point (js/index.js imports it): once the module cannot run or traps, reftrack turns
// itself off, says so once, and every call answers harmlessly.
export function safety() {
  var broken;
  function failed(error) {
    if (!broken) {
      broken = error || 'unknown error';
      console.warn('[reftrack] not running: ' + broken);
    }
  }
  function errorResult() {
    return { ok: false, status: 'error', event_id: null, error: 'reftrack is not running: ' + broken };
  }
  // Calls f unless reftrack is off; a trap (a Rust panic) turns reftrack off instead of reaching
  // the page. Other errors (the page's own, passing through a wrapper) are rethrown untouched.
  function guard(f, fallback) {
    return function () {
      if (!broken) {
        try {
          return f.apply(this, arguments);
        } catch (e) {
          if (!(e instanceof WebAssembly.RuntimeError)) throw e;
          failed(e);
        }
      }
      return fallback && fallback.apply(this, arguments);
    };
  }
  return { failed: failed, errorResult: errorResult, guard: guard, isBroken: function () { return !!broken; } };
}
