// Helpers for the serve tests: build C fixtures into bundles (once per test file, in a temp dir),
// write spec files, run `serve()` in-process or the `sledge-loader serve` CLI as a child process,
// and make plain HTTP requests to 127.0.0.1. Real bundles, real workers, real sockets.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, DEFAULT_BUILD } from '../../compiler/build.ts';
import { serve, type RunningServer, type ServeOptions } from '../../loader/server.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOADER_CLI = join(ROOT, 'bin/sledge-loader.js');

/**
 * A temp directory with bundles built from fixtures/c/<name>.c (or fixtures/<name> for a name
 * with an extension, e.g. commands/state.wat), as <dir>/<base name>.sledge.
 */
export class FixtureDir {
  readonly dir: string;
  private readonly built = new Map<string, Promise<string>>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(prefix = 'sledge-serve-'): Promise<FixtureDir> {
    return new FixtureDir(await mkdtemp(join(tmpdir(), prefix)));
  }

  /** Path of the bundle for fixtures/c/<name>.c, built on first use (sequentially: one clang). */
  bundle(name: string): Promise<string> {
    let p = this.built.get(name);
    if (!p) {
      const prev = [...this.built.values()].at(-1) ?? Promise.resolve('');
      p = prev.catch(() => '').then(async () => {
        const source = extname(name) ? join(ROOT, 'fixtures', name) : join(ROOT, 'fixtures/c', `${name}.c`);
        const { bytes } = await build(source, DEFAULT_BUILD);
        const out = join(this.dir, `${basename(name, extname(name))}.sledge`);
        await writeFile(out, bytes);
        return out;
      });
      this.built.set(name, p);
    }
    return p;
  }

  async bundles(names: string[]): Promise<Record<string, string>> {
    const paths = await Promise.all(names.map((n) => this.bundle(n)));
    return Object.fromEntries(names.map((n, i) => [n, paths[i]!]));
  }

  /** Writes a spec file (an array of tenants) into the directory; returns its path. */
  async spec(file: string, tenants: unknown[]): Promise<string> {
    const path = join(this.dir, file);
    await writeFile(path, JSON.stringify(tenants, null, 2));
    return path;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** One route object for a spec file; deadlines are generous so that loaded CI machines pass. */
export function route(prefix: string, path: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { route: prefix, path, 'relative-deadline-us': 5_000_000, 'expected-execution-us': 1000, ...extra };
}

export interface InProcess {
  server: RunningServer;
  port: number;
  /** Lines the loader logged. */
  log: string[];
  stop(): Promise<void>;
}

/** serve() in this process, with real worker threads; tenant 0's port and the log lines. */
export async function startInProcess(spec: string, over: Partial<ServeOptions> = {}): Promise<InProcess> {
  const log: string[] = [];
  const server = await serve({
    spec,
    workers: 1,
    policy: 'edf',
    quantumUs: 1000,
    preemption: true,
    admission: true,
    queueCapacity: 4096,
    localCapacity: 64,
    inline: true,
    allowUnsafe: false,
    graceMs: 5000,
    log: (line) => log.push(line),
    ...over,
  });
  let stopped = false;
  return {
    server,
    port: server.tenants[0]!.port,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.shutdown();
    },
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  method?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Send the body with chunked transfer encoding (no content-length). */
  chunked?: boolean;
  /** Give up after this many ms (default 20 s). */
  timeoutMs?: number;
}

/** One HTTP request to 127.0.0.1:port on a fresh connection. */
export function get(port: number, path: string, o: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined && !o.chunked) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = httpRequest({ host: '127.0.0.1', port, path, method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 20_000, () => req.destroy(new Error(`timeout: ${path}`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Writes raw bytes on a fresh TCP connection; resolves with everything read until the peer closes. */
export function rawHttp(port: number, bytes: string | Uint8Array, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('raw request: no close from the server'));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    sock.write(bytes);
  });
}

/** Resolves when `cond` holds, polling every few ms; rejects after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface Spawned {
  child: ChildProcess;
  /** Everything the loader wrote to stderr so far. */
  stderr(): string;
  /** Exit code (or the signal's name) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(sig?: NodeJS.Signals): void;
}

/** Runs `sledge-loader <args…>` with the Node running the tests (Node ≥ 24). */
export function spawnLoader(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Spawned {
  const child = spawn(process.execPath, [LOADER_CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stderr: () => err,
    exited,
    kill: (sig = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
}

export interface SpawnedServer extends Spawned {
  /** Tenant ports in spec order, and the admin port when it is on. */
  ports: number[];
  adminPort?: number;
}

/** Spawns `sledge-loader serve spec …` and waits for its "ready" log lines (the ports it got). */
export async function spawnServer(spec: string, extra: string[] = [], tenants = 1, timeoutMs = 30_000): Promise<SpawnedServer> {
  const s = spawnLoader(['serve', spec, ...extra]);
  let done = false;
  void s.exited.then(() => (done = true));
  await waitFor(() => done || /\d+ worker\(s\), scheduler/.test(s.stderr()), timeoutMs, 'sledge-loader serve to start');
  if (done) throw new Error(`sledge-loader serve exited at start:\n${s.stderr()}`);
  const ports = [...s.stderr().matchAll(/listening on http:\/\/[^\s]+:(\d+)/g)].map((m) => Number(m[1]));
  if (ports.length !== tenants) throw new Error(`expected ${tenants} listening tenant(s):\n${s.stderr()}`);
  const admin = /metrics on http:\/\/[^\s]+:(\d+)\/metrics/.exec(s.stderr());
  return { ...s, ports, ...(admin ? { adminPort: Number(admin[1]) } : {}) };
}
