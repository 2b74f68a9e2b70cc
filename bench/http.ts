// HTTP throughput and p99 latency with wrk, all on 127.0.0.1, measured in one run with the same
// connections, threads and duration:
//
//   node:http hello world                 — the ceiling (DESIGN §3: 58–65 k req/s)
//   naive: fresh Memory + instance/request — node:http creating what the loader pools (~23 k req/s)
//   sledge-loader serve: /empty            — the spawned CLI, default --workers; `empty` has a run
//                                            bound, so it runs on the listener thread
//   sledge-loader serve --no-inline: /empty — the same on a worker (the hand-off every other
//                                            function pays)
//   sledge-loader serve: /hello, /fib?20   — printf's loops: on a worker; /hello answers the same
//                                            bytes as the hello world server
//
// Targets (DESIGN §5): empty ≥ 0.8× hello world and ≥ 2× naive.
//
//   node bench/http.ts [--connections 50] [--threads 2] [--duration 5] [--rounds 3]
//
// Needs wrk (apt-get install -y wrk). Rounds run the servers in alternating order; each number is
// the median over rounds, after a 1 s warm-up per server and round.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixture, ROOT, startLoader, tempDir, writeSpec, type LoaderProcess } from './lib/loader-process.ts';
import { report, table } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    threads: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
  },
});
const connections = Math.min(1000, Number(values.connections));
const threads = Number(values.threads);
const duration = Math.min(60, Number(values.duration));
const rounds = Math.min(5, Number(values.rounds));

const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
if (probe.error) {
  process.stderr.write('bench/http.ts: wrk is not installed (it is the load generator this benchmark uses).\n' +
    '  install it with: apt-get install -y wrk   (or your distribution\'s wrk package), then run this again\n');
  process.exit(2);
}

const FLAGS = ['--no-liftoff', '--no-wasm-lazy-compilation'];
const dir = await tempDir('http');
const empty = await buildFixture(dir, 'empty');
await buildFixture(dir, 'fibonacci');
await buildFixture(dir, 'hello');
const spec = await writeSpec(dir, [
  { route: '/empty', path: 'empty.sledge', 'relative-deadline-us': 10_000, 'expected-execution-us': 50 },
  { route: '/hello', path: 'hello.sledge', 'relative-deadline-us': 10_000, 'expected-execution-us': 50 },
  { route: '/fib', path: 'fibonacci.sledge', 'relative-deadline-us': 50_000, 'expected-execution-us': 500 },
]);

interface Server { port: number; proc: ChildProcess; stop(): Promise<void> }

function startBaseline(args: string[], nodeFlags: string[] = []): Promise<Server> {
  const proc: ChildProcess = spawn(process.execPath, [...nodeFlags, join(ROOT, 'bench/lib/baseline-servers.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`baseline ${args[0]} did not start`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), proc, stop: () => new Promise((r) => (proc.once('exit', () => r()), proc.kill('SIGTERM'))) });
      }
    });
    proc.once('exit', (code) => reject(new Error(`baseline ${args[0]} exited with ${code}`)));
  });
}

interface WrkResult { rps: number; p50: number; p99: number; requests: number; bad: number; errors: number; cpuUs?: number; mainUs?: number }

/** CPU seconds (user + system) of a whole process and of its main thread, from /proc (Linux). */
function cpu(pid: number): { all: number; main: number } | undefined {
  try {
    const read = (f: string) => {
      const fields = readFileSync(f, 'utf8').replace(/^.*\) /, '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
    };
    return { all: read(`/proc/${pid}/stat`), main: read(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

function ms(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return NaN;
  return Number(m[1]) * ({ us: 1e-3, ms: 1, s: 1e3, m: 6e4 } as Record<string, number>)[m[2]!]!;
}

function wrk(url: string, seconds: number): WrkResult {
  const r = spawnSync('wrk', ['-c', String(connections), '-t', String(threads), '-d', `${seconds}s`, '--timeout', '5s', '--latency', url], {
    encoding: 'utf8', timeout: (seconds + 30) * 1000,
  });
  if (r.status !== 0) throw new Error(`wrk failed on ${url}: ${r.stderr || r.error}`);
  const out = r.stdout;
  const pct = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: pct('50'),
    p99: pct('99'),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    bad: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errs ? errs.slice(1).reduce((n, x) => n + Number(x), 0) : 0,
  };
}

interface Target { name: string; start: () => Promise<Server | LoaderProcess>; path: string; results: WrkResult[] }
const targets: Target[] = [
  { name: 'node:http hello world', start: () => startBaseline(['hello']), path: '/', results: [] },
  { name: 'naive: fresh Memory + instance per request (empty)', start: () => startBaseline(['naive', empty], FLAGS), path: '/empty', results: [] },
  { name: '**sledge-loader serve: empty** (on the listener thread)', start: () => startLoader(spec), path: '/empty', results: [] },
  { name: 'sledge-loader serve --no-inline: empty (on a worker)', start: () => startLoader(spec, ['--no-inline']), path: '/empty', results: [] },
  { name: 'sledge-loader serve: hello (printf, on a worker)', start: () => startLoader(spec), path: '/hello', results: [] },
  { name: 'sledge-loader serve: fibonacci?20 (on a worker)', start: () => startLoader(spec), path: '/fib?20', results: [] },
];

const loadAtStart = loadavg()[0]!.toFixed(2);
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? [...targets].reverse() : targets;
  for (const t of order) {
    const server = await t.start();
    try {
      const url = `http://127.0.0.1:${server.port}${t.path}`;
      wrk(url, 1); // warm-up: tier-up, pools, connections
      const before = cpu(server.proc.pid!);
      const res = wrk(url, duration);
      const after = cpu(server.proc.pid!);
      if (before && after && res.requests) {
        res.cpuUs = ((after.all - before.all) / res.requests) * 1e6;
        res.mainUs = ((after.main - before.main) / res.requests) * 1e6;
      }
      t.results.push(res);
      process.stderr.write(`round ${round + 1}: ${t.name.replace(/\*/g, '')}: ${res.rps.toFixed(0)} req/s, p99 ${res.p99.toFixed(2)} ms\n`);
    } finally {
      await server.stop();
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const agg = (t: Target) => ({
  rps: median(t.results.map((r) => r.rps)),
  p50: median(t.results.map((r) => r.p50)),
  p99: median(t.results.map((r) => r.p99)),
  bad: t.results.reduce((n, r) => n + r.bad + r.errors, 0),
  requests: t.results.reduce((n, r) => n + r.requests, 0),
  cpuUs: median(t.results.map((r) => r.cpuUs ?? NaN)),
  mainUs: median(t.results.map((r) => r.mainUs ?? NaN)),
});
const [hello, naive, sEmpty, sWorker, sHello] = targets.map(agg);
const rows = targets.map((t) => {
  const a = agg(t);
  return [t.name, a.rps.toFixed(0), a.p50.toFixed(2), a.p99.toFixed(2), `${a.bad}/${a.requests}`, `${(a.rps / hello!.rps).toFixed(2)}×`, `${(a.rps / naive!.rps).toFixed(2)}×`,
    a.cpuUs.toFixed(1), a.mainUs.toFixed(1)];
});
const pass = (ok: boolean) => (ok ? 'met' : '**missed**');
const out = [
  `http: wrk -c ${connections} -t ${threads} -d ${duration}s, ${rounds} round(s) (median), 127.0.0.1, Node ${process.version}, ` +
    `sledge-loader default workers, ${availableParallelism()} cores, load average ${loadAtStart} at start`,
  '',
  table(['server', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx+errors', 'req/s × hello', 'req/s × naive', 'server CPU µs/req', 'main thread CPU µs/req'], rows).trimEnd(),
  '',
  `- target empty ≥ 0.8× hello world: ${(sEmpty!.rps / hello!.rps).toFixed(2)}× — ${pass(sEmpty!.rps >= 0.8 * hello!.rps)}`,
  `- target empty ≥ 2× naive: ${(sEmpty!.rps / naive!.rps).toFixed(2)}× — ${pass(sEmpty!.rps >= 2 * naive!.rps)}`,
  `- (no target) empty on a worker: ${(sWorker!.rps / hello!.rps).toFixed(2)}× hello world; hello (printf) on a worker: ${(sHello!.rps / hello!.rps).toFixed(2)}× hello world`,
  '',
].join('\n');
await report('http', out);
