// The split build's constant data (scripts/split.mjs). wasm-split cuts functions only: every data
// segment stays in the first module, so the landing page carried the delivery code's strings too
// (form selectors, delivery warnings, the signup body's field names, panic locations). This moves
// each read-only object that no function of the landing's module can reach into the second module,
// as an active segment at the same address of the shared memory: it is written there when the
// delivery module is instantiated, before any of its code runs.
//
// Which function refers to which object is read from the linker, not guessed from constants: the
// split build links with `--emit-relocs` (scripts/build.sh), so its module keeps the linker's
// symbol table (each object's segment, offset and size) and its relocations (each address written
// into a function or into another object). An object stays in the first module when a function
// kept there, or an object that stays, refers to it. The linked module names functions by their
// mangled symbols and wasm-bindgen's output by demangled ones; binutils' c++filt demangles Rust's
// legacy and v0 symbols as wasm-bindgen does. A function of the first module that the linked
// module does not have must be one wasm-bindgen made (its shims and intrinsics, which hold no
// addresses); any other stops the build.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** Relocation types that write a memory address (wasm tool-conventions, Linking.md). */
const MEMORY_ADDRESS = new Set([3, 4, 5, 11, 14, 15, 16, 17, 21, 23]);
const WITH_ADDEND = new Set([3, 4, 5, 8, 9, 11, 14, 15, 16, 17, 21, 22, 23, 25]);
/** Moved bytes closer than this are one segment in the second module (a segment's header costs
 * about as much); the bytes between are written again with the values they have. */
const JOIN = 8;

/** A cursor over a module's bytes. */
function cursor(bytes, at = 8) {
  const read = { at };
  read.uleb = () => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[read.at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  read.sleb = () => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[read.at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return byte & 0x40 ? value - 2 ** shift : value;
  };
  read.name = () => {
    const length = read.uleb();
    read.at += length;
    return bytes.subarray(read.at - length, read.at).toString('utf8');
  };
  /** Each section as { id, name (custom sections), start, end, at (where its header begins) }. */
  read.sections = () => {
    const list = [];
    read.at = 8;
    while (read.at < bytes.length) {
      const at = read.at;
      const id = bytes[read.at++];
      const end = read.uleb() + read.at;
      const start = read.at;
      list.push({ id, name: id === 0 ? read.name() : undefined, start, end, at });
      read.at = end;
    }
    return list;
  };
  return read;
}

/** The data section's active segments: address, where the bytes are in `bytes`, their length. */
function segmentsOf(bytes, section) {
  const read = cursor(bytes, section.start);
  const segments = [];
  for (let count = read.uleb(); count > 0; count--) {
    const flags = read.uleb();
    let address;
    if (flags !== 1) {
      if (flags === 2) read.uleb();
      if (bytes[read.at++] !== 0x41) throw new Error('split-data: a data segment whose offset is not an i32.const');
      address = read.sleb();
      read.at++; // end
    }
    const length = read.uleb();
    segments.push({ address, pos: read.at, length });
    read.at += length;
  }
  return segments;
}

/** What the linked module says: functions (mangled names, code ranges), data symbols, the
 * segments (address, name) and the relocations. */
function readLinked(path) {
  const bytes = readFileSync(path);
  const read = cursor(bytes);
  const sections = read.sections();
  const section = (id, name) => sections.find((s) => s.id === id && s.name === name);
  let imported = 0;
  read.at = section(2).start;
  for (let count = read.uleb(); count > 0; count--) {
    read.name(); read.name();
    const kind = bytes[read.at++];
    if (kind === 0) { imported++; read.uleb(); }
    else if (kind === 1) { read.at++; const flags = read.uleb(); read.uleb(); if (flags & 1) read.uleb(); }
    else if (kind === 2) { const flags = read.uleb(); read.uleb(); if (flags & 1) read.uleb(); }
    else if (kind === 3) read.at += 2;
    else throw new Error(`split-data: import kind ${kind}`);
  }
  const code = section(10);
  const bodies = [];
  read.at = code.start;
  for (let count = read.uleb(); count > 0; count--) {
    const size = read.uleb();
    bodies.push(read.at - code.start);
    read.at += size;
  }
  const data = section(11);
  const segments = segmentsOf(bytes, data).map((s) => ({ ...s, offset: s.pos - data.start }));
  const names = new Map();
  const nameSection = section(0, 'name');
  if (!nameSection) throw new Error(`split-data: ${path} has no name section`);
  for (read.at = nameSection.start, read.name(); read.at < nameSection.end;) {
    const id = bytes[read.at++];
    const end = read.uleb() + read.at;
    if (id === 1) for (let count = read.uleb(); count > 0; count--) names.set(read.uleb(), read.name());
    read.at = end;
  }
  const linking = section(0, 'linking');
  if (!linking) throw new Error(`split-data: ${path} was not linked with --emit-relocs (no linking section)`);
  const symbols = [];
  for (read.at = linking.start, read.name(), read.uleb(); read.at < linking.end;) {
    const type = bytes[read.at++];
    const end = read.uleb() + read.at;
    if (type === 5) { // segment info
      let i = 0;
      for (let count = read.uleb(); count > 0; count--, i++) {
        segments[i].name = read.name();
        read.uleb(); read.uleb();
      }
    } else if (type === 8) { // symbol table
      for (let count = read.uleb(); count > 0; count--) {
        const kind = bytes[read.at++];
        const flags = read.uleb();
        const undefined_ = flags & 0x10;
        if (kind === 1) {
          read.name();
          symbols.push(undefined_ ? {} : { data: true, segment: read.uleb(), offset: read.uleb(), size: read.uleb() });
        } else if (kind === 3) {
          read.uleb();
          symbols.push({});
        } else {
          read.uleb();
          if (!undefined_ || flags & 0x40) read.name();
          symbols.push({});
        }
      }
    }
    read.at = end;
  }
  /** A relocation section's memory addresses: where each is written, and its object. */
  const relocations = (name) => {
    const list = [];
    const s = section(0, name);
    if (!s) return list;
    read.at = s.start;
    read.name();
    read.uleb(); // the section it applies to
    for (let count = read.uleb(); count > 0; count--) {
      const type = bytes[read.at++];
      const offset = read.uleb();
      const symbol = read.uleb();
      if (WITH_ADDEND.has(type)) read.sleb();
      if (MEMORY_ADDRESS.has(type) && symbols[symbol]?.data) list.push({ offset, symbol });
    }
    return list;
  };
  return { bytes, imported, bodies, segments, names, symbols, code: relocations('reloc.CODE'), data: relocations('reloc.DATA') };
}

/** The index of the last of the sorted `starts` at or before `value`. */
function lastAtOrBefore(starts, value) {
  let low = 0, high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= value) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** A name as wasm-bindgen's output and c++filt both write it, without binaryen's `[n]` for a
 * repeated name. */
const plain = (name) => name.replace(/\\([0-9a-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))).replace(/\[\d{1,3}\]$/, '');
/** What wasm-bindgen makes itself: adapters (`… shim`) and the intrinsics it writes. */
const MADE_BY_BINDGEN = / shim$|^__wbindgen_|^__externref_/;

/** The linked module's functions (index in its function space) for each demangled name; an
 * export's symbol (`name_<hash>`) under the export's name too. */
function functionsByName(linked) {
  const indices = [...linked.names.keys()].filter((i) => i >= linked.imported).sort((a, b) => a - b);
  const demangled = execFileSync('c++filt', { input: indices.map((i) => linked.names.get(i)).join('\n') + '\n',
    encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n');
  const byName = new Map();
  const add = (name, index) => byName.set(name, [...(byName.get(name) ?? []), index]);
  indices.forEach((index, i) => add(plain(demangled[i]), index));
  indices.forEach((index, i) => {
    const exported = demangled[i].match(/^(\w+)_[0-9a-f]{16}$/);
    if (exported && !byName.has(exported[1])) add(exported[1], index);
  });
  return byName;
}

/** The read-only bytes to move: runs of [address, end) that no kept function or kept object
 * refers to. `kept`: the first module's functions, as wasm-split names them. */
function movable(linked, kept) {
  const byName = functionsByName(linked);
  const keptFunctions = new Set();
  for (const name of kept) {
    const found = byName.get(plain(name));
    if (found) for (const index of found) keptFunctions.add(index);
    else if (!MADE_BY_BINDGEN.test(plain(name))) {
      throw new Error(`split-data: the landing's module has ${plain(name)}, which the linked module does not; ` +
        'the data it refers to cannot be known');
    }
  }
  const { segments, symbols } = linked;
  const addressOf = (s) => segments[s.segment].address + s.offset;
  // Each object and the objects whose addresses it holds.
  const byAddress = symbols.map((s, i) => [s, i]).filter(([s]) => s.data).sort(([a], [b]) => addressOf(a) - addressOf(b));
  const starts = byAddress.map(([s]) => addressOf(s));
  const holds = new Map();
  for (const { offset, symbol } of linked.data) {
    const segment = segments.find((s) => offset >= s.offset && offset < s.offset + s.length);
    const address = segment.address + offset - segment.offset;
    // Aliases and enclosing objects may cover the address too: every object that covers it
    // holds the reference (all those starting before it are looked at, however large).
    for (let i = lastAtOrBefore(starts, address); i >= 0; i--) {
      const [s, index] = byAddress[i];
      if (address < addressOf(s) + s.size) holds.set(index, [...(holds.get(index) ?? []), symbol]);
    }
  }
  const needed = new Set();
  const stack = [];
  for (const { offset, symbol } of linked.code) {
    if (keptFunctions.has(linked.imported + lastAtOrBefore(linked.bodies, offset))) stack.push(symbol);
  }
  while (stack.length) {
    const symbol = stack.pop();
    if (needed.has(symbol)) continue;
    needed.add(symbol);
    stack.push(...(holds.get(symbol) ?? []));
  }
  const runs = [];
  segments.forEach((segment, index) => {
    if (!segment.name?.startsWith('.rodata')) return;
    const state = new Uint8Array(segment.length); // 0: no object, 1: to move, 2: needed
    symbols.forEach((s, i) => {
      if (!s.data || s.segment !== index) return;
      for (let at = s.offset; at < s.offset + s.size; at++) state[at] = Math.max(state[at], needed.has(i) ? 2 : 1);
    });
    for (let at = 0; at < segment.length; at++) {
      if (state[at] !== 1) continue;
      const start = at;
      while (at < segment.length && state[at] !== 2 && (state[at] === 1 || state.subarray(at, at + JOIN).includes(1))) at++;
      let end = at;
      while (state[end - 1] !== 1) end--;
      runs.push([segment.address + start, segment.address + end, state.subarray(start, end)]);
    }
  });
  return runs;
}

/** Removes the linker's sections (`linking`, `reloc.*`) from wasm-bindgen's output of the linked
 * module: they describe the module before wasm-bindgen changed it. */
export function stripLinking(path) {
  const bytes = readFileSync(path);
  const sections = cursor(bytes).sections();
  const kept = sections.filter((s) => !(s.id === 0 && (s.name === 'linking' || s.name.startsWith('reloc.'))));
  if (kept.length === sections.length) return;
  writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), ...kept.map((s) => bytes.subarray(s.at, s.end))]));
}

const leb = (n, signed) => {
  const out = [];
  for (;;) {
    const byte = n & 0x7f;
    n = signed ? n >> 7 : n >>> 7;
    if (signed ? (n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40) : n === 0) return [...out, byte];
    out.push(byte | 0x80);
  }
};

/**
 * Moves the read-only objects the first module cannot reach from `first` into `second` (paths of
 * wasm-split's output, rewritten in place). `linked`: the cargo build's module, linked with
 * `--emit-relocs`; `kept`: the first module's functions. Returns the bytes moved.
 */
export function cutData({ linked: linkedPath, kept, first, second }) {
  const linked = readLinked(linkedPath);
  const runs = movable(linked, kept);

  // The bytes as the linker wrote them; the first module must have the same at each address.
  const linkedByte = (address) => {
    const segment = linked.segments.find((s) => address >= s.address && address < s.address + s.length);
    return segment ? linked.bytes[segment.pos + address - segment.address] : 0;
  };

  // The first module: the moved bytes zeroed where they were (binaryen's memory packing then
  // leaves them out).
  const one = readFileSync(first);
  let moved = 0;
  for (const segment of segmentsOf(one, cursor(one).sections().find((s) => s.id === 11))) {
    for (const [start, end, state] of runs) {
      for (let address = Math.max(start, segment.address); address < Math.min(end, segment.address + segment.length); address++) {
        const at = segment.pos + address - segment.address;
        if (one[at] !== linkedByte(address)) throw new Error(`split-data: the first module's byte at ${address} is not the linked module's`);
        if (state[address - start] === 1) { one[at] = 0; moved++; }
      }
    }
  }
  writeFileSync(first, one);

  // The second module: one active segment per run, in a data section after its code.
  const two = readFileSync(second);
  const twoSections = cursor(two).sections();
  if (twoSections.some((s) => s.id === 11 || s.id === 12)) throw new Error('split-data: the second module has data already');
  const body = [...leb(runs.length)];
  for (const [start, end] of runs) {
    const bytes = [];
    for (let address = start; address < end; address++) bytes.push(linkedByte(address));
    body.push(0, 0x41, ...leb(start, true), 0x0b, ...leb(bytes.length), ...bytes);
  }
  const code = twoSections.find((s) => s.id === 10);
  const section = Buffer.from([11, ...leb(body.length), ...body]);
  writeFileSync(second, Buffer.concat([two.subarray(0, code.end), section, two.subarray(code.end)]));
  return moved;
}
