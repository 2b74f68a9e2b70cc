// Sandbox create + run + reset of the `empty` function, in-process, as a worker does it
// (MemoryPool + runSandbox: the pooled memory's instance reset by sledge_init, run, memory
// zeroed), next to a bare `new WebAssembly.Instance` of the same module on a pooled (reused)
// memory — measured in the same run, interleaved in small blocks so both see the same machine.
// DESIGN §5 target: sandbox p50 ≤ 5 µs and ≤ 1.5× bare.
//
//   node --no-liftoff --no-wasm-lazy-compilation bench/instantiate.ts [--iterations 20000]
//
// (Started without those flags it re-runs itself with them: optimized code from the first call, as
// the loader runs bundles. The bundle is built by a child Node without flags.) Diagnostic rows
// split the sandbox's cost: a fresh instance per request (as before instance reset), the JSPI
// promising() call, the memory reset (static write range vs stack mark vs whole memory), and the
// task hand-off encoding.

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBundle } from '../loader/bundle.ts';
import { INIT_EXPORT, STACK_LOW_EXPORT } from '../contract/host-abi.ts';
import { createModuleContext } from '../loader/module-context.ts';
import { ControlPage } from '../runtime/control-page.ts';
import { MemoryPool } from '../runtime/memory-pool.ts';
import { runSandbox } from '../runtime/sandbox.ts';
import type { SandboxRequest } from '../runtime/sandbox-module.ts';
import { decodeTasks, encodeTasks } from '../runtime/task-codec.ts';
import { cStrings } from '../runtime/wasi/c-strings.ts';
import { buildInChild } from './lib/build-fixtures.ts';
import { tempDir } from './lib/loader-process.ts';
import { percentile, report, table } from './lib/stats.ts';

const FLAGS = ['--no-liftoff', '--no-wasm-lazy-compilation'];
const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' }, bundle: { type: 'string' }, hello: { type: 'string' } } });
const iterations = Number(values.iterations);

let { bundle, hello } = values;
if (!bundle || !hello) [bundle, hello] = buildInChild(await tempDir('instantiate'), ['empty', 'hello']);
if (!FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...FLAGS, fileURLToPath(import.meta.url), '--bundle', bundle!, '--hello', hello!, '--iterations', String(iterations)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

type JSPI = { promising(f: Function): () => Promise<unknown>; Suspending: new (f: Function) => object };
const jspi = WebAssembly as unknown as JSPI;
const PAGE = 65536;

const ctx = await createModuleContext(await loadBundle(bundle!), bundle!, 'empty');
const mod = ctx.sandbox;
const page = new ControlPage();
// As the worker: sledge.yield is a WebAssembly.Suspending (empty never calls it).
const hooks = { preempt: page.memory, yieldImport: new jspi.Suspending(() => undefined) };
const pool = new MemoryPool(mod, hooks);
// The same without the static write range: the reset most C functions get (they write through
// pointers), zeroing from the stack mark up.
const { writeRange: _, ...withoutRange } = mod;
const markPool = new MemoryPool(withoutRange, hooks);
// A typical C function: printf has loops, so yield points and a JSPI promising run.
const helloPool = new MemoryPool((await createModuleContext(await loadBundle(hello!), hello!, 'hello')).sandbox, hooks);
// The bare baseline and the diagnostic rows get their own pooled memories (and import objects).
const bareSlot = new MemoryPool(mod, hooks).acquire();
const syncSlot = new MemoryPool(mod, hooks).acquire();
const promSlot = new MemoryPool(mod, hooks).acquire();
const resetSlot = new MemoryPool(mod, hooks).acquire();
const memBytes = mod.memory.initialPages * PAGE;

// A request as the listener builds it: argv [name] and the CGI variables of a plain GET.
const argv = ['empty'];
const env = ['GATEWAY_INTERFACE=CGI/1.1', 'REQUEST_METHOD=GET', 'QUERY_STRING=', 'SCRIPT_NAME=/empty', 'PATH_INFO=', 'SERVER_PROTOCOL=HTTP/1.1',
  'SERVER_PORT=10000', 'REMOTE_ADDR=127.0.0.1', 'CONTENT_LENGTH=0', 'HTTP_HOST=127.0.0.1:10000', 'HTTP_USER_AGENT=wrk', 'HTTP_ACCEPT=*/*'];
const req: SandboxRequest = { argv: cStrings(argv), env: cStrings(env), stdin: new Uint8Array(0) };
const queued = { id: 1, moduleId: 0, arrival: 0, deadline: 10, timeoutAt: 100, argv, env, stdin: req.stdin };

// Where a run writes: run once on zeroed memory and find the lowest non-zero byte. The stack is
// laid out first and grows down from its top; `empty` writes only above it (data, bss, heap).
const probe = new Uint8Array(syncSlot.memory.buffer);
probe.fill(0);
freshRun(syncSlot.imports);
const lowestWritten = probe.findIndex((b) => b !== 0);
const stackTop = Math.floor(lowestWritten / PAGE) * PAGE; // the 1 MiB stack's top for these bundles
probe.fill(0);

const fills = {
  whole: new Uint8Array(resetSlot.memory.buffer),
  fromTop: new Uint8Array(resetSlot.memory.buffer, stackTop),
};
const syncFill = new Uint8Array(syncSlot.memory.buffer, stackTop);
const promFill = new Uint8Array(promSlot.memory.buffer, stackTop);

/** A fresh instance, initialized (a bundle with instance reset has passive data), run. */
function freshRun(imports: WebAssembly.Imports): void {
  const e = new WebAssembly.Instance(mod.module, imports).exports;
  (e[INIT_EXPORT] as (() => void) | undefined)?.();
  (e._start as Function)();
}

interface Variant { name: string; run: () => unknown; async?: boolean; times: number[] }
const variants: Variant[] = [
  { name: 'bare `new WebAssembly.Instance` (pooled memory) — baseline', run: () => new WebAssembly.Instance(mod.module, bareSlot.imports), times: [] },
  // As the worker's scheduler calls it: awaited only when the module can suspend.
  { name: `**sandbox: runSandbox (acquire, ${mod.initExport ? 'pooled instance + init' : 'fresh instance'}, ${mod.suspendable ? 'promising' : 'plain'} run, reset)**`, run: () => runSandbox(pool, req), async: mod.suspendable, times: [] },
  { name: 'sandbox, write range ignored (reset from the stack mark, as for a function writing through pointers)', run: () => runSandbox(markPool, req), async: mod.suspendable, times: [] },
  { name: '`hello` sandbox (printf: yield points, so a promising run; reset from the stack mark)', run: () => runSandbox(helloPool, req), async: helloPool.mod.suspendable, times: [] },
  { name: 'fresh instance + init + `_start` (plain call) + reset from the stack top', run: () => {
    freshRun(syncSlot.imports);
    syncFill.fill(0);
  }, times: [] },
  { name: 'fresh instance + init + `promising(_start)` + reset from the stack top', async: true, run: async () => {
    const e = new WebAssembly.Instance(mod.module, promSlot.imports).exports;
    (e[INIT_EXPORT] as (() => void) | undefined)?.();
    await jspi.promising(e._start as Function)();
    promFill.fill(0);
  }, times: [] },
  { name: `reset: zero the whole memory (${memBytes} B, a bundle with no mark and no write range)`, run: () => fills.whole.fill(0), times: [] },
  { name: `reset: zero from the stack top (${memBytes - stackTop} B, a bundle with a stack mark)`, run: () => fills.fromTop.fill(0), times: [] },
  { name: 'the request as a task batch: encode (main thread) + decode (worker), argv + 12 CGI variables', run: () => decodeTasks(encodeTasks([queued])), times: [] },
];

async function block(v: Variant, n: number, keep: boolean): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    if (v.async) await v.run();
    else v.run();
    const dt = performance.now() - t0;
    if (keep) v.times.push(dt * 1000);
  }
}

// Warm-up, then interleaved blocks of 200 per variant until each has `iterations` samples.
for (const v of variants) await block(v, 3000, false);
const BLOCK = 200;
for (let done = 0; done < iterations; done += BLOCK) {
  for (const v of variants) await block(v, Math.min(BLOCK, iterations - done), true);
}

const stat = (v: Variant) => {
  const s = Float64Array.from(v.times).sort();
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
};
const bare = stat(variants[0]!);
const sandbox = stat(variants[1]!);
const f = (x: number) => x.toFixed(2);
const rows = variants.map((v) => {
  const s = stat(v);
  return [v.name, f(s.p50), f(s.p99), `${f(s.p50 / bare.p50)}×`];
});
const pass = (ok: boolean) => (ok ? 'met' : '**missed**');
const out = [
  `instantiate: \`empty\` (${mod.memory.initialPages} pages = ${memBytes} B of memory), ${iterations} iterations per row, interleaved in blocks of ${BLOCK}, ` +
    `Node ${process.version} ${FLAGS.join(' ')}, load average ${loadavg()[0]!.toFixed(2)}`,
  '',
  table(['what', 'p50 µs', 'p99 µs', 'p50 × bare'], rows).trimEnd(),
  '',
  `- target sandbox p50 ≤ 5 µs: ${f(sandbox.p50)} µs — ${pass(sandbox.p50 <= 5)}`,
  `- target sandbox p50 ≤ 1.5× bare: ${f(sandbox.p50 / bare.p50)}× — ${pass(sandbox.p50 <= 1.5 * bare.p50)}`,
  `- reset after each run: ${resetText()}; a run of \`empty\` writes nothing below ${lowestWritten} (stack top ${stackTop})`,
  '',
].join('\n');
await report('instantiate', out);

function resetText(): string {
  const w = mod.writeRange;
  if (w) return `zeroes the bundle's static write range [${w.low}, ${w.high}) = ${w.high - w.low} B`;
  if (mod.stackLowExport) return `zeroes from the stack low-water mark (\`${STACK_LOW_EXPORT}\`), ~${memBytes - stackTop} B`;
  return `**zeroes the whole memory**, ${memBytes} B`;
}
