// Messages between the dispatcher (main thread) and workers. Requests and results travel in
// batches (one postMessage per event-loop turn, not per request: DESIGN §3 "Dispatch").

import type { SandboxModule, SandboxRequest } from './sandbox-module.ts';

/** A module context as workers receive it: the compiled module is shared, not recompiled. */
export interface ModuleSpec extends SandboxModule {
  id: number;
}

/** A task as the worker receives it (decoded from a batch). */
export interface TaskMessage extends SandboxRequest {
  id: number;
  moduleId: number;
  /** Absolute deadline, in ms on the shared performance.timeOrigin clock (EDF order). */
  deadline: number;
  /** Absolute time after which the sandbox is stopped (504). */
  timeoutAt: number;
  arrival: number;
}

export type ToWorker =
  | { type: 'init'; workerIndex: number; modules: ModuleSpec[]; preempt: WebAssembly.Memory; tickerBell: SharedArrayBuffer; config: WorkerConfig }
  /** A module compiled after the worker started (the loader compiles in the background). */
  | { type: 'module'; module: ModuleSpec }
  /** TaskMessages encoded by task-codec.ts, transferred. */
  | { type: 'tasks'; batch: ArrayBuffer }
  | { type: 'shutdown' };

export interface WorkerConfig {
  policy: 'fifo' | 'edf';
  quantumUs: number;
  preemption: boolean;
  perfLog: boolean;
}

export interface TaskResult {
  id: number;
  exitCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  trap?: { kind: string; reason: string };
  /** Microseconds spent per state: queued (global+local), running, preempted. */
  times: { queuedUs: number; runningUs: number; preemptedUs: number; totalUs: number };
  preemptions: number;
}

export type FromWorker =
  | { type: 'ready'; workerIndex: number }
  /** TaskResults encoded by task-codec.ts, transferred. */
  | { type: 'results'; batch: ArrayBuffer; pools?: PoolStats[] };

export interface PoolStats { moduleId: number; idle: number; inUse: number }
