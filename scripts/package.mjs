// Turns wasm-bindgen's pkg/ into the npm package `reftrack`: the hand-written entry point and types
// from js/, and a package.json with exports, types, files and sideEffects.
import { readFileSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { minifyImports } from './imports.mjs';

const root = new URL('..', import.meta.url);
const at = (path) => new URL(path, root);
const workspace = JSON.parse(readFileSync(at('package.json')));

for (const file of ['index.js', 'guard.js', 'index.d.ts', 'types.d.ts', 'globals.d.ts']) copyFileSync(at(`js/${file}`), at(`pkg/${file}`));
rmSync(at('pkg/.gitignore'), { force: true });
// The glue imports the guard from the copy wasm-bindgen made under snippets/; index.js imports
// ./guard.js. One module instance: the glue imports ./guard.js too.
const named = readFileSync(at('pkg/reftrack.js'), 'utf8');
// wasm-bindgen's hashed import names renamed to short ones in the module and the glue together,
// as in the script-tag build: 2.5 KB gzip of the .wasm that the page fetches.
const { wasm, glue, exports } = minifyImports(readFileSync(at('pkg/reftrack_bg.wasm')), named);
writeFileSync(at('pkg/reftrack_bg.wasm'), wasm);
// The module's declared exports follow the renaming.
let declared = readFileSync(at('pkg/reftrack_bg.wasm.d.ts'), 'utf8');
for (const [long, short] of exports) declared = declared.replace(new RegExp(`\\b${long}\\b`, 'g'), short);
writeFileSync(at('pkg/reftrack_bg.wasm.d.ts'), declared);
writeFileSync(at('pkg/reftrack.js'), glue.replace(/(from\s*)(["'])\.\/snippets\/[^"']*\/js\/guard\.js\2/g, "$1'./guard.js'"));
rmSync(at('pkg/snippets'), { recursive: true, force: true });

const manifest = {
  name: 'reftrack',
  version: workspace.version,
  description: 'Partner/affiliate referral tracking for websites: a drop-in for PartnerStackJS and Partnero Universal, in Rust compiled to WebAssembly.',
  license: 'MIT OR Apache-2.0',
  repository: { type: 'git', url: 'https://github.com/reftrack/reftrack' },
  type: 'module',
  main: './index.js',
  module: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', import: './index.js', default: './index.js' },
    './globals': { types: './globals.d.ts' },
    './reftrack_bg.wasm': './reftrack_bg.wasm',
    './package.json': './package.json',
  },
  files: ['README.md', 'index.js', 'guard.js', 'index.d.ts', 'types.d.ts', 'globals.d.ts', 'reftrack.js', 'reftrack.d.ts', 'reftrack_bg.wasm', 'reftrack_bg.wasm.d.ts'],
  // Importing reftrack does nothing until init() is called.
  sideEffects: false,
  keywords: ['affiliate', 'referral', 'partnerstack', 'partnero', 'attribution', 'webassembly'],
};
writeFileSync(at('pkg/package.json'), JSON.stringify(manifest, null, 2) + '\n');
