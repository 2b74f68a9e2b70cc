// The scheduler through real HTTP and real workers: preemption at yield points (JSPI), EDF
// ordering, timeouts that stop runaway code, admission control, and correctness under preemption.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, DEFAULT_BUILD } from '../compiler/build.ts';
import { serve, type RunningServer, type ServeOptions } from '../loader/server.ts';

const root = new URL('../', import.meta.url).pathname;
let dir: string;
const expected: Record<string, { smallArg: string; smallOutput: string }> = JSON.parse(
  await readFile(join(root, 'fixtures/c/compute/expected.json'), 'utf8'),
);
const KERNELS = Object.keys(expected);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sledge-sched-'));
  for (const name of ['loop', 'fibonacci']) {
    await writeFile(join(dir, `${name}.sledge`), (await build(join(root, `fixtures/c/${name}.c`), DEFAULT_BUILD)).bytes);
  }
  for (const k of KERNELS) {
    await writeFile(join(dir, `${k}.sledge`), (await build(join(root, `fixtures/c/compute/${k}.c`), DEFAULT_BUILD)).bytes);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Route = Record<string, string | number>;

async function start(routes: Route[], opts: Partial<ServeOptions>): Promise<{ server: RunningServer; url: string }> {
  const spec = join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(spec, JSON.stringify([{ name: 't', port: 0, routes }]));
  const server = await serve({
    spec, workers: 1, policy: 'edf', quantumUs: 1000, preemption: true, admission: false,
    queueCapacity: 1000, localCapacity: 64, inline: true, allowUnsafe: false, graceMs: 1000, log: () => {}, ...opts,
  });
  return { server, url: `http://127.0.0.1:${server.tenants[0]!.port}` };
}

async function get(url: string): Promise<{ status: number; body: string; ms: number; at: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - t0, at: performance.now() };
}

const LONG_LOOP = '300000000'; // ~0.4 s of CPU on this machine kind

describe('preemption', () => {
  it('interleaves two CPU-bound requests on one worker and both finish correctly', async () => {
    const perfLog = join(dir, 'perf.csv');
    const { server, url } = await start(
      [{ route: '/loop', path: 'loop.sledge', 'relative-deadline-us': 10_000_000 }],
      { policy: 'fifo', perfLog },
    );
    try {
      const [a, b] = await Promise.all([get(`${url}/loop?${LONG_LOOP}`), get(`${url}/loop?${LONG_LOOP}`)]);
      expect(a).toMatchObject({ status: 200, body: `looping\n${LONG_LOOP}\n` });
      expect(b).toMatchObject({ status: 200, body: `looping\n${LONG_LOOP}\n` });
    } finally {
      await server.shutdown();
    }
    const rows = (await readFile(perfLog, 'utf8')).trim().split('\n');
    const header = rows[0]!.split(',');
    const col = (r: string[], name: string) => Number(r[header.indexOf(name)]);
    const [r1, r2] = rows.slice(1).map((r) => r.split(','));
    // Both were suspended at yield points, and each started before the other ended.
    expect(col(r1!, 'preemptions')).toBeGreaterThan(0);
    expect(col(r2!, 'preemptions')).toBeGreaterThan(0);
    expect(col(r1!, 'first_run_ms')).toBeLessThan(col(r2!, 'end_ms'));
    expect(col(r2!, 'first_run_ms')).toBeLessThan(col(r1!, 'end_ms'));
  });

  it('gives the same compute results with a 100 µs quantum as without preemption', async () => {
    const routes = KERNELS.map((k) => ({ route: `/${k}`, path: `${k}.sledge`, 'relative-deadline-us': 10_000_000 }));
    const outputs: Record<string, Record<string, string>> = {};
    for (const preemption of [false, true]) {
      const { server, url } = await start(routes, { policy: 'fifo', preemption, quantumUs: 100 });
      try {
        // All at once, so there is always someone waiting and preemption really happens.
        const res = await Promise.all(KERNELS.map((k) => get(`${url}/${k}?${expected[k]!.smallArg}`)));
        outputs[String(preemption)] = Object.fromEntries(KERNELS.map((k, i) => [k, res[i]!.body]));
        for (const r of res) expect(r.status).toBe(200);
      } finally {
        await server.shutdown();
      }
    }
    for (const k of KERNELS) {
      expect(outputs.true![k], k).toBe(expected[k]!.smallOutput);
      expect(outputs.false![k], k).toBe(expected[k]!.smallOutput);
    }
  });
});

describe('EDF', () => {
  it('runs a short request with an earlier deadline before a long one already running', async () => {
    const { server, url } = await start(
      [
        { route: '/long', path: 'loop.sledge', 'relative-deadline-us': 60_000_000 },
        { route: '/short', path: 'fibonacci.sledge', 'relative-deadline-us': 10_000 },
      ],
      { policy: 'edf' },
    );
    try {
      const long = get(`${url}/long?${LONG_LOOP}`);
      await new Promise((r) => setTimeout(r, 50));
      const short = await get(`${url}/short?10`);
      const longDone = await long;
      expect(short).toMatchObject({ status: 200, body: '55\n' });
      expect(longDone.status).toBe(200);
      expect(short.at).toBeLessThan(longDone.at);
      // It did not wait for the long one: a fraction of the long request's run time.
      expect(short.ms).toBeLessThan(longDone.ms / 3);
    } finally {
      await server.shutdown();
    }
  });
});

describe('timeouts', () => {
  it('answers an infinite loop 504 within the timeout plus a quantum, then serves the next request', async () => {
    const { server, url } = await start(
      [
        { route: '/loop', path: 'loop.sledge', 'relative-deadline-us': 50_000, 'timeout-us': 200_000 },
        { route: '/fib', path: 'fibonacci.sledge', 'relative-deadline-us': 50_000 },
      ],
      {},
    );
    try {
      const r = await get(`${url}/loop`);
      expect(r.status).toBe(504);
      expect(r.body).toMatch(/timeout/);
      // 200 ms timeout + 1 ms quantum; the rest is HTTP and scheduling slack on a loaded 2-core box.
      expect(r.ms).toBeLessThan(200 + 400);
      expect(await get(`${url}/fib?20`)).toMatchObject({ status: 200, body: '6765\n' });
    } finally {
      await server.shutdown();
    }
  });
});

describe('admission control', () => {
  it('rejects with 429 under overload and admits again when load drops', async () => {
    const { server, url } = await start(
      [{ route: '/loop', path: 'loop.sledge', 'relative-deadline-us': 500_000, 'expected-execution-us': 400_000 }],
      { admission: true },
    );
    try {
      const first = get(`${url}/loop?${LONG_LOOP}`);
      await new Promise((r) => setTimeout(r, 20));
      const second = await get(`${url}/loop?10`);
      expect(second.status).toBe(429);
      expect((await first).status).toBe(200);
      expect(await get(`${url}/loop?10`)).toMatchObject({ status: 200, body: 'looping\n10\n' });
    } finally {
      await server.shutdown();
    }
  });
});
