// The embedded clang (npm @yowasp/clang: clang 22 and wasi-libc compiled to wasm). Needs nothing
// installed; it runs in a virtual file system, so the source and its neighbouring headers are copied in.

import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { commands, Exit, type Tree } from '@yowasp/clang';
import { SledgeError } from '../contract/errors.ts';
import { compileFailure, compileWarnings } from './diagnostics.ts';

export interface CCompileOptions {
  optLevel: 0 | 1 | 2 | 3;
  simd: boolean;
  /** Shadow stack size in bytes (already validated, a multiple of 16). */
  stackSize: number;
}

export interface CCompileResult {
  wasm: Uint8Array<ArrayBuffer>;
  frontend: string;
  warnings: string[];
}

const OUTPUT = '__sledge_out.wasm';
// Headers next to the source are copied into the virtual FS; bounded so a source in a huge
// directory does not copy the world.
const MAX_HEADERS = 512;
const MAX_HEADER_BYTES = 4 << 20;

/** The flags, separate so tests and the manifest can show exactly what was run. */
export function clangArgs(file: string, opts: CCompileOptions): string[] {
  const args = [
    '--target=wasm32-wasip1',
    `-O${opts.optLevel}`,
    // clang 22's "generic" CPU already enables bulk-memory, sign-ext, nontrapping-fptoint,
    // mutable-globals, multivalue and reference-types; V8 supports them all. SIMD stays opt-in.
    ...(opts.simd ? ['-msimd128'] : []),
    // Stack first: an overflow runs below address 0 and traps instead of overwriting static data.
    `-Wl,-z,stack-size=${opts.stackSize}`,
    '-Wl,--stack-first',
    file,
    '-o',
    OUTPUT,
  ];
  return args;
}

const decoder = new TextDecoder();

function collector() {
  const chunks: string[] = [];
  const fn = (bytes: Uint8Array | null) => {
    if (bytes) chunks.push(decoder.decode(bytes, { stream: true }));
  };
  return { fn, text: () => chunks.join('') };
}

// The first call loads ~100 MB of compiler; fetchProgress must be passed to that call or the
// package prints "yowasp-llvm: fetched…" lines. runClang's own "-###" step does not pass it, so
// the loading call is this one, which also tells us the real clang version.
let versionPromise: Promise<string> | undefined;

function packageVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = join(dirname(dirname(require.resolve('@yowasp/clang'))), 'package.json');
    return (require(pkgPath) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function clangVersion(): Promise<string> {
  versionPromise ??= (async () => {
    const out = collector();
    await commands.clang(['--version'], {}, { stdout: out.fn, stderr: out.fn, fetchProgress: () => {} });
    const m = /clang version (\S+)/.exec(out.text());
    return `clang ${m ? m[1] : 'unknown'} (@yowasp/clang ${packageVersion()})`;
  })();
  versionPromise.catch(() => { versionPromise = undefined; });
  return versionPromise;
}

// One compile at a time: each run instantiates a large wasm module, and the machine has 2 cores.
let queue: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

async function neighbourHeaders(dir: string, skip: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return files;
  }
  let count = 0;
  let bytes = 0;
  for (const name of entries) {
    if (!name.endsWith('.h') || name === skip || name === OUTPUT || name === 'tmp') continue;
    try {
      const st = await stat(join(dir, name));
      if (!st.isFile() || bytes + st.size > MAX_HEADER_BYTES || count >= MAX_HEADERS) continue;
      files[name] = await readFile(join(dir, name));
      bytes += st.size;
      count++;
    } catch {
      // An unreadable header only matters if it is included; clang will then say so.
    }
  }
  return files;
}

/**
 * Compiles one C file. `path` is the path as the user gave it (diagnostics use it); `source` is
 * its content, already read by the caller.
 */
export async function compileWithClang(path: string, source: Uint8Array, opts: CCompileOptions): Promise<CCompileResult> {
  const name = basename(path);
  const dir = dirname(path);
  const frontend = await clangVersion().catch((e: unknown) => {
    throw new SledgeError('CC_INTERNAL', `the embedded clang could not start: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'reinstall dependencies with `npm ci` (the @yowasp/clang package may be incomplete)',
      cause: e,
    });
  });
  const files: Tree = { ...(await neighbourHeaders(dir, name)), [name]: source };
  const headerNames = new Set(Object.keys(files));
  // Diagnostics name files as they are in the virtual FS (cwd "/"); show the user's paths instead.
  const mapPath = (f: string) => {
    const rel = f.replace(/^\.?\//, '');
    if (rel === name) return path;
    if (headerNames.has(rel)) return dir === '.' ? rel : join(dir, rel);
    return f;
  };
  const err = collector();
  const out = collector();
  let tree: Tree | undefined;
  try {
    tree = await serialized(async () =>
      commands.clang(clangArgs(name, opts), files, { stdout: out.fn, stderr: err.fn, fetchProgress: () => {} }),
    );
  } catch (e) {
    if (e instanceof Exit) throw compileFailure(path, err.text() + out.text(), { source: path, mapPath });
    throw new SledgeError('CC_INTERNAL', `the embedded clang failed: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'try again; if it persists, build with --cc emcc and report the source that triggers it',
      cause: e,
    });
  }
  const wasm = tree?.[OUTPUT];
  if (!(wasm instanceof Uint8Array)) {
    throw new SledgeError('CC_INTERNAL', `the embedded clang produced no output for ${path}`, {
      hint: 'try again; if it persists, report the source that triggers it',
      details: compileWarnings(err.text(), { source: path, mapPath }),
    });
  }
  return { wasm: new Uint8Array(wasm), frontend, warnings: compileWarnings(err.text(), { source: path, mapPath }) };
}
