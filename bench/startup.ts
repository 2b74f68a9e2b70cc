// Start-up: from spawning `sledge-loader serve` to the first 200, with 10 bundles (10 routes, ten
// different fixtures: each its own module context with optimized code; the loader listens once
// its workers are up and compiles the bundles in the background, the one a request waits for
// first) and with one, next to a minimal node:http server started the same way — measured in the same run,
// interleaved, median of --runs. The client polls the route in a tight loop (a new connection
// every millisecond) until it answers 200. Target (brief): 10 bundles ≤ 150 ms.
//
//   node bench/startup.ts [--runs 9]

import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixture, ROOT, tempDir } from './lib/loader-process.ts';
import { percentile, report, table } from './lib/stats.ts';
import { writeFile } from 'node:fs/promises';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' } } });
const runs = Math.min(50, Number(values.runs));

const FIXTURES = ['hello', 'echo', 'fibonacci', 'env', 'secret', 'exitcode', 'divzero', 'loop', 'recursion', 'mallocbomb'];
const dir = await tempDir('startup');
const bundles: string[] = [];
for (const f of FIXTURES) bundles.push(await buildFixture(dir, f));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function specFor(n: number, port: number): Promise<string> {
  const routes = bundles.slice(0, n).map((path, i) => ({
    route: `/${FIXTURES[i]}`, path, 'relative-deadline-us': 100_000, 'expected-execution-us': 1000,
  }));
  const file = join(dir, `spec-${n}-${port}.json`);
  await writeFile(file, JSON.stringify([{ name: 'startup', port, routes }]));
  return file;
}

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

const HELLO = "require('http').createServer((q,s)=>{s.end('hi')}).listen(+process.argv[1],'127.0.0.1')";

interface Kind { name: string; args: (port: number) => Promise<string[]>; path: string; ms: number[] }
const loaderArgs = async (n: number, port: number) => [join(ROOT, 'bin/sledge-loader.js'), 'serve', await specFor(n, port), '--admin', 'off'];
const kinds: Kind[] = [
  { name: 'node:http hello world (node -e) — baseline', path: '/', ms: [], args: async (port) => ['-e', HELLO, String(port)] },
  { name: 'sledge-loader serve, 1 bundle', path: '/hello', ms: [], args: (port) => loaderArgs(1, port) },
  { name: '**sledge-loader serve, 10 bundles**', path: '/hello', ms: [], args: (port) => loaderArgs(10, port) },
];

async function once(k: Kind): Promise<number> {
  const port = await freePort();
  const args = await k.args(port);
  let exited = false;
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, { stdio: 'ignore' });
  child.once('exit', () => (exited = true));
  try {
    for (;;) {
      if ((await status(port, k.path)) === 200) return performance.now() - t0;
      if (exited) throw new Error(`${k.name} exited before answering`);
      if (performance.now() - t0 > 30_000) throw new Error(`${k.name}: no 200 within 30 s`);
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  }
}

// One warm-up round (page cache, dist/ bundle freshness check), then interleaved timed rounds.
for (const k of kinds) await once(k);
for (let i = 0; i < runs; i++) for (const k of kinds) k.ms.push(await once(k));

const med = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);
const base = med(kinds[0]!.ms);
const rows = kinds.map((k) => {
  const s = Float64Array.from(k.ms).sort();
  return [k.name, med(k.ms).toFixed(0), s[0]!.toFixed(0), s[s.length - 1]!.toFixed(0), `${(med(k.ms) / base).toFixed(2)}×`];
});
const ten = med(kinds[2]!.ms);
const out = [
  `startup: spawn → first 200, median of ${runs} interleaved runs, 127.0.0.1, Node ${process.version}, ${availableParallelism()} cores, ` +
    `load average ${loadavg()[0]!.toFixed(2)}, default --workers; the 10 bundles: ${FIXTURES.join(', ')}`,
  '',
  table(['what', 'median ms', 'min ms', 'max ms', 'median × baseline'], rows).trimEnd(),
  '',
  `- target 10 bundles ≤ 150 ms: ${ten.toFixed(0)} ms — ${ten <= 150 ? 'met' : '**missed**'}`,
  '',
].join('\n');
await report('startup', out);
