// Memory semantics are preserved by compilation: every fixture in fixtures/wat is run as the
// ORIGINAL module (its own memory), as a `guard` bundle and as `software` bundles (both check
// styles), in V8, and each call must give the same result or the same trap, leaving the same
// memory behind. In software mode an out-of-bounds access must be reported by sledge.bounds_trap
// with the right address and size.
//
// Fixture annotations (wat comments):
//   ;; @case <export> [ea=<e>,<e>…] [size=<s>,<s>…] : <args> | <args> | …
//      one fresh instance per argument list. ea/size list the ranges the access(es) touch in the
//      order they are checked: the first out-of-bounds range is the report expected from
//      bounds_trap (and when one is out of bounds, a bounds_trap report is required).
//      <e> is aN, aN+K or K; <s> is K or aN. Arguments: integers (i32, u32 allowed), `…n` for
//      i64, decimals for floats.
//   ;; @seq <label> [v8-oob-ok] : f(args) ; g(args) ; …   calls in order on one instance set.
// In software bundles every out-of-bounds trap must come from bounds_trap (a V8 out-of-bounds trap
// means a check was missing), unless the case is marked v8-oob-ok (memory.init's segment range is
// checked by V8 itself).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModule, type CompileOptions } from '../compiler/compile.ts';
import { INIT_EXPORT } from '../contract/host-abi.ts';

const FIXTURES = new URL('../fixtures/wat/', import.meta.url).pathname;
const wabt = await (await import('wabt')).default();

function watToWasm(name: string, text: string): Uint8Array {
  const mod = wabt.parseWat(name, text, { simd: true, threads: true, bulk_memory: true, sat_float_to_int: true, sign_extension: true, mutable_globals: true, multi_value: true });
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

type Arg = number | bigint;

interface Range { ea: string; size: string }
interface Case { fn: string; ranges: Range[]; args: Arg[][]; v8OobOk: boolean }
interface Seq { label: string; calls: { fn: string; args: Arg[] }[]; v8OobOk: boolean }

function parseArg(s: string): Arg {
  s = s.trim();
  if (s.endsWith('n')) return BigInt.asIntN(64, BigInt(s.slice(0, -1)));
  return Number(s);
}

function parseFixture(text: string): { cases: Case[]; seqs: Seq[] } {
  const cases: Case[] = [];
  const seqs: Seq[] = [];
  for (const line of text.split('\n')) {
    let m = /;;\s*@case\s+(\S+)((?:\s+[\w-]+(?:=\S+)?)*)\s*:\s*(.*)$/.exec(line);
    if (m) {
      const attrs = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\S+)/g)].map((x) => [x[1]!, x[2]!.split(',')]));
      const eas = attrs.ea ?? [];
      const sizes = attrs.size ?? [];
      cases.push({
        fn: m[1]!,
        ranges: eas.map((ea, i) => ({ ea, size: sizes[i] ?? sizes[0]! })),
        args: m[3]!.split('|').map((a) => (a.trim() ? a.split(',').map(parseArg) : [])),
        v8OobOk: /\bv8-oob-ok\b/.test(m[2]!),
      });
      continue;
    }
    m = /;;\s*@seq\s+(\S+)((?:\s+[\w-]+)*)\s*:\s*(.*)$/.exec(line);
    if (m) {
      const calls = m[3]!.split(';').map((c) => {
        const cm = /^\s*([\w.]+)\((.*)\)\s*$/.exec(c);
        if (!cm) throw new Error(`bad @seq call: ${c}`);
        return { fn: cm[1]!, args: cm[2]!.trim() ? cm[2]!.split(',').map(parseArg) : [] };
      });
      seqs.push({ label: m[1]!, calls, v8OobOk: /\bv8-oob-ok\b/.test(m[2]!) });
    }
  }
  return { cases, seqs };
}

/** Evaluates an ea/size expression against the call's arguments (i32 arguments as unsigned). */
function evalExpr(e: string, args: Arg[]): bigint {
  let total = 0n;
  for (const term of e.split('+')) {
    const t = term.trim();
    const am = /^a(\d+)$/.exec(t);
    if (am) {
      const v = args[Number(am[1])]!;
      total += typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt(v >>> 0);
    } else total += BigInt(t);
  }
  return total;
}

class BoundsTrap extends Error {
  readonly address: bigint;
  readonly size: number;
  constructor(address: bigint, size: number) {
    super(`out of bounds memory access: ${size} bytes at 0x${address.toString(16)}`);
    this.address = address;
    this.size = size;
  }
}

interface Outcome { value?: unknown; trap?: Error; memory: Uint8Array }

interface Runner {
  call(fn: string, args: Arg[]): Outcome;
  memory(): WebAssembly.Memory;
}

function originalRunner(bytes: Uint8Array): Runner {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
  const mem = inst.exports.memory as WebAssembly.Memory;
  return run(inst, () => mem);
}

function bundleRunner(wasm: Uint8Array, limits: { initialPages: number; maximumPages: number }): Runner & { yields: () => number } {
  const memory = new WebAssembly.Memory({ initial: limits.initialPages, maximum: limits.maximumPages });
  const preempt = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  let yields = 0;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), {
    sledge: {
      memory,
      preempt,
      yield: () => {
        yields++;
      },
      bounds_trap: (address: bigint, size: number) => {
        throw new BoundsTrap(address, size >>> 0);
      },
    },
  });
  (inst.exports[INIT_EXPORT] as (() => void) | undefined)?.(); // data segments are passive in a resettable bundle
  return { ...run(inst, () => memory), yields: () => yields };
}

function run(inst: WebAssembly.Instance, mem: () => WebAssembly.Memory): Runner {
  return {
    memory: mem,
    call(fn, args) {
      const f = inst.exports[fn] as ((...a: Arg[]) => unknown) | undefined;
      if (!f) throw new Error(`no export ${fn}`);
      let out: Omit<Outcome, 'memory'>;
      try {
        out = { value: f(...args) };
      } catch (e) {
        if (!(e instanceof Error)) throw e;
        if (e instanceof RangeError && /call stack/i.test(e.message)) throw e;
        out = { trap: e };
      }
      return { ...out, memory: new Uint8Array(mem().buffer.slice(0)) };
    },
  };
}

const VARIANTS: { name: string; opts: Partial<CompileOptions> }[] = [
  { name: 'guard', opts: { bounds: 'guard', yieldPoints: true, optLevel: 2 } },
  { name: 'guard-wrap', opts: { bounds: 'guard', yieldPoints: true, optLevel: 1, yieldStyle: 'wrap' } },
  { name: 'software', opts: { bounds: 'software', yieldPoints: true, optLevel: 2 } },
  { name: 'software-O0-memsize', opts: { bounds: 'software', yieldPoints: false, optLevel: 0, boundsCheckStyle: 'memory-size' } },
  { name: 'software-O3-global', opts: { bounds: 'software', yieldPoints: true, optLevel: 3, boundsCheckStyle: 'global', yieldStyle: 'inline' } },
];

function sameValue(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

function describeOutcome(o: Outcome): string {
  return o.trap ? `trap ${o.trap.constructor.name}: ${o.trap.message}` : `value ${String(o.value)}`;
}

/**
 * Compares one call's outcome on a bundle with the original's. `ranges` (already evaluated) give
 * the expected bounds_trap report, if the access is out of bounds at the time of the call.
 */
function compare(variant: string, label: string, orig: Outcome, got: Outcome, ranges: { ea: bigint; size: bigint }[] | null, memBytes: number, v8OobOk: boolean): void {
  const ctx = `${variant} ${label}: original ${describeOutcome(orig)}, got ${describeOutcome(got)}`;
  expect(Buffer.compare(got.memory, orig.memory), `${ctx}: memory differs after the call`).toBe(0);
  if (!orig.trap) {
    expect(got.trap, ctx).toBeUndefined();
    expect(sameValue(got.value, orig.value), ctx).toBe(true);
    return;
  }
  expect(got.trap, ctx).toBeDefined();
  const software = variant.startsWith('software');
  if (got.trap instanceof BoundsTrap) {
    expect(software, `${ctx}: bounds_trap in a guard bundle`).toBe(true);
    expect(orig.trap.message, ctx).toMatch(/out of bounds/);
    // The reported range really is out of bounds.
    expect(got.trap.address + BigInt(got.trap.size) > BigInt(memBytes), ctx).toBe(true);
    boundsTraps.set(variant, (boundsTraps.get(variant) ?? 0) + 1);
  } else {
    // Not ours: V8's own trap, with the original's exact message.
    expect(got.trap?.message, ctx).toBe(orig.trap.message);
    if (software && !v8OobOk) expect(got.trap?.message, `${ctx}: V8 caught an out-of-bounds access the checks missed`).not.toMatch(/out of bounds/);
  }
  // When the original trapped for being out of bounds (not, say, on a division in a later operand),
  // the first out-of-bounds annotated range is what bounds_trap must report.
  const expected = /out of bounds/.test(orig.trap.message) ? ranges?.find((r) => r.ea + r.size > BigInt(memBytes)) : undefined;
  if (software && expected) {
    expect(got.trap!, `${ctx}: expected bounds_trap(${expected.ea}, ${expected.size})`).toBeInstanceOf(BoundsTrap);
    const t = got.trap as BoundsTrap;
    expect([t.address, BigInt(t.size)], ctx).toEqual([expected.ea, expected.size]);
  } else if (!software || !expected) {
    if (software && ranges && ranges.length && !expected) {
      // Every annotated range in bounds: the trap is not a bounds trap.
      expect(got.trap, ctx).not.toBeInstanceOf(BoundsTrap);
    }
  }
}

/** bounds_trap reports seen per variant: proves the software checks were actually exercised. */
const boundsTraps = new Map<string, number>();

const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.wat')).sort();

describe.each(files)('%s', (file) => {
  const text = readFileSync(join(FIXTURES, file), 'utf8');
  const { cases, seqs } = parseFixture(text);
  const original = watToWasm(file, text);
  const compiled = VARIANTS.map((v) => ({
    name: v.name,
    result: compileModule(original, { bounds: 'guard', yieldPoints: true, optLevel: 2, simd: true, where: file, ...v.opts } as CompileOptions),
  }));

  it('has cases', () => {
    expect(cases.length + seqs.length).toBeGreaterThan(0);
  });

  it('compiles in every variant, with checks only in software bundles', async () => {
    for (const c of compiled) {
      const r = await c.result;
      expect(r.imports).toContain('sledge.memory');
      if (c.name.startsWith('software')) {
        expect(r.boundsChecks).toBeGreaterThan(0);
        expect(r.features).toContain('software-bounds');
      } else expect(r.boundsChecks).toBe(0);
    }
  });

  for (const c of cases) {
    it(`@case ${c.fn}`, async () => {
      for (const args of c.args) {
        const orig = originalRunner(original);
        const o = orig.call(c.fn, args);
        const memBytes = orig.memory().buffer.byteLength;
        const ranges = c.ranges.map((r) => ({ ea: evalExpr(r.ea, args), size: evalExpr(r.size, args) }));
        for (const v of compiled) {
          const r = await v.result;
          const b = bundleRunner(r.wasm, r.memory);
          compare(v.name, `${c.fn}(${args.join(', ')})`, o, b.call(c.fn, args), ranges, memBytes, c.v8OobOk);
          expect(b.yields(), 'the preempt flag is clear: no yields').toBe(0);
        }
      }
    });
  }

  for (const s of seqs) {
    it(`@seq ${s.label}`, async () => {
      const orig = originalRunner(original);
      const bundles = await Promise.all(compiled.map(async (v) => ({ name: v.name, runner: bundleRunner((await v.result).wasm, (await v.result).memory) })));
      for (const call of s.calls) {
        const o = orig.call(call.fn, call.args);
        const memBytes = orig.memory().buffer.byteLength;
        for (const b of bundles) compare(b.name, `${s.label}: ${call.fn}(${call.args.join(', ')})`, o, b.runner.call(call.fn, call.args), null, memBytes, s.v8OobOk);
      }
    });
  }
});

describe('coverage', () => {
  it('every software variant reported out-of-bounds accesses through bounds_trap', () => {
    for (const v of VARIANTS) {
      if (v.name.startsWith('software')) expect(boundsTraps.get(v.name) ?? 0, v.name).toBeGreaterThan(100);
      else expect(boundsTraps.get(v.name) ?? 0, v.name).toBe(0);
    }
  });
});
