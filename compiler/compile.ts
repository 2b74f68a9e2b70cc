// The compiler driver: a module in, a prelinked module out (the bundle writer adds the manifest).
//
//   validate (V8, then interface checks) → ABI check → memory import (bytes)
//   → read into Binaryen + validate → optimize (-O level) → stack watermark → software bounds
//   checks → static write range → yield points → cleanup of the inserted code → instance reset
//   → run bound → emit (active data segments made passive) → V8 validates the result
//
// The optimizer runs before the checks are inserted: it works on the user's code at full
// strength, and cannot be tempted to inline or reshape the checks; the checks themselves are
// simple enough that a local cleanup is all they need (see passes/optimize.ts).

import { SledgeError } from '../contract/errors.ts';
import { MEMORY_IMPORT, PREEMPT_MEMORY_IMPORT } from '../contract/host-abi.ts';
import type { BoundsMode, Feature } from '../contract/manifest.ts';
import { binaryenVersion, emitBinary, exportTarget, runPasses, validate, type Module } from './binaryen.ts';
import { checkAbi } from './passes/abi-check.ts';
import { insertBoundsChecks, type CheckStyle } from './passes/bounds-software.ts';
import { addInstanceReset } from './passes/instance-reset.ts';
import { DEFAULT_MAX_PAGES, importMemory, MAX_PAGES_CAP } from './passes/memory-import.ts';
import { cleanupInstrumentation, optimizeModule } from './passes/optimize.ts';
import { insertStackWatermark } from './passes/stack-watermark.ts';
import { runBound } from './passes/run-bound.ts';
import { readModule, validateInput } from './passes/validate.ts';
import { staticWriteRange, type WriteRange } from './passes/write-range.ts';
import { insertYieldPoints, type YieldStyle } from './passes/yield-points.ts';
import { makeDataPassive, readModuleInfo } from './wasm-binary.ts';

export interface CompileOptions {
  bounds: BoundsMode;
  yieldPoints: boolean;
  optLevel: 0 | 1 | 2 | 3;
  /** The frontend's SIMD switch; SIMD in an input module is accepted either way. */
  simd: boolean;
  /** Cap on the declared maximum memory, in 64 KiB pages (default 16384 = 1 GiB, at most 65536). */
  maxMemoryPages?: number;
  /** File name for error messages. */
  where: string;
  /** The export a run calls (default `_start`): its run bound is measured. */
  entry?: string;
  /** Benchmark knob: how a software check learns the memory size (default 'local'). */
  boundsCheckStyle?: CheckStyle;
  /** Benchmark knob: the yield point shape at loops (default 'countdown'). */
  yieldStyle?: YieldStyle;
}

export interface CompiledModule {
  wasm: Uint8Array;
  memory: { initialPages: number; maximumPages: number };
  yieldPointCount: number;
  exports: string[];
  /** "module.name" for every import, in order. */
  imports: string[];
  features: Feature[];
  binaryenVersion: string;
  /** Software bounds checks inserted. */
  boundsChecks: number;
  /** Where every write of a run falls, when all are at constant addresses (passes/write-range.ts). */
  writeRange?: WriteRange;
  /** Expressions one run of the entry can evaluate at most, when the code has a bound (passes/run-bound.ts). */
  runBound?: number;
}

export async function compileModule(input: Uint8Array, opts: CompileOptions): Promise<CompiledModule> {
  const where = opts.where;
  const maxMemoryPages = opts.maxMemoryPages ?? DEFAULT_MAX_PAGES;
  if (!Number.isInteger(maxMemoryPages) || maxMemoryPages < 1 || maxMemoryPages > MAX_PAGES_CAP) {
    throw new SledgeError('BAD_OPTION', `memory limit ${maxMemoryPages} pages is out of range`, { hint: `give 1..${MAX_PAGES_CAP} pages (64 KiB each)` });
  }
  if (![0, 1, 2, 3].includes(opts.optLevel)) {
    throw new SledgeError('BAD_OPTION', `optimization level ${opts.optLevel} is not one of 0, 1, 2, 3`);
  }

  const info = validateInput(input, where);
  checkAbi(info, where);
  const mem = importMemory(input, info, { maxMemoryPages, preempt: opts.yieldPoints, where });

  const m = readModule(mem.bytes, where);
  let wasm: Uint8Array;
  let boundsChecks = 0;
  let yieldPointCount = 0;
  let writeRange: WriteRange | undefined;
  let resettable = false;
  let bound: number | undefined;
  let binaryenProblems: string[] = [];
  try {
    // The probe exports also keep the optimizer from dropping sledge.preempt before it is used.
    const memory = probe(m, mem.probe.memory);
    const preempt = mem.probe.preempt !== undefined ? probe(m, mem.probe.preempt) : undefined;

    optimizeModule(m, opts.optLevel);
    insertStackWatermark(m);
    if (opts.bounds === 'software') {
      boundsChecks = insertBoundsChecks(m, { memory, initialPages: mem.initialPages, checkStyle: opts.boundsCheckStyle, where });
    }
    writeRange = staticWriteRange(m);
    if (preempt !== undefined) {
      yieldPointCount = insertYieldPoints(m, { preemptMemory: preempt, where, style: opts.yieldStyle });
    }
    m.removeExport(mem.probe.memory);
    if (mem.probe.preempt !== undefined) m.removeExport(mem.probe.preempt);
    if (boundsChecks || yieldPointCount) cleanupInstrumentation(m, opts.optLevel);
    // No point inserted: sledge.yield and sledge.preempt go unless the user's code calls them, so
    // the loader sees a module that cannot suspend and calls it directly (no JSPI wrapper, ~1 µs).
    else if (preempt !== undefined) runPasses(m, ['remove-unused-module-elements']);
    resettable = addInstanceReset(m, { memory, initialPages: mem.initialPages });
    bound = runBound(m, opts.entry ?? '_start');
    wasm = emitBinary(m);
    if (resettable) wasm = makeDataPassive(wasm, where);
    if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) binaryenProblems = validate(m);
  } finally {
    m.dispose();
  }

  if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) {
    let reason = '';
    try {
      new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
    } catch (e) {
      reason = (e as Error).message;
    }
    throw new SledgeError('INTERNAL', `${where}: sledgec produced an invalid module (a compiler bug)`, {
      details: [reason, ...binaryenProblems.slice(0, 20)],
      hint: 'please report it with the input file; building with --bounds guard may work around it',
    });
  }

  const out = readModuleInfo(wasm, where);
  const imports = out.imports.map((i) => `${i.module}.${i.name}`);
  const features: Feature[] = ['imported-memory'];
  if (imports.includes(`${PREEMPT_MEMORY_IMPORT.module}.${PREEMPT_MEMORY_IMPORT.name}`)) features.push('yield-points');
  if (opts.bounds === 'software') features.push('software-bounds');
  if (opts.bounds === 'none') features.push('unchecked-memory');
  if (resettable) features.push('instance-reset');
  if (!imports.includes(`${MEMORY_IMPORT.module}.${MEMORY_IMPORT.name}`)) {
    throw new SledgeError('INTERNAL', `${where}: the compiled module lost its memory import (a compiler bug)`);
  }
  return {
    wasm,
    memory: { initialPages: mem.initialPages, maximumPages: mem.maximumPages },
    yieldPointCount,
    exports: out.exports.map((e) => e.name),
    imports,
    features,
    binaryenVersion,
    boundsChecks,
    ...(writeRange ? { writeRange } : {}),
    ...(bound !== undefined ? { runBound: bound } : {}),
  };
}

/** Internal name of the memory behind a temporary probe export. */
function probe(m: Module, exportName: string): string {
  const name = exportTarget(m, exportName);
  if (name === undefined) throw new SledgeError('INTERNAL', `memory probe export ${exportName} vanished (a compiler bug)`);
  return name;
}
