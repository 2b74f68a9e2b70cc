// Functions with a small run bound run on the dispatcher's own thread (the listener's), at once.
// Such a function has no loop, no recursion and no memory.grow (compiler/passes/run-bound.ts):
// a run is one straight-line pass over a few thousand expressions at most, plus host calls that
// copy what they are given. Handing it to a worker costs more than running it: the batch encode,
// a message each way and the worker's wake-up cost ~3 µs of CPU per request (~1 on the listener,
// the rest on the worker; bench/http.ts) for a run of ~0.1 µs (`empty`, bench/instantiate.ts),
// and on a machine whose cores are busy serving, that CPU is what limits requests per second.
// Deadlines are not at stake: such a run is shorter than parsing the request it answers.
//
// Safety net: a module whose inline runs are often slow (over SLOW_MS: host calls copying
// megabytes) goes back to the workers for good. Not one slow run: the first runs create the
// memory and instance, and a GC pause can land inside any run.

import { MemoryPool } from './memory-pool.ts';
import { runSandbox } from './sandbox.ts';
import type { SandboxModule, SandboxResult } from './sandbox-module.ts';
import type { TaskResult } from './protocol.ts';
import type { CStrings } from './wasi/c-strings.ts';

/** A module whose run bound is at most this many expressions may run inline. */
export const INLINE_MAX_EXPRESSIONS = 10_000;
const SLOW_MS = 0.5;
/** Runs not judged while the pool fills; then more than SLOW_RUNS slow runs, over 1% of all, demote. */
const WARM_UP = 16;
const SLOW_RUNS = 8;

export interface InlineRequest {
  id: number;
  argv: CStrings;
  env: CStrings;
  stdin: Uint8Array;
}

/** Whether a module qualifies: a small run bound, and an instance that can be reused (no old-space garbage per request here). */
export function runsInline(m: SandboxModule): boolean {
  return m.runBound !== undefined && m.runBound <= INLINE_MAX_EXPRESSIONS && m.initExport !== undefined && !m.suspendable;
}

interface Entry {
  pool: MemoryPool;
  runs: number;
  slow: number;
}

export class InlineRunner {
  private readonly entries = new Map<number, Entry>();
  private readonly preempt = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  /** Told when a module goes back to the workers after a slow run. */
  private readonly onSlow: (name: string, ms: number) => void;

  constructor(onSlow: (name: string, ms: number) => void = () => {}) {
    this.onSlow = onSlow;
  }

  add(id: number, m: SandboxModule): void {
    if (!runsInline(m)) return;
    // No yield point, so sledge.yield and the preempt flag are never used; the pool wants them.
    this.entries.set(id, { pool: new MemoryPool(m, { preempt: this.preempt, yieldImport: () => {} }, { maxIdle: 4 }), runs: 0, slow: 0 });
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  /** Runs the request now; undefined when the module does not run inline. */
  run(moduleId: number, req: InlineRequest): TaskResult | undefined {
    const e = this.entries.get(moduleId);
    if (!e) return undefined;
    const t0 = performance.now();
    const res = runSandbox(e.pool, req) as SandboxResult;
    const ms = performance.now() - t0;
    if (++e.runs > WARM_UP && ms > SLOW_MS && ++e.slow > SLOW_RUNS && e.slow * 100 > e.runs) {
      this.entries.delete(moduleId);
      this.onSlow(e.pool.mod.name, ms);
    }
    const us = Math.round(ms * 1000);
    const r: TaskResult = {
      id: req.id,
      exitCode: res.exitCode,
      stdout: join(res.stdout),
      stderr: join(res.stderr),
      times: { queuedUs: 0, runningUs: us, preemptedUs: 0, totalUs: us },
      preemptions: 0,
    };
    if (res.trap) r.trap = res.trap;
    return r;
  }
}

const EMPTY = new Uint8Array(0);

function join(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks);
}
