// Cost of software bounds checks and of yield points, measured side by side in one run on the
// compute kernels (fixtures/c/compute/*.c, built with the embedded clang -O3):
//
//   guard              — sledgec --bounds guard --no-yield-points (the baseline)
//   guard+yield        — guard with yield points as sledgec makes them (target ≤ 1.03×): the call
//                        outside the loop, short counted loops run an unchecked copy, and other
//                        innermost loops read the flag only every K iterations (a countdown)
//   guard+yield/flag   — the same reading the flag at every innermost loop header
//   guard+yield/wrap   — the same without the unchecked copies either
//   guard+yield/inline — yield points as `if (flag) call yield` at loop headers (the naive shape)
//   software           — --bounds software: exact memory size in a local (target ≤ 1.15×)
//   software/msize     — software, reading memory.size at every check
//   software/global    — software, exact memory size in a global
//   software+yield     — software with yield points (what `sledgec build --bounds software` makes)
//   clang              — the module straight from clang (no Binaryen), for reference
//
// Each variant is instantiated fresh and its _start timed; variants are interleaved and the best
// of --repeat runs is kept (the machine is shared and has 2 cores: interference only ever adds
// time, so the minimum is the steadiest statistic). Ratios are per kernel against guard, with
// the geometric mean.
//
//   node bench/bounds.ts [--repeat 5] [-O3] [--simd] [--scale 1] [kernel…]
//
// Two processes: this one builds every variant (clang + sledgec, in a plain Node), then a child
// started with --no-liftoff --no-wasm-lazy-compilation (optimized code from the first call, as
// the loader runs bundles) times them. The compiler itself must not run under those flags: V8
// would compile Binaryen's own 10 MB of wasm eagerly with TurboFan (~10 s).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompileOptions } from '../compiler/compile.ts';
import { INIT_EXPORT } from '../contract/host-abi.ts';

const FLAGS = ['--no-liftoff', '--no-wasm-lazy-compilation'];

const here = dirname(fileURLToPath(import.meta.url));
const computeDir = join(here, '..', 'fixtures', 'c', 'compute');

const argv = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : def;
};
const repeat = Number(flag('--repeat', '5'));
const scale = Number(flag('--scale', '1'));
const optLevel = (Number(argv.find((a) => /^-O[0-3]$/.test(a))?.slice(2) ?? '3')) as 0 | 1 | 2 | 3; // sledgec's default
const simd = argv.includes('--simd');
const only = argv.filter((a, i) => !a.startsWith('-') && !['--repeat', '--scale', '--run'].includes(argv[i - 1] ?? ''));

// Sizes chosen for ~0.3–1 s per run in guard mode on a 2-core machine (multiplied by --scale).
const ARGS: Record<string, number> = {
  bignum: 6000, crc32: 128, editdistance: 12000, jacobi2d: 500, json: 40000, lu: 700,
  mandelbrot: 1000, matmul: 500, nbody: 2000000, sha256: 8192, sieve: 40000000, sort: 2000000,
};

const EXPERIMENT = process.env.BENCH_VARIANTS ? JSON.parse(process.env.BENCH_VARIANTS) as { name: string; opts?: Partial<CompileOptions> }[] : undefined;
const VARIANTS: { name: string; opts?: Partial<CompileOptions> }[] = EXPERIMENT ?? [
  { name: 'guard', opts: { bounds: 'guard', yieldPoints: false } },
  { name: 'guard+yield', opts: { bounds: 'guard', yieldPoints: true } },
  { name: 'guard+yield/flag', opts: { bounds: 'guard', yieldPoints: true, yieldStyle: 'versioned' } },
  { name: 'guard+yield/wrap', opts: { bounds: 'guard', yieldPoints: true, yieldStyle: 'wrap' } },
  { name: 'guard+yield/inline', opts: { bounds: 'guard', yieldPoints: true, yieldStyle: 'inline' } },
  { name: 'software', opts: { bounds: 'software', yieldPoints: false } },
  { name: 'software/msize', opts: { bounds: 'software', yieldPoints: false, boundsCheckStyle: 'memory-size' } },
  { name: 'software/global', opts: { bounds: 'software', yieldPoints: false, boundsCheckStyle: 'global' } },
  { name: 'software+yield', opts: { bounds: 'software', yieldPoints: true } },
  { name: 'clang' },
];

class Exit {
  code: number;
  constructor(code: number) {
    this.code = code;
  }
}

/** Just the WASI calls the kernels make. */
function wasi(memory: () => WebAssembly.Memory, args: string[], out: string[]): Record<string, Function> {
  const enc = new TextEncoder();
  const argBytes = args.map((a) => enc.encode(a + '\0'));
  const view = () => new DataView(memory().buffer);
  return {
    args_sizes_get(argc: number, size: number) {
      view().setUint32(argc, args.length, true);
      view().setUint32(size, argBytes.reduce((n, b) => n + b.length, 0), true);
      return 0;
    },
    args_get(argv: number, buf: number) {
      const u8 = new Uint8Array(memory().buffer);
      for (const b of argBytes) {
        view().setUint32(argv, buf, true);
        argv += 4;
        u8.set(b, buf);
        buf += b.length;
      }
      return 0;
    },
    fd_write(fd: number, iovs: number, n: number, written: number) {
      let total = 0;
      const dec = new TextDecoder();
      for (let i = 0; i < n; i++) {
        const p = view().getUint32(iovs + i * 8, true);
        const len = view().getUint32(iovs + i * 8 + 4, true);
        if (fd === 1) out.push(dec.decode(new Uint8Array(memory().buffer, p, len)));
        total += len;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    fd_fdstat_get(_fd: number, buf: number) {
      new Uint8Array(memory().buffer, buf, 24).fill(0);
      view().setUint8(buf, 2); // character device
      return 0;
    },
    fd_close: () => 0,
    fd_seek: () => 70, // ESPIPE
    proc_exit(code: number) {
      throw new Exit(code);
    },
  };
}

interface Built {
  module: WebAssembly.Module;
  memory?: { initialPages: number; maximumPages: number };
  checks: number;
  yields: number;
}

function runOnce(b: Built, kernel: string, arg: string): { seconds: number; output: string } {
  const out: string[] = [];
  let memory: WebAssembly.Memory | undefined = b.memory ? new WebAssembly.Memory({ initial: b.memory.initialPages, maximum: b.memory.maximumPages }) : undefined;
  const imports: WebAssembly.Imports = { wasi_snapshot_preview1: wasi(() => memory!, [kernel, arg], out) as WebAssembly.ModuleImports };
  if (memory) {
    imports.sledge = {
      memory,
      preempt: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }),
      yield: () => {},
      bounds_trap: (a: bigint, s: number) => {
        throw new Error(`bounds_trap(${a}, ${s})`);
      },
    };
  }
  const inst = new WebAssembly.Instance(b.module, imports);
  (inst.exports[INIT_EXPORT] as (() => void) | undefined)?.(); // a resettable bundle's data comes from sledge_init
  memory ??= inst.exports.memory as WebAssembly.Memory;
  const t = performance.now();
  try {
    (inst.exports._start as () => void)();
  } catch (e) {
    if (!(e instanceof Exit) || e.code !== 0) throw e;
  }
  return { seconds: (performance.now() - t) / 1000, output: out.join('') };
}

const best = (xs: number[]): number => Math.min(...xs);

const kernels = readdirSync(computeDir).filter((f) => f.endsWith('.c')).map((f) => basename(f, '.c')).filter((k) => !only.length || only.includes(k));

interface Plan {
  kernels: { name: string; arg: string; variants: { name: string; file: string; memory?: Built['memory']; checks: number; yields: number }[] }[];
}

const runDir = argv[argv.indexOf('--run') + 1];
if (argv.includes('--run') && runDir) {
  await timeAll(JSON.parse(readFileSync(join(runDir, 'plan.json'), 'utf8')) as Plan);
} else {
  // Build phase (no tiering flags; see above).
  const { compileModule } = await import('../compiler/compile.ts');
  const { compileSource } = await import('../toolchain/frontend.ts');
  const dir = mkdtempSync(join(tmpdir(), 'sledge-bench-bounds-'));
  const plan: Plan = { kernels: [] };
  try {
    for (const k of kernels) {
      const input = (await compileSource(join(computeDir, `${k}.c`), { optLevel: 3, simd })).wasm;
      const entry: Plan['kernels'][number] = { name: k, arg: String(Math.max(1, Math.round((ARGS[k] ?? 1) * scale))), variants: [] };
      for (const v of VARIANTS) {
        const file = join(dir, `${k}.${v.name.replace(/\W/g, '_')}.wasm`);
        if (!v.opts) {
          writeFileSync(file, input);
          entry.variants.push({ name: v.name, file, checks: 0, yields: 0 });
          continue;
        }
        const r = await compileModule(input, { bounds: 'guard', yieldPoints: false, optLevel, simd, where: `${k}.c`, ...v.opts } as CompileOptions);
        writeFileSync(file, r.wasm);
        entry.variants.push({ name: v.name, file, memory: r.memory, checks: r.boundsChecks, yields: r.yieldPointCount });
      }
      plan.kernels.push(entry);
    }
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
    // BENCH_NODE_FLAGS: extra V8 flags for the timing process (e.g. to see what a V8 optimization contributes).
    const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const r = spawnSync(process.execPath, [...FLAGS, ...extra, fileURLToPath(import.meta.url), ...argv, '--run', dir], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timeAll(plan: Plan): Promise<void> {
  console.log(`bench/bounds: node ${process.version} ${process.execArgv.join(' ')}, clang -O3${simd ? ' -msimd128' : ''}, sledgec -O${optLevel}, best of ${repeat} runs\n`);
  const table: Record<string, Record<string, number>> = {};
  const notes: string[] = [];
  for (const k of plan.kernels) {
    const builds = new Map<string, Built>();
    for (const v of k.variants) {
      builds.set(v.name, { module: new WebAssembly.Module(readFileSync(v.file)), memory: v.memory, checks: v.checks, yields: v.yields });
    }
    const times = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    let reference: string | undefined;
    for (let r = 0; r < repeat; r++) {
      // Rotate the order each round so no variant always runs first (or right after another).
      for (let i = 0; i < VARIANTS.length; i++) {
        const v = VARIANTS[(i + r) % VARIANTS.length]!;
        const res = runOnce(builds.get(v.name)!, k.name, k.arg);
        reference ??= res.output;
        if (res.output !== reference) throw new Error(`${k.name} ${v.name}: output differs:\n${res.output}\nvs\n${reference}`);
        times.get(v.name)!.push(res.seconds);
      }
    }
    table[k.name] = Object.fromEntries([...times].map(([n, ts]) => [n, best(ts)]));
    notes.push(`${k.name}: ${builds.get('software')?.checks} checks, ${builds.get('guard+yield')?.yields} yield points`);
    const row = VARIANTS.map((v) => `${v.name} ${(table[k.name]![v.name]! * 1000).toFixed(0)}ms`).join('  ');
    console.log(`${k.name.padEnd(13)} arg=${k.arg.padEnd(9)} ${row}`);
  }

  const cols = VARIANTS.filter((v) => v.name !== 'guard').map((v) => v.name);
  const w = 20;
  console.log(`\nratio vs guard (best time; lower is better)\n${'kernel'.padEnd(14)}${'guard ms'.padStart(10)}${cols.map((c) => c.padStart(w)).join('')}`);
  const logs = new Map<string, number[]>(cols.map((c) => [c, []]));
  for (const k of Object.keys(table)) {
    const g = table[k]!.guard!;
    const cells = cols.map((c) => {
      const ratio = table[k]![c]! / g;
      logs.get(c)!.push(Math.log(ratio));
      return `${ratio.toFixed(3)}×`.padStart(w);
    });
    console.log(`${k.padEnd(14)}${(g * 1000).toFixed(0).padStart(10)}${cells.join('')}`);
  }
  const geo = cols.map((c) => {
    const ls = logs.get(c)!;
    return `${Math.exp(ls.reduce((a, b) => a + b, 0) / ls.length).toFixed(3)}×`.padStart(w);
  });
  console.log(`${'geomean'.padEnd(14)}${''.padStart(10)}${geo.join('')}`);
  console.log(`\ntargets: software ≤ 1.15×, guard+yield ≤ 1.03×\n${notes.join('\n')}`);
}
