// Every C fixture and compute kernel, built for real (embedded clang; Emscripten when installed)
// in each bounds mode, run in-process through the loader and runtime as `sledge-loader run` does:
// exact output, exit status, and for misbehaving functions the classified trap.

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BoundsMode } from '../contract/manifest.ts';
import { TRAP_EXIT_CODE } from '../runtime/sandbox.ts';
import type { TrapKind } from '../runtime/traps.ts';
import { buildFixture, cli, FIXTURES, hasEmcc, manifestOf, runBundle, type RunOptions } from './helpers/fixtures.ts';

type CC = 'clang' | 'emcc';
const MODES: BoundsMode[] = ['guard', 'software', 'none'];
const PAGE = 65536;
/** Generous: a test may wait for prefetched emcc builds queued ahead of its own on a busy machine. */
const SLOW = 180_000;

interface Case {
  args?: string[];
  stdin?: string | Uint8Array;
  opts?: RunOptions;
  /** Caps memory at the module's initial size plus this many pages. */
  capExtraPages?: number;
  stdout?: string | RegExp | Uint8Array | ((bundle: string) => string);
  /** Further checks on stdout, given the memory cap in MiB when capExtraPages is set. */
  more?: (stdout: string, capMiB: number) => void;
  code?: number;
  /** Expected trap; the exit status is then TRAP_EXIT_CODE. */
  trap?: TrapKind;
  /** Software mode only: the out-of-bounds report, given the memory's size in bytes. */
  softwareReason?: (memBytes: number) => string;
  /** Crashes the process in `none` mode (no checks at all): covered by a spawned run instead. */
  unchecked?: 'crashes';
}

const hex = (n: number) => `0x${n.toString(16)}`;
const oobReason = (size: number, at: number) => `out of bounds memory access: ${size} bytes at address ${hex(at)}`;
const binary = randomBytes(100_000); // larger than echo's 64 KiB buffer

const FIXTURE_CASES: Record<string, Case[]> = {
  empty: [{ stdout: '', code: 0 }],
  hello: [{ stdout: 'Hello, World!\n', code: 0 }],
  echo: [{ stdin: 'a line\n', stdout: 'a line\n' }, { stdin: binary, stdout: binary }, { stdin: '', stdout: '' }],
  fibonacci: [
    { args: ['20'], stdout: '6765\n' },
    { stdin: '20\n', stdout: '6765\n' },
    { args: ['x'], stdout: '', code: 1 },
  ],
  env: [{
    args: ['a', 'b c'],
    opts: { env: ['QUERY_STRING=a&b', 'X=1'] },
    stdout: (bundle) => `argc=3\nargv[0]=${bundle}\nargv[1]=a\nargv[2]=b c\nenv[0]=QUERY_STRING=a&b\nenv[1]=X=1\n`,
  }],
  wasi: [{ stdout: 'clock ok\nrandom ok\n', code: 0 }],
  exitcode: [{ args: ['7'], stdout: 'exit 7\n', code: 7 }, { args: ['0'], stdout: 'exit 0\n', code: 0 }],
  // Same pool: a run after `write` must see fresh memory.
  secret: [
    { args: ['write'], stdout: 'written\n' },
    { args: ['read'], stdout: 'bss=\ndata=initial\nheap=\nstack=\n' },
  ],
  loop: [{ args: ['100000'], stdout: 'looping\n100000\n' }],
  // One run: what a second run sees depends on the reset (test/serve.test.ts, memory-reset).
  wild: [{ stdout: 'fresh\n' }],
  mallocbomb: [
    { args: ['3'], stdout: 'allocated 3 MiB\n', code: 0 },
    // 8 MiB above the initial memory: malloc fails (it does not trap) at the cap.
    {
      capExtraPages: 128, stdout: /^allocated \d+ MiB\n$/, code: 1,
      more: (out, capMiB) => expect(Number(/\d+/.exec(out)![0])).toSatisfy((n: number) => n >= 7 && n < capMiB),
    },
  ],
  oob: [
    { trap: 'out-of-bounds', softwareReason: () => oobReason(4, 0xfffffff0), unchecked: 'crashes' },
    { args: ['far', 'read'], trap: 'out-of-bounds', softwareReason: () => oobReason(4, 0xfffffff0), unchecked: 'crashes' },
    { args: ['edge'], trap: 'out-of-bounds', softwareReason: (m) => oobReason(4, m), unchecked: 'crashes' },
    { args: ['straddle', 'read'], trap: 'out-of-bounds', softwareReason: (m) => oobReason(4, m - 2), unchecked: 'crashes' },
  ],
  divzero: [
    { args: ['2'], stdout: '21\n', code: 0 },
    { trap: 'divide-by-zero' },
    { args: ['overflow'], trap: 'integer-overflow' },
    // The same pool after two traps: a fresh instance takes over from the trapped one.
    { args: ['3'], stdout: '14\n', code: 0 },
  ],
  unreachable: [{ stdout: 'before trap\n', trap: 'unreachable' }],
  recursion: [
    { args: ['100'], stdout: '5050\n', code: 0 },
    // The shadow stack is placed first (--stack-first): overflowing it runs below address 0.
    { trap: 'out-of-bounds', unchecked: 'crashes' },
    // Small frames: the engine's own stack overflows first.
    { args: ['1000000000', '16'], trap: 'stack-overflow' },
  ],
  badcall: [{ trap: 'indirect-call' }, { args: ['null'], trap: 'indirect-call' }],
};

async function check(path: string, mode: BoundsMode, c: Case): Promise<void> {
  const m = await manifestOf(path);
  const opts: RunOptions = { ...c.opts, allowUnsafe: mode === 'none' };
  if (c.capExtraPages) opts.memoryMaxPages = m.memory.initialPages + c.capExtraPages;
  const capMiB = (opts.memoryMaxPages ?? m.memory.maximumPages) / 16;
  const r = await runBundle(path, c.args ?? [], c.stdin ?? '', opts);
  const what = `${path} ${(c.args ?? []).join(' ')}`;
  if (typeof c.stdout === 'function') expect(r.stdout, what).toBe(c.stdout(basename(path)));
  else if (c.stdout instanceof Uint8Array) expect(Buffer.compare(r.stdoutBytes, c.stdout), what).toBe(0);
  else if (c.stdout instanceof RegExp) expect(r.stdout, what).toMatch(c.stdout);
  else if (c.stdout !== undefined) expect(r.stdout, what).toBe(c.stdout);
  c.more?.(r.stdout, capMiB);
  if (c.trap) {
    expect(r.trap?.kind, `${what}: ${r.trap?.reason}`).toBe(c.trap);
    expect(r.exitCode, what).toBe(TRAP_EXIT_CODE);
    if (mode === 'software' && c.softwareReason) {
      expect(r.trap!.reason, what).toBe(c.softwareReason(m.memory.initialPages * PAGE));
    }
  } else {
    expect(r.trap, what).toBeUndefined();
    expect(r.exitCode, what).toBe(c.code ?? 0);
  }
}

const compute = JSON.parse(readFileSync(join(FIXTURES, 'c', 'compute', 'expected.json'), 'utf8')) as Record<string, { smallArg: string; smallOutput: string }>;

function suite(cc: CC): void {
  for (const mode of MODES) {
    describe(`${cc}, bounds ${mode}`, () => {
      for (const [name, cases] of Object.entries(FIXTURE_CASES)) {
        it(name, async () => {
          const path = await buildFixture(name, { cc, bounds: mode });
          const m = await manifestOf(path);
          expect(m.bounds).toBe(mode);
          expect(m.unsafe).toBe(mode === 'none');
          // Every C fixture qualifies for instance reuse (passes/instance-reset.ts).
          expect(m.features).toContain('instance-reset');
          for (const c of cases) if (!(mode === 'none' && c.unchecked)) await check(path, mode, c);
        }, SLOW);
      }
    });
  }

  // `none` really is unchecked: a bad access is not caught and takes the process down, which is
  // why the loader needs an explicit switch (DESIGN §3).
  it(`${cc}, bounds none: an out-of-bounds access crashes the process`, async () => {
    const path = await buildFixture('oob', { cc, bounds: 'none' });
    const r = await cli('sledge-loader', ['run', '--unsafe-unchecked-memory', path]);
    expect(r.stdout).not.toContain('no trap');
    expect(r.signal).toBe('SIGSEGV');
  });
}

// Emscripten is slow (a few processes per file): start its builds now, in test order, so they run
// beside the in-process clang tests.
if (hasEmcc) {
  for (const name of [...Object.keys(FIXTURE_CASES), ...Object.keys(compute).map((k) => `compute/${k}`)]) {
    buildFixture(name, { cc: 'emcc' }).catch(() => {}); // a failure is reported by the test that needs it
  }
}

it('every C fixture has cases here', () => {
  const files = readdirSync(join(FIXTURES, 'c')).filter((f) => f.endsWith('.c')).map((f) => basename(f, '.c'));
  expect(files.sort()).toEqual(Object.keys(FIXTURE_CASES).sort());
});

describe('C fixtures, embedded clang', () => suite('clang'));
describe.skipIf(!hasEmcc)('C fixtures, emcc', () => suite('emcc'));

describe('compute kernels at their small size', () => {
  const variants: { cc: CC; bounds: BoundsMode; simd?: boolean; skip?: boolean }[] = [
    { cc: 'clang', bounds: 'guard' },
    { cc: 'clang', bounds: 'software' },
    { cc: 'clang', bounds: 'none' },
    { cc: 'clang', bounds: 'guard', simd: true },
    { cc: 'emcc', bounds: 'guard', skip: !hasEmcc },
  ];
  for (const v of variants) {
    describe.skipIf(v.skip === true)(`${v.cc}, bounds ${v.bounds}${v.simd ? ', simd' : ''}`, () => {
      for (const [kernel, exp] of Object.entries(compute)) {
        it(kernel, async () => {
          const path = await buildFixture(`compute/${kernel}`, { cc: v.cc, bounds: v.bounds, simd: v.simd === true });
          const r = await runBundle(path, [exp.smallArg], '', { allowUnsafe: v.bounds === 'none' });
          expect(r.trap).toBeUndefined();
          expect(r.stdout).toBe(exp.smallOutput);
          expect(r.exitCode).toBe(0);
        }, SLOW);
      }
    });
  }
});

describe('instance reset: one instance serves run after run', () => {
  for (const mode of MODES) {
    it(`commands/state.wat, bounds ${mode}: each run sees its globals and data as instantiated`, async () => {
      const path = await buildFixture('commands/state.wat', { bounds: mode });
      const m = await manifestOf(path);
      expect(m.features).toContain('instance-reset');
      expect(m.exports).toContain('sledge_init');
      // The same pool and slot each time (runs are sequential): the instance is reused.
      for (let i = 0; i < 4; i++) {
        const r = await runBundle(path, [], '', { allowUnsafe: mode === 'none' });
        expect(r.stdout, `run ${i + 1}`).toBe('runs=1 data=fresh\n');
      }
    });
  }
});

describe('build options', () => {
  it('without yield points the manifest says so and the function still runs', async () => {
    const path = await buildFixture('fibonacci', { yieldPoints: false });
    const m = await manifestOf(path);
    expect(m.yieldPoints).toEqual({ enabled: false, count: 0 });
    expect(m.features).not.toContain('yield-points');
    expect((await runBundle(path, ['20'])).stdout).toBe('6765\n');
    const withYield = await manifestOf(await buildFixture('fibonacci'));
    expect(withYield.yieldPoints.enabled).toBe(true);
    expect(withYield.yieldPoints.count).toBeGreaterThan(0);
  });
});
