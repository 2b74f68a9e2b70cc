// What the runtime needs to know about a compiled function: the loader builds it from a bundle's
// manifest (the runtime knows nothing of bundles, spec files or HTTP).

import type { CStrings } from './wasi/c-strings.ts';

export interface SandboxModule {
  /** For messages and metrics: the route or bundle name. */
  name: string;
  module: WebAssembly.Module;
  /** Export to call (a WASI command's `_start`). */
  entry: string;
  memory: { initialPages: number; maximumPages: number };
  /**
   * The module imports sledge.yield, so a run may suspend: it runs as a JSPI promising call. A
   * module without yield points is called directly (a promising wrapper costs ~1 µs).
   */
  suspendable: boolean;
  /**
   * Lowest address a run can write below which memory never changes (the shadow stack's low-water
   * mark, exported by the bundle as a global). Absent: the whole memory is cleared after a run.
   */
  stackLowExport?: string;
  /**
   * Every byte a run can write lies in [low, high) (known at build time): the reset zeroes that and
   * nothing else, and `stackLowExport` is not read.
   */
  writeRange?: { low: number; high: number };
  /**
   * The export that puts an instance back in its just-instantiated state (globals, data segments),
   * called before every run: an instance is then kept with its pooled memory and reused, instead
   * of a fresh one per request. Absent: a fresh instance per request.
   */
  initExport?: string;
  /**
   * At most this many expressions per run (no loop, no recursion: the bundle's run bound). A small
   * one lets the dispatcher run the function on its own thread (runtime/inline-runner.ts).
   */
  runBound?: number;
}

export interface SandboxRequest {
  /** As C strings: build them with cStrings(). */
  argv: CStrings;
  env: CStrings;
  stdin: Uint8Array;
}

export interface SandboxResult {
  exitCode: number;
  stdout: Uint8Array[];
  stderr: Uint8Array[];
  trap?: { kind: string; reason: string };
}
