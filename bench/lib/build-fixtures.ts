// Builds fixtures into a directory in a plain Node process:
//   node bench/lib/build-fixtures.ts <dir> <fixture>…
// Benchmarks that measure under --no-liftoff --no-wasm-lazy-compilation must not build in the same
// process: V8 would compile the embedded clang and Binaryen (100+ MB of wasm) eagerly with TurboFan.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildFixture } from './loader-process.ts';

/** Runs this script in a child Node without V8 flags; returns the bundle paths, in order. */
export function buildInChild(dir: string, names: string[]): string[] {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), dir, ...names], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building ${names.join(', ')} failed (exit ${r.status})`);
  return r.stdout.trim().split('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, ...names] = process.argv.slice(2);
  for (const name of names) process.stdout.write(`${await buildFixture(dir!, name)}\n`);
}
