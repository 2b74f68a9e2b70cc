// Pass 6: Binaryen's optimizer. The full -O pipeline runs on the module as the user wrote it
// (before checks), then, when checks were inserted, a short cleanup runs over them. Running the
// full pipeline after instrumentation bought nothing measurable here (Binaryen cannot prove an
// access in bounds, and V8 re-optimizes the checks in SSA form anyway) while it risks inlining the
// cold slow path into every check.
//
// Trap semantics are preserved: configureOptimizer keeps trapsNeverHappen / ignoreImplicitTraps
// off, so Binaryen treats every load, store, division and call as possibly trapping and neither
// removes nor reorders them across other side effects.

import { configureOptimizer, optimize, runPasses, type Module } from '../binaryen.ts';

export function optimizeModule(m: Module, optLevel: number): void {
  configureOptimizer(optLevel);
  if (optLevel > 0) optimize(m);
}

/** Local cleanup of the inserted check code: fold the temporary blocks and locals. */
export const CLEANUP_PASSES: readonly string[] = ['merge-blocks', 'simplify-locals-nostructure', 'vacuum', 'coalesce-locals', 'reorder-locals'];

export function cleanupInstrumentation(m: Module, optLevel: number): void {
  configureOptimizer(optLevel);
  if (optLevel > 0) runPasses(m, CLEANUP_PASSES);
}
