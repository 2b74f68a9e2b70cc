// The main thread's side of the runtime: the global request queue, the worker threads, and the
// hand-off between them. Requests are sent in batches, at most one message per worker per
// event-loop turn; each worker takes at most `localCapacity` tasks at a time, the rest wait here.
// A worker that dies is replaced and its tasks are answered with an error; others carry on.

import { Worker } from 'node:worker_threads';
import { ASSIGNED, ControlPage, DEADLINE, nowMs, REASON_EARLIER_DEADLINE, RUNNING_ID, TickerBell } from './control-page.ts';
import { InlineRunner } from './inline-runner.ts';
import { PendingTable } from './pending-table.ts';
import { makeQueue, type Policy } from './policies/index.ts';
import type { RunQueue } from './policies/run-queue.ts';
import type { FromWorker, ModuleSpec, PoolStats, TaskResult, ToWorker, WorkerConfig } from './protocol.ts';
import { decodeResults, encodeTasks, type QueuedTask } from './task-codec.ts';
import { cStrings } from './wasi/c-strings.ts';
import type { ToTicker } from './ticker.ts';

export interface DispatcherOptions {
  workers: number;
  policy: Policy;
  quantumUs: number;
  preemption: boolean;
  /** Requests waiting in the global queue before new ones are refused. */
  queueCapacity: number;
  /** Tasks a worker holds at once (running, queued locally or suspended). */
  localCapacity: number;
  /** Run functions with a small run bound on this thread instead of a worker (runtime/inline-runner.ts). */
  inline: boolean;
  /** Told when an inline function ran too long and goes to the workers from now on. */
  onInlineSlow?: (name: string, ms: number) => void;
}

export class QueueFullError extends Error {}
export class WorkerLostError extends Error {}
export class ShuttingDownError extends Error {}

interface Pending {
  msg: QueuedTask;
  seq: number;
  deadline: number;
  resolve: (r: TaskResult) => void;
  reject: (e: Error) => void;
}

interface WorkerSlot {
  index: number;
  worker: Worker;
  page: ControlPage;
  ready: boolean;
  inflight: PendingTable<Pending>;
  outbox: QueuedTask[];
  pools: PoolStats[];
}

// From source the thread entries are .ts files; in the CLI bundle (dist/) they sit beside it as .js.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_URL = new URL(`./worker${EXT}`, import.meta.url);
const TICKER_URL = new URL(`./ticker${EXT}`, import.meta.url);

export class Dispatcher {
  private readonly opts: DispatcherOptions;
  private readonly modules: ModuleSpec[];
  private readonly queue: RunQueue<Pending>;
  private readonly slots: WorkerSlot[] = [];
  private ticker: Worker | undefined;
  private readonly bell = new TickerBell();
  private readonly inline: InlineRunner | undefined;
  private seq = 0;
  private nextId = 1;
  private flushScheduled = false;
  private closing = false;
  /** Counters the loader exposes as metrics. */
  readonly stats = { workerRestarts: 0, inlineRuns: 0 };

  constructor(modules: ModuleSpec[], opts: DispatcherOptions) {
    this.modules = [...modules];
    this.opts = opts;
    this.queue = makeQueue<Pending>(opts.policy);
    if (opts.inline) {
      this.inline = new InlineRunner(opts.onInlineSlow);
      for (const m of modules) this.inline.add(m.id, m);
    }
  }

  get queued(): number {
    return this.queue.length;
  }

  get inflight(): number {
    return this.slots.reduce((n, s) => n + s.inflight.size, 0);
  }

  workerStates(): { index: number; busy: boolean; inflight: number; pools: PoolStats[] }[] {
    return this.slots.map((s) => ({ index: s.index, busy: Atomics.load(s.page.i32, RUNNING_ID) !== 0, inflight: s.inflight.size, pools: s.pools }));
  }

  /**
   * Starts the ticker and the workers; resolves when every worker is ready. Requests submitted
   * meanwhile wait in the global queue.
   */
  start(): Promise<void> {
    const ready = Promise.all(Array.from({ length: this.opts.workers }, (_, i) => this.spawn(i)));
    // The ticker boots after the workers, not beside them: on few cores, booting both at once
    // delays the first request (until it runs, quanta are simply longer).
    return ready.then(() => {
      if (this.closing) return;
      this.ticker = new Worker(TICKER_URL);
      this.ticker.unref();
      this.sendPages();
    });
  }

  /** A module compiled after start: workers get it before any task that names it. */
  addModule(m: ModuleSpec): void {
    this.modules.push(m);
    this.inline?.add(m.id, m);
    for (const s of this.slots) s.worker.postMessage({ type: 'module', module: m } satisfies ToWorker);
  }

  /**
   * Runs a request at once on this thread when its module runs inline (a small run bound, see
   * runtime/inline-runner.ts); undefined otherwise (then submit() it).
   */
  runInline(moduleId: number, req: Pick<QueuedTask, 'argv' | 'env' | 'stdin'>): TaskResult | undefined {
    if (!this.inline?.has(moduleId) || this.closing) return undefined;
    this.stats.inlineRuns++;
    return this.inline.run(moduleId, { id: this.nextId++, argv: cStrings(req.argv), env: cStrings(req.env), stdin: req.stdin });
  }

  /** Queues a request; resolves with its result, rejects with QueueFullError or WorkerLostError. */
  submit(moduleId: number, req: Pick<QueuedTask, 'argv' | 'env' | 'stdin'>, relativeDeadlineUs: number, timeoutUs: number): Promise<TaskResult> {
    if (this.queue.length >= this.opts.queueCapacity) return Promise.reject(new QueueFullError('queue full'));
    const arrival = nowMs();
    const msg: QueuedTask = {
      ...req, id: this.nextId++, moduleId, arrival,
      deadline: arrival + relativeDeadlineUs / 1000,
      timeoutAt: arrival + timeoutUs / 1000,
    };
    return new Promise<TaskResult>((resolve, reject) => {
      this.queue.push({ msg, seq: this.seq++, deadline: msg.deadline, resolve, reject });
      this.dispatch();
    });
  }

  /** Moves queued requests to workers with room, least loaded first. */
  private dispatch(): void {
    while (this.queue.length) {
      let best: WorkerSlot | undefined;
      for (const s of this.slots) {
        if (s.ready && s.inflight.size < this.opts.localCapacity && (!best || s.inflight.size < best.inflight.size)) best = s;
      }
      if (!best) break;
      const p = this.queue.pop()!;
      best.inflight.set(p.msg.id, p);
      Atomics.store(best.page.i32, ASSIGNED, best.inflight.size);
      best.outbox.push(p.msg);
    }
    if (!this.flushScheduled && this.slots.some((s) => s.outbox.length)) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const s of this.slots) {
      if (!s.outbox.length) continue;
      const batch = encodeTasks(s.outbox);
      s.worker.postMessage({ type: 'tasks', batch } satisfies ToWorker, [batch]);
      // EDF: an earlier deadline than the running sandbox's preempts it at its next yield point.
      if (this.opts.policy === 'edf' && this.opts.preemption && Atomics.load(s.page.i32, RUNNING_ID) !== 0) {
        const running = s.page.f64[DEADLINE]!;
        if (s.outbox.some((t) => t.deadline < running)) s.page.raise(REASON_EARLIER_DEADLINE);
      }
      s.outbox = [];
    }
  }

  private spawn(index: number): Promise<void> {
    const page = new ControlPage();
    const worker = new Worker(WORKER_URL);
    const slot: WorkerSlot = { index, worker, page, ready: false, inflight: new PendingTable(), outbox: [], pools: [] };
    this.slots[index] = slot;
    const config: WorkerConfig = { policy: this.opts.policy, quantumUs: this.opts.quantumUs, preemption: this.opts.preemption, perfLog: false };
    worker.postMessage({ type: 'init', workerIndex: index, modules: this.modules, preempt: page.memory, tickerBell: this.bell.buffer, config } satisfies ToWorker);
    return new Promise<void>((resolve) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.ready = true;
          resolve();
          this.dispatch();
        } else if (m.type === 'results') {
          if (m.pools) slot.pools = m.pools;
          for (const r of decodeResults(m.batch)) {
            const p = slot.inflight.get(r.id);
            if (!p) continue;
            slot.inflight.delete(r.id);
            Atomics.store(slot.page.i32, ASSIGNED, slot.inflight.size);
            p.resolve(r);
          }
          this.dispatch();
        }
      });
      worker.on('error', () => {}); // 'exit' follows and does the work
      worker.on('exit', () => this.lost(slot, resolve));
    });
  }

  private lost(slot: WorkerSlot, resolveStart: () => void): void {
    if (this.slots[slot.index] !== slot) return;
    for (const p of slot.inflight.values()) p.reject(new WorkerLostError('the worker running this request died'));
    slot.inflight.clear();
    resolveStart();
    if (this.closing) return;
    this.stats.workerRestarts++;
    void this.spawn(slot.index).then(() => this.sendPages());
  }

  private sendPages(): void {
    this.ticker?.postMessage({ type: 'pages', pages: this.slots.map((s) => s.page.memory), bell: this.bell.buffer, quantumUs: this.opts.quantumUs, preemption: this.opts.preemption } satisfies ToTicker);
    this.bell.ring(); // a sleeping ticker reads messages only when woken
  }

  /** Resolves when nothing is queued or running (graceful shutdown waits on this). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.queue.length + this.inflight === 0 ? resolve() : setTimeout(check, 5));
      check();
    });
  }

  /** Stops the workers; whatever is still queued or running is rejected with ShuttingDownError. */
  async close(): Promise<void> {
    this.closing = true;
    const err = new ShuttingDownError('the server is shutting down');
    for (const p of this.queue.drain()) p.reject(err);
    for (const s of this.slots) {
      for (const p of s.inflight.values()) p.reject(err);
      s.inflight.clear();
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.ticker?.postMessage({ type: 'stop' } satisfies ToTicker);
    this.bell.ring();
    await this.ticker?.terminate();
  }

  /** Test hook: kill a worker as an engine crash would. */
  killWorker(index: number): void {
    void this.slots[index]?.worker.terminate();
  }

}
