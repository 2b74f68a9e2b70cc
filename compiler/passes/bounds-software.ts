// Pass 4 (--bounds software): an explicit check before every memory access the module can make.
//
// Check shape (per access of static size S at offset K, address operand in local $a), when K+S is
// within the declared initial memory (so always at most the memory's size):
//
//   (if (i32.gt_u $a (i32.sub (local.get $limit_1) (i32.const K+S-1)))
//     (then (call $sledge.bounds_trap (i64.add (i64.extend_i32_u $a) (i64.const K)) S) (unreachable)))
//
// $limit_1 is the memory size in bytes minus one, as an i32 (the size is at most 2^32): then
// `$a > size-1-(K+S-1)` is exactly `$a + K + S > size`, with nothing to overflow, in one 32-bit
// compare. Otherwise (a larger reach, atomics, which check alignment too, and bulk operations) the
// effective end is computed in i64, so offsets up to 2^32-1 never wrap:
//
//   (if (i64.gt_u (local.tee $end (i64.add (i64.extend_i32_u $a) (i64.const K+S))) (local.get $limit))
//     (then (call $sledge.bounds_trap (i64.sub $end S) S) (unreachable)))
//
// $limit and $limit_1 are kept in locals of each function that accesses memory: set at entry
// (memory.size, so a pooled memory larger than declared is seen as it is) and after every call
// and memory.grow in the function — the only ways the size can change, since the host never grows
// the sandbox's memory. The limit is thus exact, and the failing path traps without ever
// rejoining the hot path, which matters in V8: a lazily refreshed cache whose slow path returns
// into the hot path cost 1.36× on the compute kernels, against 1.14× for the i64 shape and 1.08×
// for the i32 one (bench/bounds.ts, geomean vs guard; jacobi2d, with six checked accesses per
// iteration, 2.0× → 1.6×). Other shapes kept for the benchmark: `memory-size` (read memory.size
// at every check, i64, 1.17×) and `global` (one exact global, set by a start function and after
// each memory.grow, i64, 1.17×).
//
// A check dominated by an earlier one on the same address local with at least the same reach is
// dropped (memory never shrinks; see eliminateDominatedChecks).
//
// Atomic accesses: V8 checks alignment before bounds, so a misaligned out-of-bounds atomic keeps
// V8's "unaligned" trap (the check also requires alignment before calling bounds_trap).
//
// Evaluation order is preserved by rewriting operands in place: the address operand is evaluated
// once into a local (local.tee), the check runs after the *last* operand is evaluated (inside that
// operand's slot), exactly where the engine would trap. When the later operands are pure, the check
// moves into the address slot instead (unobservable, and lets V8 schedule it early). A constant
// address inside the declared initial memory needs no check. Binaryen's optimizer runs before
// this pass and may reorder two loads (it treats traps as indistinguishable, as wasm does), so
// the access reported is the first out-of-bounds one in the optimized order.

import { SledgeError } from '../../contract/errors.ts';
import { SLEDGE_MODULE } from '../../contract/host-abi.ts';
import {
  addVar, callIndirectIsReturn, callIsReturn, callTarget, constI32, createType, exprText, freshName, functionBody, functionName, functions,
  blockHasName, getId, getType, Id, idToName, importedFunctionName, isPure, localIndex, localSetParts, Mem, writesLocal, OPAQUE, Op, pushChildren, replaceIn, setBody, T,
  type Expr, type FunctionRef, type Module, type Slot, type Type,
} from '../binaryen.ts';

export type CheckStyle = 'local' | 'global' | 'memory-size';

export interface BoundsOptions {
  /** Binaryen's internal name of the sandbox memory. */
  memory: string;
  /** Declared initial pages: every instance's memory has at least this many. */
  initialPages: number;
  checkStyle?: CheckStyle;
  where: string;
}

const PAGE = 65536;

interface Access {
  e: Expr;
  id: number;
  depth: number;
}

/** Depth offset added for each child (in evaluation order) of a memory access: how many address locals are live while it runs. */
const CHILD_DEPTH: Record<number, number[]> = {
  [Id.Load]: [0],
  [Id.SIMDLoad]: [0],
  [Id.Store]: [0, 1],
  [Id.AtomicRMW]: [0, 1],
  [Id.AtomicCmpxchg]: [0, 1, 1],
  [Id.AtomicWait]: [0, 1, 1],
  [Id.AtomicNotify]: [0, 1],
  [Id.SIMDLoadStoreLane]: [0, 1],
  [Id.MemoryInit]: [0, 1, 1],
  [Id.MemoryFill]: [0, 1, 1],
  [Id.MemoryCopy]: [0, 1, 2],
};

function simdLoadSize(op: number): number {
  switch (op) {
    case Op.Load8Splat: return 1;
    case Op.Load16Splat: return 2;
    case Op.Load32Splat: case Op.Load32Zero: return 4;
    default: return 8; // 64 splat, 8x8/16x4/32x2 extends, 64 zero
  }
}

function laneSize(op: number): number {
  switch (op) {
    case Op.Load8Lane: case Op.Store8Lane: return 1;
    case Op.Load16Lane: case Op.Store16Lane: return 2;
    case Op.Load32Lane: case Op.Store32Lane: return 4;
    default: return 8;
  }
}

export function insertBoundsChecks(m: Module, opts: BoundsOptions): number {
  const style = opts.checkStyle ?? 'local';
  const i64i32 = createType([T.i64, T.i32]);

  const trap = importedFunctionName(m, SLEDGE_MODULE, 'bounds_trap', i64i32, T.none) ?? freshName(m, 'sledgec$bounds_trap');
  if (!m.getFunction(trap)) m.addFunctionImport(trap, SLEDGE_MODULE, 'bounds_trap', i64i32, T.none);

  const memBytes = (): Expr => m.i64.shl(m.i64.extend_u(m.memory.size(opts.memory)), m.i64.const(16n));
  let sizeGlobal = '';
  let init = '';
  if (style === 'global') {
    // Exact at all times: set by a start function (a pooled memory may be larger than declared),
    // then after every memory.grow (only the guest grows its memory).
    sizeGlobal = freshName(m, 'sledgec$memory_bytes');
    m.addGlobal(sizeGlobal, T.i64, true, m.i64.const(0n));
    init = freshName(m, 'sledgec$init_memory_bytes');
    const start = m.getStart();
    const startName = start ? functionName(start) : undefined;
    const setIt = m.global.set(sizeGlobal, memBytes());
    m.setStart(m.addFunction(init, T.none, T.none, [], startName ? m.block(null, [setIt, m.call(startName, [], T.none)]) : setIt));
  }

  let count = 0;
  for (const f of functions(m)) {
    if (f.imported || f.name === init) continue;
    count += instrumentFunction(m, f.ref, f.body, { ...opts, style, trap, sizeGlobal, memBytes });
  }
  return count;
}

interface Ctx extends BoundsOptions {
  style: CheckStyle;
  trap: string;
  sizeGlobal: string;
  memBytes: () => Expr;
}

function instrumentFunction(m: Module, fn: FunctionRef, body: Expr, ctx: Ctx): number {
  // Pre-order walk (ancestors before descendants); then rewrite in reverse, so an access nested in
  // another's operand is rewritten first and the outer rewrite wraps the finished operand.
  const accesses: Access[] = [];
  /** Calls and memory.grow, where the size may change: 'local' refreshes after calls and grows, 'global' after grows. */
  const growPoints: { e: Expr; slot: Slot }[] = [];
  const stack: Expr[] = [body];
  const depths: number[] = [0];
  const slots: Slot[] = [{ fn }];
  const kids: Expr[] = [];
  while (stack.length) {
    const e = stack.pop()!;
    const depth = depths.pop()!;
    const slot = slots.pop()!;
    const id = getId(e);
    if (OPAQUE.has(id)) {
      if (/\b(loop|load|store|memory\.|atomic|v128\.|call)/.test(exprText(e))) unsupported(ctx.where, id);
      continue;
    }
    kids.length = 0;
    if (!pushChildren(e, id, kids)) unsupported(ctx.where, id);
    const offsets = CHILD_DEPTH[id];
    // An access with an unreachable operand never executes (Binaryen types it unreachable).
    if (offsets && kids.every((k) => getType(k) !== T.unreachable)) accesses.push({ e, id, depth });
    if (getType(e) !== T.unreachable) {
      if (id === Id.MemoryGrow) growPoints.push({ e, slot });
      else if (ctx.style === 'local' && ((id === Id.Call && !callIsReturn(e) && callTarget(e) !== ctx.trap) || (id === Id.CallIndirect && !callIndirectIsReturn(e)))) growPoints.push({ e, slot });
    }
    for (let i = kids.length - 1; i >= 0; i--) {
      stack.push(kids[i]!);
      depths.push(depth + (offsets ? offsets[i]! : 0));
      slots.push({ parent: e, parentId: id });
    }
  }
  if (!accesses.length && !(ctx.style === 'global' && growPoints.length)) return 0;

  // The memory size in bytes as the checks see it.
  let limLocal = -1;
  const lim = (): number => (limLocal >= 0 ? limLocal : (limLocal = addVar(fn, T.i64)));
  let lim1Local = -1;
  const lim1 = (): number => (lim1Local >= 0 ? lim1Local : (lim1Local = addVar(fn, T.i32)));
  const setLim1 = (): Expr => m.local.set(lim1(), m.i32.wrap(m.i64.sub(m.local.get(lim(), T.i64), m.i64.const(1n))));
  const limit = (): Expr => {
    switch (ctx.style) {
      case 'local': return m.local.get(lim(), T.i64);
      case 'global': return m.global.get(ctx.sizeGlobal, T.i64);
      default: return ctx.memBytes();
    }
  };
  // Refresh after every point where the size can change, so the limit is exact and a failed
  // check can trap without ever rejoining the hot path.
  if (ctx.style !== 'memory-size') {
    for (const g of growPoints) {
      const t = getType(g.e);
      const refresh = ctx.style === 'local' ? m.block(null, [m.local.set(lim(), ctx.memBytes()), setLim1()], T.none) : m.global.set(ctx.sizeGlobal, ctx.memBytes());
      let wrapped: Expr;
      if (t === T.none) wrapped = m.block(null, [g.e, refresh], T.none);
      else {
        const tmp = addVar(fn, t);
        wrapped = m.block(null, [m.local.set(tmp, g.e), refresh, m.local.get(tmp, t)], t);
      }
      replaceIn(g.slot, g.e, wrapped);
    }
  }

  // Locals: address locals by nesting depth (live across later operands), value locals by type and
  // depth (live only across the check), one i64 for the end address (live only inside a check).
  const addrPool: number[] = [];
  const valPool = new Map<Type, number[]>();
  let endLocal = -1;
  const addr = (d: number): number => (addrPool[d] ??= addVar(fn, T.i32));
  const val = (t: Type, d: number): number => {
    let pool = valPool.get(t);
    if (!pool) valPool.set(t, (pool = []));
    return (pool[d] ??= addVar(fn, t));
  };
  const end = (): number => (endLocal >= 0 ? endLocal : (endLocal = addVar(fn, T.i64)));

  const initialBytes = ctx.initialPages * PAGE;
  let count = 0;
  /** Checks of `local + reach ≤ limit` whose address is a local, for dominated-check elimination. */
  const checks = new Map<Expr, { local: number; reach: number }>();

  /** The check for a static-size access: `ptr` is an expression safe to evaluate again (local.get or const). */
  const check = (ptr: Expr, offset: number, size: number, atomic = false): Expr | null => {
    const reach = offset + size;
    if (getId(ptr) === Id.Const) {
      // A constant address inside the declared initial memory is always in bounds.
      if (constI32(ptr) + reach <= initialBytes) return null;
    }
    count++;
    const local = getId(ptr) === Id.LocalGet ? localIndex(ptr) : -1;
    if (ctx.style === 'local' && !atomic && reach <= initialBytes) {
      const oob = m.i32.gt_u(ptr, m.i32.sub(m.local.get(lim1(), T.i32), m.i32.const(reach - 1)));
      const g = trapIf(oob, m.i64.add(m.i64.extend_u(again(ptr)), i64const(m, offset)), m.i32.const(size));
      if (local >= 0) checks.set(g, { local, reach });
      return g;
    }
    const sum = m.i64.add(m.i64.extend_u(ptr), i64const(m, reach));
    const g = guard(sum, () => m.i32.const(size), atomic && size > 1 ? size : 0);
    // An atomic check passes on misalignment (V8 then traps), so it proves nothing about bounds.
    if (local >= 0 && !(atomic && size > 1)) checks.set(g, { local, reach });
    return g;
  };
  /** The check for a range [ptr, ptr+len) of dynamic length (bulk memory); `len` makes a fresh read of it. */
  const checkRange = (ptr: Expr, len: () => Expr): Expr => {
    count++;
    return guard(m.i64.add(m.i64.extend_u(ptr), m.i64.extend_u(len())), len, 0);
  };
  /**
   * if (end > memory size) → bounds_trap(end - size, size); unreachable. The failing path never
   * rejoins. `alignment` > 0: an atomic access of that size, where V8 reports misalignment first.
   */
  const guard = (endExpr: Expr, size: () => Expr, alignment: number): Expr => {
    const e = end();
    let oob = m.i64.gt_u(m.local.tee(e, endExpr, T.i64), limit());
    if (alignment) oob = m.i32.and(oob, m.i64.eqz(m.i64.and(m.local.get(e, T.i64), m.i64.const(BigInt(alignment - 1)))));
    return trapIf(oob, m.i64.sub(m.local.get(e, T.i64), m.i64.extend_u(size())), size());
  };
  /** if (oob) → bounds_trap(address, size); unreachable: the failing path never rejoins. */
  const trapIf = (oob: Expr, address: Expr, size: Expr): Expr =>
    m.if(oob, m.block(null, [m.call(ctx.trap, [address, size], T.none), m.unreachable()]));
  const seq = (items: (Expr | null)[], type: Type): Expr => {
    const xs = items.filter((x): x is Expr => x !== null);
    return xs.length === 1 ? xs[0]! : m.block(null, xs, type);
  };
  const reusable = (e: Expr): boolean => {
    const id = getId(e);
    return id === Id.LocalGet || id === Id.Const;
  };
  const again = (e: Expr): Expr => (getId(e) === Id.LocalGet ? m.local.get(localIndex(e), T.i32) : m.i32.const(constI32(e) | 0));

  /** Address operand followed by its check (when nothing observable runs between them). */
  const checkedPtr = (ptr: Expr, depth: number, offset: number, size: number, atomic = false): Expr => {
    if (reusable(ptr)) return seq([check(again(ptr), offset, size, atomic), ptr], T.i32);
    if (getId(ptr) === Id.LocalSet) {
      // (local.tee $x V): check $x itself, so later accesses through $x can reuse the check.
      const { index, value } = localSetParts(ptr);
      return seq([m.local.set(index, value), check(m.local.get(index, T.i32), offset, size, atomic), m.local.get(index, T.i32)], T.i32);
    }
    const a = addr(depth);
    return seq([m.local.set(a, ptr), check(m.local.get(a, T.i32), offset, size, atomic), m.local.get(a, T.i32)], T.i32);
  };
  /** Address operand saved for a check placed in a later operand. */
  const savedPtr = (ptr: Expr, depth: number, later: Expr[]): { ptr: Expr; get: () => Expr } => {
    // The address already sits in a local the later operands leave alone: check that local.
    const id = getId(ptr);
    const own = id === Id.LocalGet ? localIndex(ptr) : id === Id.LocalSet && localSetParts(ptr).tee ? localSetParts(ptr).index : -1;
    if (own >= 0 && !later.some((x) => writesLocal(x, own))) return { ptr, get: () => m.local.get(own, T.i32) };
    const a = addr(depth);
    return { ptr: m.local.tee(a, ptr, T.i32), get: () => m.local.get(a, T.i32) };
  };
  /** Last operand `v`, then `checks`, then v's value. */
  const after = (v: Expr, depth: number, checks: (Expr | null)[]): Expr => {
    const t = getType(v);
    const l = val(t, depth);
    return seq([m.local.set(l, v), ...checks, m.local.get(l, t)], t);
  };

  /** Accesses with an address and later operands: check early if those operands are pure, else late. */
  const withLater = (
    a: Access, ptr: Expr, setPtr: (e: Expr, p: Expr) => number, later: Expr[], setLast: (e: Expr, v: Expr) => number,
    offset: number, size: number, atomic: boolean,
  ): void => {
    if (later.every((x) => reusable(x) || isPure(m, x))) {
      setPtr(a.e, checkedPtr(ptr, a.depth, offset, size, atomic));
      return;
    }
    const s = savedPtr(ptr, a.depth, later);
    setPtr(a.e, s.ptr);
    setLast(a.e, after(later[later.length - 1]!, a.depth, [check(s.get(), offset, size, atomic)]));
  };

  for (let i = accesses.length - 1; i >= 0; i--) {
    const a = accesses[i]!;
    const e = a.e;
    switch (a.id) {
      case Id.Load:
        Mem.loadSetPtr(e, checkedPtr(Mem.loadPtr(e), a.depth, Mem.loadOffset(e), Mem.loadBytes(e), !!Mem.loadIsAtomic(e)));
        break;
      case Id.SIMDLoad:
        Mem.sLoadSetPtr(e, checkedPtr(Mem.sLoadPtr(e), a.depth, Mem.sLoadOffset(e), simdLoadSize(Mem.sLoadOp(e))));
        break;
      case Id.Store:
        withLater(a, Mem.storePtr(e), Mem.storeSetPtr, [Mem.storeValue(e)], Mem.storeSetValue, Mem.storeOffset(e), Mem.storeBytes(e), !!Mem.storeIsAtomic(e));
        break;
      case Id.AtomicRMW:
        withLater(a, Mem.rmwPtr(e), Mem.rmwSetPtr, [Mem.rmwValue(e)], Mem.rmwSetValue, Mem.rmwOffset(e), Mem.rmwBytes(e), true);
        break;
      case Id.AtomicCmpxchg:
        withLater(a, Mem.cxPtr(e), Mem.cxSetPtr, [Mem.cxExpected(e), Mem.cxRepl(e)], Mem.cxSetRepl, Mem.cxOffset(e), Mem.cxBytes(e), true);
        break;
      case Id.AtomicWait: {
        const size = Mem.waitExpectedType(e) === T.i64 ? 8 : 4;
        withLater(a, Mem.waitPtr(e), Mem.waitSetPtr, [Mem.waitExpected(e), Mem.waitTimeout(e)], Mem.waitSetTimeout, waitNotifyOffset(e), size, true);
        break;
      }
      case Id.AtomicNotify:
        withLater(a, Mem.notifyPtr(e), Mem.notifySetPtr, [Mem.notifyCount(e)], Mem.notifySetCount, waitNotifyOffset(e), 4, true);
        break;
      case Id.SIMDLoadStoreLane:
        withLater(a, Mem.lanePtr(e), Mem.laneSetPtr, [Mem.laneVec(e)], Mem.laneSetVec, Mem.laneOffset(e), laneSize(Mem.laneOp(e)), false);
        break;
      case Id.MemoryFill:
      case Id.MemoryInit: {
        const fill = a.id === Id.MemoryFill;
        const d = savedPtr(fill ? Mem.mfDest(e) : Mem.miDest(e), a.depth, fill ? [Mem.mfValue(e), Mem.mfSize(e)] : [Mem.miOffset(e), Mem.miSize(e)]);
        (fill ? Mem.mfSetDest : Mem.miSetDest)(e, d.ptr);
        const size = fill ? Mem.mfSize(e) : Mem.miSize(e);
        const n = val(T.i32, a.depth + 1);
        const sized = seq([m.local.set(n, size), checkRange(d.get(), () => m.local.get(n, T.i32)), m.local.get(n, T.i32)], T.i32);
        (fill ? Mem.mfSetSize : Mem.miSetSize)(e, sized);
        break;
      }
      case Id.MemoryCopy: {
        // memory.copy traps if either range is out of bounds; the destination is reported first.
        const d = savedPtr(Mem.mcDest(e), a.depth, [Mem.mcSource(e), Mem.mcSize(e)]);
        Mem.mcSetDest(e, d.ptr);
        const s = savedPtr(Mem.mcSource(e), a.depth + 1, [Mem.mcSize(e)]);
        Mem.mcSetSource(e, s.ptr);
        const n = val(T.i32, a.depth + 2);
        const get = (): Expr => m.local.get(n, T.i32);
        Mem.mcSetSize(e, seq([m.local.set(n, Mem.mcSize(e)), checkRange(d.get(), get), checkRange(s.get(), get), get()], T.i32));
        break;
      }
    }
  }
  count -= eliminateDominatedChecks(m, fn, checks);
  // $limit_1 is derived from $limit at entry, so a function with only 32-bit checks sets both.
  if (limLocal >= 0 || lim1Local >= 0) setBody(fn, m.block(null, [m.local.set(lim(), ctx.memBytes()), ...(lim1Local >= 0 ? [setLim1()] : []), functionBody(fn)], T.auto));
  return count;
}

/**
 * Removes checks made redundant by an earlier one: once `$x + R ≤ size` has passed, a later check
 * of `$x + R' ≤ size` with R' ≤ R passes too, as long as $x was not written in between (memory never
 * shrinks, so calls in between do not matter). Facts flow along straight-line code and into the
 * arms of an `if`; they are dropped at merge points (after an if, at a labelled block's end, at a
 * loop header), so a fact always comes from a check that dominates the one it removes.
 */
function eliminateDominatedChecks(m: Module, fn: FunctionRef, checks: Map<Expr, { local: number; reach: number }>): number {
  if (!checks.size) return 0;
  let removed = 0;
  const MAX_DEPTH = 2000; // recursion guard: deeper nests keep their checks
  const visit = (e: Expr, slot: Slot, facts: Map<number, number>, depth: number): void => {
    const c = checks.get(e);
    if (c) {
      if ((facts.get(c.local) ?? -1) >= c.reach) {
        replaceIn(slot, e, m.nop());
        removed++;
      } else facts.set(c.local, Math.max(c.reach, facts.get(c.local) ?? 0));
      return;
    }
    if (depth > MAX_DEPTH) throw new DepthExceeded();
    const id = getId(e);
    const kids: Expr[] = [];
    pushChildren(e, id, kids);
    const here: Slot = { parent: e, parentId: id };
    switch (id) {
      case Id.If: {
        visit(kids[0]!, here, facts, depth + 1);
        const before = new Map(facts);
        if (kids[1]) visit(kids[1], here, facts, depth + 1);
        if (kids[2]) visit(kids[2], here, before, depth + 1);
        facts.clear();
        return;
      }
      case Id.Loop:
        facts.clear();
        visit(kids[0]!, here, facts, depth + 1);
        return;
      case Id.LocalSet: {
        visit(kids[0]!, here, facts, depth + 1);
        const { index, value } = localSetParts(e);
        facts.delete(index);
        // A copy: `$y = $x` carries $x's fact.
        if (getId(value) === Id.LocalGet && facts.has(localIndex(value))) facts.set(index, facts.get(localIndex(value))!);
        return;
      }
      default:
        for (const k of kids) visit(k, here, facts, depth + 1);
        if (id === Id.Block && blockHasName(e)) facts.clear();
    }
  };
  try {
    visit(functionBody(fn), { fn }, new Map(), 0);
  } catch (e) {
    if (!(e instanceof DepthExceeded)) throw e;
  }
  return removed;
}

class DepthExceeded extends Error {}

function i64const(m: Module, v: number): Expr {
  return m.i64.const(BigInt(v));
}



/**
 * wait/notify carry an offset immediate but Binaryen's C API has no getter for it; read it from the
 * expression's text (these instructions are rare, so the cost does not matter).
 */
function waitNotifyOffset(e: Expr): number {
  const head = /^\(memory\.atomic\.[a-z0-9]+(?:\s+\$\S+)?(?:\s+offset=(\d+))?/.exec(exprText(e));
  return head?.[1] ? Number(head[1]) : 0;
}

function unsupported(where: string, id: number): never {
  throw new SledgeError('UNSUPPORTED_INSTRUCTION', `${where}: the module uses ${idToName(id)} around memory accesses or loops, which sledgec cannot instrument`, {
    hint: 'this instruction is not produced by C compilers; rebuild from C, or build with --bounds guard --no-yield-points',
  });
}
