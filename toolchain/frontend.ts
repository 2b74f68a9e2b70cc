// The one entry point from a source file to a wasm module: picks the front end by extension.

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { SledgeError } from '../contract/errors.ts';
import { compileWithClang } from './clang.ts';
import { compileWithEmcc } from './emcc.ts';
import { compileWat } from './wat.ts';

export type SourceKind = 'c' | 'wasm' | 'wat';

export interface FrontendOptions {
  cc?: 'clang' | 'emcc';
  optLevel: 0 | 1 | 2 | 3;
  simd: boolean;
  /** Shadow stack in bytes; default 1 MiB (clang's 64 KiB default is too small for real programs). */
  stackSize?: number;
}

export interface FrontendResult {
  /** ArrayBuffer-backed, so it goes straight to WebAssembly.compile. */
  wasm: Uint8Array<ArrayBuffer>;
  kind: SourceKind;
  /** Name and version of the tool used, e.g. "clang 22.1.0 (@yowasp/clang 22.0.0-git20542-10)", "none". */
  frontend: string;
  /** The stack size compiled in (C only). */
  stackSize?: number;
  /** Compiler warnings as `file:line:col: warning: message` lines, for the CLI to print. */
  warnings?: string[];
}

export const DEFAULT_STACK_SIZE = 1 << 20;
const MIN_STACK = 4096;
const MAX_STACK = 256 << 20;

const KINDS: Record<string, SourceKind> = { '.c': 'c', '.wasm': 'wasm', '.wat': 'wat' };

export function sourceKind(path: string): SourceKind {
  const ext = extname(path).toLowerCase();
  const kind = KINDS[ext];
  if (kind) return kind;
  const cxx = ['.cc', '.cpp', '.cxx', '.c++'].includes(ext);
  throw new SledgeError('SOURCE_KIND', `${path}: ${ext ? `unknown source kind "${ext}"` : 'no file extension'}`, {
    hint: cxx
      ? 'C++ is not supported yet; sledgec builds .c, .wat and .wasm files'
      : 'sledgec builds .c (C), .wat (WebAssembly text) and .wasm (WebAssembly binary) files',
  });
}

function stackSizeOf(opts: FrontendOptions): number {
  const s = opts.stackSize ?? DEFAULT_STACK_SIZE;
  if (!Number.isInteger(s) || s < MIN_STACK || s > MAX_STACK) {
    throw new SledgeError('STACK_SIZE', `stack size ${s} is out of range`, {
      hint: `give a whole number of bytes between ${MIN_STACK} and ${MAX_STACK} (default ${DEFAULT_STACK_SIZE})`,
    });
  }
  // The wasm C ABI keeps the stack pointer 16-byte aligned.
  return Math.ceil(s / 16) * 16;
}

async function readSource(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    // A plain, exact-size copy: Buffer's slice() shares memory, and pooled Buffers share an ArrayBuffer.
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file'
      : code === 'EISDIR' ? 'it is a directory'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : (e as Error).message;
    throw new SledgeError('SOURCE_UNREADABLE', `cannot read ${path}: ${why}`, {
      hint: 'check the path and that the file is readable',
    });
  }
}

export async function compileSource(path: string, opts: FrontendOptions): Promise<FrontendResult> {
  const kind = sourceKind(path);
  if (![0, 1, 2, 3].includes(opts.optLevel)) {
    throw new SledgeError('OPT_LEVEL', `optimization level ${String(opts.optLevel)} is not one of 0, 1, 2, 3`, {
      hint: 'use -O0, -O1, -O2 or -O3',
    });
  }
  if (opts.cc !== undefined && opts.cc !== 'clang' && opts.cc !== 'emcc') {
    throw new SledgeError('CC_UNKNOWN', `unknown C compiler "${String(opts.cc)}"`, { hint: 'use --cc clang (embedded, the default) or --cc emcc' });
  }
  const source = await readSource(path);
  if (kind === 'wasm') return { wasm: source, kind, frontend: 'none' };
  if (kind === 'wat') {
    const r = await compileWat(path, source);
    return { wasm: r.wasm, kind, frontend: r.frontend };
  }
  const cOpts = { optLevel: opts.optLevel, simd: opts.simd, stackSize: stackSizeOf(opts) };
  const r = opts.cc === 'emcc' ? await compileWithEmcc(path, cOpts) : await compileWithClang(path, source, cOpts);
  return { wasm: r.wasm, kind, frontend: r.frontend, stackSize: cOpts.stackSize, warnings: r.warnings };
}
