// Run bound: an upper bound on the expressions one call of the entry evaluates, when the code
// has one — no loop, no indirect call, no recursion (the calls reachable from the entry form a
// DAG), no memory.grow and no bulk memory operation of unknown size. Such a run is straight-line
// code, however it branches, and cannot take longer than its size says (a host call copies at most
// what it is given). The loader may then run it on its listener thread rather than hand it to a
// worker (runtime/inline-runner.ts): the hand-off costs more than a run of `empty` does.
//
// Counted on the final code, after every other pass. One unit per expression; a constant-size
// bulk operation counts one unit per 64 bytes on top.

import { callTarget, constI32, exportTarget, functions, getId, Id, Mem, pushChildren, type Expr, type FunctionView, type Module } from '../binaryen.ts';

/** Above this, no bound is recorded: such code is nothing the loader would run inline anyway. */
const LIMIT = 1e9;

const UNBOUNDED = new Set<number>([Id.Loop, Id.CallIndirect, Id.MemoryGrow, Id.TableGrow, Id.TableFill, Id.TableCopy, Id.TableInit]);

export function runBound(m: Module, entry: string): number | undefined {
  const target = exportTarget(m, entry);
  const byName = new Map<string, FunctionView>(functions(m).map((f) => [f.name, f]));
  if (target === undefined || !byName.has(target)) return undefined;
  const cost = new Map<string, number>();
  const onPath = new Set<string>();

  // Depth-first over the call DAG from the entry; a cycle (recursion) or anything unbounded ends it.
  const visit = (name: string): number | undefined => {
    const known = cost.get(name);
    if (known !== undefined) return known;
    const f = byName.get(name)!;
    if (f.imported) return 1;
    if (onPath.has(name) || !f.body) return undefined;
    onPath.add(name);
    let total = 0;
    const stack: Expr[] = [f.body];
    while (stack.length) {
      const e = stack.pop()!;
      const id = getId(e);
      if (UNBOUNDED.has(id)) return undefined;
      total += 1;
      if (id === Id.Call) {
        const callee = byName.get(callTarget(e));
        const c = callee ? visit(callee.name) : undefined;
        if (c === undefined) return undefined;
        total += c;
      } else if (id === Id.MemoryFill || id === Id.MemoryCopy || id === Id.MemoryInit) {
        const size = id === Id.MemoryFill ? Mem.mfSize(e) : id === Id.MemoryCopy ? Mem.mcSize(e) : Mem.miSize(e);
        if (getId(size) !== Id.Const) return undefined;
        total += Math.ceil(constI32(size) / 64);
      }
      if (total > LIMIT || !pushChildren(e, id, stack)) return undefined;
    }
    onPath.delete(name);
    cost.set(name, total);
    return total;
  };
  return visit(target);
}
