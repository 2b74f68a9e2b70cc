// Benchmarks drive the real CLI: `sledge-loader serve` in its own process, on 127.0.0.1 only.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, DEFAULT_BUILD, type BuildOptions } from '../../compiler/build.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** Builds fixtures/c/<name>.c into `dir` (default options unless given). */
export async function buildFixture(dir: string, name: string, opts: Partial<BuildOptions> = {}): Promise<string> {
  const out = join(dir, `${name}.sledge`);
  await writeFile(out, (await build(join(ROOT, `fixtures/c/${name}.c`), { ...DEFAULT_BUILD, ...opts })).bytes);
  return out;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `sledge-bench-${prefix}-`));
}

export interface LoaderProcess {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** Starts `sledge-loader serve spec` and resolves once the tenant listens (port from its log). */
export function startLoader(spec: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<LoaderProcess> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/sledge-loader.js'), 'serve', spec, '--admin', 'off', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`loader did not start:\n${log}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        proc.stderr!.removeAllListeners('data');
        proc.stderr!.resume();
        resolve({
          proc,
          port: Number(m[1]),
          stop: () => new Promise((r) => {
            proc.once('exit', () => r());
            proc.kill('SIGTERM');
          }),
        });
      }
    });
    proc.once('exit', (code) => reject(new Error(`loader exited with ${code}:\n${log}`)));
  });
}

export async function writeSpec(dir: string, routes: Record<string, string | number>[]): Promise<string> {
  const spec = join(dir, `spec-${Date.now()}.json`);
  await writeFile(spec, JSON.stringify([{ name: 'bench', port: 0, routes }], null, 2));
  return spec;
}
