// Emscripten (`emcc` on PATH, e.g. Debian's 3.1.6) in standalone mode: a .wasm that imports only
// wasi_snapshot_preview1, no JS glue.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { SledgeError } from '../contract/errors.ts';
import { WASI_FUNCTIONS, WASI_MODULE } from '../contract/host-abi.ts';
import { readSections } from '../contract/wasm-sections.ts';
import type { CCompileOptions, CCompileResult } from './clang.ts';
import { compileFailure, compileWarnings } from './diagnostics.ts';

const INSTALL_HINT = 'install Emscripten (`apt-get install emscripten`) or build with the embedded clang (--cc clang)';

// Linked into every emcc build so the module imports only WASI:
// - with ALLOW_MEMORY_GROWTH, standalone emscripten calls env.emscripten_notify_memory_growth(i32)
//   after memory.grow so JS can refresh its views; Sledge has none, so a no-op resolves it;
// - emscripten 3.1.x implements getentropy (and so arc4random) in JS; WASI's random_get does it.
const SHIM_C = `#include <errno.h>
#include <stddef.h>
#include <wasi/api.h>
void emscripten_notify_memory_growth(size_t memory_index) { (void)memory_index; }
int getentropy(void *buffer, size_t length) {
  if (length > 256) { errno = EIO; return -1; }
  __wasi_errno_t e = __wasi_random_get(buffer, length);
  if (e != 0) { errno = e; return -1; }
  return 0;
}
`;

// emcc checks every undefined symbol against its JavaScript library, which (in 3.1.x) lacks some
// WASI functions such as random_get. Declaring them there satisfies the check; the module still
// imports them from wasi_snapshot_preview1, and no JavaScript is emitted in standalone mode.
const WASI_LIBRARY_JS = `// sledge: WASI functions the runtime provides
${JSON.stringify(Object.keys(WASI_FUNCTIONS))}.forEach(function (name) {
  if (!(name in LibraryManager.library)) LibraryManager.library[name] = function () { abort(); };
});
`;

/**
 * Where emcc is: $SLEDGE_EMCC if set (a path, or a name looked up on PATH; empty means "none"),
 * otherwise `emcc` on PATH. Returns undefined when it cannot be found.
 */
export function findEmcc(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const wanted = env.SLEDGE_EMCC ?? 'emcc';
  if (wanted === '') return undefined;
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (wanted.includes('/')) return executable(wanted) ? resolve(wanted) : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, wanted);
    if (executable(p)) return p;
  }
  return undefined;
}

export function emccArgs(source: string, output: string, shim: string, jsLibrary: string, opts: CCompileOptions): string[] {
  return [
    `-O${opts.optLevel}`,
    ...(opts.simd ? ['-msimd128'] : []),
    '-sSTANDALONE_WASM',
    '-sALLOW_MEMORY_GROWTH',
    // TOTAL_STACK is the 3.1.x name (STACK_SIZE since 3.1.25 still accepts it).
    `-sTOTAL_STACK=${opts.stackSize}`,
    // As with clang: an overflow runs below address 0 and traps.
    '-Wl,--stack-first',
    '--js-library',
    jsLibrary,
    source,
    shim,
    '-o',
    output,
  ];
}

interface RunResult { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((done, fail) => {
    execFile(cmd, args, { env, maxBuffer: 64 << 20, timeout: 10 * 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        if (error.code === 'ENOENT' || error.code === 'EACCES') {
          fail(new SledgeError('CC_NOT_INSTALLED', `cannot run emcc at ${cmd}: ${error.code}`, { hint: INSTALL_HINT }));
        } else {
          fail(new SledgeError('CC_INTERNAL', `emcc did not finish: ${error.killed ? 'timed out' : error.message}`, {
            hint: 'check that `emcc -v` works in a shell',
            cause: error,
          }));
        }
        return;
      }
      done({ code: error ? (error.code as number) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function emccEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // The sanity check writes a stamp into the cache and prints chatter on first run; skip it.
  return { ...process.env, EMCC_SKIP_SANITY_CHECK: '1', ...extra };
}

// A cache the user can write, for installs whose default cache is read-only (not Debian's: its
// cache is prebuilt and FROZEN, and pointing EM_CACHE elsewhere would break it).
function writableCache(): string {
  return join(tmpdir(), `sledge-emcc-cache-${process.getuid?.() ?? 'user'}`);
}
const CACHE_TROUBLE = /(PermissionError|Permission denied|Read-only file system|EACCES)[^\n]*cache|cache[^\n]*(PermissionError|Permission denied|Read-only file system)/i;

const versions = new Map<string, Promise<string>>();
export function emccVersion(emcc: string): Promise<string> {
  let v = versions.get(emcc);
  if (!v) {
    v = run(emcc, ['--version'], emccEnv()).then((r) => {
      const m = /emcc \(Emscripten[^)]*\) (\d+\.\d+\.\d+)/.exec(r.stdout) ?? /(\d+\.\d+\.\d+)/.exec(r.stdout);
      return `emcc ${m ? m[1] : 'unknown'}`;
    });
    v.catch(() => versions.delete(emcc));
    versions.set(emcc, v);
  }
  return v;
}

function leb(bytes: Uint8Array, pos: number): [number, number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[pos++]!;
    v += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [v, pos];
  }
}

/** module.name of every import (emcc's output is trusted to be well formed). */
export function importNames(wasm: Uint8Array): string[] {
  const sec = readSections(wasm, 'emcc output').find((s) => s.id === 2);
  if (!sec) return [];
  const dec = new TextDecoder();
  let pos = sec.payloadStart;
  let count: number;
  [count, pos] = leb(wasm, pos);
  const names: string[] = [];
  const str = (): string => {
    let len: number;
    [len, pos] = leb(wasm, pos);
    const s = dec.decode(wasm.subarray(pos, pos + len));
    pos += len;
    return s;
  };
  const limits = () => {
    const flags = wasm[pos++]!;
    [, pos] = leb(wasm, pos);
    if (flags & 1) [, pos] = leb(wasm, pos);
  };
  for (let i = 0; i < count; i++) {
    const module = str();
    const name = str();
    const kind = wasm[pos++]!;
    if (kind === 0) [, pos] = leb(wasm, pos);
    else if (kind === 1) { pos++; limits(); }
    else if (kind === 2) limits();
    else if (kind === 3) pos += 2;
    else break;
    names.push(`${module}.${name}`);
  }
  return names;
}

// What pulls Emscripten's JavaScript glue into a standalone module, in the user's terms.
function explainGlue(name: string): string {
  const field = name.slice(name.indexOf('.') + 1);
  if (/^(invoke_|setTempRet0|getTempRet0|_emscripten_throw_longjmp|emscripten_longjmp|saveSetjmp|testSetjmp)/.test(field)) return `${name} (setjmp/longjmp)`;
  if (/^_(tzset|localtime|gmtime|mktime|timegm)_js$/.test(field)) return `${name} (time zone functions such as localtime, mktime)`;
  if (field.startsWith('__syscall_')) return `${name} (a system call WASI does not have)`;
  return `${name} (an Emscripten JavaScript library function)`;
}

/** Compiles one C file with emcc. `path` is the user's path (emcc runs in the current directory). */
export async function compileWithEmcc(path: string, opts: CCompileOptions, env: NodeJS.ProcessEnv = process.env): Promise<CCompileResult> {
  const emcc = findEmcc(env);
  if (!emcc) {
    const where = env.SLEDGE_EMCC ? `SLEDGE_EMCC=${env.SLEDGE_EMCC} is not an executable` : 'emcc is not on PATH';
    throw new SledgeError('CC_NOT_INSTALLED', `--cc emcc was requested but ${where}`, { hint: INSTALL_HINT });
  }
  const frontend = await emccVersion(emcc);
  const work = await mkdtemp(join(tmpdir(), 'sledge-emcc-'));
  try {
    const shim = join(work, 'sledge_emcc_shim.c');
    const output = join(work, 'out.wasm');
    const jsLibrary = join(work, 'sledge_wasi_library.js');
    await writeFile(shim, SHIM_C);
    await writeFile(jsLibrary, WASI_LIBRARY_JS);
    const source = isAbsolute(path) ? path : `./${path}`.replace(/^\.\/\.\//, './');
    const args = emccArgs(source, output, shim, jsLibrary, opts);
    let r = await run(emcc, args, emccEnv({ TMPDIR: work }));
    if (r.code !== 0 && env.EM_CACHE === undefined && CACHE_TROUBLE.test(r.stderr)) {
      r = await run(emcc, args, emccEnv({ TMPDIR: work, EM_CACHE: writableCache() }));
    }
    // emcc names files as reached from `source` ("./src/x.h"); show them as the user wrote the path.
    const mapPath = (f: string) => (f === source ? path : f.startsWith('./') && !path.startsWith('./') ? f.slice(2) : f);
    if (r.code !== 0) throw compileFailure(path, r.stderr + r.stdout, { source: path, mapPath });
    let wasm: Uint8Array<ArrayBuffer>;
    try {
      wasm = new Uint8Array(await readFile(output));
    } catch {
      throw new SledgeError('CC_INTERNAL', `emcc reported success but wrote no ${output}`, {
        hint: 'check that `emcc -v` works in a shell',
        details: r.stderr.split('\n').filter((l) => l.trim() !== '').slice(-20),
      });
    }
    const glue = importNames(wasm).filter((n) => !n.startsWith(`${WASI_MODULE}.`));
    if (glue.length > 0) {
      throw new SledgeError('CC_UNSUPPORTED', `${path}: emcc output needs Emscripten's JavaScript glue, which Sledge does not provide`, {
        hint: 'avoid the functions listed, or build with the embedded clang (--cc clang)',
        details: glue.map(explainGlue),
      });
    }
    return { wasm, frontend, warnings: compileWarnings(r.stderr, { source: path, mapPath }) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
