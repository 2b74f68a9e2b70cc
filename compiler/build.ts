// `sledgec build`: source → front end → compiler passes → bundle. The one place that knows the
// whole build, so the CLI verb stays argument handling only.

import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SledgeError } from '../contract/errors.ts';
import { sha256 } from '../contract/bundle-format.ts';
import { HOST_ABI_VERSION, MEMORY_IMPORT } from '../contract/host-abi.ts';
import { MANIFEST_FORMAT, type BoundsMode, type Manifest } from '../contract/manifest.ts';
import { compileSource } from '../toolchain/frontend.ts';
import { writeBundle } from './bundle-writer.ts';
import { compileModule } from './compile.ts';
import { SLEDGEC_VERSION } from './version.ts';

export interface BuildOptions {
  bounds: BoundsMode;
  yieldPoints: boolean;
  optLevel: 0 | 1 | 2 | 3;
  simd: boolean;
  cc?: 'clang' | 'emcc';
  stackSize?: number;
  maxMemoryPages?: number;
  signingKey?: KeyObject;
}

const ENTRY = '_start';

export const DEFAULT_BUILD: BuildOptions = { bounds: 'guard', yieldPoints: true, optLevel: 3, simd: false };

export async function build(sourcePath: string, opts: BuildOptions): Promise<{ bytes: Uint8Array; manifest: Manifest }> {
  const source = await readFile(sourcePath).catch(() => undefined);
  const front = await compileSource(sourcePath, {
    optLevel: opts.optLevel,
    simd: opts.simd,
    ...(opts.cc ? { cc: opts.cc } : {}),
    ...(opts.stackSize ? { stackSize: opts.stackSize } : {}),
  });
  const where = basename(sourcePath);
  const mod = await compileModule(front.wasm, {
    bounds: opts.bounds,
    yieldPoints: opts.yieldPoints,
    optLevel: opts.optLevel,
    simd: opts.simd,
    where,
    entry: ENTRY,
    ...(opts.maxMemoryPages ? { maxMemoryPages: opts.maxMemoryPages } : {}),
  });
  if (!mod.exports.includes(ENTRY)) {
    throw new SledgeError('NO_ENTRY', `${where}: the module exports no ${ENTRY}, so there is nothing to run per request`, {
      hint: 'build a WASI command: a C file with main(), or a module exporting _start',
    });
  }
  const manifest: Omit<Manifest, 'moduleSha256'> = {
    format: MANIFEST_FORMAT,
    features: mod.features,
    abi: HOST_ABI_VERSION,
    bounds: opts.bounds,
    unsafe: opts.bounds === 'none',
    yieldPoints: { enabled: opts.yieldPoints, count: mod.yieldPointCount },
    memory: { ...mod.memory, import: { ...MEMORY_IMPORT } },
    entry: ENTRY,
    exports: mod.exports,
    imports: mod.imports,
    source: { name: where, kind: front.kind, sha256: source ? sha256(source) : '' },
    toolchain: {
      sledgec: SLEDGEC_VERSION,
      frontend: front.frontend,
      binaryen: mod.binaryenVersion,
      optLevel: opts.optLevel,
      simd: opts.simd,
      ...(front.stackSize ? { stackSize: front.stackSize } : {}),
    },
    ...(mod.writeRange ? { writes: mod.writeRange } : {}),
    ...(mod.runBound !== undefined ? { runBound: mod.runBound } : {}),
  };
  return writeBundle(mod.wasm, manifest, opts.signingKey);
}
