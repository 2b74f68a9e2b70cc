// Pass 5: yield points, so the scheduler can preempt a sandbox without signals. A point reads the
// per-worker flag page `sledge.preempt` (set non-zero by the runtime's timer when the quantum is
// over) and, when it is set, clears it (acknowledging the request) and calls `sledge.yield`.
//
// Placement guarantees that every unbounded execution reaches a point within bounded time: every
// loop header gets one (all back edges go there; an innermost loop's may check the flag only
// every K iterations, see below), and so does the entry of every function that calls a non-leaf
// guest function (or calls indirectly). A leaf — no loops, no calls into the
// guest — runs in time bounded by its size, so a function calling only leaves and host imports
// (the host never calls back into the guest) is bounded too, while every recursion cycle passes
// through an entry point. (Checking only call-graph cycles would be cheaper but would let an acyclic
// call DAG run for exponentially long without a point.) A function whose body starts with a loop
// that checks the flag at its header relies on that loop's point.
//
// Shape at a loop (bench/bounds.ts, geomean over the compute kernels vs guard without points): a
// call inside a hot loop, even on a path never taken, costs V8 dearly (every value live across it
// must survive a call): `if (flag) call` at loop headers cost 1.23×. So the call is moved out of
// the loop, which is re-entered at its header after yielding (1.09×):
//
//   (block $after (result T)
//     (loop $again
//       (block $yield
//         (br $after (loop $L (br_if $yield (i32.load $preempt (i32.const 0))) B)))
//       (i32.atomic.store $preempt (i32.const 0) (i32.const 0))   ;; acknowledge
//       (call $sledge.yield)
//       (br $again)))
//
// Re-entering at the header is exactly "check, then run the iteration": the state is in locals.
// Innermost loops, where the check costs most, avoid it in two ways:
//
// - Counted loops whose trip count, known at entry, is small enough to bound the run get an
//   unchecked copy used for such runs (boundedTripTest).
// - Every other innermost loop whose body calls no guest code counts down a local instead of
//   loading the flag: `(br_if $yield (i32.eqz (local.tee $c (i32.sub $c 1)))` at the header, with
//   $c = K set at `$again` (on entry and after each check), and the cold path checking the flag.
//   A local decrement and branch beat the load of the shared flag and its branch on the kernels
//   where it matters (sieve 1.18× → 1.06×, editdistance 1.07× → 1.00×; 1.047× → 1.022× overall).
//   Loops with a data-dependent exit that run a few iterations per entry in a function with
//   many live values (sort's partition, json's scanners) paid ~10% either way: there the check
//   costs a register and V8 spills a loop value. Checking on the back edge, sharing one counter
//   per function, or passing the loop's locals through globals around the call were all worse;
//   what helps is peeling: small counting loops (≤ MAX_PEELED expressions) run their first
//   iteration from an unchecked copy placed before the loop, whose back edges enter the loop
//   (sort 1.13× → 1.08×, json 1.10× → 1.06×, for ~10% more code; peeling two iterations bought
//   json another 2% for as much code again).
//
// Also measured and dropped: unrolling ×4 to check once per 4 iterations (under 1% for ~50% more
// code); cutting long counted loops into unchecked chunks of K iterations with a check between
// them (crc32, editdistance and nbody got slower, 1-10%); finishing a run in a flag-checked copy
// after a yield, so no call sits on a cycle through the hot loop; a countdown with the call inside
// the loop.
//
// Why the bound still holds: an innermost loop that calls no guest code runs at most S expressions
// per iteration (S: its body's size; host imports run no guest code), so with K = COUNTDOWN_BUDGET
// / S it runs at most COUNTDOWN_BUDGET expressions between two flag checks. $c is reset at every
// entry, so one entry is one such bounded run between checks, exactly like an unchecked counted
// copy (a peeled first iteration is straight-line code); and a loop can only be entered again
// through the header of an enclosing loop (which contains a loop, so it checks the flag at every
// iteration) or through a new call of its function (bounded by the entry points, as above). Between
// two points the guest thus runs at most one function body, the leaves it calls and one bounded run
// of each of its innermost loops. At function entries the plain
// `(if (i32.load $preempt (i32.const 0)) (then acknowledge (call $sledge.yield)))` is used.

import { SledgeError } from '../../contract/errors.ts';
import { SLEDGE_MODULE } from '../../contract/host-abi.ts';
import {
  addVar, binaryOp, binaryOperands, BinOp, branchTargets, breakCondition, breakValue, callTarget, constI32, exprText, freshName, functionBody,
  functions, getId, getType, Id, idToName, importedFunctionName, labelOf, localIndex, localSetParts, loopBody, loopSetBody, OPAQUE,
  pushChildren, renameLabels, retarget, replaceIn, setBody, T, type Expr, type FunctionView, type Module, type Slot,
} from '../binaryen.ts';

/**
 * 'countdown' (default): 'versioned', plus a countdown instead of the flag in the other innermost
 * loops. 'versioned': 'wrap', plus an unchecked copy of innermost counted loops for runs whose
 * trip count is small (see boundedTripTest). 'wrap': the call outside the loop, as above.
 * 'inline': `if (flag) call` at the loop header. The last three are kept for the benchmark.
 */
export type YieldStyle = 'countdown' | 'versioned' | 'wrap' | 'inline';

/**
 * Work an unchecked loop run may do, in Binaryen expressions executed (~1 ns each when optimized):
 * the preemption latency this adds is bounded by about 4 ms.
 */
const UNCHECKED_BUDGET = 1 << 22;
/** Below this many iterations, versioning is not worth the code. */
const MIN_UNCHECKED_TRIPS = 64;
/**
 * Work between two flag checks in a counting-down loop, in expressions: ~65 µs at ~1 ns each,
 * still under 7 ms if every one of them missed the cache, while a check every few thousand
 * iterations costs nothing measurable.
 */
const COUNTDOWN_BUDGET = 1 << 16;
/** Below this many iterations per check, the flag itself is as cheap. */
const MIN_COUNTDOWN = 16;
/** Counting-down loops this small (in expressions) run their first iteration from a copy before the loop. */
const MAX_PEELED = 64;

export interface YieldOptions {
  /** Binaryen's internal name of the sledge.preempt memory. */
  preemptMemory: string;
  where: string;
  /** Functions not to instrument (the compiler's own helpers). */
  skip?: ReadonlySet<string>;
  style?: YieldStyle;
}

interface Scan {
  f: FunctionView;
  loops: { loop: Expr; slot: Slot }[];
  callees: Set<string>;
  indirect: boolean;
}

export function insertYieldPoints(m: Module, opts: YieldOptions): number {
  const yieldFn = importedFunctionName(m, SLEDGE_MODULE, 'yield', T.none, T.none) ?? freshName(m, 'sledgec$yield');
  if (!m.getFunction(yieldFn)) m.addFunctionImport(yieldFn, SLEDGE_MODULE, 'yield', T.none, T.none);
  const style = opts.style ?? 'countdown';

  const all = functions(m);
  const imported = new Set(all.filter((f) => f.imported).map((f) => f.name));

  // Scan: loops (with where they sit), direct callees and indirect calls of every defined function.
  const scans: Scan[] = [];
  const kids: Expr[] = [];
  for (const f of all) {
    if (f.imported || opts.skip?.has(f.name)) continue;
    const s: Scan = { f, loops: [], callees: new Set(), indirect: false };
    const stack: Expr[] = [f.body];
    const slots: Slot[] = [{ fn: f.ref }];
    while (stack.length) {
      const e = stack.pop()!;
      const slot = slots.pop()!;
      const id = getId(e);
      if (id === Id.Loop) s.loops.push({ loop: e, slot });
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
      for (const k of kids) {
        stack.push(k);
        slots.push({ parent: e, parentId: id });
      }
    }
    scans.push(s);
  }
  // A leaf (no loops, no calls into the guest) runs in time bounded by its size, so calling one
  // cannot start unbounded work; anything else might be on a recursion cycle.
  const leaves = new Set(scans.filter((s) => !s.loops.length && !s.callees.size && !s.indirect).map((s) => s.f.name));

  const flag = (): Expr => m.i32.load(0, 4, m.i32.const(0), opts.preemptMemory);
  // Acknowledge, then yield: the guest clears the flag before calling sledge.yield, so a point
  // never yields twice for one request, whatever the runtime does with the flag (a loop re-entered
  // at its header after yielding would otherwise spin on a flag left set, making no progress).
  const yieldCall = (): Expr => m.block(null, [m.i32.atomic.store(0, m.i32.const(0), m.i32.const(0), opts.preemptMemory), m.call(yieldFn, [], T.none)]);
  const point = (): Expr => m.if(flag(), yieldCall());
  let count = 0;
  let label = 0;
  for (const s of scans) {
    const tests = new Map<Expr, Expr>();
    const counts = new Map<Expr, number>();
    const peels = new Set<Expr>();
    for (const { loop } of s.loops) {
      if (style !== 'countdown' && style !== 'versioned') break;
      const t = boundedTripTest(m, loop, imported);
      if (t) tests.set(loop, t);
      const size = style === 'countdown' ? innermostSize(loop, imported) : null;
      if (size === null || COUNTDOWN_BUDGET / size < MIN_COUNTDOWN) continue;
      counts.set(loop, Math.floor(COUNTDOWN_BUDGET / size));
      if (!t && size <= MAX_PEELED && labelOf(loop) !== null && getType(loop) === T.none) peels.add(loop);
    }
    // One counter serves all the function's counting loops: they are innermost, so never nested.
    const counter = counts.size ? addVar(s.f.ref, T.i32) : -1;
    const entry = (s.indirect || [...s.callees].some((c) => !leaves.has(c))) && !startsWithFlagLoop(s.f.body, tests, counts);
    // Innermost loops first: a loop may be the direct body of another, and wrapping the outer one
    // first would move the inner one out of the slot the scan recorded.
    for (let i = s.loops.length - 1; i >= 0; i--) {
      const { loop, slot } = s.loops[i]!;
      if (style === 'inline') loopSetBody(loop, m.block(null, [point(), loopBody(loop)], T.auto));
      else {
        const n = label++;
        const test = tests.get(loop);
        const copy = test ? m.copyExpression(loop) : 0;
        const k = counts.get(loop);
        const peel = peels.has(loop) ? m.copyExpression(loopBody(loop)) : 0;
        let replacement = k === undefined
          ? wrapped(m, loop, flag(), null, yieldCall(), n)
          : wrapped(m, loop, m.i32.eqz(m.local.tee(counter, m.i32.sub(m.local.get(counter, T.i32), m.i32.const(1)), T.i32)), m.local.set(counter, m.i32.const(k)), point(), n);
        if (test) {
          renameLabels(copy, `$u${n}`);
          replacement = m.if(test, copy, replacement);
        }
        if (peel) {
          // The first iteration, unchecked (it is straight-line code); its back edges enter the loop.
          renameLabels(peel, `$p${n}`);
          retarget(peel, labelOf(loop)!, `sledgec$enter${n}`);
          replacement = m.block(`sledgec$peeled${n}`, [m.block(`sledgec$enter${n}`, [peel, m.br(`sledgec$peeled${n}`)], T.none), replacement], T.none);
        }
        replaceIn(slot, loop, replacement);
      }
      count++;
    }
    if (entry) {
      setBody(s.f.ref, m.block(null, [point(), functionBody(s.f.ref)], T.auto));
      count++;
    }
  }
  return count;
}

/**
 * The loop in the wrapper that keeps the call outside it (not yet placed): the header leaves for
 * `cold` when `test` holds, `cold` re-enters at the header; `enter` runs before each (re-)entry.
 */
function wrapped(m: Module, loop: Expr, test: Expr, enter: Expr | null, cold: Expr, n: number): Expr {
  const t = getType(loop);
  const after = `sledgec$after${n}`;
  const again = `sledgec$again${n}`;
  const yl = `sledgec$yield${n}`;
  loopSetBody(loop, m.block(null, [m.br(yl, test), loopBody(loop)], T.auto));
  const pre = enter === null ? [] : [enter];
  const resume = [cold, m.br(again)];
  if (t === T.unreachable) {
    // The loop never falls through: nothing to leave by.
    return m.loop(again, m.block(null, [...pre, m.block(yl, [loop], T.none), ...resume], T.auto));
  }
  const exit = t === T.none ? m.block(yl, [loop, m.br(after)], T.none) : m.block(yl, [m.br(after, 0, loop)], T.none);
  return m.block(after, [m.loop(again, m.block(null, [...pre, exit, ...resume], T.auto))], t);
}

/** Expressions in an innermost loop's body; null if it holds a loop or calls guest code (its iterations would not be bounded by its size). */
function innermostSize(loop: Expr, imported: ReadonlySet<string>): number | null {
  let size = 0;
  const stack = [loopBody(loop)];
  const kids: Expr[] = [];
  while (stack.length) {
    const e = stack.pop()!;
    size++;
    const id = getId(e);
    if (id === Id.Loop || id === Id.CallIndirect || OPAQUE.has(id) || (id === Id.Call && !imported.has(callTarget(e)))) return null;
    kids.length = 0;
    if (!pushChildren(e, id, kids)) return null;
    stack.push(...kids);
  }
  return size;
}

/**
 * For an innermost counted loop, an expression evaluated at loop entry that is true when the run
 * is short enough to need no yield point; null when the loop is not of that form. The form:
 *
 *   (loop $L … (br_if $L COND))   — the final br_if is the only branch back to $L
 *
 * with COND comparing the induction local $i, stepped by a constant C exactly once per iteration
 * (inside COND as `local.tee $i (i32.add $i C)`, or as a top-level `local.set` before it), with a
 * bound N that is a constant or a local the loop never writes; no nested loops and no calls but
 * to host imports (which run no guest code: in software mode every check holds a bounds_trap call).
 * With step ±1 and ne / lt / gt (in the step's direction), $i reaches N after d = (N - i) or
 * (i - N) mod 2^32 steps, and the loop has left by then: at most d iterations. With |C| > 1 only
 * `ne` is accepted, and only when C divides d (otherwise $i would step over N and wrap). The
 * unchecked copy runs when d - 1 < LIMIT (d = 0 would mean 2^32), LIMIT = budget / body size.
 */
function boundedTripTest(m: Module, loop: Expr, imported: ReadonlySet<string>): Expr | null {
  const name = labelOf(loop);
  if (!name || getType(loop) !== T.none) return null;
  const body = loopBody(loop);
  const stmts: Expr[] = [];
  if (getId(body) === Id.Block) pushChildren(body, Id.Block, stmts);
  else stmts.push(body);
  const latch = stmts[stmts.length - 1];
  if (latch === undefined || getId(latch) !== Id.Break || branchTargets(latch)[0] !== name || !breakCondition(latch) || breakValue(latch)) return null;

  let size = 0;
  let backEdges = 0;
  const writes = new Map<number, number>();
  const stack = [body];
  const kids: Expr[] = [];
  while (stack.length) {
    const e = stack.pop()!;
    size++;
    const id = getId(e);
    // Calls into the guest could run for any time; host imports (bounds_trap, WASI) run no guest code.
    if (id === Id.Loop || id === Id.CallIndirect || OPAQUE.has(id) || (id === Id.Call && !imported.has(callTarget(e)))) return null;
    if (branchTargets(e).includes(name)) backEdges++;
    if (id === Id.LocalSet) {
      const i = localSetParts(e).index;
      writes.set(i, (writes.get(i) ?? 0) + 1);
    }
    kids.length = 0;
    if (!pushChildren(e, id, kids)) return null;
    stack.push(...kids);
  }
  if (backEdges !== 1) return null;
  const limit = Math.min(1 << 20, Math.floor(UNCHECKED_BUDGET / size));
  if (limit < MIN_UNCHECKED_TRIPS) return null;

  // `$i ± C` as (local, signed step), or null.
  const stepOf = (e: Expr, i: number): number | null => {
    if (getId(e) !== Id.Binary) return null;
    const op = binaryOp(e);
    const [a, b] = binaryOperands(e);
    if ((op !== BinOp.AddInt32 && op !== BinOp.SubInt32) || getId(a) !== Id.LocalGet || localIndex(a) !== i || getId(b) !== Id.Const) return null;
    const c = constI32(b) | 0;
    return op === BinOp.AddInt32 ? c : -c;
  };
  // The induction variable side of COND: `local.tee $i ($i ± C)`, or `local.get $i` stepped by a top-level statement.
  const induction = (x: Expr): { i: number; step: number } | null => {
    if (getId(x) === Id.LocalSet) {
      const p = localSetParts(x);
      const step = p.tee ? stepOf(p.value, p.index) : null;
      return step === null ? null : { i: p.index, step };
    }
    if (getId(x) !== Id.LocalGet) return null;
    const i = localIndex(x);
    for (const st of stmts.slice(0, -1)) {
      if (getId(st) !== Id.LocalSet) continue;
      const p = localSetParts(st);
      if (p.index !== i || p.tee) continue;
      const step = stepOf(p.value, i);
      return step === null ? null : { i, step };
    }
    return null;
  };
  const invariant = (n: Expr, i: number): boolean =>
    getId(n) === Id.Const || (getId(n) === Id.LocalGet && localIndex(n) !== i && !writes.has(localIndex(n)));

  const cond = breakCondition(latch);
  let op: number;
  let ind: { i: number; step: number } | null;
  let bound: Expr;
  if (getId(cond) === Id.LocalSet) {
    // br_if $L (local.tee $n ($n - 1)): continue while non-zero.
    op = BinOp.NeInt32;
    ind = induction(cond);
    bound = m.i32.const(0);
  } else if (getId(cond) === Id.Binary) {
    const [a, b] = binaryOperands(cond);
    op = binaryOp(cond);
    ind = induction(a);
    bound = b;
    if (!ind) {
      // Operands the other way round: N op X ≡ X op' N.
      ind = induction(b);
      bound = a;
      const flip = new Map([[BinOp.LtUInt32, BinOp.GtUInt32], [BinOp.GtUInt32, BinOp.LtUInt32], [BinOp.LtSInt32, BinOp.GtSInt32], [BinOp.GtSInt32, BinOp.LtSInt32], [BinOp.NeInt32, BinOp.NeInt32]]);
      op = flip.get(op) ?? -1;
    }
    if (!ind || !invariant(bound, ind.i)) return null;
    bound = getId(bound) === Id.Const ? m.i32.const(constI32(bound) | 0) : m.local.get(localIndex(bound), T.i32);
  } else return null;
  if (!ind || writes.get(ind.i) !== 1 || ind.step === 0) return null;
  const up = ind.step > 0;
  const c = Math.abs(ind.step);
  const ok = op === BinOp.NeInt32 || (c === 1 && (up ? op === BinOp.LtUInt32 || op === BinOp.LtSInt32 : op === BinOp.GtUInt32 || op === BinOp.GtSInt32));
  if (!ok) return null;

  const iv = (): Expr => m.local.get(ind!.i, T.i32);
  const d = up ? m.i32.sub(bound, iv()) : m.i32.sub(iv(), bound);
  if (c === 1) return m.i32.lt_u(m.i32.sub(d, m.i32.const(1)), m.i32.const(limit));
  const cc = m.i32.const(c);
  return m.i32.and(
    m.i32.eqz(m.i32.rem_u(d, cc)),
    m.i32.lt_u(m.i32.sub(m.i32.div_u(m.copyExpression(d), m.i32.const(c)), m.i32.const(1)), m.i32.const(limit)),
  );
}

/** Whether the body's first action is a loop header checking the flag, which then serves as the entry point. */
function startsWithFlagLoop(e: Expr, versioned: ReadonlyMap<Expr, Expr>, counting: ReadonlyMap<Expr, number>): boolean {
  for (;;) {
    const id = getId(e);
    if (id === Id.Loop) return !versioned.has(e) && !counting.has(e);
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
