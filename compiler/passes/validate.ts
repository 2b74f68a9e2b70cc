// Pass 1: read and validate. V8 judges the bytes first (it gives a precise reason and is the
// engine the bundle runs on); then the module's interface is read and the shapes sledge cannot
// run are refused with their own codes; then Binaryen reads it with sledgec's explicit feature set
// (a module V8 accepts but Binaryen refuses uses a feature outside that set).

import { SledgeError } from '../../contract/errors.ts';
import { readSections } from '../../contract/wasm-sections.ts';
import { BinaryenError, readBinary, validate as binaryenValidate, type Module } from '../binaryen.ts';
import { readModuleInfo, type ModuleInfo } from '../wasm-binary.ts';

const REBUILD = 'rebuild it with a current toolchain (sledgec build fn.c), or check the .wat with wat2wasm';

/** Checks the raw bytes and returns the module's interface. */
export function validateInput(bytes: Uint8Array, where: string): ModuleInfo {
  const sections = readSections(bytes, where); // NOT_WASM, WASM_TRUNCATED, WASM_VERSION
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) {
    throw new SledgeError('INVALID_MODULE', `${where}: the WebAssembly module is not valid`, {
      details: [v8Reason(bytes)],
      hint: REBUILD,
    });
  }
  const info = readModuleInfo(bytes, where, sections);
  const memImports = info.imports.filter((i) => i.kind === 'memory');
  const all = [...memImports.map((i) => ({ limits: i.limits!, what: `imported memory ${i.module}.${i.name}` })), ...info.memories.map((l, k) => ({ limits: l, what: `memory ${memImports.length + k}` }))];
  if (all.length > 1) {
    throw new SledgeError('MULTI_MEMORY_UNSUPPORTED', `${where}: the module has ${all.length} memories; a sandbox has exactly one linear memory`, {
      details: all.map((m) => m.what),
      hint: 'build the function with a single memory (the default for clang and emcc)',
    });
  }
  const mem = all[0];
  if (mem?.limits.is64) {
    throw new SledgeError('MEMORY64_UNSUPPORTED', `${where}: the module uses a 64-bit memory (memory64), which sledge does not run`, {
      hint: 'build for wasm32 (--target=wasm32-wasip1), not wasm64',
    });
  }
  if (mem?.limits.shared) {
    throw new SledgeError('SHARED_MEMORY_UNSUPPORTED', `${where}: the module's memory is shared (built for threads); sandboxes are single-threaded`, {
      hint: 'build without -pthread / -matomics shared memory',
    });
  }
  if (mem?.limits.pageSizeLog2 !== undefined) {
    throw new SledgeError('UNSUPPORTED_FEATURE', `${where}: the module's memory uses a custom page size`, { hint: 'build with the default 64 KiB pages' });
  }
  return info;
}

/** V8's reason for refusing the bytes, e.g. "Compiling function #0 failed: type error …". */
function v8Reason(bytes: Uint8Array): string {
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    return (e as Error).message.replace(/^WebAssembly\.Module\(\): /, '');
  }
  return 'rejected by WebAssembly.validate';
}

/** Reads the (already V8-valid) bytes into Binaryen and validates them there. */
export function readModule(bytes: Uint8Array, where: string): Module {
  let m: Module;
  try {
    m = readBinary(bytes);
  } catch (e) {
    const details = e instanceof BinaryenError ? [...e.output, e.message] : [String(e)];
    throw new SledgeError('UNSUPPORTED_FEATURE', `${where}: the module uses a WebAssembly feature sledgec does not support`, {
      details,
      hint: 'sledgec accepts MVP wasm plus SIMD (incl. relaxed), bulk memory, sign extension, non-trapping conversions, multi-value, reference types, tail calls and atomics; not GC, exceptions or memory64',
    });
  }
  const problems = binaryenValidate(m);
  if (problems.length) {
    m.dispose();
    const feature = problems.some((p) => /\[--enable-[a-z0-9-]+\]|requires [a-z0-9-]+ \[/.test(p));
    throw new SledgeError(feature ? 'UNSUPPORTED_FEATURE' : 'INVALID_MODULE', `${where}: ${feature ? 'the module uses a WebAssembly feature sledgec does not support' : 'the WebAssembly module is not valid'}`, {
      details: problems.slice(0, 40),
      hint: feature ? 'rebuild without that feature (see the [--enable-…] name above)' : REBUILD,
    });
  }
  return m;
}
