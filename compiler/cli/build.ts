// sledgec build

import { writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseOptions, usage } from '../../contract/cli.ts';
import { BOUNDS_MODES, type BoundsMode } from '../../contract/manifest.ts';
import { loadPrivateKey } from '../../contract/signature.ts';
import { build, DEFAULT_BUILD, type BuildOptions } from '../build.ts';

export async function buildVerb(args: string[]): Promise<number> {
  const { options: o, positionals } = parseOptions('sledgec', args, {
    output: { value: true, short: 'o' },
    bounds: { value: true },
    cc: { value: true },
    opt: { value: true, short: 'O' },
    simd: {},
    'stack-size': { value: true },
    'max-memory-pages': { value: true },
    sign: { value: true },
    'no-yield-points': {},
    quiet: { short: 'q' },
  });
  if (positionals.length !== 1) throw usage('build takes exactly one source file', 'sledgec');
  const src = positionals[0]!;
  const opts: BuildOptions = { ...DEFAULT_BUILD };
  if (o.bounds !== undefined) {
    if (!BOUNDS_MODES.includes(o.bounds as BoundsMode)) throw usage(`--bounds must be one of ${BOUNDS_MODES.join(', ')}`, 'sledgec');
    opts.bounds = o.bounds as BoundsMode;
  }
  if (o.cc !== undefined) {
    if (o.cc !== 'clang' && o.cc !== 'emcc') throw usage('--cc must be clang or emcc', 'sledgec');
    opts.cc = o.cc;
  }
  if (o.opt !== undefined) {
    if (!['0', '1', '2', '3'].includes(o.opt as string)) throw usage('-O takes 0, 1, 2 or 3', 'sledgec');
    opts.optLevel = Number(o.opt) as BuildOptions['optLevel'];
  }
  opts.simd = o.simd === true;
  opts.yieldPoints = o['no-yield-points'] !== true;
  if (o['stack-size'] !== undefined) opts.stackSize = positiveInt(o['stack-size'] as string, '--stack-size');
  if (o['max-memory-pages'] !== undefined) opts.maxMemoryPages = positiveInt(o['max-memory-pages'] as string, '--max-memory-pages');
  if (o.sign !== undefined) {
    opts.signingKey = await loadPrivateKey(o.sign as string);
  }
  const out = (o.output as string | undefined) ?? join(dirname(src), basename(src, extname(src)) + '.sledge');
  const { bytes, manifest } = await build(src, opts);
  await writeFile(out, bytes);
  if (o.quiet !== true) {
    const signed = opts.signingKey ? ', signed' : '';
    process.stderr.write(`sledgec: wrote ${out} (${(bytes.length / 1024).toFixed(1)} KiB, bounds ${manifest.bounds}, ${manifest.yieldPoints.count} yield points${signed})\n`);
  }
  return 0;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw usage(`${flag} takes a positive integer`, 'sledgec');
  return n;
}
