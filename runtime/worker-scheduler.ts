// A worker's local scheduler: runs one sandbox at a time from its run queue. A sandbox runs as a
// JSPI promising call; when its yield point fires (quantum over, earlier deadline waiting, or
// timeout), sledge.yield either suspends it (back into the run queue) or stops it (504).

import { ControlPage, nowMs, QUEUED, REASON_TIMEOUT, STARTED_AT } from './control-page.ts';
import type { MemoryPool } from './memory-pool.ts';
import { makeQueue, type Policy } from './policies/index.ts';
import type { RunQueue } from './policies/run-queue.ts';
import type { TaskMessage } from './protocol.ts';
import type { FinishedTask } from './task-codec.ts';
import { runSandbox } from './sandbox.ts';
import type { SandboxResult } from './sandbox-module.ts';
import { SandboxTrap } from './traps.ts';

interface Task {
  msg: TaskMessage;
  pool: MemoryPool;
  deadline: number;
  seq: number;
  /** Set while suspended: resolving it resumes the sandbox where it stopped. */
  resume?: () => void;
  firstRunAt: number;
  runningMs: number;
  preemptedMs: number;
  suspendedAt: number;
  preemptions: number;
  result?: SandboxResult;
}

export interface SchedulerOptions {
  policy: Policy;
  preemption: boolean;
  /** Where finished tasks go (the worker batches them to the main thread). */
  onResult: (r: FinishedTask) => void;
  /** Takes in tasks that arrived while a sandbox ran (their messages wait on the port). */
  poll?: () => void;
  /** Sends finished results now; `force` false sends only a full or aged batch. */
  flush?: (force: boolean) => void;
}

type Step = 'done' | 'yield';

export class WorkerScheduler {
  private readonly queue: RunQueue<Task>;
  private readonly page: ControlPage;
  private readonly opts: SchedulerOptions;
  private current: Task | undefined;
  private stepDone: ((s: Step) => void) | undefined;
  private wake: (() => void) | undefined;
  private seq = 0;
  private stopped = false;
  /** The import every sandbox on this worker gets as sledge.yield. */
  readonly yieldImport: object;

  constructor(page: ControlPage, opts: SchedulerOptions) {
    this.page = page;
    this.opts = opts;
    this.queue = makeQueue<Task>(opts.policy);
    this.yieldImport = new (WebAssembly as unknown as { Suspending: new (f: Function) => object }).Suspending(() => this.onYield());
  }

  get queued(): number {
    return this.queue.length;
  }

  enqueue(msg: TaskMessage, pool: MemoryPool): void {
    this.queue.push({
      msg, pool, deadline: msg.deadline, seq: this.seq++,
      firstRunAt: 0, runningMs: 0, preemptedMs: 0, suspendedAt: 0, preemptions: 0,
    });
    Atomics.store(this.page.i32, QUEUED, this.queue.length);
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async loop(): Promise<void> {
    while (!this.stopped) {
      const t = this.queue.pop();
      Atomics.store(this.page.i32, QUEUED, this.queue.length);
      if (!t) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      // Results finished earlier go out before a sandbox that may run long takes the thread; one
      // that was preempted is known to be long, so they all go before it resumes.
      this.opts.flush?.(t.resume !== undefined);
      this.current = t;
      const begin = nowMs();
      this.page.setRunning(t.msg.id, t.deadline, t.msg.timeoutAt);
      if (t.resume) t.preemptedMs += begin - t.suspendedAt;
      else t.firstRunAt = begin;
      const step = this.step(t);
      // A sandbox that cannot suspend finished synchronously: no promise to wait for.
      const outcome = typeof step === 'string' ? step : await step;
      const end = nowMs();
      this.page.setIdle();
      this.current = undefined;
      t.runningMs += end - begin;
      if (outcome === 'yield') {
        t.suspendedAt = end;
        this.queue.push(t);
      } else {
        this.opts.onResult(this.report(t, end));
      }
    }
  }

  /** Runs or resumes `t` until it finishes or yields; 'done' when it ran to the end synchronously. */
  private step(t: Task): Step | Promise<Step> {
    if (!t.resume && !t.pool.mod.suspendable) {
      try {
        t.result = runSandbox(t.pool, t.msg) as SandboxResult;
      } catch (e) {
        t.result = hostError(e);
      }
      return 'done';
    }
    // Set before the guest runs: its first yield point may fire before runSandbox returns.
    const step = new Promise<Step>((r) => (this.stepDone = r));
    if (t.resume) {
      const resume = t.resume;
      t.resume = undefined;
      resume();
    } else {
      const done = (res: SandboxResult) => {
        t.result = res;
        this.stepDone?.('done');
      };
      void Promise.resolve(runSandbox(t.pool, t.msg)).then(done, (e) => done(hostError(e)));
    }
    return step;
  }

  private report(t: Task, end: number): FinishedTask {
    const res = t.result!;
    const r: FinishedTask = {
      id: t.msg.id,
      exitCode: res.exitCode,
      stdout: res.stdout,
      stderr: res.stderr,
      times: {
        queuedUs: Math.round((t.firstRunAt - t.msg.arrival) * 1000),
        runningUs: Math.round(t.runningMs * 1000),
        preemptedUs: Math.round(t.preemptedMs * 1000),
        totalUs: Math.round((end - t.msg.arrival) * 1000),
      },
      preemptions: t.preemptions,
    };
    if (res.trap) r.trap = res.trap;
    return r;
  }

  /** sledge.yield: called by a yield point when the control page's flag is set. */
  private onYield(): Promise<void> | undefined {
    const reasons = this.page.take();
    const t = this.current;
    if (!t) return undefined;
    if (reasons & REASON_TIMEOUT || nowMs() >= t.msg.timeoutAt) {
      throw new SandboxTrap('timeout', `timeout: stopped after ${Math.round((nowMs() - t.msg.arrival))} ms (route timeout)`);
    }
    this.opts.flush?.(true);
    this.opts.poll?.();
    if (!this.opts.preemption || !this.shouldSwitch(t)) {
      this.page.f64[STARTED_AT] = nowMs(); // a new quantum for the same sandbox
      return undefined;
    }
    t.preemptions++;
    return new Promise<void>((resolve) => {
      t.resume = resolve;
      this.stepDone?.('yield');
    });
  }

  private shouldSwitch(t: Task): boolean {
    const next = this.queue.peek();
    if (!next) return false;
    return this.opts.policy === 'fifo' || next.deadline <= t.deadline;
  }
}

function hostError(e: unknown): SandboxResult {
  return { exitCode: 134, stdout: [], stderr: [], trap: { kind: 'host-error', reason: String(e) } };
}
