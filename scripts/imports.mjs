// Short names for wasm-bindgen's output. wasm-bindgen names each import after its binding plus a
// 16-digit hash (`__wbg_getItem_5a1b…`), and the name travels twice, in the module's import section
// and as a key of the glue's imports object: some 135 incompressible names. The exports that only
// the glue calls are named the same way (the closure adapters
// `wasm_bindgen__convert__closures_____invoke__h…`, `__wbindgen_malloc`, …). Both builds, the
// script tag's (scripts/bundle.mjs) and the npm package's (scripts/package.mjs), rename them to
// short ones in the module and the glue together; the API's exports keep their names. Returns the
// renamed module and glue, the fields each snippet module (js/guard.js) is imported for, which keep
// their names, the exports renamed (long name → short), and the imports' fields and modules renamed
// (long → short).
export function minifyImports(wasm, glue) {
  const bytes = [...wasm];
  const read = reader(bytes);
  const renamed = new Map(); // import field → short name
  const modules = new Map(); // import module → short name
  const fields = new Map(); // snippet module file name → the fields the module imports from it
  const exports = new Map(); // export only the glue calls → short name

  /** An import's new names. Only what the glue provides is renamed (its key and its fields, in
   * both): a name found nowhere in the glue, a bare number say, would otherwise be replaced inside
   * its text. */
  function rename(module, field) {
    if (!glue.includes(`"${module}":`)) return [module, field];
    if (!modules.has(module)) modules.set(module, `m${modules.size}`);
    // wasm-bindgen's own imports are renamed; a snippet's (js/guard.js) are its export names.
    const own = !module.includes('/snippets/');
    const file = module.split('/').pop();
    if (!own) fields.set(file, [...(fields.get(file) ?? []), field]);
    const short = own ? (renamed.get(field) ?? `i${renamed.size.toString(36)}`) : field;
    renamed.set(field, short);
    return [modules.get(module), short];
  }

  /** The export section's entries, the glue's own renamed. */
  function exported() {
    const count = read.uleb();
    const body = encode(count);
    for (let i = 0; i < count; i++) {
      const field = read.name();
      const descStart = read.at;
      read.at++; // kind
      read.uleb(); // index
      const own = /^(__wbindgen_|__externref_|wasm_bindgen__)/.test(field);
      // The split build's exports to its second module (`%…`, scripts/split.mjs): one or two
      // letters, none `w` (the glue's own) nor as long as an API method's name.
      const split = field.startsWith('%');
      if (own && !exports.has(field)) exports.set(field, `w${exports.size.toString(36)}`);
      if (split && !exports.has(field)) exports.set(field, letters(splits++));
      body.push(...text(own || split ? exports.get(field) : field), ...bytes.slice(descStart, read.at));
    }
    return body;
  }
  let splits = 0;

  rewrite(bytes, read, (id) => (id === 2 ? read.imports(rename) : id === 7 ? exported() : null));
  for (const [long, short] of renamed) if (long !== short) glue = glue.replaceAll(long, short);
  for (const [long, short] of modules) glue = glue.replaceAll(`"${long}":`, `"${short}":`);
  // Whole names only: one export's name may begin another's.
  for (const [long, short] of exports) if (!long.startsWith('%')) glue = glue.replace(new RegExp(`\\b${long}\\b`, 'g'), short);
  return { wasm: Buffer.from(bytes), glue, fields, exports, imports: renamed, modules };
}

/** `wasm` with each import renamed by `rename(module, field)` → `[module, field]`. */
export function renameImports(wasm, rename) {
  const bytes = [...wasm];
  const read = reader(bytes);
  rewrite(bytes, read, (id) => (id === 2 ? read.imports(rename) : null));
  return Buffer.from(bytes);
}

/**
 * The split build's halves (wasm-split's output) with the second module importing the JS functions
 * it calls from the glue itself, not through the first module: wasm-split has the first module
 * re-export each of its imports the second calls (`%…`), so the landing page carried the glue of
 * every import the delivery code uses. Now the first module no longer exports them, so the
 * optimizer drops those only the second calls, and scripts/bundle.mjs moves their glue into the
 * delivery module's script. Returns the two modules rewritten.
 */
export function importsFromGlue(first, second) {
  // The first module's imported functions, by index, and its exports of them.
  const one = [...first];
  const read = reader(one);
  const functions = [];
  const reexported = new Map(); // export name → [module, field]
  function exported() {
    const count = read.uleb();
    const kept = [];
    for (let i = 0; i < count; i++) {
      const start = read.at;
      const field = read.name();
      const kind = one[read.at++];
      const index = read.uleb();
      if (kind === 0 && index < functions.length && field.startsWith('%')) reexported.set(field, functions[index]);
      else kept.push(...one.slice(start, read.at));
    }
    return [...encode(count - reexported.size), ...kept];
  }
  rewrite(one, read, (id) => {
    if (id === 2) {
      const body = read.imports((module, field) => [module, field]);
      const again = reader(body);
      again.at = 0;
      for (let count = again.uleb(); count > 0; count--) {
        const names = [again.name(), again.name()];
        if (body[again.at] === 0) functions.push(names);
        again.importDescription();
      }
      return body;
    }
    return id === 7 ? exported() : null;
  });
  const two = [...second];
  const rename = (module, field) => (module === 'primary' && reexported.has(field) ? reexported.get(field) : [module, field]);
  const readTwo = reader(two);
  rewrite(two, readTwo, (id) => (id === 2 ? readTwo.imports(rename) : null));
  return { first: Buffer.from(one), second: Buffer.from(two), moved: reexported.size };
}

/** The `n`th name of one or two letters without `w`. */
function letters(n) {
  const alphabet = 'abcdefghijklmnopqrstuvxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const size = alphabet.length;
  if (n >= size * (size + 1)) throw new Error('imports.mjs: more exports to the second module than two letters name');
  return n < size ? alphabet[n] : alphabet[Math.floor(n / size) - 1] + alphabet[n % size];
}

/** A LEB128 number's bytes. */
function encode(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** A name's bytes: its length, then its UTF-8. */
const text = (value) => [...encode(Buffer.byteLength(value)), ...Buffer.from(value)];

/** Reads `bytes` from `at` (past the magic and version): numbers, names, an import's description. */
function reader(bytes) {
  const read = { at: 8 };
  read.uleb = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[read.at++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  read.name = () => {
    const length = read.uleb();
    read.at += length;
    return Buffer.from(bytes.slice(read.at - length, read.at)).toString('utf8');
  };
  /** What follows an import's names (a function's type, a table, a memory or a global), as is. */
  read.importDescription = () => {
    const start = read.at;
    const kind = bytes[read.at++];
    if (kind === 0) read.uleb(); // function: type index
    else if (kind === 1) { read.at++; const flags = read.uleb(); read.uleb(); if (flags & 1) read.uleb(); } // table
    else if (kind === 2) { const flags = read.uleb(); read.uleb(); if (flags & 1) read.uleb(); } // memory
    else if (kind === 3) read.at += 2; // global: type, mutability
    else throw new Error(`imports.mjs: import kind ${kind}`);
    return bytes.slice(start, read.at);
  };
  /** The import section's entries, each renamed by `rename(module, field)` → `[module, field]`. */
  read.imports = (rename) => {
    const count = read.uleb();
    const body = encode(count);
    for (let i = 0; i < count; i++) {
      const [module, field] = rename(read.name(), read.name());
      body.push(...text(module), ...text(field), ...read.importDescription());
    }
    return body;
  };
  return read;
}

/** Replaces, in place, each section for which `body(id)` (reading it through `read`) returns new
 * contents; the others are kept as they are. */
function rewrite(bytes, read, body) {
  while (read.at < bytes.length) {
    const sectionAt = read.at;
    const id = bytes[read.at++];
    const size = read.uleb();
    const start = read.at;
    const contents = body(id);
    if (!contents) {
      read.at = start + size;
      continue;
    }
    if (read.at !== start + size) throw new Error(`imports.mjs: section ${id} read ${read.at - start} of ${size} bytes`);
    const section = [id, ...encode(contents.length), ...contents];
    bytes.splice(sectionAt, read.at - sectionAt, ...section);
    read.at = sectionAt + section.length;
  }
}
