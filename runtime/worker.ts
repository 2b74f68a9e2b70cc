// A worker thread: receives the compiled modules once, then batches of tasks; runs them through
// its local scheduler on pooled memories and sends results back in batches.

import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import { ControlPage, nowMs, PENDING, TickerBell } from './control-page.ts';
import { MemoryPool } from './memory-pool.ts';
import type { FromWorker, ModuleSpec, ToWorker } from './protocol.ts';
import { decodeTasks, encodeResults, type FinishedTask } from './task-codec.ts';
import { WorkerScheduler } from './worker-scheduler.ts';

const port = parentPort!;
const pools = new Map<number, MemoryPool>();
let scheduler: WorkerScheduler | undefined;
let results: FinishedTask[] = [];
let flushScheduled = false;
let lastPoolReport = 0;
let page: ControlPage | undefined;
/** When the oldest unsent result finished (ms). */
let oldestPending = 0;
/** A batch is sent before the next sandbox runs once it is this full or this old. */
const BATCH_MAX = 32;
const BATCH_AGE_MS = 0.2;
/** Every this often, a pool with nothing running keeps at most IDLE_KEEP memories. */
const IDLE_SHRINK_MS = 5000;
const IDLE_KEEP = 4;

function flush(): void {
  if (!results.length) return;
  Atomics.store(page!.i32, PENDING, 0);
  const batch = encodeResults(results);
  const msg: FromWorker = { type: 'results', batch };
  // Pool sizes ride along with results, a few times a second at most (for /metrics).
  const now = Date.now();
  if (now - lastPoolReport > 250) {
    lastPoolReport = now;
    msg.pools = [...pools].map(([moduleId, p]) => ({ moduleId, idle: p.idleCount, inUse: p.inUse }));
  }
  port.postMessage(msg, [batch]);
  results = [];
}

function schedule(): void {
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      flush();
    });
  }
}

port.on('message', onMessage);

function addModule(m: ModuleSpec): void {
  pools.set(m.id, new MemoryPool(m, { preempt: page!.memory, yieldImport: scheduler!.yieldImport }));
}

function onMessage(msg: ToWorker): void {
  switch (msg.type) {
    case 'init': {
      page = new ControlPage(msg.preempt, new TickerBell(msg.tickerBell));
      scheduler = new WorkerScheduler(page, {
        policy: msg.config.policy,
        preemption: msg.config.preemption,
        onResult: (r) => {
          if (!results.length) oldestPending = nowMs();
          results.push(r);
          Atomics.store(page!.i32, PENDING, results.length);
          schedule();
        },
        flush: (force) => {
          if (force || results.length >= BATCH_MAX || (results.length && nowMs() - oldestPending > BATCH_AGE_MS)) flush();
        },
        poll: () => {
          for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onMessage(m.message as ToWorker);
        },
      });
      for (const m of msg.modules) addModule(m);
      void scheduler.loop();
      // Idle pools give their memories back (each holds address space and touched pages).
      setInterval(() => {
        for (const p of pools.values()) if (p.inUse === 0) p.shrink(IDLE_KEEP);
      }, IDLE_SHRINK_MS).unref();
      port.postMessage({ type: 'ready', workerIndex: msg.workerIndex } satisfies FromWorker);
      break;
    }
    case 'module':
      addModule(msg.module);
      break;
    case 'tasks':
      for (const t of decodeTasks(msg.batch)) scheduler!.enqueue(t, pools.get(t.moduleId)!);
      break;
    case 'shutdown':
      scheduler?.stop();
      flush();
      port.close();
      break;
  }
}
