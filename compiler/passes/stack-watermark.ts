// Stack watermark: after a run the runtime must zero what the run wrote. With the shadow stack
// first in memory (growing down from its top) and data and heap above it, that is everything from
// the lowest stack pointer the run reached. This pass keeps that minimum in an exported global:
// every `global.set $__stack_pointer v` also does `if (v <u low) low = v` — a compare per stack
// frame, and a reset of a few KiB instead of the whole memory (1 MiB+ with the default stack).
//
// Only when the module is fully understood: a stack pointer found by name with a constant start,
// and no expression this walker cannot look inside. A module whose stack pointer the optimizer
// removed (it never used the stack) exports its lowest data address instead. Otherwise nothing is
// exported and the runtime clears the whole memory.

import { STACK_LOW_EXPORT } from '../../contract/host-abi.ts';
import {
  addVar, freshName, functions, getId, globalSetName, globalSetValue, hasMutableI32Global, Id, lowestDataOffset, mutableI32Global, pushChildren, replaceIn, T,
  type Expr, type Module, type Slot,
} from '../binaryen.ts';

const STACK_POINTER = '__stack_pointer';

/** Returns whether the watermark is exported (a module that never moves its stack pointer has one too). */
export function insertStackWatermark(m: Module): boolean {
  if (m.getExport(STACK_LOW_EXPORT)) return false;
  const sp = mutableI32Global(m, STACK_POINTER);
  if (!sp) {
    if (m.getGlobal(STACK_POINTER)) return false; // there, but not in a form we understand
    // No name section (emcc -O2+ strips it): an unnamed mutable i32 global may be the stack pointer.
    if (hasMutableI32Global(m)) return false;
    const dataStart = lowestDataOffset(m);
    if (dataStart === undefined) return false;
    const name = freshName(m, 'sledge_stack_low');
    m.addGlobal(name, T.i32, false, m.i32.const(dataStart));
    m.addGlobalExport(name, STACK_LOW_EXPORT);
    return true;
  }
  const sets: { fn: number; slot: Slot; e: Expr }[] = [];
  for (const f of functions(m)) {
    if (f.imported || !f.body) continue;
    const stack: { e: Expr; slot: Slot }[] = [{ e: f.body, slot: { fn: f.ref } }];
    while (stack.length) {
      const { e, slot } = stack.pop()!;
      const id = getId(e);
      if (id === Id.GlobalSet && globalSetName(e) === STACK_POINTER) sets.push({ fn: f.ref, slot, e });
      const children: Expr[] = [];
      if (!pushChildren(e, id, children)) return false; // an expression we cannot see into
      for (const c of children) stack.push({ e: c, slot: { parent: e, parentId: id } });
    }
  }
  const low = freshName(m, 'sledge_stack_low');
  m.addGlobal(low, T.i32, true, m.i32.const(sp.init));
  m.addGlobalExport(low, STACK_LOW_EXPORT);
  for (const { fn, slot, e } of sets) {
    const tmp = addVar(fn, T.i32);
    const v = () => m.local.get(tmp, T.i32);
    const replacement = m.block(null, [
      m.local.set(tmp, globalSetValue(e)),
      m.global.set(STACK_POINTER, v()),
      m.if(m.i32.lt_u(v(), m.global.get(low, T.i32)), m.global.set(low, v())),
    ], T.none);
    replaceIn(slot, e, replacement);
  }
  return true;
}
