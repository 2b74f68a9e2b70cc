// Sledge's bimodal experiment: a steady stream of short fib(10) requests while long fib(40)
// requests keep every worker busy. Short-request latency for FIFO without preemption, FIFO with
// preemption and EDF with preemption, next to the same short stream unloaded, in one run.
// Target (DESIGN §5): EDF + preemption short p99 ≤ 3× unloaded.
//
//   node bench/bimodal.ts [--seconds 8] [--rate 200] [--long 2]

import { parseArgs } from 'node:util';
import { closeAgent, closedLoop, openLoop, type Sample } from './lib/loadgen.ts';
import { buildFixture, startLoader, tempDir, writeSpec } from './lib/loader-process.ts';
import { percentile, report, sortedCopy, table } from './lib/stats.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, rate: { type: 'string', default: '200' }, long: { type: 'string', default: '2' } } });
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const longInFlight = Number(values.long);

const dir = await tempDir('bimodal');
await buildFixture(dir, 'fibonacci');
const spec = await writeSpec(dir, [
  { route: '/short', path: 'fibonacci.sledge', 'relative-deadline-us': 10_000, 'expected-execution-us': 100 },
  { route: '/long', path: 'fibonacci.sledge', 'relative-deadline-us': 5_000_000, 'expected-execution-us': 500_000, 'timeout-us': 60_000_000 },
]);

interface Row { name: string; short: Sample[]; long: Sample[] }

async function run(name: string, args: string[], withLong: boolean): Promise<Row> {
  const loader = await startLoader(spec, ['--no-admission', ...args]);
  try {
    await openLoop(loader.port, '/short?10', 50, 1); // warm-up
    const shortRun = openLoop(loader.port, '/short?10', rate, seconds);
    const long = withLong ? closedLoop(loader.port, '/long?40', longInFlight, shortRun) : Promise.resolve([]);
    return { name, short: await shortRun, long: await long };
  } finally {
    await loader.stop();
  }
}

const rows = [
  await run('unloaded (short only)', ['--scheduler', 'edf'], false),
  await run('FIFO, no preemption', ['--scheduler', 'fifo', '--no-preemption'], true),
  await run('FIFO + preemption', ['--scheduler', 'fifo'], true),
  await run('EDF + preemption', ['--scheduler', 'edf'], true),
];
closeAgent();

const base = sortedCopy(rows[0]!.short.map((s) => s.ms));
const fmt = (x: number) => x.toFixed(2);
const out = table(
  ['configuration', 'short ok', 'short p50 ms', 'short p99 ms', 'p99 × unloaded', 'long done', 'long p50 ms'],
  rows.map((r) => {
    const ok = r.short.filter((s) => s.status === 200);
    const lat = sortedCopy(ok.map((s) => s.ms));
    const longLat = sortedCopy(r.long.filter((s) => s.status === 200).map((s) => s.ms));
    return [r.name, `${ok.length}/${r.short.length}`, fmt(percentile(lat, 50)), fmt(percentile(lat, 99)), fmt(percentile(lat, 99) / percentile(base, 99)), longLat.length, longLat.length ? fmt(percentile(longLat, 50)) : '—'];
  }),
);
await report('bimodal', `bimodal: fib(10) at ${rate}/s for ${seconds} s, ${longInFlight} fib(40) kept in flight, 127.0.0.1\n\n${out}`);
