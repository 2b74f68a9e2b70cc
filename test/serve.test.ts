// `sledge-loader serve` end to end: bundles built from fixtures/c with the embedded clang, served by
// serve() in this process (real worker threads, real wasm, real HTTP on 127.0.0.1), and by the CLI
// as a child process where signals, exit codes and start-up errors are the point.

import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSledgeError } from '../contract/errors.ts';
import { readSections } from '../contract/wasm-sections.ts';
import { loadBundle } from '../loader/bundle.ts';
import { CompileQueue } from '../loader/compile-queue.ts';
import { prepareModule, type PreparedModule } from '../loader/module-context.ts';
import { serve } from '../loader/server.ts';
import { FixtureDir, get, rawHttp, ROOT, route, spawnLoader, spawnServer, startInProcess, waitFor, type InProcess } from './helpers/serve.ts';

const FIXTURES = ['empty', 'hello', 'echo', 'fibonacci', 'env', 'secret', 'oob', 'divzero', 'unreachable', 'recursion', 'exitcode', 'mallocbomb', 'loop', 'wild',
  'commands/state.wat', 'commands/trap.wat'];

let fx: FixtureDir;
let b: Record<string, string>;

beforeAll(async () => {
  fx = await FixtureDir.create();
  b = await fx.bundles(FIXTURES);
});
afterAll(async () => {
  await fx?.remove();
});

/** The value of one sample in Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** A free TCP port on 127.0.0.1 (listened on, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const FRESH_SECRET = 'bss=\ndata=initial\nheap=\nstack=\n';
const NO_STACK = /^\s+at .+[:(]/m;

describe('one worker: functions, isolation, traps, bad requests', () => {
  let s: InProcess;
  beforeAll(async () => {
    const spec = await fx.spec('one.json', [{
      name: 't', port: 0, routes: [
        route('/fib', b.fibonacci!),
        route('/echo', b.echo!, { 'max-body-bytes': 2 * 1024 * 1024, 'http-resp-content-type': 'application/octet-stream' }),
        route('/small', b.echo!, { 'max-body-bytes': 1000 }),
        route('/hello', b.hello!, { 'http-resp-content-type': 'text/html; charset=utf-8' }),
        route('/empty', b.empty!),
        route('/env', b.env!),
        route('/secret', b.secret!),
        route('/oob', b.oob!),
        route('/divzero', b.divzero!),
        route('/unreachable', b.unreachable!),
        route('/recursion', b.recursion!),
        route('/exitcode', b.exitcode!),
        route('/mallocbomb', b.mallocbomb!, { 'memory-max-pages': 64 }),
      ],
    }]);
    s = await startInProcess(spec, { workers: 1 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('fibonacci by query and by POST body', async () => {
    const q = await get(s.port, '/fib?30');
    expect(q.status).toBe(200);
    expect(q.text).toBe('832040\n');
    const p = await get(s.port, '/fib', { body: '30' });
    expect(p.status).toBe(200);
    expect(p.text).toBe('832040\n');
    expect((await get(s.port, '/fib?10')).text).toBe('55\n');
  });

  it('echoes a 1 MiB random body byte for byte', async () => {
    const body = randomBytes(1 << 20);
    const r = await get(s.port, '/echo', { body });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(body.length);
    expect(r.body.equals(body)).toBe(true);
    // Chunked upload (no content-length) reads the same way.
    const c = await get(s.port, '/echo', { body: body.subarray(0, 70_000), chunked: true });
    expect(c.status).toBe(200);
    expect(c.body.equals(body.subarray(0, 70_000))).toBe(true);
  });

  it('hello and empty, with the route content type', async () => {
    const h = await get(s.port, '/hello');
    expect(h.status).toBe(200);
    expect(h.text).toBe('Hello, World!\n');
    expect(h.headers['content-type']).toBe('text/html; charset=utf-8');
    const e = await get(s.port, '/empty');
    expect(e.status).toBe(200);
    expect(e.body.length).toBe(0);
    expect(e.headers['content-length']).toBe('0');
    expect(e.headers['content-type']).toBe('text/plain');
  });

  it('gives the function CGI variables and none of the host environment', async () => {
    const r = await get(s.port, '/env/sub/path?x=1&y%20z', { body: 'abc', headers: { 'X-Custom': 'hello there', 'Content-Type': 'text/csv' } });
    expect(r.status).toBe(200);
    const lines = r.text.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual(['argc=3', 'argv[0]=env', 'argv[1]=x=1', 'argv[2]=y z']);
    const env = lines.filter((l) => l.startsWith('env[')).map((l) => l.slice(l.indexOf('=') + 1));
    expect(env).toEqual(expect.arrayContaining([
      'REQUEST_METHOD=POST', 'QUERY_STRING=x=1&y%20z', 'SCRIPT_NAME=/env', 'PATH_INFO=/sub/path', 'CONTENT_LENGTH=3',
      'CONTENT_TYPE=text/csv', `SERVER_PORT=${s.port}`, 'REMOTE_ADDR=127.0.0.1', 'HTTP_X_CUSTOM=hello there', `HTTP_HOST=127.0.0.1:${s.port}`,
    ]));
    const cgi = new Set(['GATEWAY_INTERFACE', 'REQUEST_METHOD', 'QUERY_STRING', 'SCRIPT_NAME', 'PATH_INFO', 'SERVER_PROTOCOL', 'SERVER_PORT', 'REMOTE_ADDR', 'CONTENT_LENGTH', 'CONTENT_TYPE']);
    for (const kv of env) {
      const key = kv.slice(0, kv.indexOf('='));
      expect(cgi.has(key) || key.startsWith('HTTP_'), `unexpected variable ${kv}`).toBe(true);
    }
    expect(env.some((kv) => /^(PATH|HOME|USER|PWD)=/.test(kv))).toBe(false);
    expect(process.env.PATH && r.text.includes(process.env.PATH)).toBe(false);
    const g = await get(s.port, '/env');
    expect(g.text).toContain('env[1]=REQUEST_METHOD=GET\n');
    expect(g.text).toContain('CONTENT_LENGTH=0\n');
    expect(g.text).toContain('PATH_INFO=\n');
  });

  it('never shows a request what the previous one left in memory (same route, same worker)', async () => {
    expect((await get(s.port, '/secret?read')).text).toBe(FRESH_SECRET);
    for (let i = 0; i < 3; i++) {
      const w = await get(s.port, '/secret?write');
      expect(w.status).toBe(200);
      expect(w.text).toBe('written\n');
      const r = await get(s.port, '/secret?read');
      expect(r.status).toBe(200);
      expect(r.text).toBe(FRESH_SECRET);
    }
  });

  const TRAPS: [string, RegExp][] = [
    ['/oob', /^out of bounds memory access$/],
    ['/oob?edge', /^out of bounds memory access$/],
    ['/oob?straddle&read', /^out of bounds memory access$/],
    ['/divzero', /^integer divide by zero$/],
    ['/divzero?overflow', /^integer overflow$/],
    ['/unreachable', /^unreachable executed/],
    // No arguments: the 1 MiB shadow stack (laid out first) runs below address 0.
    ['/recursion', /^out of bounds memory access$/],
    // Small frames, deep: the engine's own stack overflows first.
    ['/recursion?1000000000&16', /^stack overflow$/],
  ];
  for (const [path, reason] of TRAPS) {
    it(`a trap (${path}) is a 500 with its reason, and the worker carries on`, async () => {
      const r = await get(s.port, path);
      expect(r.status).toBe(500);
      expect(r.headers['x-sledge-error']).toMatch(reason);
      expect(r.text).toBe(`trap: ${r.headers['x-sledge-error']}\n`);
      const next = await get(s.port, '/fib?20');
      expect(next.status).toBe(200);
      expect(next.text).toBe('6765\n');
    });
  }

  it('the fixtures that trap run normally with harmless arguments', async () => {
    expect((await get(s.port, '/divzero?7')).text).toBe('6\n');
    expect((await get(s.port, '/recursion?100')).text).toBe('5050\n');
  });

  it('a non-zero exit is a 500 with x-sledge-exit-code and the output', async () => {
    const r = await get(s.port, '/exitcode?3');
    expect(r.status).toBe(500);
    expect(r.headers['x-sledge-exit-code']).toBe('3');
    expect(r.headers['x-sledge-error']).toBe('exit status 3');
    expect(r.text).toBe('exit 3\n');
    const ok = await get(s.port, '/exitcode?0');
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('exit 0\n');
  });

  it('the memory cap makes malloc fail inside the function, and the next request starts fresh', async () => {
    // 64 pages = 4 MiB in all, 1 MiB of it the shadow stack: a few 1 MiB chunks at most.
    const fresh = await get(s.port, '/mallocbomb?1');
    expect(fresh.status).toBe(200);
    expect(fresh.text).toBe('allocated 1 MiB\n');
    const bombs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await get(s.port, '/mallocbomb');
      expect(r.status).toBe(500);
      expect(r.headers['x-sledge-exit-code']).toBe('1');
      const m = /^allocated (\d+) MiB\n$/.exec(r.text);
      expect(m, r.text).not.toBeNull();
      expect(Number(m![1])).toBeLessThan(4);
      bombs.push(r.text);
    }
    // The same function gets the same memory every time: a grown memory is not handed out again.
    expect(bombs[1]).toBe(bombs[0]);
    const after = await get(s.port, '/mallocbomb?1');
    expect(after.status).toBe(200);
    expect(after.text).toBe('allocated 1 MiB\n');
    expect((await get(s.port, '/hello')).status).toBe(200);
  });

  it('unknown route → 404', async () => {
    const r = await get(s.port, '/nope');
    expect(r.status).toBe(404);
    expect(r.headers['x-sledge-error']).toBe('no route');
    expect((await get(s.port, '/')).status).toBe(404);
  });

  it('a body over max-body-bytes → 413 (declared or streamed), at the limit → 200', async () => {
    const at = randomBytes(1000);
    const ok = await get(s.port, '/small', { body: at });
    expect(ok.status).toBe(200);
    expect(ok.body.equals(at)).toBe(true);
    const over = await get(s.port, '/small', { body: randomBytes(1001) });
    expect(over.status).toBe(413);
    expect(over.headers['x-sledge-error']).toBe('body too large');
    const streamed = await get(s.port, '/small', { body: randomBytes(5000), chunked: true });
    expect(streamed.status).toBe(413);
    expect((await get(s.port, '/hello')).status).toBe(200);
  });

  it('malformed HTTP → 400 on that connection only; a bad query → 400', async () => {
    const garbage = await rawHttp(s.port, 'GARBAGE\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    const badLength = await rawHttp(s.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    expect(badLength).toMatch(/^HTTP\/1\.1 400 /);
    const q = await get(s.port, '/fib?%zz');
    expect(q.status).toBe(400);
    expect(q.text).toContain('malformed percent-encoding');
    // argv entries are C strings: a NUL cannot be passed (it would split the argument in two).
    const nul = await get(s.port, '/fib?3%000');
    expect(nul.status).toBe(400);
    expect(nul.text).toContain('NUL');
    expect((await get(s.port, '/hello')).status).toBe(200);
  });
});

describe('two workers: concurrency, a lost worker, metrics', () => {
  let s: InProcess;
  beforeAll(async () => {
    const spec = await fx.spec('two.json', [{
      name: 'm', port: 0, routes: [
        route('/fib', b.fibonacci!),
        route('/echo', b.echo!),
        route('/hello', b.hello!),
        route('/empty', b.empty!),
        route('/secret', b.secret!),
        route('/divzero', b.divzero!),
        route('/loop', b.loop!, { 'relative-deadline-us': 30_000_000 }),
      ],
    }]);
    s = await startInProcess(spec, { workers: 2, admin: { host: '127.0.0.1', port: 0 } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('answers 100 concurrent requests of mixed functions correctly', async () => {
    const jobs: { path: string; body?: Uint8Array; want: (r: { status: number; body: Buffer; text: string }) => void }[] = [];
    for (let i = 0; i < 100; i++) {
      switch (i % 7) {
        case 0: jobs.push({ path: `/fib?${15 + (i % 10)}`, want: (r) => expect(r.text).toBe(`${fib(15 + (i % 10))}\n`) }); break;
        case 1: {
          const body = randomBytes(1000 + i * 100);
          jobs.push({ path: '/echo', body, want: (r) => expect(r.body.equals(body)).toBe(true) });
          break;
        }
        case 2: jobs.push({ path: '/hello', want: (r) => expect(r.text).toBe('Hello, World!\n') }); break;
        case 3: jobs.push({ path: '/empty', want: (r) => expect(r.body.length).toBe(0) }); break;
        case 4: jobs.push({ path: '/secret?write', want: (r) => expect(r.text).toBe('written\n') }); break;
        case 5: jobs.push({ path: '/secret?read', want: (r) => expect(r.text).toBe(FRESH_SECRET) }); break;
        case 6: jobs.push({ path: `/divzero?${(i % 5) + 1}`, want: (r) => expect(r.text).toBe(`${Math.trunc(42 / ((i % 5) + 1))}\n`) }); break;
      }
    }
    const replies = await Promise.all(jobs.map((j) => get(s.port, j.path, j.body ? { body: j.body } : {})));
    replies.forEach((r, i) => {
      expect(r.status, `${jobs[i]!.path}: ${r.text}`).toBe(200);
      jobs[i]!.want(r);
    });
  });

  it('a worker killed mid-request: that request gets 500, the worker is replaced, the server carries on', async () => {
    const restarts = s.server.dispatcher.stats.workerRestarts;
    const slow = get(s.port, '/loop'); // never ends by itself
    let busy = -1;
    await waitFor(() => (busy = s.server.dispatcher.workerStates().findIndex((w) => w.busy)) >= 0, 10_000, 'the loop to run');
    s.server.dispatcher.killWorker(busy);
    const r = await slow;
    expect(r.status).toBe(500);
    expect(r.headers['x-sledge-error']).toBe('worker lost');
    await waitFor(() => s.server.dispatcher.stats.workerRestarts === restarts + 1, 10_000, 'the worker to be replaced');
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => get(s.port, i % 2 ? '/hello' : '/fib?20')));
    burst.forEach((x, i) => expect(x.text).toBe(i % 2 ? 'Hello, World!\n' : '6765\n'));
    // Both workers take work again: the replacement included.
    await waitFor(async () => {
      await Promise.all(Array.from({ length: 4 }, () => get(s.port, '/fib?22')));
      return s.server.dispatcher.workerStates().every((w) => w.pools.length > 0);
    }, 10_000, 'both workers to report pools');
    const m = await get(s.server.admin!.port, '/metrics');
    expect(m.text).toMatch(new RegExp(`^sledge_worker_restarts_total ${restarts + 1}$`, 'm'));
  });

  it('/metrics on the admin address counts requests by route and status class', async () => {
    const admin = s.server.admin!.port;
    const before = (await get(admin, '/metrics')).text;
    for (let i = 0; i < 3; i++) expect((await get(s.port, '/hello')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(s.port, '/divzero?0')).status).toBe(500);
    const r = await get(admin, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.text).toContain('# TYPE sledge_requests_total counter');
    const d = (labels: string) => sample(r.text, 'sledge_requests_total', labels) - sample(before, 'sledge_requests_total', labels);
    expect(d('tenant="m",route="/hello",class="2xx"')).toBe(3);
    expect(d('tenant="m",route="/divzero",class="5xx"')).toBe(2);
    expect(sample(r.text, 'sledge_requests_total', 'tenant="m",route="/fib",class="2xx"')).toBeGreaterThan(0);
    expect(sample(r.text, 'sledge_sandbox_duration_seconds_count', 'tenant="m",route="/hello"')).toBeGreaterThanOrEqual(3);
    // Ready once every module is compiled (they compile in the background after listening).
    await waitFor(async () => (await get(admin, '/healthz')).status === 200, 10_000, '/healthz to say ok');
    expect((await get(admin, '/healthz')).text).toBe('ok\n');
  });
});

describe('start-up errors (sledge-loader serve)', () => {
  it('refuses every bad spec in fixtures/specs with its coded error and no stack trace', async () => {
    const specs = (await readdir(join(ROOT, 'fixtures/specs'))).filter((f) => /^bad-.*\.json$/.test(f)).sort();
    expect(specs.length).toBeGreaterThan(10);
    const results: { spec: string; code: number | null; err: string }[] = [];
    // Four at a time: each is a whole Node process.
    for (let i = 0; i < specs.length; i += 4) {
      results.push(...await Promise.all(specs.slice(i, i + 4).map(async (spec) => {
        const p = spawnLoader(['serve', `fixtures/specs/${spec}`, '--admin', 'off']);
        const { code } = await p.exited;
        return { spec, code, err: p.stderr() };
      })));
    }
    for (const { spec, code, err } of results) {
      const expected = await readFile(join(ROOT, 'fixtures/specs', spec.replace(/\.json$/, '.expected')), 'utf8');
      expect(code, spec).toBe(1);
      expect(err.split(ROOT).join(''), spec).toBe(expected);
      expect(err, spec).toMatch(/^sledge-loader: error\[SPEC_[A-Z_]+\]: /);
      expect(err, spec).not.toMatch(NO_STACK);
    }
  });

  it('refuses a tampered bundle before anything listens', async () => {
    const tampered = join(fx.dir, 'tampered.sledge');
    const bytes = new Uint8Array(await readFile(b.hello!));
    const sec = readSections(bytes, 'hello.sledge').find((x) => x.id === 11) ?? readSections(bytes, 'hello.sledge').find((x) => x.id === 10)!;
    bytes[sec.end - 2]! ^= 0x01;
    await writeFile(tampered, bytes);
    const port = await freePort();
    const spec = await fx.spec('tampered.json', [
      { name: 'good', port, routes: [route('/hello', b.hello!)] },
      { name: 'bad', port: 0, routes: [route('/t', tampered)] },
    ]);
    // The CLI: a coded error line, exit 1, nothing listening.
    const p = spawnLoader(['serve', spec, '--admin', 'off']);
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.stderr()).toMatch(/^sledge-loader: error\[BUNDLE_TAMPERED\]: .*tampered\.sledge: the module does not match the hash in its manifest\n/);
    expect(p.stderr()).not.toMatch(NO_STACK);
    expect(p.stderr()).not.toContain('listening');
    // In-process: serve() rejects, and the good tenant's port was never opened.
    const err = await serve({
      spec, workers: 1, policy: 'edf', quantumUs: 1000, preemption: true, admission: true, queueCapacity: 16, localCapacity: 4, inline: true,
      allowUnsafe: false, graceMs: 0, log: () => {},
    }).then(() => undefined, (e: unknown) => e);
    expect(isSledgeError(err) && err.code).toBe('BUNDLE_TAMPERED');
    await expect(get(port, '/hello')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // The untouched copy is fine.
    await copyFile(b.hello!, tampered);
  });
});

describe('signals (sledge-loader serve)', () => {
  let spec: string;
  beforeAll(async () => {
    spec = await fx.spec('signals.json', [{
      name: 's', port: 0, routes: [route('/loop', b.loop!, { 'relative-deadline-us': 30_000_000 }), route('/hello', b.hello!), route('/echo', b.echo!)],
    }]);
  });

  /** Waits until the spawned loader's worker runs a sandbox (from its own /metrics). */
  async function running(adminPort: number): Promise<void> {
    await waitFor(async () => /^sledge_worker_busy\{worker="0"\} 1$/m.test((await get(adminPort, '/metrics')).text), 10_000, 'the request to run');
  }

  it('SIGTERM: the running request still gets its 200, new connections are refused, exit 0', async () => {
    const srv = await spawnServer(spec, ['--workers', '1', '--admin', '127.0.0.1:0']);
    try {
      const port = srv.ports[0]!;
      expect((await get(port, '/hello')).status).toBe(200);
      let slowDone = false;
      // ~0.5–1 s of work with optimized code.
      const slow = get(port, '/loop?400000000').finally(() => (slowDone = true));
      await running(srv.adminPort!);
      srv.kill('SIGTERM');
      let refused = false;
      await waitFor(async () => {
        try {
          const r = await get(port, '/hello');
          expect(r.status).toBe(503); // in the instant before the listener closes
        } catch (e) {
          refused = (e as NodeJS.ErrnoException).code === 'ECONNREFUSED';
        }
        return refused;
      }, 5000, 'new connections to be refused');
      expect(slowDone).toBe(false); // refused while the slow request was still running
      const r = await slow;
      expect(r.status).toBe(200);
      expect(r.text).toBe('looping\n400000000\n');
      const { code, signal } = await srv.exited;
      expect(signal).toBeNull();
      expect(code).toBe(0);
      expect(srv.stderr()).toContain('SIGTERM: draining in-flight requests');
      expect(srv.stderr()).not.toMatch(NO_STACK);
    } finally {
      srv.kill('SIGKILL');
    }
  });

  it('SIGTERM: an answer still being written to a slow reader arrives whole', async () => {
    const srv = await spawnServer(spec, ['--workers', '1', '--admin', '127.0.0.1:0']);
    try {
      const body = randomBytes(8 << 20);
      const sock = connect({ host: '127.0.0.1', port: srv.ports[0]! });
      await new Promise((r) => sock.once('connect', r));
      sock.pause(); // read nothing yet: the 8 MiB answer waits in the loader's socket buffers
      sock.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
      sock.write(body);
      await waitFor(async () => sample((await get(srv.adminPort!, '/metrics')).text, 'sledge_requests_total', 'tenant="s",route="/echo",class="2xx"') === 1,
        10_000, 'the echo to be answered');
      srv.kill('SIGTERM');
      await waitFor(() => srv.stderr().includes('SIGTERM: draining'), 5000, 'the signal to be seen');
      await new Promise((r) => setTimeout(r, 300)); // the loader is draining; nothing is read yet
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      const closed = new Promise((r) => sock.once('close', r));
      sock.resume();
      await closed;
      const all = Buffer.concat(chunks);
      const head = all.subarray(0, all.indexOf('\r\n\r\n') + 4).toString('latin1');
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(head).toContain(`content-length: ${body.length}\r\n`);
      expect(all.subarray(head.length).equals(body)).toBe(true);
      expect((await srv.exited).code).toBe(0);
    } finally {
      srv.kill('SIGKILL');
    }
  });

  it('a second signal exits at once', async () => {
    const srv = await spawnServer(spec, ['--workers', '1', '--admin', '127.0.0.1:0', '--grace-ms', '60000']);
    try {
      const slow = get(srv.ports[0]!, '/loop').catch((e: Error) => e); // never ends by itself
      await running(srv.adminPort!);
      srv.kill('SIGTERM');
      await waitFor(() => srv.stderr().includes('SIGTERM: draining'), 5000, 'the first signal to be seen');
      const t0 = Date.now();
      srv.kill('SIGINT');
      const { code } = await srv.exited;
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(code).not.toBe(0);
      expect(srv.stderr()).toContain('SIGINT again: exiting now');
      expect(await slow).toBeInstanceOf(Error);
    } finally {
      srv.kill('SIGKILL');
    }
  });
});

function fib(n: number): number {
  let a = 0;
  let c = 1;
  for (let i = 0; i < n; i++) [a, c] = [c, a + c];
  return a;
}

describe('background compile (the listener opens before the modules are compiled)', () => {
  const NAMES = ['empty', 'hello', 'fibonacci', 'echo'];
  const prepare = async () => Promise.all(NAMES.map(async (n) => prepareModule(await loadBundle(b[n]!), b[n]!, n)));

  it('compiles in spec order, except that a module a request waits for goes first', async () => {
    const order: number[] = [];
    const q = new CompileQueue(await prepare(), { ready: (id) => order.push(id), failed: (id, e) => { throw e; } });
    const waited = q.ready(2);
    expect(waited).toBeInstanceOf(Promise);
    const all = q.start();
    await waited;
    expect(order[0]).toBe(2);
    expect(q.ready(2)).toBeUndefined();
    await all;
    expect(order).toEqual([2, 0, 1, 3]);
    expect(q.pending).toBe(0);
  });

  it('a module the engine refuses fails its waiting requests with BUNDLE_COMPILE, and the others compile', async () => {
    const [good, victim] = await prepare();
    // Past the checks, then corrupted: what an engine refusal after validation would look like.
    const bad: PreparedModule = { ...victim!, bundle: { ...victim!.bundle, bytes: new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]) } };
    const failed: number[] = [];
    const q = new CompileQueue([bad, good!], { ready: () => {}, failed: (id) => failed.push(id) });
    const waited = q.ready(0)!;
    await q.start();
    await expect(waited).rejects.toMatchObject({ code: 'BUNDLE_COMPILE' });
    expect(failed).toEqual([0]);
    expect(q.ready(1)).toBeUndefined();
  });

  it('answers a request for the last route of a spec as soon as it is up', async () => {
    const order = [...FIXTURES.filter((f) => f !== 'fibonacci'), 'fibonacci'];
    const spec = await fx.spec('late.json', [{ name: 'late', port: 0, routes: order.map((f) => route(`/${f}`, b[f]!)) }]);
    const s = await startInProcess(spec, { workers: 1 });
    try {
      const r = await get(s.port, '/fibonacci?20');
      expect(r.status).toBe(200);
      expect(r.text).toBe('6765\n');
    } finally {
      await s.stop();
    }
  });
});

describe('memory-reset', () => {
  it('"full" clears a stray write below the stack mark, which the default reset leaves (a documented limit)', async () => {
    const spec = await fx.spec('reset.json', [{
      name: 'r', port: 0, routes: [route('/used', b.wild!), route('/full', b.wild!, { 'memory-reset': 'full' })],
    }]);
    const s = await startInProcess(spec, { workers: 1 });
    try {
      // One worker, one request at a time: each route's second request reuses the first's memory.
      const seen = [];
      for (const path of ['/used', '/used', '/full', '/full']) seen.push((await get(s.port, path)).text);
      expect(seen).toEqual(['fresh\n', 'leaked\n', 'fresh\n', 'fresh\n']);
    } finally {
      await s.stop();
    }
  });
});

describe('functions with a small run bound run on the listener thread', () => {
  const routes = () => [
    route('/empty', b.empty!), route('/state', b['commands/state.wat']!), route('/trap', b['commands/trap.wat']!), route('/hello', b.hello!),
  ];
  const inlineRuns = async (admin: number) => Number(/^sledge_inline_runs_total (\S+)$/m.exec((await get(admin, '/metrics')).text)?.[1]);

  for (const inline of [true, false]) {
    it(inline ? 'inline: same answers, isolation and traps as on a worker' : '--no-inline: every request goes to a worker', async () => {
      const spec = await fx.spec(`inline-${inline}.json`, [{ name: 'i', port: 0, routes: routes() }]);
      const s = await startInProcess(spec, { workers: 1, inline, admin: { host: '127.0.0.1', port: 0 } });
      try {
        const admin = s.server.admin!.port;
        for (let i = 0; i < 5; i++) {
          // A run counter in a global and a data segment the run overwrites: each request sees them fresh.
          const st = await get(s.port, '/state');
          expect([st.status, st.text]).toEqual([200, 'runs=1 data=fresh\n']);
          const t = await get(s.port, '/trap?x');
          expect(t.status).toBe(500);
          expect(t.headers['x-sledge-error']).toMatch(/^unreachable/);
          expect((await get(s.port, '/trap')).text).toBe('ok\n');
          expect((await get(s.port, '/empty')).status).toBe(200);
        }
        // printf has loops: no run bound, so hello always goes to a worker.
        expect((await get(s.port, '/hello')).text).toBe('Hello, World!\n');
        const concurrent = await Promise.all(Array.from({ length: 50 }, (_, i) => get(s.port, i % 2 ? '/state' : '/trap')));
        concurrent.forEach((r, i) => expect(r.text).toBe(i % 2 ? 'runs=1 data=fresh\n' : 'ok\n'));
        expect(await inlineRuns(admin)).toBe(inline ? 5 * 4 + 50 : 0);
      } finally {
        await s.stop();
      }
    });
  }
});
