// The split build's glue (scripts/bundle.mjs). The delivery module imports the JS functions it
// calls from the glue, not through the first module (scripts/imports.mjs, importsFromGlue). Those
// only it calls leave the landing's script: their entries of wasm-bindgen's imports object move
// into the delivery module's script, as a function the loader calls with the glue's helpers they
// use (decoding strings, the externref table, closures). A helper that only they use moves with
// them.
//
// This reads wasm-bindgen's glue as the pinned wasm-bindgen (Cargo.toml) writes it: each import an
// entry `        name: function(…) {` … `        },` (or `        }, arguments); },` when it goes
// through handleError) of the imports object, each helper a function or variable declared at the
// top level. Anything else stops the build.
import { renameImports } from './imports.mjs';

const escape = (name) => name.replace(/\$/g, '\\$');
/** Uses of the top-level name `name` in `text` (not as a property). */
const uses = (text, name) => new RegExp(`(?<![.\\w$])${escape(name)}(?![\\w$])`).test(text);

/** The glue's top-level declarations: name → its text (functions only; variables map to null). */
function declarations(glue) {
  const found = new Map();
  for (const m of glue.matchAll(/^function (\w+)\([^]*?\n}\n/gm)) found.set(m[1], m[0]);
  for (const m of glue.matchAll(/^(?:let|const|var) ([^;=]+)/gm)) {
    for (const name of m[1].split(',')) found.set(name.trim(), null);
  }
  return found;
}

/**
 * `glue` (minifyImports's output), `second` (the delivery module's bytes), `minified`
 * (minifyImports's names), `guardFields` (the fields the first module imports from js/guard.js).
 * Returns the glue without the entries only the delivery module imports, the delivery module with
 * its imports renamed as the glue's are, the guard fields the delivery module needs too, and
 * `factory`: the source of `function (helpers) { return imports }` for the delivery module's
 * script.
 */
export function splitGlue({ glue, second, minified, guardFields }) {
  const moved = new Map(); // field → short name: imported by the delivery module only
  const guard = new Set(guardFields);
  const wasm = renameImports(second, (module, field) => {
    // The first module's exports, under a module name of one letter: it comes some 150 times.
    if (module === 'primary') return ['f', minified.exports.get(field) ?? field];
    const short = minified.modules.get(module);
    if (!short) throw new Error(`glue-split: the delivery module imports from ${module}, which the first module does not`);
    if (module.includes('/snippets/')) {
      guard.add(field);
      return [short, field];
    }
    if (minified.imports.has(field)) return [short, minified.imports.get(field)];
    if (!moved.has(field)) moved.set(field, `x${moved.size.toString(36)}`);
    return [short, moved.get(field)];
  });

  // The moved entries, out of the glue's imports object.
  const entries = [];
  for (const [field, short] of moved) {
    const entry = new RegExp(`^        ${escape(field)}: (function\\([^]*?\\n        }(?:, arguments\\); })?),?\\n`, 'm');
    const found = glue.match(entry);
    if (!found) throw new Error(`glue-split: no entry ${field} in the glue`);
    glue = glue.replace(entry, '');
    entries.push(`${short}: ${found[1]}`);
  }

  // The helpers the entries use: a function nothing left in the glue uses moves with them (and
  // what it uses in turn); the others are handed over by the glue (`__reftrack_helpers`).
  const declared = declarations(glue);
  const copied = [];
  const handed = [];
  const pending = [entries.join('\n')];
  const seen = new Set(['wasm', 'WASM_VECTOR_LEN']);
  while (pending.length) {
    const text = pending.pop();
    for (const name of declared.keys()) {
      if (seen.has(name) || !uses(text, name)) continue;
      seen.add(name);
      const source = declared.get(name);
      if (source && !uses(glue.replace(source, ''), name)) {
        copied.push(source);
        pending.push(source);
      } else {
        handed.push(name);
      }
    }
  }
  if (handed.includes('passStringToWasm0') === false && entries.join('\n').includes('WASM_VECTOR_LEN')) {
    throw new Error('glue-split: an entry reads WASM_VECTOR_LEN without passStringToWasm0');
  }
  const key = (i) => i.toString(36).replace(/^\d/, (d) => `_${d}`);
  const helpers = `export function __reftrack_helpers() {
  return { __proto__: null, imports: __reftrack_imports, wasm, len: function () { return WASM_VECTOR_LEN; }, ${handed.map((name, i) => `${key(i)}: ${name}`).join(', ')} };
}`;
  const factory = `function (h) {
  var wasm = h.wasm, WASM_VECTOR_LEN${handed.filter((n) => n !== 'passStringToWasm0').map((name) => `, ${name} = h.${key(handed.indexOf(name))}`).join('')};
  ${handed.includes('passStringToWasm0') ? `function passStringToWasm0(arg, malloc, realloc) {
    var ptr = h.${key(handed.indexOf('passStringToWasm0'))}(arg, malloc, realloc);
    WASM_VECTOR_LEN = h.len();
    return ptr;
  }` : ''}
  ${copied.join('\n')}
  return { __proto__: null, ${JSON.stringify(minified.modules.get('./reftrack_bg.js'))}: { __proto__: null, ${entries.join(',\n')} } };
}`;

  // The glue keeps the imports object it instantiated the first module with, for the delivery
  // module's other imports.
  const instantiated = 'const imports = __wbg_get_imports();';
  if (!glue.includes(instantiated)) throw new Error('glue-split: the glue no longer builds its imports as expected');
  glue = `${glue.replace(instantiated, `${instantiated}\n    __reftrack_imports = imports;`)}
let __reftrack_imports;
${helpers}
`;
  return { glue, wasm, guardFields: [...guard], factory, moved: moved.size };
}
