// A small app that uses the npm package as a front-end developer would, bundled by esbuild, Vite,
// webpack 5 and Rollup in tests/e2e/npm.test.mjs. `reftrack` resolves as an installed package.
import { init, partnerKey, clickId, signup } from 'reftrack';

/** Starts reftrack (with the module's URL where the bundler needs it passed) and signs up. */
export async function run(module) {
  const key = new URLSearchParams(location.search).get('customer') || 'npm_customer';
  await init({ publicKey: 'pk_npm_app' }, module);
  window.app = { partnerKey: partnerKey(), clickId: clickId() };
  window.app.result = await signup({ customer_key: key, email: `${key}@example.com`, name: 'Nia Npm' });
  document.body.dataset.done = 'yes';
}

// Vite, webpack and Rollup (with its import-meta-assets plugin) find `reftrack_bg.wasm` by
// themselves; main-esbuild.js passes its URL.
if (!window.esbuildApp) run();
