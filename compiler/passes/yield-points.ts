// Pass 5: yield points, so the scheduler can preempt a sandbox without signals. Each point is
//
//   (if (i32.load $preempt (i32.const 0)) (call $sledge.yield))
//
// reading the per-worker flag page `sledge.preempt` that the runtime's timer sets when the quantum
// is over. Placement guarantees that every unbounded execution reaches a point within bounded
// time: every loop header gets one (all back edges go there), and so does the entry of every
// function that calls a non-leaf guest function (or calls indirectly). A leaf — no loops, no calls
// into the guest — runs in time bounded by its size, so a function calling only leaves and host
// imports (the host never calls back into the guest) is bounded too, while every recursion cycle
// passes through an entry point. Between two points the guest thus runs at most one function body
// plus the leaves it calls. (Checking only call-graph cycles would be cheaper but would let an
// acyclic call DAG run for exponentially long without a point.) A function whose body starts with
// a loop relies on that loop's point.

import { SLEDGE_MODULE } from '../../contract/host-abi.ts';
import {
  callTarget, freshName, functions, getId, Id, idToName, importedFunctionName, loopBody, loopSetBodyRaw, OPAQUE,
  exprText, pushChildren, setBody, T, type Expr, type FunctionView, type Module,
} from '../binaryen.ts';
import { SledgeError } from '../../contract/errors.ts';

export interface YieldOptions {
  /** Binaryen's internal name of the sledge.preempt memory. */
  preemptMemory: string;
  where: string;
  /** Functions not to instrument (the compiler's own helpers). */
  skip?: ReadonlySet<string>;
}

export function insertYieldPoints(m: Module, opts: YieldOptions): number {
  const yieldFn = importedFunctionName(m, SLEDGE_MODULE, 'yield', T.none, T.none) ?? freshName(m, 'sledgec$yield');
  if (!m.getFunction(yieldFn)) m.addFunctionImport(yieldFn, SLEDGE_MODULE, 'yield', T.none, T.none);

  const all = functions(m);
  const imported = new Set(all.filter((f) => f.imported).map((f) => f.name));

  // Scan: loops, direct callees and indirect calls of every defined function.
  interface Scan { f: FunctionView; loops: Expr[]; callees: Set<string>; indirect: boolean }
  const scans: Scan[] = [];
  const kids: Expr[] = [];
  for (const f of all) {
    if (f.imported || opts.skip?.has(f.name)) continue;
    const s: Scan = { f, loops: [], callees: new Set(), indirect: false };
    const stack: Expr[] = [f.body];
    while (stack.length) {
      const e = stack.pop()!;
      const id = getId(e);
      if (id === Id.Loop) s.loops.push(e);
      else if (id === Id.CallIndirect) s.indirect = true;
      else if (id === Id.Call) {
        const t = callTarget(e);
        if (!imported.has(t)) s.callees.add(t);
      }
      if (OPAQUE.has(id)) {
        if (/\b(loop|call)/.test(exprText(e))) unsupported(opts.where, id);
        continue;
      }
      kids.length = 0;
      if (!pushChildren(e, id, kids)) unsupported(opts.where, id);
      for (const k of kids) stack.push(k);
    }
    scans.push(s);
  }
  // A leaf (no loops, no calls into the guest) runs in time bounded by its size, so calling one
  // cannot start unbounded work; anything else might be on a recursion cycle.
  const leaves = new Set(scans.filter((s) => !s.loops.length && !s.callees.size && !s.indirect).map((s) => s.f.name));

  const point = (): Expr => m.if(m.i32.load(0, 4, m.i32.const(0), opts.preemptMemory), m.call(yieldFn, [], T.none));
  let count = 0;
  for (const s of scans) {
    for (const loop of s.loops) {
      loopSetBodyRaw(loop, m.block(null, [point(), loopBody(loop)], T.auto));
      count++;
    }
    const callsNonLeaf = s.indirect || [...s.callees].some((c) => !leaves.has(c));
    if (callsNonLeaf && !startsWithLoop(s.f.body)) {
      setBody(s.f.ref, m.block(null, [point(), s.f.body], T.auto));
      count++;
    }
  }
  return count;
}

function startsWithLoop(e: Expr): boolean {
  for (;;) {
    const id = getId(e);
    if (id === Id.Loop) return true;
    if (id !== Id.Block) return false;
    const k: Expr[] = [];
    pushChildren(e, id, k);
    if (!k.length) return false;
    e = k[0]!;
  }
}

function unsupported(where: string, id: number): never {
  throw new SledgeError('UNSUPPORTED_INSTRUCTION', `${where}: the module uses ${idToName(id)} around loops or calls, which sledgec cannot instrument`, {
    hint: 'this instruction is not produced by C compilers; rebuild from C, or build with --no-yield-points',
  });
}
