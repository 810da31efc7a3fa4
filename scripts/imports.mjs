// Short names for wasm-bindgen's output. wasm-bindgen names each import after its binding plus a
// 16-digit hash (`__wbg_getItem_5a1b…`), and the name travels twice, in the module's import section
// and as a key of the glue's imports object: some 135 incompressible names. The exports that only
// the glue calls are named the same way (the closure adapters
// `wasm_bindgen__convert__closures_____invoke__h…`, `__wbindgen_malloc`, …). Both builds, the
// script tag's (scripts/bundle.mjs) and the npm package's (scripts/package.mjs), rename them to
// short ones in the module and the glue together; the API's exports keep their names. Returns the
// renamed module and glue, the fields each snippet module (js/guard.js) is imported for, which keep
// their names, and the exports renamed (long name → short).
export function minifyImports(wasm, glue) {
  const bytes = [...wasm];
  let at = 8; // magic and version
  const uleb = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[at++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const encode = (n) => {
    const out = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    return out;
  };
  const name = () => {
    const length = uleb();
    const text = Buffer.from(bytes.slice(at, at + length)).toString('utf8');
    at += length;
    return text;
  };
  const text = (value) => [...encode(Buffer.byteLength(value)), ...Buffer.from(value)];
  const renamed = new Map(); // import field → short name
  const modules = new Map(); // import module → short name
  const fields = new Map(); // snippet module file name → the fields the module imports from it
  const exports = new Map(); // export only the glue calls → short name

  /** The import section's entries, renamed. */
  function imports() {
    const count = uleb();
    const body = encode(count);
    for (let i = 0; i < count; i++) {
      const module = name();
      const field = name();
      const descStart = at;
      const kind = bytes[at++];
      if (kind === 0) uleb(); // function: type index
      else if (kind === 1) { at++; const flags = uleb(); uleb(); if (flags & 1) uleb(); } // table
      else if (kind === 2) { const flags = uleb(); uleb(); if (flags & 1) uleb(); } // memory
      else if (kind === 3) at += 2; // global: type, mutability
      else throw new Error(`minifyImports: import kind ${kind}`);
      // Only what the glue provides is renamed (its key and its fields, in both): a name found
      // nowhere in the glue, a bare number say, would otherwise be replaced inside its text.
      if (!glue.includes(`"${module}":`)) {
        body.push(...text(module), ...text(field), ...bytes.slice(descStart, at));
        continue;
      }
      if (!modules.has(module)) modules.set(module, `m${modules.size}`);
      // wasm-bindgen's own imports are renamed; a snippet's (js/guard.js) are its export names.
      const own = !module.includes('/snippets/');
      const file = module.split('/').pop();
      if (!own) fields.set(file, [...(fields.get(file) ?? []), field]);
      const short = own ? (renamed.get(field) ?? `i${renamed.size.toString(36)}`) : field;
      renamed.set(field, short);
      body.push(...text(modules.get(module)), ...text(short), ...bytes.slice(descStart, at));
    }
    return body;
  }

  /** The export section's entries, the glue's own renamed. */
  function exported() {
    const count = uleb();
    const body = encode(count);
    for (let i = 0; i < count; i++) {
      const field = name();
      const descStart = at;
      at++; // kind
      uleb(); // index
      const own = /^(__wbindgen_|__externref_|wasm_bindgen__)/.test(field);
      if (own && !exports.has(field)) exports.set(field, `w${exports.size.toString(36)}`);
      body.push(...text(own ? exports.get(field) : field), ...bytes.slice(descStart, at));
    }
    return body;
  }

  while (at < bytes.length) {
    const sectionAt = at;
    const id = bytes[at++];
    const size = uleb();
    const start = at;
    if (id !== 2 && id !== 7) {
      at = start + size;
      continue;
    }
    const body = id === 2 ? imports() : exported();
    if (at !== start + size) throw new Error(`minifyImports: section ${id} read ${at - start} of ${size} bytes`);
    const section = [id, ...encode(body.length), ...body];
    bytes.splice(sectionAt, at - sectionAt, ...section);
    at = sectionAt + section.length;
  }
  for (const [long, short] of renamed) if (long !== short) glue = glue.replaceAll(long, short);
  for (const [long, short] of modules) glue = glue.replaceAll(`"${long}":`, `"${short}":`);
  // Whole names only: one export's name may begin another's.
  for (const [long, short] of exports) glue = glue.replace(new RegExp(`\\b${long}\\b`, 'g'), short);
  return { wasm: Buffer.from(bytes), glue, fields, exports };
}

/**
 * The split build's second module imports from the first (`primary`), some of it by the names
 * `minifyImports` shortened in the first (`exports`, long name → short): those imports are renamed
 * alike, so the second module links against the first as it is embedded.
 */
export function renamePrimaryImports(wasm, exports) {
  const bytes = [...wasm];
  let at = 8;
  const uleb = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[at++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const encode = (n) => {
    const out = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    return out;
  };
  const text = (value) => [...encode(Buffer.byteLength(value)), ...Buffer.from(value)];
  const name = () => {
    const length = uleb();
    at += length;
    return Buffer.from(bytes.slice(at - length, at)).toString('utf8');
  };
  while (at < bytes.length) {
    const sectionAt = at;
    const id = bytes[at++];
    const size = uleb();
    if (id !== 2) {
      at += size;
      continue;
    }
    const count = uleb();
    const body = encode(count);
    for (let i = 0; i < count; i++) {
      const module = name();
      const field = name();
      const descStart = at;
      const kind = bytes[at++];
      if (kind === 0) uleb();
      else if (kind === 1) { at++; const flags = uleb(); uleb(); if (flags & 1) uleb(); }
      else if (kind === 2) { const flags = uleb(); uleb(); if (flags & 1) uleb(); }
      else if (kind === 3) at += 2;
      const renamed = module === 'primary' ? (exports.get(field) ?? field) : field;
      body.push(...text(module), ...text(renamed), ...bytes.slice(descStart, at));
    }
    const section = [id, ...encode(body.length), ...body];
    bytes.splice(sectionAt, at - sectionAt, ...section);
    break;
  }
  return Buffer.from(bytes);
}
