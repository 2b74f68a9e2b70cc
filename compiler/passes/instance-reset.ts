// Instance reset: lets the runtime serve many requests with one WebAssembly.Instance. A fresh
// instance per request is an old-space object graph in V8: ~2 µs to build, and under load a full
// GC every few hundred ms (measured: 47 mark-compacts in 3 s on a server instantiating `empty`
// per request, which ran at 0.65× of the same server reusing one instance).
//
// All a run can change in an instance is its memory, its mutable globals, its tables and which
// segments are dropped. The runtime already zeroes the memory a run wrote; this pass makes the
// rest restorable, as Sledge's aWsm modules do with their populate_globals/populate_memory:
//   - an exported function `sledge_init` sets every mutable global to its initializer and copies
//     every data segment to its place (memory.init), which is what instantiation does;
//   - every active data segment becomes passive (in the emitted bytes: makeDataPassive), so that
//     it stays available to memory.init; the runtime calls sledge_init before every run.
// A module that changes what this cannot restore (tables, dropped segments), runs code at
// instantiation (a start function), has a segment outside its initial memory or one whose offset
// is not a constant is left as it is: the runtime then builds a fresh instance per request.
//
// Runs last, after the yield pass: sledge_init must have no yield point (it runs outside any
// JSPI promising call) and no bounds checks (its copies are within the initial memory).

import { INIT_EXPORT } from '../../contract/host-abi.ts';
import {
  copyExpr, dataSegments, freshName, functions, getId, hasStartFunction, Id, mutableGlobals, pushChildren, T, type Module,
} from '../binaryen.ts';

/** Expressions that change state sledge_init cannot put back. */
const UNRESTORABLE = new Set<number>([Id.TableSet, Id.TableGrow, Id.TableFill, Id.TableCopy, Id.TableInit, Id.ElemDrop, Id.DataDrop, Id.MemoryInit]);

const PAGE = 65536;

/**
 * Adds and exports sledge_init when the module qualifies. Returns whether it did; the caller then
 * turns the active data segments passive in the emitted binary (makeDataPassive).
 */
export function addInstanceReset(m: Module, opts: { memory: string; initialPages: number }): boolean {
  if (m.getExport(INIT_EXPORT) || hasStartFunction(m)) return false;
  const segments = dataSegments(m);
  if (!segments) return false;
  const active = segments.filter((s) => s.offset !== null);
  if (active.some((s) => s.offset! + s.size > opts.initialPages * PAGE)) return false;
  for (const f of functions(m)) {
    if (f.imported || !f.body) continue;
    const stack = [f.body];
    while (stack.length) {
      const e = stack.pop()!;
      const id = getId(e);
      if (UNRESTORABLE.has(id) || !pushChildren(e, id, stack)) return false;
    }
  }
  const body = [
    ...mutableGlobals(m).map((g) => m.global.set(g.name, copyExpr(m, g.init))),
    ...active.map((s) => m.memory.init(s.name, m.i32.const(s.offset!), m.i32.const(0), m.i32.const(s.size), opts.memory)),
  ];
  const name = freshName(m, INIT_EXPORT);
  m.addFunction(name, T.none, T.none, [], m.block(null, body, T.none));
  m.addFunctionExport(name, INIT_EXPORT);
  return true;
}
