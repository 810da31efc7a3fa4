// The esbuild set-up the README gives: the module imported as a file (`loader: { '.wasm': 'file' }`)
// and its URL passed to init(), since esbuild does not bundle `new URL(…, import.meta.url)`.
import wasm from 'reftrack/reftrack_bg.wasm';

window.esbuildApp = true;
const { run } = await import('./app.js');
await run(wasm);
