// The compiler's passes one by one (errors, memory import, yield points, features), then whole C
// programs (fixtures/c) built with the embedded clang and run as bundles in V8.

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { isSledgeError, type SledgeError } from '../contract/errors.ts';
import { INIT_EXPORT, WASI_FUNCTIONS } from '../contract/host-abi.ts';
import { compileModule, type CompiledModule, type CompileOptions } from '../compiler/compile.ts';
import { readModuleInfo } from '../compiler/wasm-binary.ts';
import { compileSource } from '../toolchain/frontend.ts';

const wabt = await (await import('wabt')).default();

function wat(text: string): Uint8Array {
  // multi_memory is missing from wabt's typings but honoured by its parser.
  const features = { simd: true, threads: true, bulk_memory: true, memory64: true, multi_memory: true, sat_float_to_int: true, sign_extension: true, mutable_globals: true };
  const mod = wabt.parseWat('test.wat', text, features as Parameters<typeof wabt.parseWat>[2]);
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

function opts(o: Partial<CompileOptions> = {}): CompileOptions {
  return { bounds: 'guard', yieldPoints: true, optLevel: 2, simd: false, where: 'test.wasm', ...o };
}

async function failure(input: Uint8Array, o: Partial<CompileOptions> = {}): Promise<SledgeError> {
  try {
    await compileModule(input, opts(o));
  } catch (e) {
    if (isSledgeError(e)) return e;
    throw e;
  }
  throw new Error('expected the compile to fail');
}

class Stop extends Error {}
class BoundsTrap extends Error {
  readonly address: bigint;
  readonly size: number;
  constructor(address: bigint, size: number) {
    super(`bounds_trap(${address}, ${size})`);
    this.address = address;
    this.size = size;
  }
}

/** Instantiates a bundle with the runtime's sledge.* imports; `onYield` runs at each sledge.yield. */
function instantiate(r: CompiledModule, onYield: (flag: Int32Array) => void = () => {}, wasi: WebAssembly.ModuleImports = {}) {
  const memory = new WebAssembly.Memory({ initial: r.memory.initialPages, maximum: r.memory.maximumPages });
  const preempt = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const flag = new Int32Array(preempt.buffer);
  let yields = 0;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(r.wasm as Uint8Array<ArrayBuffer>), {
    sledge: {
      memory,
      preempt,
      yield: () => {
        yields++;
        onYield(flag);
      },
      bounds_trap: (a: bigint, s: number) => {
        throw new BoundsTrap(a, s >>> 0);
      },
    },
    wasi_snapshot_preview1: wasi,
  });
  // A bundle with instance reset gets its globals and data from sledge_init, as the runtime does.
  (inst.exports[INIT_EXPORT] as (() => void) | undefined)?.();
  return { inst, memory, flag, yields: () => yields };
}

describe('read and validate', () => {
  it('refuses a file that is not WebAssembly', async () => {
    expect((await failure(new TextEncoder().encode('int main() { return 0; }\n'))).code).toBe('NOT_WASM');
  });

  it('refuses a truncated module', async () => {
    const full = wat('(module (memory 1) (func (export "f") (result i32) (i32.const 42)))');
    expect((await failure(full.subarray(0, full.length - 3))).code).toBe('WASM_TRUNCATED');
  });

  it('refuses an invalid module with the validator reason', async () => {
    const bad = wat('(module (func (export "f") (result i32) (i64.const 1)))');
    const e = await failure(bad);
    expect(e.code).toBe('INVALID_MODULE');
    expect(e.details.join('\n')).toMatch(/type|expected/i);
    expect(e.message).toContain('test.wasm');
  });

  it('refuses a feature outside sledgec\'s set (V8 accepts it) with Binaryen\'s reason', async () => {
    const mod = wabt.parseWat('eh.wat', '(module (memory 1) (tag $t (param i32)) (func (export "f") (throw $t (i32.const 1))))', { exceptions: true });
    const eh = new Uint8Array(mod.toBinary({}).buffer);
    mod.destroy();
    expect(WebAssembly.validate(eh)).toBe(true);
    const e = await failure(eh);
    expect(e.code).toBe('UNSUPPORTED_FEATURE');
    expect(e.details.join('\n')).toContain('exception-handling');
  });

  it('refuses two memories, memory64 and shared memory with their own codes', async () => {
    expect((await failure(wat('(module (memory 1) (memory 1))'))).code).toBe('MULTI_MEMORY_UNSUPPORTED');
    expect((await failure(wat('(module (import "env" "m" (memory 1)) (memory 1))'))).code).toBe('MULTI_MEMORY_UNSUPPORTED');
    expect((await failure(wat('(module (memory i64 1))'))).code).toBe('MEMORY64_UNSUPPORTED');
    expect((await failure(wat('(module (memory 1 1 shared))'))).code).toBe('SHARED_MEMORY_UNSUPPORTED');
  });

  it('checks its options', async () => {
    const ok = wat('(module (memory 1))');
    expect((await failure(ok, { maxMemoryPages: 0 })).code).toBe('BAD_OPTION');
    expect((await failure(ok, { maxMemoryPages: 65537 })).code).toBe('BAD_OPTION');
  });
});

describe('ABI check', () => {
  it('lists every unknown import, with signatures, and says what the runtime offers', async () => {
    const e = await failure(wat(`(module
      (import "env" "foo" (func (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "not_a_wasi_call" (func))
      (import "env" "g" (global i32))
      (import "env" "t" (table 1 funcref))
      (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
      (memory 1))`));
    expect(e.code).toBe('UNKNOWN_IMPORT');
    expect(e.details).toHaveLength(5);
    expect(e.details[0]).toBe('env.foo: func (i32) -> (i32)');
    expect(e.details[1]).toContain('wasi_snapshot_preview1.fd_write: func (i32) -> (i32)');
    expect(e.details[1]).toContain('(i32, i32, i32, i32) -> (i32)');
    expect(e.details[2]).toContain('wasi_snapshot_preview1.not_a_wasi_call');
    expect(e.details[3]).toMatch(/^env\.g: global/);
    expect(e.details[4]).toMatch(/^env\.t: table/);
    expect(e.hint).toContain('fd_write');
    expect(e.hint).toContain('sledge.{yield, bounds_trap}');
  });

  it('accepts the WASI subset, the runtime functions and one memory import', async () => {
    const r = await compileModule(wat(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
      (import "sledge" "yield" (func))
      (import "env" "memory" (memory 2 10))
      (func (export "_start")
        (call 2)
        (drop (call 0 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (drop (call 1 (i32.const 0) (i64.const 0) (i32.const 0)))))`), opts());
    expect(r.imports).toContain('wasi_snapshot_preview1.fd_write');
    expect(r.imports).toContain('sledge.memory');
    expect(r.imports).not.toContain('env.memory');
    // The user's own sledge.yield import is reused by the yield pass, not duplicated.
    expect(r.imports.filter((i) => i === 'sledge.yield')).toHaveLength(1);
  });
});

describe('memory import', () => {
  const memImport = (r: CompiledModule) => {
    const info = readModuleInfo(r.wasm, 'out');
    const mems = info.imports.filter((i) => i.kind === 'memory');
    expect(info.memories).toHaveLength(0);
    return mems;
  };

  it('turns a defined memory into sledge.memory with its limits, exported as "memory"', async () => {
    const r = await compileModule(wat('(module (memory 3 100) (data (i32.const 70000) "hi"))'), opts({ yieldPoints: false }));
    expect(r.memory).toEqual({ initialPages: 3, maximumPages: 100 });
    expect(memImport(r).map((m) => [m.module, m.name, m.limits!.min, m.limits!.max, m.limits!.shared])).toEqual([['sledge', 'memory', 3, 100, false]]);
    const mod = new WebAssembly.Module(r.wasm as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'sledge', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(mod)).toContainEqual({ name: 'memory', kind: 'memory' });
    // V8 enforces the declared limits, and the data segment lands in the memory handed in (when
    // sledge_init copies it: the segment is passive, see 'instance reset').
    const memory = new WebAssembly.Memory({ initial: 3, maximum: 100 });
    const inst = new WebAssembly.Instance(mod, { sledge: { memory } });
    expect(inst.exports.memory).toBe(memory);
    (inst.exports[INIT_EXPORT] as () => void)();
    expect(new TextDecoder().decode(new Uint8Array(memory.buffer, 70000, 2))).toBe('hi');
    expect(() => new WebAssembly.Instance(mod, { sledge: { memory: new WebAssembly.Memory({ initial: 2, maximum: 100 }) } })).toThrow(WebAssembly.LinkError);
    expect(() => new WebAssembly.Instance(mod, { sledge: { memory: new WebAssembly.Memory({ initial: 3, maximum: 101 }) } })).toThrow(WebAssembly.LinkError);
  });

  it('caps the maximum: none declared or above the cap → the cap', async () => {
    const a = await compileModule(wat('(module (memory 2))'), opts());
    expect(a.memory).toEqual({ initialPages: 2, maximumPages: 16384 });
    const b = await compileModule(wat('(module (memory 2 60000))'), opts({ maxMemoryPages: 256 }));
    expect(b.memory).toEqual({ initialPages: 2, maximumPages: 256 });
    expect(memImport(b)[0]!.limits).toMatchObject({ min: 2, max: 256 });
    const c = await compileModule(wat('(module (memory 2))'), opts({ maxMemoryPages: 65536 }));
    expect(c.memory.maximumPages).toBe(65536);
  });

  it('refuses an initial memory above the cap', async () => {
    const e = await failure(wat('(module (memory 300))'), { maxMemoryPages: 256 });
    expect(e.code).toBe('MEMORY_TOO_LARGE');
  });

  it('renames an imported memory and keeps the module\'s own export name too', async () => {
    const r = await compileModule(wat('(module (import "env" "memory" (memory 1 8)) (export "mem" (memory 0)))'), opts({ yieldPoints: false }));
    expect(memImport(r).map((m) => `${m.module}.${m.name}`)).toEqual(['sledge.memory']);
    expect(r.memory).toEqual({ initialPages: 1, maximumPages: 8 });
    expect(r.exports.sort()).toEqual(['mem', 'memory', INIT_EXPORT]);
  });

  it('gives a module without memory a one-page one', async () => {
    const r = await compileModule(wat('(module (func (export "f") (result i32) (i32.const 1)))'), opts({ yieldPoints: false }));
    expect(r.memory).toEqual({ initialPages: 1, maximumPages: 1 });
    expect(r.imports).toEqual(['sledge.memory']);
    expect(r.features).toEqual(['imported-memory', 'instance-reset']);
  });

  it('imports sledge.preempt as a shared 1-page memory when yield points are on', async () => {
    const r = await compileModule(wat('(module (memory 1) (func (export "f") (loop $l (br $l))))'), opts());
    const mems = memImport(r).map((m) => [`${m.module}.${m.name}`, m.limits!.min, m.limits!.max, m.limits!.shared]);
    expect(mems).toEqual([['sledge.memory', 1, 16384, false], ['sledge.preempt', 1, 1, true]]);
  });
});

describe('bounds modes and features', () => {
  const src = wat('(module (memory 1) (func (export "f") (param i32) (result i32) (i32.load (local.get 0))))');

  it('guard inserts nothing; none marks the bundle unchecked; software checks and imports bounds_trap', async () => {
    const g = await compileModule(src, opts({ bounds: 'guard', yieldPoints: false }));
    expect(g.boundsChecks).toBe(0);
    expect(g.features).toEqual(['imported-memory', 'instance-reset']);
    const n = await compileModule(src, opts({ bounds: 'none', yieldPoints: false }));
    expect(n.boundsChecks).toBe(0);
    expect(n.features).toEqual(['imported-memory', 'unchecked-memory', 'instance-reset']);
    const s = await compileModule(src, opts({ bounds: 'software', yieldPoints: true }));
    expect(s.boundsChecks).toBe(1);
    expect(s.features).toEqual(['imported-memory', 'yield-points', 'software-bounds', 'instance-reset']);
    expect(s.imports).toContain('sledge.bounds_trap');
    expect(s.binaryenVersion).toMatch(/^\d+/);
  });

  it('drops a check dominated by an earlier one on the same address', async () => {
    const r = await compileModule(wat(`(module (memory 1) (func (export "f") (param $p i32) (result i32)
      (i32.add (i32.load offset=8 (local.get $p)) (i32.load offset=4 (local.get $p)))))`), opts({ bounds: 'software', yieldPoints: false, optLevel: 0 }));
    expect(r.boundsChecks).toBe(1);
  });

  /** A software-mode module: `load(a)` reads 8 bytes at a+16, `grow(n)` grows the memory (1 page, up to 3). */
  const growAndLoad = () => compileModule(wat(`(module (memory 1 3)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "load") (param i32) (result i64) (i64.load offset=16 (local.get 0))))`), opts({ bounds: 'software' }));

  it('reports the address and size of the faulting access, after memory.grow too', async () => {
    const { inst } = instantiate(await growAndLoad());
    const load = inst.exports.load as (a: number) => bigint;
    expect(() => load(65520)).toThrow(BoundsTrap);
    try {
      load(65520);
    } catch (e) {
      expect([(e as BoundsTrap).address, (e as BoundsTrap).size]).toEqual([65536n, 8]);
    }
    (inst.exports.grow as (n: number) => number)(1);
    expect(load(65520)).toBe(0n);
  });

  it('traps exactly at the end of memory, and near 2^32 without wrapping (the 32-bit check shape)', async () => {
    const { inst } = instantiate(await growAndLoad());
    const load = inst.exports.load as (a: number) => bigint;
    const trapAt = (a: number): [bigint, number] | 'no trap' => {
      try {
        load(a);
        return 'no trap';
      } catch (e) {
        expect(e).toBeInstanceOf(BoundsTrap);
        return [(e as BoundsTrap).address, (e as BoundsTrap).size];
      }
    };
    // The last 8 bytes of the page end at 65536: offset 16 + 8 bytes from 65512.
    expect(trapAt(65512)).toBe('no trap');
    expect(trapAt(65513)).toEqual([65529n, 8]);
    expect(trapAt(0xfffffff0)).toEqual([0x1_0000_0000n, 8]);
    expect(trapAt(0xffffffff)).toEqual([0x1_0000_000fn, 8]);
    (inst.exports.grow as (n: number) => number)(2);
    expect(trapAt(3 * 65536 - 24)).toBe('no trap');
    expect(trapAt(3 * 65536 - 23)).toEqual([BigInt(3 * 65536 - 7), 8]);
  });
});

describe('yield points', () => {
  const loops = wat(`(module (memory 1)
    (func $sum (export "sum") (param $n i32) (result i32) (local $s i32)
      (loop $l (local.set $s (i32.add (local.get $s) (local.get $n)))
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (local.get $s))
    (func (export "spin") (loop $l (br $l)))
    (func $rec (export "rec") (param i32) (result i32) (call $rec (i32.add (local.get 0) (i32.const 1))))
    (func (export "odd") (param $i i32) (loop $l (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 2))) (i32.const 7))))))`);

  it('counts points and calls sledge.yield only when the preempt flag is set', async () => {
    const r = await compileModule(loops, opts());
    expect(r.yieldPointCount).toBeGreaterThanOrEqual(4);
    expect(r.imports).toEqual(expect.arrayContaining(['sledge.preempt', 'sledge.yield']));
    // Flag clear: a long loop runs to the end without yielding.
    const clear = instantiate(r);
    expect((clear.inst.exports.sum as (n: number) => number)(5_000_000)).toBe(Number(BigInt.asIntN(32, (5_000_000n * 5_000_001n) / 2n)));
    expect(clear.yields()).toBe(0);
    // Flag set: one yield; the guest acknowledges (clears the flag) before calling sledge.yield,
    // and the loop resumes where it was.
    const set = instantiate(r, (flag) => expect(Atomics.load(flag, 0)).toBe(0));
    Atomics.store(set.flag, 0, 1);
    expect((set.inst.exports.sum as (n: number) => number)(5_000_000)).toBe(Number(BigInt.asIntN(32, (5_000_000n * 5_000_001n) / 2n)));
    expect(set.yields()).toBe(1);
  });

  it('makes progress when the runtime requests yields back to back', async () => {
    const r = await compileModule(loops, opts());
    let again = 5;
    const t = instantiate(r, (flag) => {
      if (again-- > 0) Atomics.store(flag, 0, 1);
    });
    Atomics.store(t.flag, 0, 1);
    expect((t.inst.exports.sum as (n: number) => number)(5_000_000)).toBe(Number(BigInt.asIntN(32, (5_000_000n * 5_000_001n) / 2n)));
    expect(t.yields()).toBe(6);
  });

  it('a short counted loop may run without points, a long one may not', async () => {
    const r = await compileModule(loops, opts());
    const t = instantiate(r);
    Atomics.store(t.flag, 0, 1);
    (t.inst.exports.sum as (n: number) => number)(100);
    expect(t.yields()).toBe(0);
    expect(Atomics.load(t.flag, 0)).toBe(1);
    (t.inst.exports.sum as (n: number) => number)(3_000_000);
    expect(t.yields()).toBe(1);
  });

  it('an infinite loop, infinite recursion and a stepping-over counter all reach a point', async () => {
    const r = await compileModule(loops, opts());
    for (const [fn, args] of [['spin', []], ['rec', [0]], ['odd', [0]]] as const) {
      const t = instantiate(r, () => {
        throw new Stop(fn);
      });
      Atomics.store(t.flag, 0, 1);
      expect(() => (t.inst.exports[fn] as (...a: number[]) => void)(...args), fn).toThrow(Stop);
    }
  });

  it('loops that only look counted keep their point (each would spin forever if wrongly unchecked)', { timeout: 30_000 }, async () => {
    const r = await compileModule(wat(`(module (memory 1)
      ;; a second back edge (continue) that skips the increment
      (func (export "continue") (param $i i32) (param $spin i32)
        (loop $l (br_if $l (local.get $spin)) (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 10)))))
      ;; the induction variable also written elsewhere in the body
      (func (export "reset") (param $i i32)
        (loop $l (local.set $i (i32.const 0)) (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 10)))))
      ;; the bound moves away as fast as the counter
      (func (export "chase") (param $i i32) (param $n i32)
        (loop $l (local.set $n (i32.add (local.get $n) (i32.const 1))) (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
      ;; counting up towards a bound below it: wraps around 2^32 first
      (func (export "wrap") (param $i i32)
        (loop $l (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 5)))))
      ;; a step over the bound, from the other side
      (func (export "down") (param $i i32)
        (loop $l (br_if $l (i32.ne (local.tee $i (i32.sub (local.get $i) (i32.const 4))) (i32.const 2))))))`), opts());
    const cases: [string, number[]][] = [['continue', [0, 1]], ['reset', [0]], ['chase', [0, 5]], ['wrap', [6]], ['down', [100]]];
    for (const [fn, args] of cases) {
      const t = instantiate(r, () => {
        throw new Stop(fn);
      });
      Atomics.store(t.flag, 0, 1);
      expect(() => (t.inst.exports[fn] as (...a: number[]) => void)(...args), fn).toThrow(Stop);
    }
  });

  it('a module that needs no point imports neither preempt nor yield (the loader then calls it directly)', async () => {
    const r = await compileModule(wat(`(module (memory 1) (func (export "_start") (i32.store (i32.const 16) (i32.const 1))))`), opts());
    expect(r.yieldPointCount).toBe(0);
    expect(r.imports).toEqual(['sledge.memory']);
    expect(r.features).not.toContain('yield-points');
  });

  // Innermost loops with a data-dependent exit count down a local and read the flag every K
  // iterations (K = budget / body size), instead of at every iteration.
  const scans = wat(`(module (memory 1)
    ;; looks for a non-zero byte in a zeroed page, cyclically: never ends; stores how far it got
    (func (export "scan") (param $p i32)
      (loop $l
        (i32.store (i32.const 0) (local.tee $p (i32.add (local.get $p) (i32.const 1))))
        (br_if $l (i32.eqz (i32.load8_u offset=4 (i32.and (local.get $p) (i32.const 4095)))))))
    ;; steps of x -> 1103515245 x + 12345 from x until it equals $target
    (func (export "lcg") (param $x i32) (param $target i32) (result i32) (local $n i32)
      (loop $l
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $l (i32.ne (local.tee $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345))) (local.get $target))))
      (local.get $n))
    ;; Collatz steps down to 1, leaving by a branch out and looping by a br_table
    (func (export "collatz") (param $n i32) (result i32) (local $s i32)
      (block $out
        (loop $l
          (br_if $out (i32.eq (local.get $n) (i32.const 1)))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (local.set $n (select (i32.shr_u (local.get $n) (i32.const 1)) (i32.add (i32.mul (local.get $n) (i32.const 3)) (i32.const 1)) (i32.eqz (i32.and (local.get $n) (i32.const 1)))))
          (br_table $l $out (i32.const 0))))
      (local.get $s)))`);
  const lcgTarget = (x: number, n: number): number => {
    for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
    return x;
  };

  it('a loop with a data-dependent exit that never ends is preempted within a bounded number of iterations', async () => {
    const r = await compileModule(scans, opts());
    let at = -1;
    const t = instantiate(r, () => {
      at = new Int32Array(t.memory.buffer)[0]!;
      throw new Stop('scan');
    });
    Atomics.store(t.flag, 0, 1);
    expect(() => (t.inst.exports.scan as (p: number) => void)(0)).toThrow(Stop);
    // It counted down rather than checking at once, and checked well within its budget.
    expect(at).toBeGreaterThan(1);
    expect(at).toBeLessThanOrEqual(1 << 16);
  });

  it('a counting-down loop resumes where it was after each yield, and checks only every K iterations', async () => {
    const r = await compileModule(scans, opts());
    const target = lcgTarget(7, 1_000_000);
    let again = 5;
    const t = instantiate(r, (flag) => {
      expect(Atomics.load(flag, 0)).toBe(0);
      if (again-- > 0) Atomics.store(flag, 0, 1);
    });
    Atomics.store(t.flag, 0, 1);
    expect((t.inst.exports.lcg as (x: number, target: number) => number)(7, target)).toBe(1_000_000);
    expect(t.yields()).toBe(6);
    // A short run never reaches a check: the flag stays set for the next point.
    const short = instantiate(r);
    Atomics.store(short.flag, 0, 1);
    expect((short.inst.exports.lcg as (x: number, target: number) => number)(7, lcgTarget(7, 10))).toBe(10);
    expect(short.yields()).toBe(0);
    expect(Atomics.load(short.flag, 0)).toBe(1);
  });

  it('small counting loops run their first iteration before the loop without changing what they compute', async () => {
    const collatz = (n: number): number => {
      let s = 0;
      for (; n !== 1; s++) n = n % 2 ? 3 * n + 1 : n / 2;
      return s;
    };
    const r = await compileModule(scans, opts());
    // Yields requested all the time: every check the loop reaches yields.
    const t = instantiate(r, (flag) => Atomics.store(flag, 0, 1));
    Atomics.store(t.flag, 0, 1);
    for (const n of [1, 2, 3, 27, 97, 871, 77671]) expect((t.inst.exports.collatz as (n: number) => number)(n), String(n)).toBe(collatz(n));
    expect(t.yields()).toBe(0); // all runs are shorter than K
  });

  it('--no-yield-points inserts none and imports neither preempt nor yield', async () => {
    const r = await compileModule(loops, opts({ yieldPoints: false }));
    expect(r.yieldPointCount).toBe(0);
    expect(r.imports).toEqual(['sledge.memory']);
    expect(r.features).not.toContain('yield-points');
  });
});

describe('static write range', () => {
  const range = async (body: string, imports = '') =>
    (await compileModule(wat(`(module ${imports} (memory 2) (func (export "_start") ${body}))`), opts())).writeRange;

  it('spans every constant-address write: stores, atomics, fill, copy', async () => {
    expect(await range(`(i32.store offset=4 (i32.const 100) (i32.const 1))
      (i64.atomic.rmw.add (i32.const 64) (i64.const 1)) (drop)
      (memory.fill (i32.const 5000) (i32.const 255) (i32.const 3000))
      (memory.copy (i32.const 9000) (i32.const 0) (i32.const 8))`)).toEqual({ low: 64, high: 9008 });
    // proc_exit writes nothing into the guest's memory.
    expect(await range('(i32.store (i32.const 8) (i32.const 1)) (call 0 (i32.const 0))', '(import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))'))
      .toEqual({ low: 8, high: 12 });
  });

  it('is absent when a write goes through a computed pointer or a size is not constant', async () => {
    expect(await range('(i32.store (i32.load (i32.const 0)) (i32.const 1))')).toBeUndefined();
    expect(await range('(memory.fill (i32.const 0) (i32.const 0) (memory.size))')).toBeUndefined();
  });

  it('is absent when an import can write the memory (any WASI call with pointers)', async () => {
    expect(await range('(drop (call 0 (i32.const 0) (i32.const 0)))', '(import "wasi_snapshot_preview1" "args_sizes_get" (func (param i32 i32) (result i32)))')).toBeUndefined();
  });

  it('does not count the yield points\' writes to the preempt page', async () => {
    const r = await compileModule(wat(`(module (memory 1) (func (export "_start") (local i32)
      (loop $l (i32.store (i32.const 16) (local.get 0)) (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))))`), opts());
    expect(r.yieldPointCount).toBeGreaterThan(0);
    expect(r.writeRange).toEqual({ low: 16, high: 20 });
  });
});

describe('instance reset', () => {
  const STATE = `(memory 1)
    (global $a (mut i32) (i32.const 7)) (global $b (mut i64) (i64.const -3)) (global $c (mut f64) (f64.const 1.5)) (global $k i32 (i32.const 9))
    (data (i32.const 100) "abc") (data (i32.const 60000) "xyz")
    (func (export "get") (result i32) (i32.add (global.get $a) (global.get $k)))
    (func (export "get64") (result i64) (global.get $b))
    (func (export "getf") (result f64) (global.get $c))
    (func (export "_start")
      (global.set $a (i32.const 1)) (global.set $b (i64.const 2)) (global.set $c (f64.const 3))
      (i32.store8 (i32.const 100) (i32.const 0)) (i32.store8 (i32.const 60002) (i32.const 0)))`;
  const bytesAt = (m: WebAssembly.Memory, at: number, n: number) => Buffer.from(new Uint8Array(m.buffer, at, n)).toString('latin1');

  it('exports sledge_init, which puts back every mutable global and data segment; segments are passive', async () => {
    const r = await compileModule(wat(`(module ${STATE})`), opts());
    expect(r.features).toContain('instance-reset');
    expect(r.exports).toContain(INIT_EXPORT);
    const memory = new WebAssembly.Memory({ initial: r.memory.initialPages, maximum: r.memory.maximumPages });
    const e = new WebAssembly.Instance(new WebAssembly.Module(r.wasm as Uint8Array<ArrayBuffer>), { sledge: { memory } }).exports as Record<string, () => unknown>;
    // Passive: instantiation copied nothing.
    expect(bytesAt(memory, 100, 3)).toBe('\0\0\0');
    for (let run = 0; run < 2; run++) {
      e[INIT_EXPORT]!();
      expect([e.get!(), e.get64!(), e.getf!()]).toEqual([16, -3n, 1.5]);
      expect(bytesAt(memory, 100, 3) + bytesAt(memory, 60000, 3)).toBe('abcxyz');
      e._start!();
      expect([e.get!(), e.get64!(), e.getf!()]).toEqual([10, 2n, 3]);
      expect(bytesAt(memory, 100, 3) + bytesAt(memory, 60000, 3)).toBe('\0bcxy\0');
    }
  });

  it('leaves alone a module whose state it cannot restore: tables changed, segments dropped, a start function, data past the initial memory', async () => {
    const cases: Record<string, string> = {
      'table.set': `(table 1 funcref) (func $f) (elem declare func $f) (func (export "_start") (table.set (i32.const 0) (ref.func $f)))`,
      'table.grow': `(table 1 funcref) (func (export "_start") (drop (table.grow (ref.null func) (i32.const 1))))`,
      'data.drop': `(data $p "q") (func (export "_start") (memory.init $p (i32.const 0) (i32.const 0) (i32.const 1)) (data.drop $p))`,
      'start': `(func $s (i32.store (i32.const 0) (i32.const 1))) (start $s) (func (export "_start"))`,
      'past initial memory': `(data (i32.const 70000) "z") (func (export "_start"))`,
    };
    for (const [what, body] of Object.entries(cases)) {
      const r = await compileModule(wat(`(module (memory 1 2) (data (i32.const 8) "kept") ${body})`), opts());
      expect(r.features, what).not.toContain('instance-reset');
      expect(r.exports, what).not.toContain(INIT_EXPORT);
      if (what === 'past initial memory') continue; // cannot be instantiated on its initial memory
      // Active segments stay active: instantiation copies them.
      const memory = new WebAssembly.Memory({ initial: r.memory.initialPages, maximum: r.memory.maximumPages });
      new WebAssembly.Instance(new WebAssembly.Module(r.wasm as Uint8Array<ArrayBuffer>), { sledge: { memory } });
      expect(bytesAt(memory, 8, 4), what).toBe('kept');
    }
  });

  it('leaves alone a segment whose offset is not a plain constant (extended-const, not folded at -O0)', async () => {
    const w = wabt.parseWat('x.wat', '(module (memory 1) (data (offset (i32.add (i32.const 8) (i32.const 8))) "hi") (func (export "_start")))', { extended_const: true } as Parameters<typeof wabt.parseWat>[2]);
    const r = await compileModule(new Uint8Array(w.toBinary({}).buffer), opts({ optLevel: 0 }));
    expect(r.features).not.toContain('instance-reset');
    const memory = new WebAssembly.Memory({ initial: r.memory.initialPages, maximum: r.memory.maximumPages });
    new WebAssembly.Instance(new WebAssembly.Module(r.wasm as Uint8Array<ArrayBuffer>), { sledge: { memory } });
    expect(bytesAt(memory, 16, 2)).toBe('hi');
  });
});

// ---- whole programs ------------------------------------------------------------------------

const C_DIR = new URL('../fixtures/c/', import.meta.url).pathname;

class Exit {
  code: number;
  constructor(code: number) {
    this.code = code;
  }
}

/** Enough WASI for the fixtures: args, stdout/stderr, exit; everything else ENOTSUP. */
function wasiFor(memory: () => WebAssembly.Memory, args: string[], out: string[]): WebAssembly.ModuleImports {
  const enc = new TextEncoder();
  const argBytes = args.map((a) => enc.encode(a + '\0'));
  const view = () => new DataView(memory().buffer);
  const imports: WebAssembly.ModuleImports = {};
  for (const name of Object.keys(WASI_FUNCTIONS)) imports[name] = () => 58;
  Object.assign(imports, {
    args_sizes_get(argc: number, size: number) {
      view().setUint32(argc, args.length, true);
      view().setUint32(size, argBytes.reduce((n, b) => n + b.length, 0), true);
      return 0;
    },
    args_get(argv: number, buf: number) {
      for (const b of argBytes) {
        view().setUint32(argv, buf, true);
        new Uint8Array(memory().buffer).set(b, buf);
        argv += 4;
        buf += b.length;
      }
      return 0;
    },
    fd_write(fd: number, iovs: number, n: number, written: number) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        const p = view().getUint32(iovs + i * 8, true);
        const len = view().getUint32(iovs + i * 8 + 4, true);
        if (fd === 1 || fd === 2) out.push(new TextDecoder().decode(new Uint8Array(memory().buffer, p, len)));
        total += len;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    fd_fdstat_get(_fd: number, buf: number) {
      new Uint8Array(memory().buffer, buf, 24).fill(0);
      view().setUint8(buf, 2);
      return 0;
    },
    proc_exit(code: number) {
      throw new Exit(code);
    },
  });
  return imports;
}

function runProgram(r: CompiledModule, args: string[], onYield?: (flag: Int32Array) => void, setFlag: boolean | ((flag: Int32Array) => void) = false) {
  const out: string[] = [];
  let mem: WebAssembly.Memory | undefined;
  const t = instantiate(r, onYield, wasiFor(() => mem!, args, out));
  mem = t.memory;
  if (setFlag === true) Atomics.store(t.flag, 0, 1);
  else if (setFlag) setFlag(t.flag);
  let status = 0;
  let trap: unknown;
  try {
    (t.inst.exports._start as () => void)();
  } catch (e) {
    if (e instanceof Exit) status = e.code;
    else trap = e;
  }
  return { out: out.join(''), status, trap, yields: t.yields() };
}

const built = new Map<string, Promise<Uint8Array>>();
function clangBuild(path: string): Promise<Uint8Array> {
  if (!built.has(path)) built.set(path, compileSource(path, { optLevel: 2, simd: false }).then((r) => r.wasm));
  return built.get(path)!;
}

describe('C programs built with clang', () => {
  const expected = JSON.parse(readFileSync(`${C_DIR}compute/expected.json`, 'utf8')) as Record<string, { smallArg: string; smallOutput: string }>;
  const MODES: Partial<CompileOptions>[] = [
    { bounds: 'guard', yieldPoints: true },
    { bounds: 'software', yieldPoints: true },
    { bounds: 'software', yieldPoints: false, optLevel: 0, boundsCheckStyle: 'memory-size' },
  ];

  for (const [kernel, e] of Object.entries(expected)) {
    it(`compute/${kernel} prints the same as native in every mode`, { timeout: 120_000 }, async () => {
      const input = await clangBuild(`${C_DIR}compute/${kernel}.c`);
      for (const mode of MODES) {
        const r = await compileModule(input, opts({ ...mode, where: `${kernel}.c` }));
        const run = runProgram(r, [kernel, e.smallArg]);
        expect(run.trap, `${kernel} ${JSON.stringify(mode)}`).toBeUndefined();
        expect(run.out, `${kernel} ${JSON.stringify(mode)}`).toBe(e.smallOutput);
      }
    });
  }

  it('oob.c: software mode reports each faulting access through bounds_trap', { timeout: 60_000 }, async () => {
    const r = await compileModule(await clangBuild(`${C_DIR}oob.c`), opts({ bounds: 'software' }));
    const end = BigInt(r.memory.initialPages * 65536);
    for (const [where, address] of [['far', 0xfffffff0n], ['edge', end], ['straddle', end - 2n]] as const) {
      for (const rw of ['write', 'read']) {
        const run = runProgram(r, ['oob', where, rw]);
        expect(run.trap, `${where} ${rw}`).toBeInstanceOf(BoundsTrap);
        expect([(run.trap as BoundsTrap).address, (run.trap as BoundsTrap).size]).toEqual([address, 4]);
        expect(run.out).not.toContain('no trap');
      }
    }
    const g = runProgram(await compileModule(await clangBuild(`${C_DIR}oob.c`), opts({ bounds: 'guard' })), ['oob', 'edge']);
    expect(g.trap).toBeInstanceOf(WebAssembly.RuntimeError);
  });

  it('loop.c: the endless loop yields when a timer thread sets the flag', { timeout: 60_000 }, async () => {
    const r = await compileModule(await clangBuild(`${C_DIR}loop.c`), opts({ bounds: 'software' }));
    // As the runtime's timer does: another thread sets the flag while the guest spins.
    const timer = (flag: Int32Array) =>
      new Worker(
        `const { workerData } = require('node:worker_threads');
         const flag = new Int32Array(workerData);
         setTimeout(() => Atomics.store(flag, 0, 1), 50);`,
        { eval: true, workerData: flag.buffer },
      );
    let worker: Worker | undefined;
    const run = runProgram(r, ['loop'], () => {
      throw new Stop('preempted');
    }, (flag) => {
      worker = timer(flag);
    });
    await worker!.terminate();
    expect(run.out).toBe('looping\n');
    expect(run.trap).toBeInstanceOf(Stop);
    const bounded = runProgram(r, ['loop', '100000']);
    expect(bounded.out).toBe('looping\n100000\n');
    expect(bounded.yields).toBe(0);
  });

  it('recursion.c: unbounded recursion yields when the flag is set', { timeout: 60_000 }, async () => {
    const r = await compileModule(await clangBuild(`${C_DIR}recursion.c`), opts());
    const run = runProgram(r, ['recursion', '1000000000', '16'], () => {
      throw new Stop('preempted');
    }, true);
    expect(run.trap).toBeInstanceOf(Stop);
  });
});
