// A small app that uses the npm package as a front-end developer would; bundled by esbuild in
// tests/e2e/npm.test.mjs.
import { init, partnerKey, clickId, signup } from 'reftrack';

const key = new URLSearchParams(location.search).get('customer') || 'npm_customer';
await init({ publicKey: 'pk_npm_app' });
window.app = { partnerKey: partnerKey(), clickId: clickId() };
window.app.result = await signup({ customer_key: key, email: `${key}@example.com`, name: 'Nia Npm' });
document.body.dataset.done = 'yes';
