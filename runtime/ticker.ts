// The ticker thread: it looks at each worker's control page and raises the preempt flag when the
// running sandbox's quantum is over (and another task waits) or its timeout has passed. It lives
// on its own thread because a worker running wasm cannot run timers, and the main thread's event
// loop is busy with HTTP.
//
// It wakes when the next quantum or timeout can end, not on a fixed period: with short requests
// that is about once per quantum, and while nothing runs it sleeps until a worker rings its bell.

import { parentPort } from 'node:worker_threads';
import { ASSIGNED, ControlPage, nowMs, PENDING, QUEUED, REASON_QUANTUM, REASON_TIMEOUT, RUNNING_ID, STARTED_AT, TickerBell, TIMEOUT_AT } from './control-page.ts';

export type ToTicker =
  | { type: 'pages'; pages: WebAssembly.Memory[]; bell: SharedArrayBuffer; quantumUs: number; preemption: boolean }
  | { type: 'stop' };

const port = parentPort!;
let pages: ControlPage[] = [];
let bell: TickerBell | undefined;
let quantumMs = 1;
let preemption = true;
let stopped = false;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Sleeping with nothing running still wakes this often, to read messages. */
const IDLE_WAKE_MS = 1000;

/** Raises flags that are due; returns when the next one can be due (ms, Infinity: nothing runs). */
function tick(): number {
  const now = nowMs();
  let next = Infinity;
  for (const p of pages) {
    if (Atomics.load(p.i32, RUNNING_ID) === 0) continue;
    const timeoutAt = p.f64[TIMEOUT_AT]!;
    const quantumEnd = p.f64[STARTED_AT]! + quantumMs;
    if (now >= timeoutAt) p.raise(REASON_TIMEOUT);
    else if (now >= quantumEnd) {
      // Someone else waits (locally, or in a message the busy worker has not read yet), or
      // finished results wait to be sent: a long sandbox must not hold back others' responses.
      const waiting = preemption && (Atomics.load(p.i32, QUEUED) > 0 || Atomics.load(p.i32, ASSIGNED) > 1);
      if (waiting || Atomics.load(p.i32, PENDING) > 0) p.raise(REASON_QUANTUM);
    }
    // Past its quantum and not preempted (nobody waits yet): look again a quarter quantum later.
    next = Math.min(next, timeoutAt, quantumEnd > now ? quantumEnd : now + quantumMs / 4);
  }
  return next - now;
}

function anyRunning(): boolean {
  return pages.some((p) => Atomics.load(p.i32, RUNNING_ID) !== 0);
}

async function loop(): Promise<void> {
  while (!stopped) {
    const wait = tick();
    if (wait !== Infinity) {
      Atomics.wait(sleeper, 0, 0, Math.max(0.05, wait));
    } else if (bell) {
      // Announce the sleep, then look once more: a worker that starts a sandbox after this
      // store sees the flag and rings; one that started before is seen here.
      Atomics.store(bell.i32, 0, 1);
      if (!anyRunning()) Atomics.wait(bell.i32, 0, 1, IDLE_WAKE_MS);
      Atomics.store(bell.i32, 0, 0);
    } else {
      Atomics.wait(sleeper, 0, 0, quantumMs);
    }
    // Let messages in (new pages, stop).
    await new Promise<void>((r) => setImmediate(r));
  }
}

port.on('message', (msg: ToTicker) => {
  if (msg.type === 'stop') {
    stopped = true;
    port.close();
    return;
  }
  bell = new TickerBell(msg.bell);
  pages = msg.pages.map((m) => new ControlPage(m));
  quantumMs = msg.quantumUs / 1000;
  preemption = msg.preemption;
});
void loop();
