// The one door to Binaryen. Every other compiler file goes through here, so the feature set, the
// optimizer's global options and the capture of Binaryen's printed diagnostics are set in one
// place. Binaryen's JS API has no tree walker and only partial typings, so this module also
// exposes the C API's child getters/setters the passes need, typed, behind small helpers.

import type binaryenT from 'binaryen';
import { createRequire } from 'node:module';

// Binaryen is a large wasm module instantiated by a top-level await. Under --no-liftoff V8
// compiles it in the background without keeping Node's event loop alive, so the await never
// settles and the process exits silently (and with --no-wasm-lazy-compilation too, loading takes
// ~10 s instead of ~0.3 s). The timer keeps the loop alive; compiler processes should still run
// without the loader's tiering flags.
//
// Binaryen prints its reader and validator diagnostics (Emscripten binds console.log/error when it
// loads) instead of returning them. It is loaded with a routing console in place, so its bound
// print functions go through `printSink` when captured() is collecting, and to the real console
// otherwise, whatever console the host (a CLI, a test runner) has installed.
let printSink: ((text: string) => void) | null = null;
const realConsole = globalThis.console;
const route = (real: (...a: unknown[]) => void) => (...args: unknown[]): void => {
  if (printSink) printSink(args.map(String).join(' ') + '\n');
  else real.apply(realConsole, args);
};
const keepAlive = setInterval(() => {}, 1 << 30);
globalThis.console = Object.create(realConsole, {
  log: { value: route(realConsole.log) },
  error: { value: route(realConsole.error) },
  warn: { value: route(realConsole.warn) },
}) as Console;
let loaded: typeof binaryenT;
try {
  loaded = (await import('binaryen')).default;
} finally {
  globalThis.console = realConsole;
  clearInterval(keepAlive);
}
const binaryen = loaded;

export type Module = binaryenT.Module;
export type Expr = number;
export type Type = number;
export type FunctionRef = number;

/**
 * What sledgec accepts. Explicit, never Features.All: a module using something outside this set
 * (GC, memory64, exception handling, custom page sizes…) is refused rather than half-handled.
 * Memory64 and multiple memories are refused earlier with their own codes; MultiMemory is on
 * because the yield pass adds the second memory `sledge.preempt`.
 */
export const FEATURES: number =
  binaryen.Features.MutableGlobals |
  binaryen.Features.SignExt |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SIMD128 |
  binaryen.Features.RelaxedSIMD |
  binaryen.Features.Multivalue |
  binaryen.Features.ReferenceTypes |
  binaryen.Features.CallIndirectOverlong |
  binaryen.Features.MultiMemory |
  binaryen.Features.Atomics |
  binaryen.Features.TailCall |
  binaryen.Features.ExtendedConst;

export const T = {
  /** Let Binaryen infer a block's type from its contents. */
  auto: binaryen.auto,
  none: binaryen.none,
  unreachable: binaryen.unreachable,
  i32: binaryen.i32,
  i64: binaryen.i64,
  f32: binaryen.f32,
  f64: binaryen.f64,
  v128: binaryen.v128,
};

export const binaryenVersion: string = (createRequire(import.meta.url)('binaryen/package.json') as { version: string }).version;

/**
 * Runs `fn` collecting what Binaryen prints (through the routing console above; process
 * stdout/stderr writes are caught too, in case Binaryen was first loaded by someone else).
 */
function captured<R>(fn: () => R): { ok: true; value: R; output: string[] } | { ok: false; error: unknown; output: string[] } {
  let text = '';
  const sink = (chunk: unknown): boolean => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    return true;
  };
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = sink as typeof process.stdout.write;
  process.stderr.write = sink as typeof process.stderr.write;
  printSink = sink;
  try {
    try {
      const value = fn();
      return { ok: true, value, output: cleanOutput(text) };
    } catch (error) {
      // The reader prints its parse error without a newline, and Emscripten's stdio holds such
      // text until the next newline: print one now (a throwaway validation failure) so the text
      // lands here instead of leaking into a later message.
      flushPendingOutput();
      return { ok: false, error, output: cleanOutput(text) };
    }
  } finally {
    printSink = null;
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const FLUSH_FN = 'sledgec$flush';

function flushPendingOutput(): void {
  const m = new binaryen.Module();
  try {
    m.addFunction(FLUSH_FN, binaryen.none, binaryen.i32, [], m.nop());
    m.validate();
  } finally {
    m.dispose();
  }
}

/** Binaryen's diagnostics as lines, without the throwaway flush message. */
function cleanOutput(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trimEnd());
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const at = l.indexOf(`[wasm-validator error in function ${FLUSH_FN}]`);
    if (at >= 0) {
      if (at > 0) out.push(l.slice(0, at));
      if (lines[i + 1]?.trim() === '(nop)') i++;
      continue;
    }
    if (l.length) out.push(l);
  }
  return out;
}

export class BinaryenError extends Error {
  readonly output: string[];
  constructor(message: string, output: string[]) {
    super(message);
    this.output = output;
  }
}

function errorMessage(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** Reads a binary with FEATURES. Throws BinaryenError carrying Binaryen's printed reason. */
export function readBinary(bytes: Uint8Array): Module {
  // readBinary takes the feature set as a second argument (missing from the typings).
  const read = binaryen.readBinary as unknown as (data: Uint8Array, features: number) => Module;
  const r = captured(() => read(bytes, FEATURES));
  if (!r.ok) throw new BinaryenError(errorMessage(r.error), r.output);
  r.value.setFeatures(FEATURES as binaryenT.Features);
  return r.value;
}

/** Validates; returns Binaryen's messages (empty when valid). */
export function validate(m: Module): string[] {
  const r = captured(() => m.validate());
  if (!r.ok) return [errorMessage(r.error), ...r.output];
  if (r.value) return [];
  return r.output.length ? r.output : ['Binaryen validation failed (no reason printed)'];
}

/**
 * Sets the optimizer's global options. Traps are observable here (a trap is how an out-of-bounds
 * access or an abort ends a sandbox), so the options that let Binaryen assume traps never happen
 * stay off, and so does everything that assumes things about memory contents or low addresses.
 */
export function configureOptimizer(optLevel: number): void {
  binaryen.setOptimizeLevel(optLevel);
  binaryen.setShrinkLevel(0);
  binaryen.setTrapsNeverHappen(false);
  binaryen.setFastMath(false);
  binaryen.setLowMemoryUnused(false);
  binaryen.setZeroFilledMemory(false);
  binaryen.setClosedWorld(false);
  // Keep function names: trap stack traces from the runtime name the C function.
  binaryen.setDebugInfo(true);
  binaryen.clearPassArguments();
  binaryen.clearPassesToSkip();
}

export function optimize(m: Module): void {
  m.optimize();
}

export function runPasses(m: Module, passes: readonly string[]): void {
  if (passes.length) m.runPasses(passes);
}

export function emitBinary(m: Module): Uint8Array {
  // Copy out of Binaryen's heap view before the module is disposed.
  return new Uint8Array(m.emitBinary());
}

// ---- low-level expression access -----------------------------------------------------------

type Fn = (...args: number[]) => number;
const raw = binaryen as unknown as Record<string, Fn>;
function C(name: string): Fn {
  const f = raw['_Binaryen' + name];
  if (typeof f !== 'function') throw new Error(`binaryen ${binaryenVersion} lacks _Binaryen${name}; the compiler needs it`);
  return f;
}

export const Id = {
  Block: binaryen.BlockId as number,
  If: binaryen.IfId as number,
  Loop: binaryen.LoopId as number,
  Break: binaryen.BreakId as number,
  Switch: binaryen.SwitchId as number,
  Call: binaryen.CallId as number,
  CallIndirect: binaryen.CallIndirectId as number,
  LocalGet: binaryen.LocalGetId as number,
  LocalSet: binaryen.LocalSetId as number,
  GlobalGet: binaryen.GlobalGetId as number,
  GlobalSet: binaryen.GlobalSetId as number,
  Load: binaryen.LoadId as number,
  Store: binaryen.StoreId as number,
  AtomicRMW: binaryen.AtomicRMWId as number,
  AtomicCmpxchg: binaryen.AtomicCmpxchgId as number,
  AtomicWait: binaryen.AtomicWaitId as number,
  AtomicNotify: binaryen.AtomicNotifyId as number,
  AtomicFence: binaryen.AtomicFenceId as number,
  Pause: binaryen.PauseId as number,
  SIMDExtract: binaryen.SIMDExtractId as number,
  SIMDReplace: binaryen.SIMDReplaceId as number,
  SIMDShuffle: binaryen.SIMDShuffleId as number,
  SIMDTernary: binaryen.SIMDTernaryId as number,
  SIMDShift: binaryen.SIMDShiftId as number,
  SIMDLoad: binaryen.SIMDLoadId as number,
  SIMDLoadStoreLane: binaryen.SIMDLoadStoreLaneId as number,
  MemoryInit: binaryen.MemoryInitId as number,
  DataDrop: binaryen.DataDropId as number,
  MemoryCopy: binaryen.MemoryCopyId as number,
  MemoryFill: binaryen.MemoryFillId as number,
  Const: binaryen.ConstId as number,
  Unary: binaryen.UnaryId as number,
  Binary: binaryen.BinaryId as number,
  Select: binaryen.SelectId as number,
  Drop: binaryen.DropId as number,
  Return: binaryen.ReturnId as number,
  MemorySize: binaryen.MemorySizeId as number,
  MemoryGrow: binaryen.MemoryGrowId as number,
  Unreachable: binaryen.UnreachableId as number,
  Nop: binaryen.NopId as number,
  Pop: binaryen.PopId as number,
  RefNull: binaryen.RefNullId as number,
  RefIsNull: binaryen.RefIsNullId as number,
  RefFunc: binaryen.RefFuncId as number,
  RefEq: binaryen.RefEqId as number,
  RefAs: binaryen.RefAsId as number,
  TableGet: binaryen.TableGetId as number,
  TableSet: binaryen.TableSetId as number,
  TableSize: binaryen.TableSizeId as number,
  TableGrow: binaryen.TableGrowId as number,
  TableFill: binaryen.TableFillId as number,
  TableCopy: binaryen.TableCopyId as number,
  TableInit: binaryen.TableInitId as number,
  ElemDrop: binaryen.ElemDropId as number,
  TupleMake: binaryen.TupleMakeId as number,
  TupleExtract: binaryen.TupleExtractId as number,
};

const idName = new Map<number, string>(Object.entries(Id).map(([k, v]) => [v, k]));
export function idToName(id: number): string {
  return idName.get(id) ?? `expression#${id}`;
}

export const getId = C('ExpressionGetId');
export const getType = C('ExpressionGetType');

/**
 * Child operands of every expression kind the compiler meets, in evaluation order, as getter and
 * setter pairs ("Name" → _BinaryenKindGetName / _BinaryenKindSetName), or a list accessor.
 * Driving both the walk and in-place replacement from one table keeps them in agreement.
 */
type Field = { get: Fn; set: Fn } | { n: Fn; at: Fn; setAt: Fn };
function F(kind: string, ...names: string[]): Field[] {
  return names.map((n) => {
    if (!n.startsWith('*')) return { get: C(`${kind}Get${n}`), set: C(`${kind}Set${n}`) };
    const one = n.slice(1);
    return { n: C(`${kind}GetNum${one === 'Child' ? 'Children' : one + 's'}`), at: C(`${kind}Get${one}At`), setAt: C(`${kind}Set${one}At`) };
  });
}
const FIELDS = new Map<number, Field[]>([
  [Id.Block, F('Block', '*Child')],
  [Id.If, F('If', 'Condition', 'IfTrue', 'IfFalse')],
  [Id.Loop, F('Loop', 'Body')],
  [Id.Break, F('Break', 'Value', 'Condition')],
  [Id.Switch, F('Switch', 'Value', 'Condition')],
  [Id.Call, F('Call', '*Operand')],
  [Id.CallIndirect, [...F('CallIndirect', '*Operand'), ...F('CallIndirect', 'Target')]],
  [Id.LocalSet, F('LocalSet', 'Value')],
  [Id.GlobalSet, F('GlobalSet', 'Value')],
  [Id.Load, F('Load', 'Ptr')],
  [Id.Store, F('Store', 'Ptr', 'Value')],
  [Id.AtomicRMW, F('AtomicRMW', 'Ptr', 'Value')],
  [Id.AtomicCmpxchg, F('AtomicCmpxchg', 'Ptr', 'Expected', 'Replacement')],
  [Id.AtomicWait, F('AtomicWait', 'Ptr', 'Expected', 'Timeout')],
  [Id.AtomicNotify, F('AtomicNotify', 'Ptr', 'NotifyCount')],
  [Id.SIMDExtract, F('SIMDExtract', 'Vec')],
  [Id.SIMDReplace, F('SIMDReplace', 'Vec', 'Value')],
  [Id.SIMDShuffle, F('SIMDShuffle', 'Left', 'Right')],
  [Id.SIMDTernary, F('SIMDTernary', 'A', 'B', 'C')],
  [Id.SIMDShift, F('SIMDShift', 'Vec', 'Shift')],
  [Id.SIMDLoad, F('SIMDLoad', 'Ptr')],
  [Id.SIMDLoadStoreLane, F('SIMDLoadStoreLane', 'Ptr', 'Vec')],
  [Id.MemoryInit, F('MemoryInit', 'Dest', 'Offset', 'Size')],
  [Id.MemoryCopy, F('MemoryCopy', 'Dest', 'Source', 'Size')],
  [Id.MemoryFill, F('MemoryFill', 'Dest', 'Value', 'Size')],
  [Id.Unary, F('Unary', 'Value')],
  [Id.Binary, F('Binary', 'Left', 'Right')],
  [Id.Select, F('Select', 'IfTrue', 'IfFalse', 'Condition')],
  [Id.Drop, F('Drop', 'Value')],
  [Id.Return, F('Return', 'Value')],
  [Id.MemoryGrow, F('MemoryGrow', 'Delta')],
  [Id.RefIsNull, F('RefIsNull', 'Value')],
  [Id.RefAs, F('RefAs', 'Value')],
  [Id.RefEq, F('RefEq', 'Left', 'Right')],
  [Id.TableGet, F('TableGet', 'Index')],
  [Id.TableSet, F('TableSet', 'Index', 'Value')],
  [Id.TableGrow, F('TableGrow', 'Value', 'Delta')],
  [Id.TupleMake, F('TupleMake', '*Operand')],
  [Id.TupleExtract, F('TupleExtract', 'Tuple')],
]);

/** Kinds with no children. */
const LEAVES = new Set<number>([
  Id.Nop, Id.LocalGet, Id.GlobalGet, Id.AtomicFence, Id.Pause, Id.DataDrop, Id.Const, Id.MemorySize, Id.Unreachable,
  Id.Pop, Id.RefNull, Id.RefFunc, Id.TableSize, Id.ElemDrop,
]);

/** Kinds whose children the C API cannot reach (no getters in Binaryen's C API). */
export const OPAQUE = new Set<number>([Id.TableFill, Id.TableCopy, Id.TableInit]);

/**
 * Pushes `e`'s children (non-null) onto `out` in evaluation order. Returns false for a kind this
 * walker does not know (the caller decides: our feature set should make that impossible).
 */
export function pushChildren(e: Expr, id: number, out: Expr[]): boolean {
  if (LEAVES.has(id)) return true;
  const fields = FIELDS.get(id);
  if (!fields) return false;
  for (const f of fields) {
    if ('get' in f) {
      const c = f.get(e);
      if (c) out.push(c);
    } else {
      const n = f.n(e);
      for (let i = 0; i < n; i++) out.push(f.at(e, i));
    }
  }
  return true;
}

/** Where an expression sits: a function's body, or an operand of `parent`. */
export type Slot = { fn: FunctionRef; parent?: undefined } | { parent: Expr; parentId: number };

/** Replaces `old` (which sits in `slot`) by `e`. */
export function replaceIn(slot: Slot, old: Expr, e: Expr): void {
  if (slot.parent === undefined) {
    setBodyRaw(slot.fn, e);
    return;
  }
  for (const f of FIELDS.get(slot.parentId) ?? []) {
    if ('get' in f) {
      if (f.get(slot.parent) === old) {
        f.set(slot.parent, e);
        return;
      }
    } else {
      const n = f.n(slot.parent);
      for (let i = 0; i < n; i++) {
        if (f.at(slot.parent, i) === old) {
          f.setAt(slot.parent, i, e);
          return;
        }
      }
    }
  }
  throw new Error(`compiler bug: expression not found in its ${idToName(slot.parentId)} parent`);
}

const setBodyRaw = C('FunctionSetBody');
export const functionBody: (fn: FunctionRef) => Expr = C('FunctionGetBody');
export function functionName(fn: FunctionRef): string {
  return binaryen.getFunctionInfo(fn).name;
}
export const callIsReturn: (e: Expr) => number = C('CallIsReturn');
export const callIndirectIsReturn: (e: Expr) => number = C('CallIndirectIsReturn');

/** Text of one expression (used only to inspect the rare kinds whose children are unreachable). */
export function exprText(e: Expr): string {
  return binaryen.emitText(e);
}

const get = (kind: string, name: string): Fn => C(`${kind}Get${name}`);
const set = (kind: string, name: string): Fn => C(`${kind}Set${name}`);

/** Typed access to the memory-touching expressions, for the bounds pass. */
export const Mem = {
  loadBytes: get('Load', 'Bytes'),
  loadIsAtomic: C('LoadIsAtomic'),
  loadOffset: (e: Expr): number => C('LoadGetOffset')(e) >>> 0,
  loadPtr: get('Load', 'Ptr'),
  loadSetPtr: set('Load', 'Ptr'),
  storeBytes: get('Store', 'Bytes'),
  storeIsAtomic: C('StoreIsAtomic'),
  storeOffset: (e: Expr): number => C('StoreGetOffset')(e) >>> 0,
  storePtr: get('Store', 'Ptr'),
  storeSetPtr: set('Store', 'Ptr'),
  storeValue: get('Store', 'Value'),
  storeSetValue: set('Store', 'Value'),
  rmwBytes: get('AtomicRMW', 'Bytes'),
  rmwOffset: (e: Expr): number => C('AtomicRMWGetOffset')(e) >>> 0,
  rmwPtr: get('AtomicRMW', 'Ptr'),
  rmwSetPtr: set('AtomicRMW', 'Ptr'),
  rmwValue: get('AtomicRMW', 'Value'),
  rmwSetValue: set('AtomicRMW', 'Value'),
  cxBytes: get('AtomicCmpxchg', 'Bytes'),
  cxOffset: (e: Expr): number => C('AtomicCmpxchgGetOffset')(e) >>> 0,
  cxPtr: get('AtomicCmpxchg', 'Ptr'),
  cxSetPtr: set('AtomicCmpxchg', 'Ptr'),
  cxExpected: get('AtomicCmpxchg', 'Expected'),
  cxRepl: get('AtomicCmpxchg', 'Replacement'),
  cxSetRepl: set('AtomicCmpxchg', 'Replacement'),
  waitPtr: get('AtomicWait', 'Ptr'),
  waitSetPtr: set('AtomicWait', 'Ptr'),
  waitExpected: get('AtomicWait', 'Expected'),
  waitExpectedType: get('AtomicWait', 'ExpectedType'),
  waitTimeout: get('AtomicWait', 'Timeout'),
  waitSetTimeout: set('AtomicWait', 'Timeout'),
  notifyPtr: get('AtomicNotify', 'Ptr'),
  notifySetPtr: set('AtomicNotify', 'Ptr'),
  notifyCount: get('AtomicNotify', 'NotifyCount'),
  notifySetCount: set('AtomicNotify', 'NotifyCount'),
  sLoadOp: get('SIMDLoad', 'Op'),
  sLoadOffset: (e: Expr): number => C('SIMDLoadGetOffset')(e) >>> 0,
  sLoadPtr: get('SIMDLoad', 'Ptr'),
  sLoadSetPtr: set('SIMDLoad', 'Ptr'),
  laneOp: get('SIMDLoadStoreLane', 'Op'),
  laneOffset: (e: Expr): number => C('SIMDLoadStoreLaneGetOffset')(e) >>> 0,
  lanePtr: get('SIMDLoadStoreLane', 'Ptr'),
  laneSetPtr: set('SIMDLoadStoreLane', 'Ptr'),
  laneVec: get('SIMDLoadStoreLane', 'Vec'),
  laneSetVec: set('SIMDLoadStoreLane', 'Vec'),
  miDest: get('MemoryInit', 'Dest'),
  miSetDest: set('MemoryInit', 'Dest'),
  miOffset: get('MemoryInit', 'Offset'),
  miSize: get('MemoryInit', 'Size'),
  miSetSize: set('MemoryInit', 'Size'),
  mcDest: get('MemoryCopy', 'Dest'),
  mcSetDest: set('MemoryCopy', 'Dest'),
  mcSource: get('MemoryCopy', 'Source'),
  mcSetSource: set('MemoryCopy', 'Source'),
  mcSize: get('MemoryCopy', 'Size'),
  mcSetSize: set('MemoryCopy', 'Size'),
  mfDest: get('MemoryFill', 'Dest'),
  mfSetDest: set('MemoryFill', 'Dest'),
  mfValue: get('MemoryFill', 'Value'),
  mfSize: get('MemoryFill', 'Size'),
  mfSetSize: set('MemoryFill', 'Size'),
};

export const Op = {
  Load8Splat: binaryen.Load8SplatVec128 as number,
  Load16Splat: binaryen.Load16SplatVec128 as number,
  Load32Splat: binaryen.Load32SplatVec128 as number,
  Load64Splat: binaryen.Load64SplatVec128 as number,
  Load32Zero: binaryen.Load32ZeroVec128 as number,
  Load8Lane: binaryen.Load8LaneVec128 as number,
  Load16Lane: binaryen.Load16LaneVec128 as number,
  Load32Lane: binaryen.Load32LaneVec128 as number,
  Store8Lane: binaryen.Store8LaneVec128 as number,
  Store16Lane: binaryen.Store16LaneVec128 as number,
  Store32Lane: binaryen.Store32LaneVec128 as number,
};

/** Branch targets: label names of blocks/loops and the names branches use. */
type Named = { getName(e: Expr): string | null; setName(e: Expr, n: string): void };
type SwitchW = { getNames(e: Expr): string[]; setNameAt(e: Expr, i: number, n: string): void; getDefaultName(e: Expr): string | null; setDefaultName(e: Expr, n: string): void };
const W = binaryen as unknown as { Block: Named; Loop: Named; Break: Named; Switch: SwitchW };
export function labelOf(e: Expr): string | null {
  const id = getId(e);
  return id === Id.Block ? W.Block.getName(e) : id === Id.Loop ? W.Loop.getName(e) : null;
}
/** Label names `e`'s branches (br, br_if, br_table) jump to. */
export function branchTargets(e: Expr): string[] {
  const id = getId(e);
  if (id === Id.Break) return [W.Break.getName(e)!];
  if (id === Id.Switch) return [...W.Switch.getNames(e), W.Switch.getDefaultName(e)!];
  return [];
}
/** Gives every label defined inside `root` a fresh name (Binaryen IR requires unique labels: used after copyExpression). */
export function renameLabels(root: Expr, suffix: string): void {
  const defined = new Map<string, string>();
  const all: Expr[] = [];
  const stack = [root];
  const kids: Expr[] = [];
  while (stack.length) {
    const e = stack.pop()!;
    all.push(e);
    const l = labelOf(e);
    if (l !== null) defined.set(l, l + suffix);
    kids.length = 0;
    pushChildren(e, getId(e), kids);
    stack.push(...kids);
  }
  for (const e of all) {
    const id = getId(e);
    const l = labelOf(e);
    if (l !== null) (id === Id.Block ? W.Block : W.Loop).setName(e, defined.get(l)!);
    else if (id === Id.Break) {
      const t = defined.get(W.Break.getName(e)!);
      if (t) W.Break.setName(e, t);
    } else if (id === Id.Switch) {
      W.Switch.getNames(e).forEach((n, i) => {
        const t = defined.get(n);
        if (t) W.Switch.setNameAt(e, i, t);
      });
      const t = defined.get(W.Switch.getDefaultName(e)!);
      if (t) W.Switch.setDefaultName(e, t);
    }
  }
}

/** Makes every branch inside `root` to label `from` go to `to` instead. */
export function retarget(root: Expr, from: string, to: string): void {
  const stack = [root];
  const kids: Expr[] = [];
  while (stack.length) {
    const e = stack.pop()!;
    const id = getId(e);
    if (id === Id.Break && W.Break.getName(e) === from) W.Break.setName(e, to);
    else if (id === Id.Switch) {
      W.Switch.getNames(e).forEach((n, i) => n === from && W.Switch.setNameAt(e, i, to));
      if (W.Switch.getDefaultName(e) === from) W.Switch.setDefaultName(e, to);
    }
    kids.length = 0;
    pushChildren(e, id, kids);
    stack.push(...kids);
  }
}

const binOp = C('BinaryGetOp');
export function binaryOp(e: Expr): number {
  return binOp(e);
}
export const BinOp = {
  AddInt32: binaryen.AddInt32 as number,
  SubInt32: binaryen.SubInt32 as number,
  NeInt32: binaryen.NeInt32 as number,
  LtUInt32: binaryen.LtUInt32 as number,
  LtSInt32: binaryen.LtSInt32 as number,
  GtUInt32: binaryen.GtUInt32 as number,
  GtSInt32: binaryen.GtSInt32 as number,
};
export function binaryOperands(e: Expr): [Expr, Expr] {
  const k: Expr[] = [];
  pushChildren(e, Id.Binary, k);
  return [k[0]!, k[1]!];
}
export const breakCondition: (e: Expr) => Expr = C('BreakGetCondition');
export const breakValue: (e: Expr) => Expr = C('BreakGetValue');

export const loopBody = get('Loop', 'Body');
export const loopSetBody = set('Loop', 'Body');

// ---- module-level helpers ------------------------------------------------------------------

export interface FunctionView {
  ref: FunctionRef;
  name: string;
  imported: boolean;
  body: Expr;
  params: Type;
  results: Type;
}

export function functions(m: Module): FunctionView[] {
  const out: FunctionView[] = [];
  const n = m.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const ref = m.getFunctionByIndex(i);
    const info = binaryen.getFunctionInfo(ref);
    out.push({ ref, name: info.name, imported: info.module !== null && info.module !== '', body: info.body, params: info.params, results: info.results });
  }
  return out;
}

export function importedFunctionName(m: Module, module: string, base: string, params: Type, results: Type): string | undefined {
  for (const f of functions(m)) {
    if (!f.imported) continue;
    const info = binaryen.getFunctionInfo(f.ref);
    if (info.module === module && info.base === base && info.params === params && info.results === results) return f.name;
  }
  return undefined;
}

/** "module.base" of every imported function. */
export function importedFunctions(m: Module): string[] {
  return functions(m).filter((f) => f.imported).map((f) => {
    const info = binaryen.getFunctionInfo(f.ref);
    return `${info.module}.${info.base}`;
  });
}

export function addFunctionImport(m: Module, internal: string, module: string, base: string, params: Type, results: Type): void {
  m.addFunctionImport(internal, module, base, params, results);
}

export const addVar: (fn: FunctionRef, type: Type) => number = C('FunctionAddVar');
export const setBody: (fn: FunctionRef, body: Expr) => number = C('FunctionSetBody');

export function createType(types: Type[]): Type {
  return binaryen.createType(types);
}

/** Internal name of the exported entity `exportName` (used to learn memory names). */
export function exportTarget(m: Module, exportName: string): string | undefined {
  const ref = m.getExport(exportName);
  if (!ref) return undefined;
  return binaryen.getExportInfo(ref).value;
}

/** A name not used by any function or global in the module. */
export function freshName(m: Module, base: string): string {
  let name = base;
  for (let i = 1; m.getFunction(name) || m.getGlobal(name); i++) name = `${base}${i}`;
  return name;
}

/** Name of a direct call's target. */
export function callTarget(e: Expr): string {
  return (binaryen as unknown as { Call: { getTarget(e: Expr): string } }).Call.getTarget(e);
}

/** True when evaluating `e` can do nothing observable but read locals/globals (no trap, no write, no branch out). */
export function isPure(m: Module, e: Expr): boolean {
  // getSideEffects takes the module (the typings say features); SideEffects is a const enum in
  // the typings, so read the values at run time.
  const fx = binaryen.getSideEffects(e, m as unknown as binaryenT.Features) as number;
  const se = (binaryen as unknown as { SideEffects: Record<string, number> }).SideEffects;
  const allowed = se.ReadsLocal! | se.ReadsGlobal!;
  return (fx & ~allowed) === 0;
}

const lsIsTee = C('LocalSetIsTee'), lsIndex = C('LocalSetGetIndex'), lsValue = C('LocalSetGetValue');
/** A local.set / local.tee's parts. */
export function localSetParts(e: Expr): { tee: boolean; index: number; value: Expr } {
  return { tee: !!lsIsTee(e), index: lsIndex(e), value: lsValue(e) };
}

const blockGetName = C('BlockGetName');
/** Whether a block has a label (can be a branch target). */
export function blockHasName(e: Expr): boolean {
  return blockGetName(e) !== 0;
}

/** Whether evaluating `e` can write local `index`. */
export function writesLocal(e: Expr, index: number): boolean {
  const stack = [e];
  const kids: Expr[] = [];
  while (stack.length) {
    const x = stack.pop()!;
    const id = getId(x);
    if (id === Id.LocalSet && lsIndex(x) === index) return true;
    kids.length = 0;
    if (!pushChildren(x, id, kids)) return true;
    stack.push(...kids);
  }
  return false;
}

export function localIndex(e: Expr): number {
  return C('LocalGetGetIndex')(e);
}

export function constI32(e: Expr): number {
  return C('ConstGetValueI32')(e) >>> 0;
}

export function globalSetName(e: Expr): string {
  return (binaryen as unknown as { GlobalSet: { getName(e: Expr): string } }).GlobalSet.getName(e);
}
export const globalSetValue = get('GlobalSet', 'Value');

/** A defined (not imported) mutable i32 global initialized by a constant, with that constant. */
export function mutableI32Global(m: Module, name: string): { init: number } | undefined {
  const ref = m.getGlobal(name);
  if (!ref) return undefined;
  const g = binaryen.getGlobalInfo(ref);
  if (g.module || !g.mutable || g.type !== binaryen.i32 || getId(g.init) !== Id.Const) return undefined;
  return { init: constI32(g.init) };
}

/** Whether the module defines a mutable i32 global (in a module without names, any may be the stack pointer). */
export function hasMutableI32Global(m: Module): boolean {
  for (let i = 0; i < m.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
    if (!g.module && g.mutable && g.type === binaryen.i32) return true;
  }
  return false;
}

/** The lowest byte offset of an active data segment, or undefined when there is none. */
export function lowestDataOffset(m: Module): number | undefined {
  let low: number | undefined;
  for (const s of dataSegments(m) ?? []) if (s.offset !== null) low = Math.min(low ?? Infinity, s.offset);
  return low;
}

/** Whether the module has a start function (run by instantiation, before any export). */
export function hasStartFunction(m: Module): boolean {
  return C('GetStart')(m.ptr) !== 0;
}

/** Defined (not imported) mutable globals, with their initializer expressions. */
export function mutableGlobals(m: Module): { name: string; type: Type; init: Expr }[] {
  const out: { name: string; type: Type; init: Expr }[] = [];
  for (let i = 0; i < m.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
    if (!g.module && g.mutable) out.push({ name: g.name, type: g.type, init: g.init });
  }
  return out;
}

/** A deep copy of `e` owned by `m` (an expression may sit in one place of the tree only). */
export function copyExpr(m: Module, e: Expr): Expr {
  return C('ExpressionCopy')(e, m.ptr);
}

export interface DataSegmentView {
  name: string;
  /** Constant byte offset of an active segment; null for a passive one. */
  offset: number | null;
  size: number;
}

/**
 * The data segments, or undefined when an active one's offset is not a plain constant (an
 * extended-const expression the optimizer did not fold, e.g. at -O0): Binaryen's C API can only
 * read constant offsets, and aborts the call on any other.
 */
export function dataSegments(m: Module): DataSegmentView[] | undefined {
  const mm = m as unknown as { getNumDataSegments(): number; getDataSegmentByIndex(i: number): number; getDataSegmentInfo(ref: number): { name: string; offset: number | null; data: ArrayBuffer; passive: boolean } };
  const out: DataSegmentView[] = [];
  for (let i = 0; i < mm.getNumDataSegments(); i++) {
    let info;
    try {
      info = mm.getDataSegmentInfo(mm.getDataSegmentByIndex(i));
    } catch {
      return undefined;
    }
    out.push({ name: info.name, offset: info.passive || info.offset === null ? null : info.offset >>> 0, size: info.data.byteLength });
  }
  return out;
}
