// A module context: a bundle compiled once per process (Sledge's dlopen'ed module). Workers get
// the compiled WebAssembly.Module by postMessage, which shares its code instead of recompiling.

import { setFlagsFromString } from 'node:v8';
import type { ParsedBundle } from '../contract/bundle-format.ts';
import { SledgeError } from '../contract/errors.ts';
import { SLEDGE_MODULE, STACK_LOW_EXPORT } from '../contract/host-abi.ts';
import type { Manifest } from '../contract/manifest.ts';
import type { SandboxModule } from '../runtime/sandbox-module.ts';


export interface ModuleContext {
  path: string;
  manifest: Manifest;
  sandbox: SandboxModule;
}

export async function createModuleContext(bundle: ParsedBundle, path: string, name: string, memoryMaxPages?: number): Promise<ModuleContext> {
  const m = bundle.manifest;
  let module: WebAssembly.Module;
  try {
    // `none` really means no checks: V8 bakes the flag into this module's code only (DESIGN §3);
    // the loader got here only with the explicit unsafe switch.
    if (m.unsafe) setFlagsFromString('--no-wasm-bounds-checks');
    // Synchronous on purpose: with --no-liftoff, V8's async compile job never finished here.
    module = new WebAssembly.Module(bundle.bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new SledgeError('BUNDLE_COMPILE', `${path}: the engine refused the module: ${(e as Error).message}`, {
      hint: 'rebuild the bundle with sledgec build; if it persists, report it with the bundle attached',
    });
  } finally {
    if (m.unsafe) setFlagsFromString('--wasm-bounds-checks');
  }
  const maximumPages = Math.min(m.memory.maximumPages, memoryMaxPages ?? Infinity);
  if (maximumPages < m.memory.initialPages) {
    throw new SledgeError('MEMORY_CAP', `${path}: the memory cap (${maximumPages} pages) is below the module's initial memory (${m.memory.initialPages} pages)`, {
      hint: 'raise memory-max-pages for this route',
    });
  }
  const suspendable = m.imports.includes(`${SLEDGE_MODULE}.yield`);
  const sandbox: SandboxModule = { name, module, entry: m.entry, memory: { initialPages: m.memory.initialPages, maximumPages }, suspendable };
  if (m.exports.includes(STACK_LOW_EXPORT)) sandbox.stackLowExport = STACK_LOW_EXPORT;
  // A malformed range is ignored: the reset then zeroes from the stack mark up, which is safe.
  const w = m.writes;
  if (w && Number.isSafeInteger(w.low) && Number.isSafeInteger(w.high) && 0 <= w.low && w.low <= w.high) sandbox.writeRange = { low: w.low, high: w.high };
  return { path, manifest: m, sandbox };
}
