// Test helpers: build fixtures once per test file (cached), run bundles in-process the way
// `sledge-loader run` does, and spawn the real CLIs.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll } from 'vitest';
import { parseBundle } from '../../contract/bundle-format.ts';
import type { BoundsMode, Manifest } from '../../contract/manifest.ts';
import { build } from '../../compiler/build.ts';
import { loadBundle, type BundlePolicy } from '../../loader/bundle.ts';
import { createModuleContext } from '../../loader/module-context.ts';
import { MemoryPool } from '../../runtime/memory-pool.ts';
import { runSandbox } from '../../runtime/sandbox.ts';
import { cStrings } from '../../runtime/wasi/c-strings.ts';
import { findEmcc } from '../../toolchain/emcc.ts';
import { compileSource } from '../../toolchain/frontend.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const FIXTURES = join(ROOT, 'fixtures');
/** Same lookup as the emcc front end ($SLEDGE_EMCC, else emcc on PATH). */
export const hasEmcc = findEmcc() !== undefined;

/** One temp dir per test file (vitest isolates modules per file), removed after it. */
export const TMP = mkdtempSync(join(tmpdir(), 'sledge-test-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

export interface FixtureOptions {
  bounds?: BoundsMode;
  yieldPoints?: boolean;
  cc?: 'clang' | 'emcc';
  simd?: boolean;
  optLevel?: 0 | 1 | 2 | 3;
}

/** A fixture's source: `hello` → fixtures/c/hello.c, `compute/sort` → fixtures/c/compute/sort.c, `wat/x.wat` as is. */
export function fixturePath(name: string): string {
  return /\.(c|wat|wasm)$/.test(name) ? join(FIXTURES, name) : join(FIXTURES, 'c', `${name}.c`);
}

function once(cache: Map<string, Promise<string>>, key: string, make: () => Promise<string>): Promise<string> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

const frontEnds = new Map<string, Promise<string>>();

// emcc runs as child processes: one at a time, so builds started ahead (prefetched) overlap with
// in-process work without swamping two cores.
let emccQueue: Promise<unknown> = Promise.resolve();
function serialEmcc<T>(run: () => Promise<T>): Promise<T> {
  const p = emccQueue.then(run, run);
  emccQueue = p.catch(() => {});
  return p;
}
const built = new Map<string, Promise<string>>();

/**
 * Builds a fixture with compiler/build.ts (once per options per process); returns the bundle's path.
 * A C fixture goes through its compiler once per (cc, simd, -O): build() then starts from that
 * .wasm for each bounds mode, which gives the passes the same input as building the .c (only the
 * manifest's source and frontend fields differ) and saves a compiler run per mode.
 */
export function buildFixture(name: string, opts: FixtureOptions = {}): Promise<string> {
  const o = { bounds: opts.bounds ?? 'guard', yieldPoints: opts.yieldPoints ?? true, cc: opts.cc ?? 'clang', simd: opts.simd ?? false, optLevel: opts.optLevel ?? 3 };
  const base = join(TMP, name.replace(/[/.]/g, '_'));
  const front = `${o.cc}${o.simd ? '-simd' : ''}-O${o.optLevel}`;
  const out = `${base}.${front}-${o.bounds}${o.yieldPoints ? '' : '-noyield'}.sledge`;
  return once(built, out, async () => {
    let source = fixturePath(name);
    if (source.endsWith('.c')) {
      const wasmPath = `${base}.${front}.wasm`;
      const c = source;
      source = await once(frontEnds, wasmPath, async () => {
        const compile = () => compileSource(c, { cc: o.cc, simd: o.simd, optLevel: o.optLevel });
        const r = await (o.cc === 'emcc' ? serialEmcc(compile) : compile());
        writeFileSync(wasmPath, r.wasm);
        return wasmPath;
      });
    }
    const { bytes } = await build(source, { bounds: o.bounds, yieldPoints: o.yieldPoints, optLevel: o.optLevel, simd: o.simd });
    writeFileSync(out, bytes);
    return out;
  });
}

export async function manifestOf(path: string): Promise<Manifest> {
  return parseBundle(new Uint8Array(await readFile(path)), path).manifest;
}

export interface RunOptions {
  env?: string[];
  /** The loader's switch for `--bounds none` bundles. */
  allowUnsafe?: boolean;
  /** A route's memory cap in pages (the loader's memory-max-pages). */
  memoryMaxPages?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
  trap?: { kind: string; reason: string };
}

// One module context and memory pool per bundle and policy, reused across runs as a worker does
// (so a run after another sees reset memory).
const pools = new Map<string, Promise<MemoryPool>>();

function poolFor(path: string, opts: RunOptions): Promise<MemoryPool> {
  const key = `${path}|${opts.allowUnsafe === true}|${opts.memoryMaxPages ?? ''}`;
  let p = pools.get(key);
  if (!p) {
    p = (async () => {
      const policy: BundlePolicy = { allowUnsafe: opts.allowUnsafe === true };
      const ctx = await createModuleContext(await loadBundle(path, policy), path, basename(path), opts.memoryMaxPages);
      return new MemoryPool(ctx.sandbox, {
        preempt: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }),
        yieldImport: () => {},
      });
    })();
    p.catch(() => pools.delete(key));
    pools.set(key, p);
  }
  return p;
}

/** Runs a bundle in-process like `sledge-loader run path args…` (argv[0] is the file name). */
export async function runBundle(path: string, args: string[] = [], stdin: string | Uint8Array = '', opts: RunOptions = {}): Promise<RunResult> {
  const pool = await poolFor(path, opts);
  const input = typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin;
  const res = await runSandbox(pool, { argv: cStrings([basename(path), ...args]), env: cStrings(opts.env ?? []), stdin: input });
  const stdoutBytes = Buffer.concat(res.stdout);
  const r: RunResult = { exitCode: res.exitCode, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(res.stderr).toString('utf8') };
  if (res.trap) r.trap = res.trap;
  return r;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node bin/<bin>.js args…` (Node 24: this process's binary) and collects its output. */
export function cli(bin: 'sledgec' | 'sledge-loader', args: string[], opts: { stdin?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', `${bin}.js`), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => {}); // the child may exit without reading stdin
    child.stdin.end(opts.stdin ?? '');
  });
}
