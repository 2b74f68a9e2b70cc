// Pass 4 (--bounds software): an explicit check before every memory access the module can make.
//
// Check shape (per access of static size S at offset K, address operand in local $a):
//
//   if (i64.gt_u (local.tee $end (i64.add (i64.extend_i32_u $a) (i64.const K+S))) (global.get $mem_end))
//     (call $sledgec$bounds_slow (local.get $end) (i32.const S))
//
// The effective address is computed in i64, so offsets up to 2^32-1 never wrap. $mem_end caches
// the memory size in bytes; it starts at the declared initial size (an instance's memory is never
// smaller) and is refreshed only on the cold path: $bounds_slow re-reads memory.size and, if the
// access is still out of bounds, calls sledge.bounds_trap(address, size) then `unreachable`.
// Memory never shrinks, so a stale cache only errs towards the slow path: memory.grow (by the
// guest, or a pooled memory grown by an earlier run) needs no hook. The alternative (reading
// memory.size at every check) is kept as `checkStyle: 'memory-size'` for the benchmark.
//
// Atomic accesses: V8 checks alignment before bounds, so a misaligned out-of-bounds atomic must
// keep V8's "unaligned" trap; their slow path ($bounds_slow_atomic) returns on misalignment and
// lets the access itself trap.
//
// Evaluation order is preserved by rewriting operands in place: the address operand is evaluated
// once into a local (local.tee), the check runs after the *last* operand is evaluated (inside that
// operand's slot), exactly where the engine would trap. When the later operands are pure, the check
// moves into the address slot instead (unobservable, and lets V8 schedule it early).

import { SledgeError } from '../../contract/errors.ts';
import { SLEDGE_MODULE } from '../../contract/host-abi.ts';
import {
  createType, exprText, freshName, functions, getId, getType, Id, idToName, importedFunctionName, isPure, localIndex, constI32,
  Mem, OPAQUE, Op, pushChildren, addVar, T, type Expr, type FunctionRef, type Module, type Type,
} from '../binaryen.ts';

export type CheckStyle = 'cached' | 'memory-size';

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
  const style = opts.checkStyle ?? 'cached';
  const mem = opts.memory;
  const i64i32 = createType([T.i64, T.i32]);

  const trap = importedFunctionName(m, SLEDGE_MODULE, 'bounds_trap', i64i32, T.none) ?? freshName(m, 'sledgec$bounds_trap');
  if (!m.getFunction(trap)) m.addFunctionImport(trap, SLEDGE_MODULE, 'bounds_trap', i64i32, T.none);

  let memEnd = '';
  let slow = '';
  let slowAtomic = '';
  if (style === 'cached') {
    memEnd = freshName(m, 'sledgec$mem_end');
    m.addGlobal(memEnd, T.i64, true, m.i64.const(BigInt(opts.initialPages * PAGE)));
    slow = freshName(m, 'sledgec$bounds_slow');
    // (param $end i64) (param $size i32): refresh the cache; trap if still out of bounds.
    m.addFunction(slow, i64i32, T.none, [], m.block(null, [
      m.global.set(memEnd, m.i64.shl(m.i64.extend_u(m.memory.size(mem)), m.i64.const(16n))),
      m.if(
        m.i64.gt_u(m.local.get(0, T.i64), m.global.get(memEnd, T.i64)),
        m.block(null, [
          m.call(trap, [m.i64.sub(m.local.get(0, T.i64), m.i64.extend_u(m.local.get(1, T.i32))), m.local.get(1, T.i32)], T.none),
          m.unreachable(),
        ]),
      ),
    ]));
    slowAtomic = freshName(m, 'sledgec$bounds_slow_atomic');
    // Misaligned (end ≡ address mod size): return, the atomic access itself traps as unaligned.
    m.addFunction(slowAtomic, i64i32, T.none, [], m.if(
      m.i64.eqz(m.i64.and(m.local.get(0, T.i64), m.i64.extend_u(m.i32.sub(m.local.get(1, T.i32), m.i32.const(1))))),
      m.call(slow, [m.local.get(0, T.i64), m.local.get(1, T.i32)], T.none),
    ));
  }
  const helpers = new Set([slow, slowAtomic]);

  let count = 0;
  for (const f of functions(m)) {
    if (f.imported || helpers.has(f.name)) continue;
    count += instrumentFunction(m, f.ref, f.body, { ...opts, style, trap, memEnd, slow, slowAtomic });
  }
  return count;
}

interface Ctx extends BoundsOptions {
  style: CheckStyle;
  trap: string;
  memEnd: string;
  slow: string;
  slowAtomic: string;
}

function instrumentFunction(m: Module, fn: FunctionRef, body: Expr, ctx: Ctx): number {
  // Pre-order walk (ancestors before descendants); then rewrite in reverse, so an access nested in
  // another's operand is rewritten first and the outer rewrite wraps the finished operand.
  const accesses: Access[] = [];
  const stack: Expr[] = [body];
  const depths: number[] = [0];
  const kids: Expr[] = [];
  while (stack.length) {
    const e = stack.pop()!;
    const depth = depths.pop()!;
    const id = getId(e);
    if (OPAQUE.has(id)) {
      if (/\b(loop|load|store|memory\.|atomic|v128\.)/.test(exprText(e))) unsupported(ctx.where, id);
      continue;
    }
    kids.length = 0;
    if (!pushChildren(e, id, kids)) unsupported(ctx.where, id);
    const offsets = CHILD_DEPTH[id];
    if (offsets && kids.every((k) => getType(k) !== T.unreachable)) accesses.push({ e, id, depth });
    for (let i = kids.length - 1; i >= 0; i--) {
      stack.push(kids[i]!);
      depths.push(depth + (offsets ? offsets[i]! : 0));
    }
  }
  if (!accesses.length) return 0;

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

  /** The check for a static-size access: `ptr` is an expression safe to evaluate again (local.get or const). */
  const check = (ptr: Expr, offset: number, size: number, atomic = false): Expr | null => {
    const reach = offset + size;
    if (getId(ptr) === Id.Const) {
      // A constant address inside the declared initial memory is always in bounds.
      if (constI32(ptr) + reach <= initialBytes) return null;
    }
    count++;
    const sum = m.i64.add(m.i64.extend_u(ptr), i64const(m, reach));
    return guard(sum, () => m.i32.const(size), atomic && size > 1 ? size : 0);
  };
  /** The check for a range [ptr, ptr+len) of dynamic length (bulk memory); `len` makes a fresh read of it. */
  const checkRange = (ptr: Expr, len: () => Expr): Expr => {
    count++;
    return guard(m.i64.add(m.i64.extend_u(ptr), m.i64.extend_u(len())), len, 0);
  };
  /** if (end > memory size) → slow path / trap. `alignment` > 0: an atomic access of that size. */
  const guard = (endExpr: Expr, size: () => Expr, alignment: number): Expr => {
    const e = end();
    if (ctx.style === 'cached') {
      return m.if(
        m.i64.gt_u(m.local.tee(e, endExpr, T.i64), m.global.get(ctx.memEnd, T.i64)),
        m.call(alignment ? ctx.slowAtomic : ctx.slow, [m.local.get(e, T.i64), size()], T.none),
      );
    }
    let oob = m.i64.gt_u(m.local.tee(e, endExpr, T.i64), m.i64.shl(m.i64.extend_u(m.memory.size(ctx.memory)), m.i64.const(16n)));
    if (alignment) oob = m.i32.and(oob, m.i64.eqz(m.i64.and(m.local.get(e, T.i64), m.i64.const(BigInt(alignment - 1)))));
    return m.if(
      oob,
      m.block(null, [
        m.call(ctx.trap, [m.i64.sub(m.local.get(e, T.i64), m.i64.extend_u(size())), size()], T.none),
        m.unreachable(),
      ]),
    );
  };
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
    const a = addr(depth);
    return seq([m.local.set(a, ptr), check(m.local.get(a, T.i32), offset, size, atomic), m.local.get(a, T.i32)], T.i32);
  };
  /** Address operand saved for a check placed in a later operand. */
  const savedPtr = (ptr: Expr, depth: number): { ptr: Expr; get: () => Expr } => {
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
    const s = savedPtr(ptr, a.depth);
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
        withLater(a, Mem.cxPtr(e), Mem.cxSetPtr, [cxExpectedOf(e), Mem.cxRepl(e)], Mem.cxSetRepl, Mem.cxOffset(e), Mem.cxBytes(e), true);
        break;
      case Id.AtomicWait: {
        const size = Mem.waitExpectedType(e) === T.i64 ? 8 : 4;
        withLater(a, Mem.waitPtr(e), Mem.waitSetPtr, [waitExpectedOf(e), Mem.waitTimeout(e)], Mem.waitSetTimeout, waitNotifyOffset(e), size, true);
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
        const d = savedPtr(fill ? Mem.mfDest(e) : Mem.miDest(e), a.depth);
        (fill ? Mem.mfSetDest : Mem.miSetDest)(e, d.ptr);
        const size = fill ? Mem.mfSize(e) : Mem.miSize(e);
        const n = val(T.i32, a.depth + 1);
        const sized = seq([m.local.set(n, size), checkRange(d.get(), () => m.local.get(n, T.i32)), m.local.get(n, T.i32)], T.i32);
        (fill ? Mem.mfSetSize : Mem.miSetSize)(e, sized);
        break;
      }
      case Id.MemoryCopy: {
        // memory.copy traps if either range is out of bounds; the destination is reported first.
        const d = savedPtr(Mem.mcDest(e), a.depth);
        Mem.mcSetDest(e, d.ptr);
        const s = savedPtr(Mem.mcSource(e), a.depth + 1);
        Mem.mcSetSource(e, s.ptr);
        const n = val(T.i32, a.depth + 2);
        const get = (): Expr => m.local.get(n, T.i32);
        Mem.mcSetSize(e, seq([m.local.set(n, Mem.mcSize(e)), checkRange(d.get(), get), checkRange(s.get(), get), get()], T.i32));
        break;
      }
    }
  }
  return count;
}

function i64const(m: Module, v: number): Expr {
  return m.i64.const(BigInt(v));
}

// Operands the Mem table does not need elsewhere, read through the generic child list.
function cxExpectedOf(e: Expr): Expr {
  const k: Expr[] = [];
  pushChildren(e, Id.AtomicCmpxchg, k);
  return k[1]!;
}
function waitExpectedOf(e: Expr): Expr {
  const k: Expr[] = [];
  pushChildren(e, Id.AtomicWait, k);
  return k[1]!;
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
