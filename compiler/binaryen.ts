// The one door to Binaryen. Every other compiler file goes through here, so the feature set, the
// optimizer's global options and the capture of Binaryen's printed diagnostics are set in one
// place. Binaryen's JS API has no tree walker and only partial typings, so this module also
// exposes the C API's child getters/setters the passes need, typed, behind small helpers.

import binaryen from 'binaryen';
import { createRequire } from 'node:module';

export type Module = binaryen.Module;
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
 * Runs `fn` with process stdout/stderr writes captured: Binaryen (Emscripten stdio) prints its
 * reader and validator diagnostics there rather than returning them.
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
  r.value.setFeatures(FEATURES as binaryen.Features);
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

const blockN = C('BlockGetNumChildren'), blockAt = C('BlockGetChildAt');
const ifCond = C('IfGetCondition'), ifTrue = C('IfGetIfTrue'), ifFalse = C('IfGetIfFalse');
const loopBody = C('LoopGetBody'), loopSetBody = C('LoopSetBody');
const brCond = C('BreakGetCondition'), brValue = C('BreakGetValue');
const swCond = C('SwitchGetCondition'), swValue = C('SwitchGetValue');
const callN = C('CallGetNumOperands'), callAt = C('CallGetOperandAt');
const ciTarget = C('CallIndirectGetTarget'), ciN = C('CallIndirectGetNumOperands'), ciAt = C('CallIndirectGetOperandAt');
const lsValue = C('LocalSetGetValue'), gsValue = C('GlobalSetGetValue');
const loadPtr = C('LoadGetPtr'), storePtr = C('StoreGetPtr'), storeValue = C('StoreGetValue');
const rmwPtr = C('AtomicRMWGetPtr'), rmwValue = C('AtomicRMWGetValue');
const cxPtr = C('AtomicCmpxchgGetPtr'), cxExpected = C('AtomicCmpxchgGetExpected'), cxRepl = C('AtomicCmpxchgGetReplacement');
const waitPtr = C('AtomicWaitGetPtr'), waitExpected = C('AtomicWaitGetExpected'), waitTimeout = C('AtomicWaitGetTimeout');
const notifyPtr = C('AtomicNotifyGetPtr'), notifyCount = C('AtomicNotifyGetNotifyCount');
const sxVec = C('SIMDExtractGetVec'), srVec = C('SIMDReplaceGetVec'), srValue = C('SIMDReplaceGetValue');
const shufL = C('SIMDShuffleGetLeft'), shufR = C('SIMDShuffleGetRight');
const ternA = C('SIMDTernaryGetA'), ternB = C('SIMDTernaryGetB'), ternC = C('SIMDTernaryGetC');
const shiftVec = C('SIMDShiftGetVec'), shiftShift = C('SIMDShiftGetShift');
const sLoadPtr = C('SIMDLoadGetPtr'), laneePtr = C('SIMDLoadStoreLaneGetPtr'), laneVec = C('SIMDLoadStoreLaneGetVec');
const miDest = C('MemoryInitGetDest'), miOffset = C('MemoryInitGetOffset'), miSize = C('MemoryInitGetSize');
const mcDest = C('MemoryCopyGetDest'), mcSource = C('MemoryCopyGetSource'), mcSize = C('MemoryCopyGetSize');
const mfDest = C('MemoryFillGetDest'), mfValue = C('MemoryFillGetValue'), mfSize = C('MemoryFillGetSize');
const unValue = C('UnaryGetValue'), binL = C('BinaryGetLeft'), binR = C('BinaryGetRight');
const selT = C('SelectGetIfTrue'), selF = C('SelectGetIfFalse'), selC = C('SelectGetCondition');
const dropValue = C('DropGetValue'), retValue = C('ReturnGetValue'), growDelta = C('MemoryGrowGetDelta');
const rinValue = C('RefIsNullGetValue'), raValue = C('RefAsGetValue'), reL = C('RefEqGetLeft'), reR = C('RefEqGetRight');
const tgIndex = C('TableGetGetIndex'), tsIndex = C('TableSetGetIndex'), tsValue = C('TableSetGetValue');
const tgrValue = C('TableGrowGetValue'), tgrDelta = C('TableGrowGetDelta');
const tmN = C('TupleMakeGetNumOperands'), tmAt = C('TupleMakeGetOperandAt'), teTuple = C('TupleExtractGetTuple');

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
  const p = (c: Expr): void => {
    if (c) out.push(c);
  };
  switch (id) {
    case Id.Block: {
      const n = blockN(e);
      for (let i = 0; i < n; i++) p(blockAt(e, i));
      return true;
    }
    case Id.If: p(ifCond(e)); p(ifTrue(e)); p(ifFalse(e)); return true;
    case Id.Loop: p(loopBody(e)); return true;
    case Id.Break: p(brValue(e)); p(brCond(e)); return true;
    case Id.Switch: p(swValue(e)); p(swCond(e)); return true;
    case Id.Call: {
      const n = callN(e);
      for (let i = 0; i < n; i++) p(callAt(e, i));
      return true;
    }
    case Id.CallIndirect: {
      const n = ciN(e);
      for (let i = 0; i < n; i++) p(ciAt(e, i));
      p(ciTarget(e));
      return true;
    }
    case Id.LocalSet: p(lsValue(e)); return true;
    case Id.GlobalSet: p(gsValue(e)); return true;
    case Id.Load: p(loadPtr(e)); return true;
    case Id.Store: p(storePtr(e)); p(storeValue(e)); return true;
    case Id.AtomicRMW: p(rmwPtr(e)); p(rmwValue(e)); return true;
    case Id.AtomicCmpxchg: p(cxPtr(e)); p(cxExpected(e)); p(cxRepl(e)); return true;
    case Id.AtomicWait: p(waitPtr(e)); p(waitExpected(e)); p(waitTimeout(e)); return true;
    case Id.AtomicNotify: p(notifyPtr(e)); p(notifyCount(e)); return true;
    case Id.SIMDExtract: p(sxVec(e)); return true;
    case Id.SIMDReplace: p(srVec(e)); p(srValue(e)); return true;
    case Id.SIMDShuffle: p(shufL(e)); p(shufR(e)); return true;
    case Id.SIMDTernary: p(ternA(e)); p(ternB(e)); p(ternC(e)); return true;
    case Id.SIMDShift: p(shiftVec(e)); p(shiftShift(e)); return true;
    case Id.SIMDLoad: p(sLoadPtr(e)); return true;
    case Id.SIMDLoadStoreLane: p(laneePtr(e)); p(laneVec(e)); return true;
    case Id.MemoryInit: p(miDest(e)); p(miOffset(e)); p(miSize(e)); return true;
    case Id.MemoryCopy: p(mcDest(e)); p(mcSource(e)); p(mcSize(e)); return true;
    case Id.MemoryFill: p(mfDest(e)); p(mfValue(e)); p(mfSize(e)); return true;
    case Id.Unary: p(unValue(e)); return true;
    case Id.Binary: p(binL(e)); p(binR(e)); return true;
    case Id.Select: p(selT(e)); p(selF(e)); p(selC(e)); return true;
    case Id.Drop: p(dropValue(e)); return true;
    case Id.Return: p(retValue(e)); return true;
    case Id.MemoryGrow: p(growDelta(e)); return true;
    case Id.RefIsNull: p(rinValue(e)); return true;
    case Id.RefAs: p(raValue(e)); return true;
    case Id.RefEq: p(reL(e)); p(reR(e)); return true;
    case Id.TableGet: p(tgIndex(e)); return true;
    case Id.TableSet: p(tsIndex(e)); p(tsValue(e)); return true;
    case Id.TableGrow: p(tgrValue(e)); p(tgrDelta(e)); return true;
    case Id.TupleMake: {
      const n = tmN(e);
      for (let i = 0; i < n; i++) p(tmAt(e, i));
      return true;
    }
    case Id.TupleExtract: p(teTuple(e)); return true;
    default:
      return false;
  }
}

/** Text of one expression (used only to inspect the rare kinds whose children are unreachable). */
export function exprText(e: Expr): string {
  return binaryen.emitText(e);
}

/** Typed access to the memory-touching expressions, for the bounds pass. */
export const Mem = {
  loadBytes: C('LoadGetBytes'),
  loadIsAtomic: C('LoadIsAtomic'),
  storeIsAtomic: C('StoreIsAtomic'),
  loadOffset: (e: Expr): number => C('LoadGetOffset')(e) >>> 0,
  loadPtr,
  loadSetPtr: C('LoadSetPtr'),
  storeBytes: C('StoreGetBytes'),
  storeOffset: (e: Expr): number => C('StoreGetOffset')(e) >>> 0,
  storePtr,
  storeSetPtr: C('StoreSetPtr'),
  storeValue,
  storeSetValue: C('StoreSetValue'),
  rmwBytes: C('AtomicRMWGetBytes'),
  rmwOffset: (e: Expr): number => C('AtomicRMWGetOffset')(e) >>> 0,
  rmwPtr,
  rmwSetPtr: C('AtomicRMWSetPtr'),
  rmwValue,
  rmwSetValue: C('AtomicRMWSetValue'),
  cxBytes: C('AtomicCmpxchgGetBytes'),
  cxOffset: (e: Expr): number => C('AtomicCmpxchgGetOffset')(e) >>> 0,
  cxPtr,
  cxSetPtr: C('AtomicCmpxchgSetPtr'),
  cxRepl,
  cxSetRepl: C('AtomicCmpxchgSetReplacement'),
  waitPtr,
  waitSetPtr: C('AtomicWaitSetPtr'),
  waitExpectedType: C('AtomicWaitGetExpectedType'),
  waitTimeout,
  waitSetTimeout: C('AtomicWaitSetTimeout'),
  notifyPtr,
  notifySetPtr: C('AtomicNotifySetPtr'),
  notifyCount,
  notifySetCount: C('AtomicNotifySetNotifyCount'),
  sLoadOp: C('SIMDLoadGetOp'),
  sLoadOffset: (e: Expr): number => C('SIMDLoadGetOffset')(e) >>> 0,
  sLoadPtr,
  sLoadSetPtr: C('SIMDLoadSetPtr'),
  laneOp: C('SIMDLoadStoreLaneGetOp'),
  laneOffset: (e: Expr): number => C('SIMDLoadStoreLaneGetOffset')(e) >>> 0,
  lanePtr: laneePtr,
  laneSetPtr: C('SIMDLoadStoreLaneSetPtr'),
  laneVec,
  laneSetVec: C('SIMDLoadStoreLaneSetVec'),
  miDest,
  miSetDest: C('MemoryInitSetDest'),
  miSize,
  miSetSize: C('MemoryInitSetSize'),
  mcDest,
  mcSetDest: C('MemoryCopySetDest'),
  mcSource,
  mcSetSource: C('MemoryCopySetSource'),
  mcSize,
  mcSetSize: C('MemoryCopySetSize'),
  mfDest,
  mfSetDest: C('MemoryFillSetDest'),
  mfSize,
  mfSetSize: C('MemoryFillSetSize'),
};

export const Op = {
  Load8Splat: binaryen.Load8SplatVec128 as number,
  Load16Splat: binaryen.Load16SplatVec128 as number,
  Load32Splat: binaryen.Load32SplatVec128 as number,
  Load64Splat: binaryen.Load64SplatVec128 as number,
  Load8x8S: binaryen.Load8x8SVec128 as number,
  Load8x8U: binaryen.Load8x8UVec128 as number,
  Load16x4S: binaryen.Load16x4SVec128 as number,
  Load16x4U: binaryen.Load16x4UVec128 as number,
  Load32x2S: binaryen.Load32x2SVec128 as number,
  Load32x2U: binaryen.Load32x2UVec128 as number,
  Load32Zero: binaryen.Load32ZeroVec128 as number,
  Load64Zero: binaryen.Load64ZeroVec128 as number,
  Load8Lane: binaryen.Load8LaneVec128 as number,
  Load16Lane: binaryen.Load16LaneVec128 as number,
  Load32Lane: binaryen.Load32LaneVec128 as number,
  Load64Lane: binaryen.Load64LaneVec128 as number,
  Store8Lane: binaryen.Store8LaneVec128 as number,
  Store16Lane: binaryen.Store16LaneVec128 as number,
  Store32Lane: binaryen.Store32LaneVec128 as number,
  Store64Lane: binaryen.Store64LaneVec128 as number,
};

export const loopSetBodyRaw = loopSetBody;
export { loopBody };

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
  const fx = binaryen.getSideEffects(e, m as unknown as binaryen.Features) as number;
  const se = (binaryen as unknown as { SideEffects: Record<string, number> }).SideEffects;
  const allowed = se.ReadsLocal! | se.ReadsGlobal!;
  return (fx & ~allowed) === 0;
}

export function localIndex(e: Expr): number {
  return C('LocalGetGetIndex')(e);
}

export function constI32(e: Expr): number {
  return C('ConstGetValueI32')(e) >>> 0;
}
