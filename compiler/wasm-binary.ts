// The module's interface (types, imports, memories, exports) read and rewritten at the section
// level. Binaryen's JS API can neither list memories nor set a memory's limits, and the ABI check
// must see every import kind, so these few sections are handled here, byte for byte; function
// bodies are left to Binaryen.

import { SledgeError } from '../contract/errors.ts';
import { concat, readSections, type Section } from '../contract/wasm-sections.ts';

export const SEC = { custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8, element: 9, code: 10, data: 11, datacount: 12, tag: 13 } as const;

/** Canonical order of the known sections (tag sits between memory and global). */
const ORDER: number[] = [SEC.type, SEC.import, SEC.function, SEC.table, SEC.memory, SEC.tag, SEC.global, SEC.export, SEC.start, SEC.element, SEC.datacount, SEC.code, SEC.data];

export const KIND = { func: 0, table: 1, memory: 2, global: 3, tag: 4 } as const;
const KIND_NAMES = ['func', 'table', 'memory', 'global', 'tag'] as const;
export type KindName = (typeof KIND_NAMES)[number];

export interface Limits {
  min: number;
  max?: number;
  shared: boolean;
  is64: boolean;
  /** Custom page sizes proposal: log2 of the page size, when given. */
  pageSizeLog2?: number;
}

export interface Signature {
  params: string[];
  results: string[];
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: KindName;
  /** func and tag imports. */
  typeIndex?: number;
  /** memory and table imports. */
  limits?: Limits;
  /** table element type or global value type, for messages. */
  valueType?: string;
  mutable?: boolean;
  /** The entry's bytes, reused verbatim when the section is rewritten. */
  raw: Uint8Array;
}

export interface ExportEntry {
  name: string;
  kind: KindName;
  index: number;
}

export interface ModuleInfo {
  sections: Section[];
  /** Function types by index; null for a type this reader does not model (GC rec groups…). */
  types: (Signature | null)[];
  imports: ImportEntry[];
  /** Memories defined by the module (not imported). */
  memories: Limits[];
  exports: ExportEntry[];
}

class Reader {
  bytes: Uint8Array;
  pos: number;
  end: number;
  where: string;
  constructor(bytes: Uint8Array, pos: number, end: number, where: string) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
    this.where = where;
  }
  byte(): number {
    if (this.pos >= this.end) throw malformed(this.where, 'unexpected end of section');
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw malformed(this.where, 'bad LEB128');
  }
  /** u64 LEB as a JS number (exact below 2^53; memory64 limits only need to be recognised). */
  u64(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw malformed(this.where, 'bad LEB128');
  }
  s33(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - mul : result;
    }
    throw malformed(this.where, 'bad LEB128');
  }
  name(): string {
    const n = this.u32();
    if (this.pos + n > this.end) throw malformed(this.where, 'name runs past its section');
    const s = new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function malformed(where: string, what: string): SledgeError {
  return new SledgeError('WASM_MALFORMED', `${where}: malformed WebAssembly module (${what})`, { hint: 'the file is corrupt; rebuild it' });
}

const VALTYPES: Record<number, string> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128',
  0x70: 'funcref', 0x6f: 'externref', 0x69: 'exnref', 0x6e: 'anyref', 0x6d: 'eqref', 0x6c: 'i31ref',
  0x6b: 'structref', 0x6a: 'arrayref', 0x71: 'nullref', 0x72: 'nullexternref', 0x73: 'nullfuncref', 0x74: 'nullexnref',
};

function valType(r: Reader): string {
  const b = r.byte();
  if (b === 0x63 || b === 0x64) {
    const ht = r.s33();
    return `(ref ${b === 0x63 ? 'null ' : ''}${ht >= 0 ? ht : (VALTYPES[ht & 0x7f] ?? ht)})`;
  }
  const t = VALTYPES[b];
  if (!t) throw malformed(r.where, `unknown value type 0x${b.toString(16)}`);
  return t;
}

function limits(r: Reader): Limits {
  const flags = r.byte();
  const is64 = (flags & 0x04) !== 0;
  const min = is64 ? r.u64() : r.u32();
  const l: Limits = { min, shared: (flags & 0x02) !== 0, is64 };
  if (flags & 0x01) l.max = is64 ? r.u64() : r.u32();
  if (flags & 0x08) l.pageSizeLog2 = r.u32();
  return l;
}

export function readModuleInfo(bytes: Uint8Array, where: string, sections: Section[] = readSections(bytes, where)): ModuleInfo {
  const info: ModuleInfo = { sections, types: [], imports: [], memories: [], exports: [] };
  for (const s of sections) {
    const r = new Reader(bytes, s.payloadStart, s.end, where);
    if (s.id === SEC.type) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const form = r.byte();
        if (form !== 0x60) {
          // GC type forms (rec/sub/struct/array): not modelled; such modules are refused later.
          info.types.push(null);
          r.pos = s.end;
          break;
        }
        const params: string[] = [];
        for (let k = r.u32(); k > 0; k--) params.push(valType(r));
        const results: string[] = [];
        for (let k = r.u32(); k > 0; k--) results.push(valType(r));
        info.types.push({ params, results });
      }
    } else if (s.id === SEC.import) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const start = r.pos;
        const module = r.name();
        const name = r.name();
        const kindByte = r.byte();
        const kind = KIND_NAMES[kindByte];
        if (!kind) throw malformed(where, `unknown import kind ${kindByte}`);
        const e: ImportEntry = { module, name, kind, raw: bytes.subarray(0, 0) };
        if (kind === 'func') e.typeIndex = r.u32();
        else if (kind === 'table') {
          e.valueType = valType(r);
          e.limits = limits(r);
        } else if (kind === 'memory') e.limits = limits(r);
        else if (kind === 'global') {
          e.valueType = valType(r);
          e.mutable = r.byte() === 1;
        } else {
          r.byte();
          e.typeIndex = r.u32();
        }
        e.raw = bytes.subarray(start, r.pos);
        info.imports.push(e);
      }
    } else if (s.id === SEC.memory) {
      for (let n = r.u32(); n > 0; n--) info.memories.push(limits(r));
    } else if (s.id === SEC.export) {
      for (let n = r.u32(); n > 0; n--) {
        const name = r.name();
        const kindByte = r.byte();
        const kind = KIND_NAMES[kindByte];
        if (!kind) throw malformed(where, `unknown export kind ${kindByte}`);
        info.exports.push({ name, kind, index: r.u32() });
      }
    }
  }
  return info;
}

export function signatureText(sig: Signature | null | undefined): string {
  if (!sig) return '(unknown type)';
  return `(${sig.params.join(', ')}) -> (${sig.results.join(', ')})`;
}

// ---- writing -------------------------------------------------------------------------------

export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function encodeName(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  return concat([Uint8Array.from(leb(b.length)), b]);
}

export function encodeLimits(l: { min: number; max?: number; shared?: boolean }): Uint8Array {
  const flags = (l.max !== undefined ? 1 : 0) | (l.shared ? 2 : 0);
  return Uint8Array.from([flags, ...leb(l.min), ...(l.max !== undefined ? leb(l.max) : [])]);
}

export function encodeMemoryImport(module: string, name: string, l: { min: number; max?: number; shared?: boolean }): Uint8Array {
  return concat([encodeName(module), encodeName(name), Uint8Array.of(KIND.memory), encodeLimits(l)]);
}

export function encodeExport(e: ExportEntry): Uint8Array {
  return concat([encodeName(e.name), Uint8Array.of(KIND[e.kind]), Uint8Array.from(leb(e.index))]);
}

/** A whole section from its entries (vector encoding). */
export function encodeVectorSection(id: number, entries: Uint8Array[]): Uint8Array {
  const body = concat([Uint8Array.from(leb(entries.length)), ...entries]);
  return concat([Uint8Array.of(id), Uint8Array.from(leb(body.length)), body]);
}

/**
 * The module with the known sections in `replace` swapped for new bytes (null removes the section).
 * A replaced section that did not exist is inserted at its place in the canonical order.
 */
export function rewriteSections(bytes: Uint8Array, sections: Section[], replace: Map<number, Uint8Array | null>): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  const pending = new Map(replace);
  const flushBefore = (id: number): void => {
    // Insert pending new sections that come before `id` in the canonical order.
    const rank = ORDER.indexOf(id);
    for (const [pid, b] of [...pending]) {
      if (ORDER.indexOf(pid) < rank) {
        if (b) parts.push(b);
        pending.delete(pid);
      }
    }
  };
  for (const s of sections) {
    if (s.id !== SEC.custom) flushBefore(s.id);
    if (s.id !== SEC.custom && pending.has(s.id)) {
      const b = pending.get(s.id)!;
      pending.delete(s.id);
      if (b) parts.push(b);
      continue;
    }
    parts.push(bytes.subarray(s.start, s.end));
  }
  for (const b of pending.values()) if (b) parts.push(b);
  return concat(parts);
}

/** Skips a constant expression (MVP and extended-const forms) up to and including its `end`. */
function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42) r.u64(); // i32/i64.const: a signed LEB is skipped like an unsigned one
    else if (op === 0x23) r.u32(); // global.get
    else if (![0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e].includes(op)) throw malformed(r.where, `unexpected opcode 0x${op.toString(16)} in a data segment offset`);
  }
}

/**
 * The module with every active data segment made passive, keeping its index and bytes, plus the
 * data count section that memory.init needs (the instance-reset pass: sledge_init copies the
 * segments in instead of instantiation).
 */
export function makeDataPassive(bytes: Uint8Array, where: string): Uint8Array {
  const sections = readSections(bytes, where);
  const data = sections.find((s) => s.id === SEC.data);
  if (!data) return bytes;
  const r = new Reader(bytes, data.payloadStart, data.end, where);
  const entries: Uint8Array[] = [];
  for (let n = r.u32(); n > 0; n--) {
    const kind = r.u32();
    if (kind === 2) r.u32(); // memory index: memory.init names the memory instead
    if (kind === 0 || kind === 2) skipConstExpr(r);
    else if (kind !== 1) throw malformed(where, `unknown data segment kind ${kind}`);
    const length = r.u32();
    if (r.pos + length > r.end) throw malformed(where, 'data segment runs past its section');
    entries.push(concat([Uint8Array.of(1), Uint8Array.from(leb(length)), bytes.subarray(r.pos, r.pos + length)]));
    r.pos += length;
  }
  const replace = new Map<number, Uint8Array | null>([[SEC.data, encodeVectorSection(SEC.data, entries)]]);
  if (!sections.some((s) => s.id === SEC.datacount)) {
    const count = Uint8Array.from(leb(entries.length));
    replace.set(SEC.datacount, concat([Uint8Array.of(SEC.datacount), Uint8Array.from(leb(count.length)), count]));
  }
  return rewriteSections(bytes, sections, replace);
}
