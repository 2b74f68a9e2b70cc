// Static write range: when every write to memory a run can make is at a constant address, the
// bytes a request can leave behind are known at build time, and the runtime's reset zeroes just
// that range instead of everything above the stack's low-water mark (64 KiB+ for any C program).
// This holds for functions that use neither the stack nor the heap (`empty`: a few words of libc
// state); any store through a computed pointer, or any import that can write guest memory, and
// there is no range (undefined).
//
// Runs before the yield pass: until then every memory access is to the sandbox's memory (the
// input may have only one), and the yield points' own writes go to the sledge.preempt page.

import {
  constI32, functions, getId, Id, importedFunctions, Mem, Op, pushChildren, type Expr, type Module,
} from '../binaryen.ts';

/** Host functions that never write the guest's memory. */
const NON_WRITING_IMPORTS = new Set(['sledge.yield', 'sledge.bounds_trap', 'wasi_snapshot_preview1.proc_exit', 'wasi_snapshot_preview1.sched_yield']);

export interface WriteRange {
  /** First byte a run can write. */
  low: number;
  /** One past the last byte a run can write. */
  high: number;
}

/** The range every write of a run falls in, or undefined when some write's address is not a constant. */
export function staticWriteRange(m: Module): WriteRange | undefined {
  if (!importedFunctions(m).every((name) => NON_WRITING_IMPORTS.has(name))) return undefined;
  let low = Infinity;
  let high = 0;
  // A write of `n` bytes at constant `ptr` + `offset`; false when the pointer or size is unknown.
  const at = (ptr: Expr, offset: number, n: number): boolean => {
    if (getId(ptr) !== Id.Const || n < 0) return false;
    const start = constI32(ptr) + offset;
    low = Math.min(low, start);
    high = Math.max(high, start + n);
    return true;
  };
  const size = (e: Expr) => (getId(e) === Id.Const ? constI32(e) : -1);
  const laneBytes = (e: Expr) => ({ [Op.Store8Lane]: 1, [Op.Store16Lane]: 2, [Op.Store32Lane]: 4 })[Mem.laneOp(e)] ?? 8;
  const stack: Expr[] = [];
  for (const f of functions(m)) {
    if (f.imported || !f.body) continue;
    stack.push(f.body);
    while (stack.length) {
      const e = stack.pop()!;
      const id = getId(e);
      let ok = true;
      if (id === Id.Store) ok = at(Mem.storePtr(e), Mem.storeOffset(e), Mem.storeBytes(e));
      else if (id === Id.AtomicRMW) ok = at(Mem.rmwPtr(e), Mem.rmwOffset(e), Mem.rmwBytes(e));
      else if (id === Id.AtomicCmpxchg) ok = at(Mem.cxPtr(e), Mem.cxOffset(e), Mem.cxBytes(e));
      // Lane loads count as writes too: a wider range is still a sound one.
      else if (id === Id.SIMDLoadStoreLane) ok = at(Mem.lanePtr(e), Mem.laneOffset(e), laneBytes(e));
      else if (id === Id.MemoryFill) ok = at(Mem.mfDest(e), 0, size(Mem.mfSize(e)));
      else if (id === Id.MemoryCopy) ok = at(Mem.mcDest(e), 0, size(Mem.mcSize(e)));
      else if (id === Id.MemoryInit) ok = at(Mem.miDest(e), 0, size(Mem.miSize(e)));
      if (!ok || !pushChildren(e, id, stack)) return undefined;
    }
  }
  return high === 0 ? { low: 0, high: 0 } : { low, high };
}
