// 10,000 concurrent slow sandboxes in one loader process (DESIGN §5): every request is in flight
// at once — queued, running or suspended at a yield point — and each runs a CPU loop long enough
// to be preempted. Reports success rate, the loader's peak RSS and latency percentiles.
//
//   node bench/concurrency.ts [--requests 10000] [--iterations 700000]

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { closeAgent, get } from './lib/loadgen.ts';
import { buildFixture, startLoader, tempDir, writeSpec } from './lib/loader-process.ts';
import { percentile, report, sortedCopy, table } from './lib/stats.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '10000' }, iterations: { type: 'string', default: '700000' } } });
const n = Number(values.requests);
const iterations = values.iterations;

const dir = await tempDir('concurrency');
await buildFixture(dir, 'loop');
const spec = await writeSpec(dir, [
  { route: '/slow', path: 'loop.sledge', 'relative-deadline-us': 120_000_000, 'timeout-us': 60_000_000, 'expected-execution-us': 1000 },
]);

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

const rows: (string | number)[][] = [];
for (const [name, args] of [
  ['FIFO + preemption: every sandbox started and suspended', ['--scheduler', 'fifo', '--local-capacity', String(n), '--queue-capacity', String(n)]],
  ['EDF (default capacities: most wait in the global queue)', ['--scheduler', 'edf', '--queue-capacity', String(n)]],
] as const) {
  const loader = await startLoader(spec, ['--no-admission', ...args]);
  try {
    const t0 = performance.now();
    const samples = await Promise.all(Array.from({ length: n }, () => get(loader.port, `/slow?${iterations}`, 120_000)));
    const wall = (performance.now() - t0) / 1000;
    const ok = samples.filter((s) => s.status === 200);
    const lat = sortedCopy(ok.map((s) => s.ms));
    const statuses = [...new Set(samples.map((s) => s.status))].sort().join(',');
    rows.push([name, `${ok.length}/${n}`, statuses, (await peakRss(loader.proc.pid!)).toFixed(0), (percentile(lat, 50) / 1000).toFixed(2), (percentile(lat, 99) / 1000).toFixed(2), wall.toFixed(1)]);
  } finally {
    await loader.stop();
  }
}
closeAgent();
await report('concurrency', `concurrency: ${n} simultaneous requests, each a ${iterations}-iteration loop, 127.0.0.1\n\n` +
  table(['configuration', 'ok', 'statuses', 'peak RSS MiB', 'p50 s', 'p99 s', 'wall s'], rows));
