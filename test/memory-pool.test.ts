// Memory pools: bounded, reused after a reset, and shrunk when idle; instances kept with their
// memories and reset by sledge_init.

import { readFileSync } from 'node:fs';
import wabtInit from 'wabt';
import { describe, expect, it } from 'vitest';
import { compileModule } from '../compiler/compile.ts';
import { INIT_EXPORT } from '../contract/host-abi.ts';
import { MemoryPool } from '../runtime/memory-pool.ts';
import { runSandbox } from '../runtime/sandbox.ts';
import { cStrings } from '../runtime/wasi/c-strings.ts';

const wabt = await wabtInit();
// Writes a marker at 100, unless it is already there (then exits 1: memory was not reset).
const module = new WebAssembly.Module(wabt.parseWat('t.wat', `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "sledge" "memory" (memory 2 4))
  (func (export "_start")
    (if (i32.load (i32.const 100)) (then (call $exit (i32.const 1))))
    (i32.store (i32.const 100) (i32.const 7))))`, {}).toBinary({}).buffer as Uint8Array<ArrayBuffer>);
const hooks = { preempt: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }), yieldImport: () => {} };
const mod = { name: 't', module, entry: '_start', memory: { initialPages: 2, maximumPages: 4 }, suspendable: false };
const req = { argv: cStrings(['t']), env: cStrings([]), stdin: new Uint8Array() };

describe('MemoryPool', () => {
  it('hands back a reset memory to the next run', async () => {
    const pool = new MemoryPool(mod, hooks);
    for (let i = 0; i < 3; i++) expect((await runSandbox(pool, req)).exitCode).toBe(0);
    expect(pool.idleCount).toBe(1);
  });

  it('keeps at most maxIdle memories and shrinks to what it is told', () => {
    const pool = new MemoryPool(mod, hooks, { maxIdle: 6 });
    const slots = Array.from({ length: 8 }, () => pool.acquire());
    expect(pool.inUse).toBe(8);
    for (const s of slots) pool.release(s, 0);
    expect(pool.inUse).toBe(0);
    expect(pool.idleCount).toBe(6);
    expect(pool.shrink(4)).toBe(2);
    expect(pool.idleCount).toBe(4);
  });
});

describe('reset by static write range', async () => {
  // Only constant-address writes, in bss, in a data segment and by memory.fill in the second page.
  // A run first checks each place still holds its fresh value, else exits with a code naming it.
  const built = await compileModule(new Uint8Array(wabt.parseWat('w.wat', `(module
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory 2 4)
    (data (i32.const 2000) "\\07")
    (func (export "_start")
      (if (i32.load (i32.const 100)) (then (call $exit (i32.const 1))))
      (if (i32.ne (i32.load8_u (i32.const 2000)) (i32.const 7)) (then (call $exit (i32.const 2))))
      (if (i32.load (i32.const 70996)) (then (call $exit (i32.const 3))))
      (i32.store (i32.const 100) (i32.const 42))
      (i32.store8 (i32.const 2000) (i32.const 99))
      (memory.fill (i32.const 69000) (i32.const 255) (i32.const 2000))))`, {}).toBinary({}).buffer),
  { bounds: 'guard', yieldPoints: true, optLevel: 2, simd: false, where: 'w.wat' });
  const rangeMod = {
    ...mod, module: new WebAssembly.Module(built.wasm as Uint8Array<ArrayBuffer>), writeRange: built.writeRange,
    ...(built.features.includes('instance-reset') ? { initExport: INIT_EXPORT } : {}),
  };

  it('the compiler finds the range, and a reset of just that range leaks nothing to the next run', async () => {
    expect(built.writeRange).toEqual({ low: 100, high: 71000 });
    const pool = new MemoryPool(rangeMod, hooks);
    for (let i = 0; i < 3; i++) expect((await runSandbox(pool, req)).exitCode).toBe(0);
  });

  it('(control) a range that misses a write lets the next run see it', async () => {
    const pool = new MemoryPool({ ...rangeMod, writeRange: { low: 100, high: 70996 } }, hooks);
    expect((await runSandbox(pool, req)).exitCode).toBe(0);
    expect((await runSandbox(pool, req)).exitCode).toBe(3);
  });
});

describe('instance reuse', async () => {
  const compile = async (name: string, text: string) => {
    const r = await compileModule(new Uint8Array(wabt.parseWat(name, text, {}).toBinary({}).buffer), { bounds: 'guard', yieldPoints: true, optLevel: 2, simd: false, where: name });
    expect(r.features).toContain('instance-reset');
    return { ...mod, memory: r.memory, module: new WebAssembly.Module(r.wasm as Uint8Array<ArrayBuffer>), initExport: INIT_EXPORT };
  };
  const stateMod = await compile('state.wat', readFileSync(new URL('../fixtures/commands/state.wat', import.meta.url), 'utf8'));
  const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString();
  const FRESH = 'runs=1 data=fresh\n';

  it('keeps one instance per pooled memory, and every run starts as instantiated', async () => {
    const pool = new MemoryPool(stateMod, hooks);
    const first = await runSandbox(pool, req);
    expect(text(first.stdout)).toBe(FRESH);
    const slot = pool.acquire();
    const kept = slot.instance;
    expect(kept?.init).toBeTypeOf('function');
    pool.release(slot, 0);
    for (let i = 0; i < 3; i++) expect(text((await runSandbox(pool, req)).stdout)).toBe(FRESH);
    const again = pool.acquire();
    expect(again.instance).toBe(kept);
    pool.release(again, 0);
  });

  it('(control) without sledge_init a reused instance keeps the last run\'s global and loses its data', () => {
    const pool = new MemoryPool(stateMod, hooks);
    void runSandbox(pool, req);
    const slot = pool.acquire();
    slot.ctx.begin(req.argv, req.env, req.stdin);
    slot.instance!.entry();
    // The counter says 2; the segment's bytes were zeroed by the reset and never copied back.
    expect(text(slot.ctx.stdout)).toBe(`${'\0'.repeat(5)}2${'\0'.repeat(12)}`);
  });

  it('replaces an instance that trapped', async () => {
    // Traps (unreachable) when given an argument, else prints "ok".
    const trapMod = await compile('trap.wat', `(module
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory 1)
      (data (i32.const 64) "ok")
      (func (export "_start")
        (drop (call $sizes (i32.const 0) (i32.const 4)))
        (if (i32.gt_u (i32.load (i32.const 0)) (i32.const 1)) (then unreachable))
        (i32.store (i32.const 16) (i32.const 64))
        (i32.store (i32.const 20) (i32.const 2))
        (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))`);
    const pool = new MemoryPool(trapMod, hooks);
    expect(text((await runSandbox(pool, req)).stdout)).toBe('ok');
    const slot = pool.acquire();
    const before = slot.instance;
    pool.release(slot, 0);
    const trapped = await runSandbox(pool, { ...req, argv: cStrings(['t', 'x']) });
    expect(trapped.trap?.kind).toBe('unreachable');
    const after = pool.acquire();
    expect(after.instance).toBeUndefined();
    pool.release(after, 0);
    expect(text((await runSandbox(pool, req)).stdout)).toBe('ok');
    const next = pool.acquire();
    expect(next.instance).toBeDefined();
    expect(next.instance).not.toBe(before);
  });
});
