// Turns whatever ended a sandbox into a one-line reason. V8 reports wasm traps as RuntimeError
// with fixed messages; the runtime's own stops (proc_exit, bounds_trap, timeouts) are typed.

/** Thrown by proc_exit: not an error, the function's chosen exit status. */
export class ProcExit {
  readonly code: number;
  constructor(code: number) {
    this.code = code;
  }
}

/** A trap raised by the runtime itself (software bounds check, deadline, memory cap…). */
export class SandboxTrap extends Error {
  readonly kind: TrapKind;
  constructor(kind: TrapKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export type TrapKind =
  | 'out-of-bounds'
  | 'divide-by-zero'
  | 'integer-overflow'
  | 'invalid-conversion'
  | 'unreachable'
  | 'stack-overflow'
  | 'indirect-call'
  | 'timeout'
  | 'host-error';

export interface TrapInfo { kind: TrapKind; reason: string }

const V8_TRAPS: [RegExp, TrapKind, string][] = [
  [/memory access out of bounds|data segment out of bounds|operation does not fit/i, 'out-of-bounds', 'out of bounds memory access'],
  [/divide by zero|remainder by zero/i, 'divide-by-zero', 'integer divide by zero'],
  [/integer overflow|divide result unrepresentable/i, 'integer-overflow', 'integer overflow'],
  [/float unrepresentable|unrepresentable/i, 'invalid-conversion', 'invalid conversion to integer'],
  [/unreachable/i, 'unreachable', 'unreachable executed (abort or __builtin_trap)'],
  [/call stack size|stack overflow/i, 'stack-overflow', 'stack overflow'],
  [/signature mismatch|null function|table index is out of bounds|indirect call/i, 'indirect-call', 'indirect call mismatch (bad function pointer)'],
];

export function classifyTrap(e: unknown): TrapInfo {
  if (e instanceof SandboxTrap) return { kind: e.kind, reason: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
    for (const [re, kind, reason] of V8_TRAPS) if (re.test(msg)) return { kind, reason };
  }
  return { kind: 'host-error', reason: `sandbox error: ${msg}` };
}
