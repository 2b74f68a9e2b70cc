// The bundle manifest: everything the loader needs to know, written by sledgec, read by the loader.
// Versioned: the loader refuses a format version or a feature it does not understand.

import { SledgeError } from './errors.ts';

export const MANIFEST_FORMAT = 1;
export const MANIFEST_SECTION = 'sledge.manifest';
export const SIGNATURE_SECTION = 'sledge.signature';

export type BoundsMode = 'guard' | 'software' | 'none';
export const BOUNDS_MODES: readonly BoundsMode[] = ['guard', 'software', 'none'];

/**
 * Features a loader must understand to run the bundle. A loader that meets a name it does not know
 * refuses the bundle instead of guessing.
 */
export const KNOWN_FEATURES = ['imported-memory', 'yield-points', 'software-bounds', 'unchecked-memory', 'instance-reset'] as const;
export type Feature = (typeof KNOWN_FEATURES)[number];

export interface Manifest {
  format: number;
  features: string[];
  abi: number;
  bounds: BoundsMode;
  /** True when nothing protects memory accesses (bounds `none`): the loader refuses it without an explicit switch. */
  unsafe: boolean;
  yieldPoints: { enabled: boolean; count: number };
  memory: { initialPages: number; maximumPages: number; import: { module: string; name: string } };
  /** The export called to run the function (a WASI command's `_start`). */
  entry: string;
  exports: string[];
  imports: string[];
  source: { name: string; kind: 'c' | 'wasm' | 'wat'; sha256: string };
  /** sha256 of the module with the sledge.* sections removed: detects corruption or tampering. */
  moduleSha256: string;
  toolchain: { sledgec: string; frontend: string; binaryen: string; optLevel: number; simd: boolean; stackSize?: number };
  /**
   * Every byte a run can write lies in [low, high) (all its writes use constant addresses), so a
   * reset zeroes only that. Absent: unknown; a loader that ignores it just zeroes more.
   */
  writes?: { low: number; high: number };
  /**
   * At most this many expressions are evaluated by one run of the entry: the code has no loop, no
   * recursion, no indirect call and no memory.grow. Absent: no bound. A loader may run a function
   * with a small bound on its listener thread.
   */
  runBound?: number;
}

const REQUIRED: (keyof Manifest)[] = [
  'format', 'features', 'abi', 'bounds', 'unsafe', 'yieldPoints', 'memory', 'entry', 'exports', 'imports',
  'source', 'moduleSha256', 'toolchain',
];

export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

/** Parses and checks a manifest's shape and version. `where` names the bundle in errors. */
export function decodeManifest(bytes: Uint8Array, where: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new SledgeError('MANIFEST_CORRUPT', `${where}: the manifest section is not valid JSON`, {
      hint: 'rebuild the bundle with sledgec build',
    });
  }
  if (typeof m !== 'object' || m === null) {
    throw new SledgeError('MANIFEST_CORRUPT', `${where}: the manifest is not an object`, { hint: 'rebuild the bundle with sledgec build' });
  }
  const obj = m as Record<string, unknown>;
  if (obj.format !== MANIFEST_FORMAT) {
    throw new SledgeError('MANIFEST_VERSION', `${where}: manifest format ${JSON.stringify(obj.format)} is not supported (this version reads format ${MANIFEST_FORMAT})`, {
      hint: 'rebuild the bundle with this version of sledgec, or upgrade the loader',
    });
  }
  const missing = REQUIRED.filter((k) => !(k in obj));
  if (missing.length) {
    throw new SledgeError('MANIFEST_CORRUPT', `${where}: the manifest lacks ${missing.join(', ')}`, { hint: 'rebuild the bundle with sledgec build' });
  }
  return obj as unknown as Manifest;
}
