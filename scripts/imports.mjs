// Short import names for wasm-bindgen's output. wasm-bindgen names each import after its binding
// plus a 16-digit hash (`__wbg_getItem_5a1b…`), and the name travels twice, in the module's import
// section and as a key of the glue's imports object: some 135 incompressible names. Both builds,
// the script tag's (scripts/bundle.mjs) and the npm package's (scripts/package.mjs), rename them to
// short ones in both places together. Returns the renamed module and glue, and the fields each
// snippet module (js/guard.js) is imported for, which keep their names.
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
  while (at < bytes.length) {
    const id = bytes[at++];
    const sizeAt = at;
    const size = uleb();
    const start = at;
    if (id !== 2) {
      at = start + size;
      continue;
    }
    const renamed = new Map();
    const modules = new Map();
    const fields = new Map(); // snippet module file name → the fields the module imports from it
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
      if (!modules.has(module)) modules.set(module, `m${modules.size}`);
      // wasm-bindgen's own imports are renamed; a snippet's (js/guard.js) are its export names.
      const own = !module.includes('/snippets/');
      const file = module.split('/').pop();
      if (!own) fields.set(file, [...(fields.get(file) ?? []), field]);
      const short = own ? (renamed.get(field) ?? `i${renamed.size.toString(36)}`) : field;
      renamed.set(field, short);
      body.push(...text(modules.get(module)), ...text(short), ...bytes.slice(descStart, at));
    }
    const section = [id, ...encode(body.length), ...body];
    bytes.splice(sizeAt - 1, at - sizeAt + 1, ...section);
    for (const [long, short] of renamed) if (long !== short) glue = glue.replaceAll(long, short);
    for (const [long, short] of modules) glue = glue.replaceAll(`"${long}":`, `"${short}":`);
    return { wasm: Buffer.from(bytes), glue, fields };
  }
  return { wasm, glue, fields: new Map() };
}
