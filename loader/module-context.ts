// A module context: a bundle compiled once per process (Sledge's dlopen'ed module). Workers get
// the compiled WebAssembly.Module by postMessage, which shares its code instead of recompiling.
//
// Two steps, so that `serve` can refuse a bad bundle before it listens but compile after: the
// checks (manifest, memory cap, wasm validation) are quick; the optimizing compile is not
// (tens of ms per bundle that links printf, all TurboFan: DESIGN §3 "Tiering").

import { setFlagsFromString } from 'node:v8';
import type { ParsedBundle } from '../contract/bundle-format.ts';
import { SledgeError } from '../contract/errors.ts';
import { INIT_EXPORT, SLEDGE_MODULE, STACK_LOW_EXPORT } from '../contract/host-abi.ts';
import type { Manifest } from '../contract/manifest.ts';
import type { SandboxModule } from '../runtime/sandbox-module.ts';

/** Optimized code from the first call (DESIGN §3 "Tiering"): no baseline tier, compile eagerly. */
export const TIERING_FLAGS = ['--no-liftoff', '--no-wasm-lazy-compilation'] as const;
let tiering = false;

/**
 * Sets TIERING_FLAGS, once, before the process compiles its first module (V8 reads them when it
 * compiles; flipping them once wasm exists is unsafe: DESIGN §3). `serve` calls this after its
 * workers have booted: set earlier, the flags make each worker's boot ~20 ms slower (Node's code
 * cache no longer matches the flags), and nothing compiles wasm before this anyway.
 */
export function useTieringFlags(): void {
  if (tiering) return;
  tiering = true;
  for (const f of TIERING_FLAGS) setFlagsFromString(f);
}

export interface ModuleContext {
  path: string;
  manifest: Manifest;
  sandbox: SandboxModule;
}

/** A bundle checked and ready to compile. */
export interface PreparedModule {
  path: string;
  bundle: ParsedBundle;
  /** The sandbox description, without its compiled module yet. */
  sandbox: Omit<SandboxModule, 'module'>;
}

/** `fullReset`: the whole memory is zeroed after each run (the route's "memory-reset": "full"). */
export function prepareModule(bundle: ParsedBundle, path: string, name: string, memoryMaxPages?: number, fullReset = false): PreparedModule {
  const m = bundle.manifest;
  const maximumPages = Math.min(m.memory.maximumPages, memoryMaxPages ?? Infinity);
  if (maximumPages < m.memory.initialPages) {
    throw new SledgeError('MEMORY_CAP', `${path}: the memory cap (${maximumPages} pages) is below the module's initial memory (${m.memory.initialPages} pages)`, {
      hint: 'raise memory-max-pages for this route',
    });
  }
  if (!WebAssembly.validate(bundle.bytes as Uint8Array<ArrayBuffer>)) refused(path, 'it does not validate');
  const suspendable = m.imports.includes(`${SLEDGE_MODULE}.yield`);
  const sandbox: PreparedModule['sandbox'] = { name, entry: m.entry, memory: { initialPages: m.memory.initialPages, maximumPages }, suspendable };
  if (m.features.includes('instance-reset')) {
    if (!m.exports.includes(INIT_EXPORT)) refused(path, `its manifest promises instance reset but it exports no ${INIT_EXPORT}`);
    sandbox.initExport = INIT_EXPORT;
  }
  if (m.runBound !== undefined && Number.isSafeInteger(m.runBound) && m.runBound >= 0 && !m.unsafe) sandbox.runBound = m.runBound;
  // With neither a stack mark nor a write range, the pool zeroes the whole memory.
  if (fullReset) return { path, bundle, sandbox };
  if (m.exports.includes(STACK_LOW_EXPORT)) sandbox.stackLowExport = STACK_LOW_EXPORT;
  // A malformed range is ignored: the reset then zeroes from the stack mark up, which is safe.
  const w = m.writes;
  if (w && Number.isSafeInteger(w.low) && Number.isSafeInteger(w.high) && 0 <= w.low && w.low <= w.high) sandbox.writeRange = { low: w.low, high: w.high };
  return { path, bundle, sandbox };
}

export async function compileModule(p: PreparedModule): Promise<ModuleContext> {
  const m = p.bundle.manifest;
  const bytes = p.bundle.bytes as Uint8Array<ArrayBuffer>;
  let module: WebAssembly.Module;
  try {
    if (m.unsafe) {
      // `none` really means no checks: V8 bakes the flag into this module's code only (DESIGN §3).
      // The loader got here only with the explicit unsafe switch. Synchronous, so that the flag
      // is set exactly while this module compiles.
      setFlagsFromString('--no-wasm-bounds-checks');
      try {
        module = new WebAssembly.Module(bytes);
      } finally {
        setFlagsFromString('--wasm-bounds-checks');
      }
    } else {
      // On V8's background threads: the event loop keeps serving while a bundle compiles. The
      // pending compile holds no handle, so a timer keeps Node from exiting under it.
      const alive = setInterval(() => {}, 1 << 30);
      try {
        module = await WebAssembly.compile(bytes);
      } finally {
        clearInterval(alive);
      }
    }
  } catch (e) {
    refused(p.path, (e as Error).message);
  }
  return { path: p.path, manifest: m, sandbox: { ...p.sandbox, module } };
}

export async function createModuleContext(bundle: ParsedBundle, path: string, name: string, memoryMaxPages?: number): Promise<ModuleContext> {
  return compileModule(prepareModule(bundle, path, name, memoryMaxPages));
}

function refused(path: string, why: string): never {
  throw new SledgeError('BUNDLE_COMPILE', `${path}: the engine refused the module: ${why}`, {
    hint: 'rebuild the bundle with sledgec build; if it persists, report it with the bundle attached',
  });
}
