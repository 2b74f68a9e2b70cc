// Toolchain front ends with the real compilers: the embedded clang, wabt, and emcc when installed.
// Modules are run for real with a tiny WASI shim (test only; the runtime has its own WASI layer).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SledgeError } from '../contract/errors.ts';
import { isHostFunction, WASI_MODULE } from '../contract/host-abi.ts';
import { parseDiagnostics } from '../toolchain/diagnostics.ts';
import { findEmcc } from '../toolchain/emcc.ts';
import { compileSource, sourceKind, type FrontendOptions } from '../toolchain/frontend.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'c');
const O3: FrontendOptions = { optLevel: 3, simd: false };
const hasEmcc = findEmcc() !== undefined;
const tmp = mkdtempSync(join(tmpdir(), 'sledge-toolchain-test-'));
const SLOW = 120_000;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

class Exit { code: number; constructor(code: number) { this.code = code; } }

/** Runs a WASI command: args, stdout/stderr capture, proc_exit; everything else answers ENOTSUP. */
async function runWasi(wasm: Uint8Array<ArrayBuffer>, args: string[]): Promise<{ code: number; stdout: string }> {
  const module = await WebAssembly.compile(wasm);
  let memory!: WebAssembly.Memory;
  const out: number[] = [];
  const enc = new TextEncoder();
  const argBytes = args.map((a) => enc.encode(a + '\0'));
  const view = () => new DataView(memory.buffer);
  const impl: Record<string, (...a: any[]) => number | void> = {
    args_sizes_get(argc: number, size: number) {
      view().setUint32(argc, args.length, true);
      view().setUint32(size, argBytes.reduce((n, b) => n + b.length, 0), true);
      return 0;
    },
    args_get(argv: number, buf: number) {
      for (const [i, b] of argBytes.entries()) {
        view().setUint32(argv + 4 * i, buf, true);
        new Uint8Array(memory.buffer, buf, b.length).set(b);
        buf += b.length;
      }
      return 0;
    },
    environ_sizes_get(count: number, size: number) {
      view().setUint32(count, 0, true);
      view().setUint32(size, 0, true);
      return 0;
    },
    environ_get: () => 0,
    fd_write(fd: number, iovs: number, n: number, written: number) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        const ptr = view().getUint32(iovs + 8 * i, true);
        const len = view().getUint32(iovs + 8 * i + 4, true);
        if (fd === 1) out.push(...new Uint8Array(memory.buffer, ptr, len));
        total += len;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    proc_exit(code: number) {
      throw new Exit(code);
    },
  };
  const wasi: Record<string, Function> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === WASI_MODULE) wasi[imp.name] = impl[imp.name] ?? (() => 58);
  }
  const instance = await WebAssembly.instantiate(module, { [WASI_MODULE]: wasi });
  memory = instance.exports.memory as WebAssembly.Memory;
  let code = 0;
  try {
    (instance.exports._start as () => void)();
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    code = e.code;
  }
  return { code, stdout: new TextDecoder().decode(new Uint8Array(out)) };
}

async function sledgeError(p: Promise<unknown>): Promise<SledgeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SledgeError) return e;
    throw e;
  }
  throw new Error('expected a SledgeError');
}

function expectOnlyWasiImports(wasm: Uint8Array<ArrayBuffer>) {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm));
  expect(imports.length).toBeGreaterThan(0);
  for (const i of imports) {
    expect(i.module, `${i.module}.${i.name}`).toBe(WASI_MODULE);
    expect(isHostFunction(i.module, i.name), `${i.module}.${i.name} is in the host ABI`).toBeDefined();
  }
}

describe('sourceKind', () => {
  it('goes by extension', () => {
    expect(sourceKind('fn.c')).toBe('c');
    expect(sourceKind('dir/fn.wasm')).toBe('wasm');
    expect(sourceKind('FN.WAT')).toBe('wat');
  });
  it('refuses anything else with SOURCE_KIND and a hint', () => {
    for (const p of ['fn.cpp', 'fn.rs', 'Makefile']) {
      const e = (() => { try { sourceKind(p); } catch (x) { return x; } })();
      expect(e).toBeInstanceOf(SledgeError);
      expect((e as SledgeError).code).toBe('SOURCE_KIND');
      expect((e as SledgeError).hint).toMatch(/\.c.*\.wat.*\.wasm/);
    }
  });
});

describe('embedded clang', () => {
  it('compiles hello.c to a WASI command that runs', { timeout: SLOW }, async () => {
    const r = await compileSource(join(FIXTURES, 'hello.c'), O3);
    expect(r.kind).toBe('c');
    expect(r.frontend).toMatch(/^clang \d+\.\d+\.\d+ \(@yowasp\/clang \S+\)$/);
    expect(r.stackSize).toBe(1 << 20);
    expectOnlyWasiImports(r.wasm);
    expect(WebAssembly.Module.exports(new WebAssembly.Module(r.wasm)).map((e) => e.name)).toEqual(
      expect.arrayContaining(['memory', '_start']),
    );
    expect(await runWasi(r.wasm, ['hello'])).toEqual({ code: 0, stdout: 'Hello, World!\n' });
  });

  it('builds compute kernels that agree with native gcc', { timeout: SLOW }, async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'compute', 'expected.json'), 'utf8'));
    for (const k of ['crc32', 'sha256', 'matmul']) {
      const r = await compileSource(join(FIXTURES, 'compute', `${k}.c`), { optLevel: 2, simd: true });
      expect(await runWasi(r.wasm, [k, expected[k].smallArg])).toEqual({ code: 0, stdout: expected[k].smallOutput });
    }
  });

  it('puts the stack first, so an overflow traps; the size is configurable', { timeout: SLOW }, async () => {
    const src = join(FIXTURES, 'recursion.c');
    const big = await compileSource(src, O3);
    expect(await runWasi(big.wasm, ['recursion', '100'])).toEqual({ code: 0, stdout: '5050\n' });
    await expect(runWasi(big.wasm, ['recursion'])).rejects.toThrow(/memory access out of bounds/);
    // 100 frames of ~1 KiB do not fit in 64 KiB.
    const small = await compileSource(src, { ...O3, stackSize: 65536 });
    expect(small.stackSize).toBe(65536);
    await expect(runWasi(small.wasm, ['recursion', '100'])).rejects.toThrow(/memory access out of bounds/);
  });

  it('reports a syntax error as CC_ERROR with file:line:col, headers next to the source included', { timeout: SLOW }, async () => {
    const dir = mkdtempSync(join(tmp, 'cc-'));
    writeFileSync(join(dir, 'util.h'), 'static int twice(int x) { return 2 * x; }\nint broken = ;\n');
    writeFileSync(join(dir, 'fn.c'), '#include <stdio.h>\n#include "util.h"\nint main(void) {\n  printf("%d\\n", twice(2))\n  return 0;\n}\n');
    const e = await sledgeError(compileSource(join(dir, 'fn.c'), O3));
    expect(e.code).toBe('CC_ERROR');
    expect(e.message).toBe(`${join(dir, 'fn.c')}: compilation failed (2 errors)`);
    expect(e.hint).toBe('fix the errors above and build again');
    expect(e.details).toEqual([
      `${join(dir, 'util.h')}:2:14: error: expected expression`,
      `${join(dir, 'fn.c')}:4:27: error: expected ';' after expression`,
    ]);
  });

  it('reports an undefined function as CC_ERROR naming the symbol', { timeout: SLOW }, async () => {
    const p = join(tmp, 'undef.c');
    writeFileSync(p, 'int helper(int);\nint main(void) { return helper(1); }\n');
    const e = await sledgeError(compileSource(p, O3));
    expect(e.code).toBe('CC_ERROR');
    expect(e.details).toEqual([`${p}: error: undefined symbol: helper`]);
  });

  it('refuses an absurd stack size', async () => {
    const e = await sledgeError(compileSource(join(FIXTURES, 'empty.c'), { ...O3, stackSize: 12 }));
    expect(e.code).toBe('STACK_SIZE');
  });
});

describe('wat and wasm', () => {
  it('compiles .wat with modern features (SIMD, multi-memory, bulk memory)', { timeout: SLOW }, async () => {
    const p = join(tmp, 'ok.wat');
    writeFileSync(p, `(module
  (memory $a 1) (memory $b 1)
  (func (export "sum") (param i32 i32) (result i32)
    (memory.fill $b (i32.const 0) (i32.const 7) (i32.const 16))
    (i32x4.extract_lane 2 (i32x4.add (i32x4.splat (local.get 0)) (i32x4.splat (local.get 1))))
    (i32.load8_u $b (i32.const 3))
    i32.add))
`);
    const r = await compileSource(p, O3);
    expect(r.kind).toBe('wat');
    expect(r.frontend).toMatch(/^wabt \d+\.\d+\.\d+$/);
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(r.wasm));
    expect((instance.exports.sum as (a: number, b: number) => number)(40, 2)).toBe(49);
  });

  it('reports bad .wat as WAT_PARSE with file:line:col', async () => {
    const p = join(tmp, 'bad.wat');
    writeFileSync(p, '(module\n  (func (export "f") (result i32)\n    (i32.add (i32.const 1) (i32.cnst 2))))\n');
    const e = await sledgeError(compileSource(p, O3));
    expect(e.code).toBe('WAT_PARSE');
    expect(e.details.length).toBeGreaterThan(0);
    expect(e.details[0]).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: error: `));
    expect(e.hint).toBeTruthy();
  });

  it('reports a type error in .wat (validation) as WAT_PARSE too', async () => {
    const p = join(tmp, 'invalid.wat');
    writeFileSync(p, '(module\n  (func (result i32)\n    (i32.add (i32.const 1))))\n');
    const e = await sledgeError(compileSource(p, O3));
    expect(e.code).toBe('WAT_PARSE');
    expect(e.details[0]).toMatch(/invalid\.wat:3:6: error: type mismatch/);
  });

  it('passes .wasm through unchanged', async () => {
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const p = join(tmp, 'empty.wasm');
    writeFileSync(p, bytes);
    const r = await compileSource(p, O3);
    expect(r).toMatchObject({ kind: 'wasm', frontend: 'none' });
    expect(r.wasm).toEqual(bytes);
  });

  it('reports a missing file as SOURCE_UNREADABLE', async () => {
    const e = await sledgeError(compileSource(join(tmp, 'nope.wasm'), O3));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toMatch(/no such file/);
  });
});

describe('emcc', () => {
  it.skipIf(!hasEmcc)('builds hello.c into a module that imports only WASI and runs', { timeout: SLOW }, async () => {
    const r = await compileSource(join(FIXTURES, 'hello.c'), { ...O3, cc: 'emcc' });
    expect(r.frontend).toMatch(/^emcc \d+\.\d+\.\d+$/);
    expectOnlyWasiImports(r.wasm);
    expect(await runWasi(r.wasm, ['hello'])).toEqual({ code: 0, stdout: 'Hello, World!\n' });
  });

  it.skipIf(!hasEmcc)('uses WASI for randomness and memory growth (no env imports)', { timeout: SLOW }, async () => {
    const p = join(tmp, 'grow.c');
    writeFileSync(p, '#include <stdlib.h>\n#include <unistd.h>\nint main(void) { unsigned char b[8]; char *p = malloc(64 << 20);\n'
      + '  if (!p || getentropy(b, sizeof b)) return 1; p[(64 << 20) - 1] = b[0]; return 0; }\n');
    const r = await compileSource(p, { ...O3, cc: 'emcc' });
    expectOnlyWasiImports(r.wasm);
    const names = WebAssembly.Module.imports(new WebAssembly.Module(r.wasm)).map((i) => i.name);
    expect(names).toContain('random_get');
  });

  it.skipIf(!hasEmcc)('reports a syntax error as CC_ERROR with file:line:col', { timeout: SLOW }, async () => {
    const p = join(tmp, 'emcc-bad.c');
    writeFileSync(p, 'int main(void) {\n  return 1 +;\n}\n');
    const e = await sledgeError(compileSource(p, { ...O3, cc: 'emcc' }));
    expect(e.code).toBe('CC_ERROR');
    expect(e.details).toEqual([`${p}:2:13: error: expected expression`]);
  });

  it('gives CC_NOT_INSTALLED when emcc cannot be found', async () => {
    expect(findEmcc({ PATH: '' })).toBeUndefined();
    const saved = process.env.SLEDGE_EMCC;
    process.env.SLEDGE_EMCC = join(tmp, 'no-such-emcc');
    try {
      const e = await sledgeError(compileSource(join(FIXTURES, 'hello.c'), { ...O3, cc: 'emcc' }));
      expect(e.code).toBe('CC_NOT_INSTALLED');
      expect(e.hint).toMatch(/apt-get install emscripten/);
    } finally {
      if (saved === undefined) delete process.env.SLEDGE_EMCC;
      else process.env.SLEDGE_EMCC = saved;
    }
  });
});

describe('diagnostics', () => {
  it('keeps located lines and drops excerpts, carets and summaries (clang 14 style)', () => {
    const stderr = [
      "e.c:1:24: error: expected expression",
      "int main(){ int x = 1 +; return y; }",
      "                       ^",
      "e.c:1:33: error: use of undeclared identifier 'y'",
      "int main(){ int x = 1 +; return y; }",
      "                                ^",
      "2 errors generated.",
      "emcc: error: '/usr/bin/clang-14 -target wasm32-unknown-emscripten e.c' failed (returned 1)",
    ].join('\n');
    expect(parseDiagnostics(stderr, { source: 'e.c' }).map((d) => `${d.location}: ${d.severity}: ${d.message}`)).toEqual([
      'e.c:1:24: error: expected expression',
      "e.c:1:33: error: use of undeclared identifier 'y'",
    ]);
  });
});
