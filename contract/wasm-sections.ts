// Just enough of the WebAssembly binary format to find, strip and append custom sections without
// parsing the module: the loader reads manifests this way, with no compiler library at start-up.

import { SledgeError } from './errors.ts';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const VERSION = [0x01, 0x00, 0x00, 0x00];

export interface Section {
  id: number;
  /** Custom section name (id 0 only). */
  name?: string;
  /** Byte range of the whole section, header included. */
  start: number;
  end: number;
  /** Byte range of the payload (after the name, for custom sections). */
  payloadStart: number;
}

function readU32(bytes: Uint8Array, pos: number, where: string): [number, number] {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (pos >= bytes.length) throw truncated(where);
    const b = bytes[pos++]!;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result >>> 0, pos];
    shift += 7;
  }
  throw new SledgeError('WASM_MALFORMED', `${where}: malformed LEB128 length`, { hint: 'the file is corrupt; rebuild it' });
}

function truncated(where: string): SledgeError {
  return new SledgeError('WASM_TRUNCATED', `${where}: the WebAssembly file is truncated`, {
    hint: 'the file was cut short (an interrupted copy?); copy or build it again',
  });
}

export function isWasm(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && MAGIC.every((b, i) => bytes[i] === b);
}

/** Lists the sections of a module. Throws coded errors for a non-wasm or truncated file. */
export function readSections(bytes: Uint8Array, where: string): Section[] {
  if (!isWasm(bytes)) {
    throw new SledgeError('NOT_WASM', `${where}: not a WebAssembly file (no \\0asm header)`, {
      hint: 'pass a .c, .wat or .wasm file (or a bundle built by sledgec build)',
    });
  }
  if (!VERSION.every((b, i) => bytes[4 + i] === b)) {
    throw new SledgeError('WASM_VERSION', `${where}: unsupported WebAssembly binary version`, { hint: 'only version 1 modules are supported' });
  }
  const sections: Section[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const start = pos;
    const id = bytes[pos++]!;
    let size: number;
    [size, pos] = readU32(bytes, pos, where);
    const end = pos + size;
    if (end > bytes.length) throw truncated(where);
    const s: Section = { id, start, end, payloadStart: pos };
    if (id === 0) {
      let len: number;
      [len, pos] = readU32(bytes, pos, where);
      if (pos + len > end) throw truncated(where);
      s.name = new TextDecoder().decode(bytes.subarray(pos, pos + len));
      s.payloadStart = pos + len;
    }
    sections.push(s);
    pos = end;
  }
  return sections;
}

export function customSection(bytes: Uint8Array, sections: Section[], name: string): Uint8Array | undefined {
  const s = sections.find((x) => x.id === 0 && x.name === name);
  return s ? bytes.subarray(s.payloadStart, s.end) : undefined;
}

/** The module with every custom section whose name passes `drop` removed. */
export function stripCustomSections(bytes: Uint8Array, sections: Section[], drop: (name: string) => boolean): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const s of sections) if (!(s.id === 0 && drop(s.name!))) parts.push(bytes.subarray(s.start, s.end));
  return concat(parts);
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function encodeCustomSection(name: string, payload: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const body = concat([Uint8Array.from(leb(nameBytes.length)), nameBytes, payload]);
  return concat([Uint8Array.of(0), Uint8Array.from(leb(body.length)), body]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  // A single part is returned as it is, without a copy.
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
