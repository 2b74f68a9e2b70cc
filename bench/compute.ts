// The compute suite (fixtures/c/compute, benchmark sizes) natively with gcc -O3 against
// `sledge-loader run` on the FIRST run: one spawned CLI per run, so process start, the bundle's
// compile (the loader's tiering flags: optimized code from the first call) and the run are all
// counted; nothing is subtracted. Configurations (embedded clang -O3, sledgec):
//
//   guard            the default: guard regions, yield points
//   guard+simd       --simd
//   software         --bounds software (with yield points)
//   guard no-yield   --no-yield-points
//
// Runs are interleaved (every configuration of a kernel back to back, order rotated per rep) and
// the median of --reps is kept; outputs are checked against expected.json. Each run goes through
// /usr/bin/time, so CPU time (user+sys) is reported too: it is less disturbed by other load on a
// shared machine (but counts V8's background compile and GC threads). A small runner started with
// the loader's flags (this file bundled by esbuild, so no TypeScript stripping runs under those
// flags) measures the guard bundle's first run without process start and compile (interleaved
// with the rest) and, afterwards, the first run against the tenth (tiering).
//
//   node bench/compute.ts [--reps 3] [--quick] [kernel…]
//
// Prints markdown tables and writes them to bench/results/compute.md.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The flags the loader sets before it compiles (loader/module-context.ts: TIERING_FLAGS). */
const LOADER_FLAGS = ['--no-liftoff', '--no-wasm-lazy-compilation'];
const QUICK = ['matmul', 'sha256', 'sort', 'mandelbrot'];
const TENTH = 10;

interface Config { name: string; bounds: 'guard' | 'software'; yieldPoints: boolean; simd: boolean }
const CONFIGS: Config[] = [
  { name: 'guard', bounds: 'guard', yieldPoints: true, simd: false },
  { name: 'guard+simd', bounds: 'guard', yieldPoints: true, simd: true },
  { name: 'software', bounds: 'software', yieldPoints: true, simd: false },
  { name: 'guard no-yield', bounds: 'guard', yieldPoints: false, simd: false },
];
/** In-process first runs (after load: no process start, no compile), by bundle configuration. */
const IN_PROC: Record<string, string> = { 'in-proc guard': 'guard', 'in-proc guard+simd': 'guard+simd' };
const IN_PROC_COLS = Object.keys(IN_PROC);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const geomean = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

// --- runner: `--child bundle kernel runs`, started with the loader's flags ------------------------

interface ChildResult { compileMs: number; runs: number[]; output: string }

async function child(bundle: string, kernel: string, n: number): Promise<void> {
  const { loadBundle } = await import('../loader/bundle.ts');
  const { createModuleContext } = await import('../loader/module-context.ts');
  const { MemoryPool } = await import('../runtime/memory-pool.ts');
  const { runSandbox } = await import('../runtime/sandbox.ts');
  const { cStrings } = await import('../runtime/wasi/c-strings.ts');
  const t0 = performance.now();
  const ctx = await createModuleContext(await loadBundle(bundle), bundle, kernel);
  const compileMs = performance.now() - t0;
  const pool = new MemoryPool(ctx.sandbox, { preempt: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }), yieldImport: () => {} });
  const runs: number[] = [];
  let output = '';
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await runSandbox(pool, { argv: cStrings([kernel]), env: cStrings([]), stdin: new Uint8Array(0) });
    runs.push((performance.now() - t) / 1000);
    if (i === 0) output = Buffer.concat(r.stdout).toString();
  }
  const res: ChildResult = { compileMs, runs, output };
  process.stdout.write(JSON.stringify(res) + '\n');
}

// --- parent ------------------------------------------------------------------------------------

interface Timed { seconds: number; cpu: number; ok: boolean; stdout: string; detail: string }

/** Wall time of a process from spawn to exit and its CPU time (/usr/bin/time); checks stdout. */
function timeProcess(cmd: string, args: string[], want: string | undefined, timeFile: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => err.push(c));
    p.on('error', reject);
    p.on('close', (code) => {
      const seconds = (performance.now() - t) / 1000;
      const stdout = Buffer.concat(out).toString();
      const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
      const ok = code === 0 && (want === undefined || stdout === want);
      const detail = ok ? '' : `exit ${code}, stdout ${JSON.stringify(stdout.slice(0, 300))}, stderr ${JSON.stringify(Buffer.concat(err).toString().slice(0, 300))}`;
      resolve({ seconds, cpu: user! + sys!, ok, stdout, detail });
    });
  });
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const computeDir = join(root, 'fixtures', 'c', 'compute');
  const expected = JSON.parse(readFileSync(join(computeDir, 'expected.json'), 'utf8')) as Record<string, { benchOutput: string }>;
  const argv = process.argv.slice(2);
  const reps = argv.includes('--reps') ? Number(argv[argv.indexOf('--reps') + 1]) : 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a positive integer');
  const named = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--reps');
  const all = readdirSync(computeDir).filter((f) => f.endsWith('.c')).map((f) => basename(f, '.c')).sort();
  const kernels = named.length ? named : argv.includes('--quick') ? QUICK : all;
  for (const k of kernels) if (!all.includes(k)) throw new Error(`unknown kernel ${k} (kernels: ${all.join(', ')})`);

  const load0 = loadavg();
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  const dir = mkdtempSync(join(tmpdir(), 'sledge-bench-compute-'));
  const timeFile = join(dir, 'time.txt');
  try {
    // The runner: this file as one plain ESM file (the compiler, only used here, left out).
    const runner = join(dir, 'runner.mjs');
    const esbuild = await import('esbuild');
    await esbuild.build({
      entryPoints: [fileURLToPath(import.meta.url)], outfile: runner, bundle: true, platform: 'node', format: 'esm', target: 'node24', logLevel: 'error',
      plugins: [{ name: 'no-compiler', setup: (b) => b.onResolve({ filter: /\/compiler\// }, (a) => ({ path: a.path, external: true })) }],
    });
    for (const k of kernels) {
      const r = spawnSync('gcc', ['-O3', '-o', join(dir, k), join(computeDir, `${k}.c`), '-lm'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`gcc failed on ${k}: ${r.stderr}`);
    }
    // Bundles, built here (plain Node: the compiler must not run under the loader's flags).
    const { build, DEFAULT_BUILD } = await import('../compiler/build.ts');
    const bundles: Record<string, Record<string, string>> = {};
    for (const k of kernels) {
      bundles[k] = {};
      for (const c of CONFIGS) {
        const out = join(dir, `${k}.${c.name.replace(/\W+/g, '_')}.sledge`);
        const { bytes } = await build(join(computeDir, `${k}.c`), { ...DEFAULT_BUILD, bounds: c.bounds, yieldPoints: c.yieldPoints, simd: c.simd });
        writeFileSync(out, bytes);
        bundles[k]![c.name] = out;
      }
    }
    process.stderr.write(`built ${kernels.length} kernels with gcc and in ${CONFIGS.length} configurations (${elapsed()})\n`);

    const loader = join(root, 'bin', 'sledge-loader.js');
    const columns = ['native', ...CONFIGS.map((c) => c.name), ...IN_PROC_COLS];
    const wall: Record<string, Record<string, number[]>> = {};
    const cpu: Record<string, Record<string, number[]>> = {};
    const failures: string[] = [];
    const runChild = async (k: string, n: number, config = 'guard'): Promise<ChildResult | undefined> => {
      const r = await timeProcess(process.execPath, [...LOADER_FLAGS, runner, '--child', bundles[k]![config]!, k, String(n)], undefined, timeFile);
      const res = r.ok ? (JSON.parse(r.stdout) as ChildResult) : undefined;
      if (!res || res.output !== expected[k]!.benchOutput) {
        failures.push(`${k} in-proc ${config}: ${res ? `stdout ${JSON.stringify(res.output)}` : r.detail}`);
        return undefined;
      }
      return res;
    };
    for (let rep = 0; rep < reps; rep++) {
      for (const k of kernels) {
        wall[k] ??= Object.fromEntries(columns.map((c) => [c, []]));
        cpu[k] ??= Object.fromEntries(columns.map((c) => [c, []]));
        for (let i = 0; i < columns.length; i++) {
          const col = columns[(i + rep) % columns.length]!;
          if (IN_PROC[col]) {
            const res = await runChild(k, 1, IN_PROC[col]);
            if (res) wall[k]![col]!.push(res.runs[0]!);
            continue;
          }
          const r = col === 'native'
            ? await timeProcess(join(dir, k), [], expected[k]!.benchOutput, timeFile)
            : await timeProcess(process.execPath, [loader, 'run', bundles[k]![col]!], expected[k]!.benchOutput, timeFile);
          if (!r.ok) failures.push(`${k} ${col}: ${r.detail}`);
          wall[k]![col]!.push(r.seconds);
          cpu[k]![col]!.push(r.cpu);
        }
      }
      process.stderr.write(`rep ${rep + 1}/${reps} (${elapsed()})\n`);
    }
    // Tiering: TENTH runs of the guard bundle in one runner per kernel.
    const tiering: Record<string, ChildResult> = {};
    for (const k of kernels) {
      const res = await runChild(k, TENTH);
      if (res) tiering[k] = res;
    }
    const load1 = loadavg();

    // Tables.
    const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
    const lines: string[] = [];
    const row = (cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
    const header = (cells: string[]) => {
      row(cells);
      lines.push(`|${cells.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    };
    lines.push('## Compute suite: first run after load vs gcc -O3', '');
    lines.push(`${new Date(started).toISOString()}, node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ` +
      `load average ${load0.map(f2).join(' ')} at start and ${load1.map(f2).join(' ')} at end. Median of ${reps} interleaved reps. ` +
      'Embedded clang -O3 + sledgec. Each wasm cell is a spawned `sledge-loader run` (process start, compile and run included) over the native `gcc -O3` binary, wall time.', '');
    header(['kernel', 'native s', ...CONFIGS.map((c) => `${c.name} ×`), ...IN_PROC_COLS.map((c) => `${c} ×`)]);
    const ratios: Record<string, number[]> = Object.fromEntries(columns.map((c) => [c, []]));
    const med = (t: typeof wall, k: string, c: string) => median(t[k]![c]!);
    for (const k of kernels) {
      const native = med(wall, k, 'native');
      const cells = [k, native.toFixed(3)];
      for (const c of columns.slice(1)) {
        const r = wall[k]![c]!.length ? med(wall, k, c) / native : NaN;
        if (Number.isFinite(r)) ratios[c]!.push(r);
        cells.push(f2(r));
      }
      row(cells);
    }
    row(['**geomean**', geomean(kernels.map((k) => med(wall, k, 'native'))).toFixed(3), ...columns.slice(1).map((c) => `**${f2(geomean(ratios[c]!))}**`)]);
    const pairs = (t: typeof wall, a: string, b: string) => f2(geomean(kernels.map((k) => med(t, k, a) / med(t, k, b))));
    lines.push('');
    lines.push(`- software / guard (both with yield points): geomean **${pairs(wall, 'software', 'guard')}×**`);
    lines.push(`- yield points, guard / guard no-yield: geomean **${pairs(wall, 'guard', 'guard no-yield')}×**`);
    lines.push(`- software / guard no-yield (DESIGN §5: ≤ 1.15×): geomean **${pairs(wall, 'software', 'guard no-yield')}×**`);
    lines.push(`- in-proc: the bundle's first run in a process started with \`${LOADER_FLAGS.join(' ')}\`, after its compile: no process start, no compile — DESIGN §5's "first request after load"`);
    lines.push(`- DESIGN §5 target, first request after load in guard mode (\`--simd\` allowed) ≤ 1.05× gcc: in-proc guard+simd geomean **${f2(geomean(ratios['in-proc guard+simd']!))}×**`);
    lines.push('');
    lines.push('### The same runs in CPU time (user+sys, /usr/bin/time)', '');
    header(['kernel', 'native s', ...CONFIGS.map((c) => `${c.name} ×`)]);
    for (const k of kernels) row([k, med(cpu, k, 'native').toFixed(3), ...CONFIGS.map((c) => f2(med(cpu, k, c.name) / med(cpu, k, 'native')))]);
    row(['**geomean**', '', ...CONFIGS.map((c) => `**${pairs(cpu, c.name, 'native')}**`)]);
    lines.push('');
    lines.push(`- software / guard **${pairs(cpu, 'software', 'guard')}×**, guard / guard no-yield **${pairs(cpu, 'guard', 'guard no-yield')}×**, software / guard no-yield **${pairs(cpu, 'software', 'guard no-yield')}×**`);
    lines.push('');
    lines.push(`### Tiering: first run vs ${TENTH}th in one process (guard, loader flags)`, '');
    header(['kernel', 'compile ms', 'first s', `${TENTH}th s`, `first / ${TENTH}th`]);
    const ft: number[] = [];
    for (const k of kernels) {
      const c = tiering[k];
      if (!c) continue;
      const [first, tenth] = [c.runs[0]!, c.runs[TENTH - 1]!];
      ft.push(first / tenth);
      row([k, c.compileMs.toFixed(1), first.toFixed(3), tenth.toFixed(3), f2(first / tenth)]);
    }
    row(['**geomean**', '', '', '', `**${f2(geomean(ft))}**`]);
    if (failures.length) {
      lines.push('', `**${failures.length} run(s) failed or gave a wrong result:**`);
      for (const f of failures) lines.push(`- ${f}`);
    }
    const text = lines.join('\n') + '\n';
    process.stdout.write('\n' + text);
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'compute.md'), text);
    process.stderr.write(`wrote bench/results/compute.md (${elapsed()} in all)\n`);
    if (failures.length) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await main();
