// The per-worker control page: a 1-page shared WebAssembly.Memory imported by every sandbox as
// `sledge.preempt`. Word 0 is the flag that yield points test; the rest tells the ticker thread
// what the worker is running, so it can decide when to raise the flag without asking the worker.

import { PREEMPT_FLAG_OFFSET } from '../contract/host-abi.ts';

export const FLAG = PREEMPT_FLAG_OFFSET / 4; // i32: non-zero → the running sandbox must call sledge.yield
export const REASONS = 1; // i32 bit set: why the flag was raised
export const RUNNING_ID = 2; // i32: id of the running task, 0 when idle
export const QUEUED = 3; // i32: tasks waiting in the worker's local run queue
export const ASSIGNED = 4; // i32: tasks the dispatcher has handed this worker and not had back
export const PENDING = 5; // i32: finished results the worker has not sent yet
// f64 slots (index into Float64Array)
export const STARTED_AT = 2; // ms: when the current quantum began
export const DEADLINE = 3; // ms: the running task's absolute deadline
export const TIMEOUT_AT = 4; // ms: when the running task must be stopped

export const REASON_QUANTUM = 1;
export const REASON_TIMEOUT = 2;
export const REASON_EARLIER_DEADLINE = 4;

/** One clock for every thread: ms since the epoch with sub-ms precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The ticker sleeps while no sandbox runs anywhere (an idle server costs no CPU); a worker that
 * starts a sandbox rings it awake. Word 0 is 1 while the ticker sleeps or is about to.
 */
export class TickerBell {
  readonly i32: Int32Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer ?? new SharedArrayBuffer(4));
  }

  get buffer(): SharedArrayBuffer {
    return this.i32.buffer as SharedArrayBuffer;
  }

  ring(): void {
    if (Atomics.load(this.i32, 0) !== 0) {
      Atomics.store(this.i32, 0, 0);
      Atomics.notify(this.i32, 0);
    }
  }
}

export class ControlPage {
  readonly memory: WebAssembly.Memory;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly bell: TickerBell | undefined;

  constructor(memory?: WebAssembly.Memory, bell?: TickerBell) {
    this.memory = memory ?? new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    this.i32 = new Int32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    this.bell = bell;
  }

  raise(reason: number): void {
    Atomics.or(this.i32, REASONS, reason);
    Atomics.store(this.i32, FLAG, 1);
  }

  /** Clears the flag and returns the reasons it was raised for. */
  take(): number {
    Atomics.store(this.i32, FLAG, 0);
    return Atomics.exchange(this.i32, REASONS, 0);
  }

  setRunning(id: number, deadline: number, timeoutAt: number): void {
    this.f64[STARTED_AT] = nowMs();
    this.f64[DEADLINE] = deadline;
    this.f64[TIMEOUT_AT] = timeoutAt;
    Atomics.store(this.i32, RUNNING_ID, id);
    // After RUNNING_ID is visible: a ticker going to sleep either sees it or is rung here.
    this.bell?.ring();
  }

  setIdle(): void {
    Atomics.store(this.i32, RUNNING_ID, 0);
    this.take();
  }
}
