// The ticker thread: every tick it looks at each worker's control page and raises the preempt
// flag when the running sandbox's quantum is over (and another task waits) or its timeout has
// passed. It lives on its own thread because a worker running wasm cannot run timers, and the
// main thread's event loop is busy with HTTP.

import { parentPort } from 'node:worker_threads';
import { ASSIGNED, ControlPage, nowMs, PENDING, QUEUED, REASON_QUANTUM, REASON_TIMEOUT, RUNNING_ID, STARTED_AT, TIMEOUT_AT } from './control-page.ts';

export type ToTicker = { type: 'pages'; pages: WebAssembly.Memory[]; quantumUs: number; preemption: boolean } | { type: 'stop' };

const port = parentPort!;
let pages: ControlPage[] = [];
let quantumMs = 1;
let preemption = true;
let stopped = false;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function tick(): void {
  const now = nowMs();
  for (const p of pages) {
    if (Atomics.load(p.i32, RUNNING_ID) === 0) continue;
    if (now >= p.f64[TIMEOUT_AT]!) p.raise(REASON_TIMEOUT);
    else if (now - p.f64[STARTED_AT]! >= quantumMs) {
      // Someone else waits (locally, or in a message the busy worker has not read yet), or
      // finished results wait to be sent: a long sandbox must not hold back others' responses.
      const waiting = preemption && (Atomics.load(p.i32, QUEUED) > 0 || Atomics.load(p.i32, ASSIGNED) > 1);
      if (waiting || Atomics.load(p.i32, PENDING) > 0) p.raise(REASON_QUANTUM);
    }
  }
}

async function loop(): Promise<void> {
  while (!stopped) {
    // Wake at a fraction of the quantum (never busier than every 100 µs) and let messages in.
    Atomics.wait(sleeper, 0, 0, Math.max(0.1, quantumMs / 4));
    tick();
    await new Promise<void>((r) => setImmediate(r));
  }
}

port.on('message', (msg: ToTicker) => {
  if (msg.type === 'stop') {
    stopped = true;
    port.close();
    return;
  }
  pages = msg.pages.map((m) => new ControlPage(m));
  quantumMs = msg.quantumUs / 1000;
  preemption = msg.preemption;
});
void loop();
