// A bounded HTTP load generator for 127.0.0.1: open-loop arrivals at a fixed rate, or a fixed
// number of requests kept in flight. Every request has a time limit; every run has an end.

import { Agent, request } from 'node:http';

export interface Sample { ms: number; status: number }

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

export function get(port: number, path: string, timeoutMs = 60_000): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ms: performance.now() - t0, status: 0 }));
    req.end();
  });
}

/** Sends `path` at `perSecond` for `seconds` regardless of answers (open loop). */
export async function openLoop(port: number, path: string, perSecond: number, seconds: number): Promise<Sample[]> {
  const pending: Promise<Sample>[] = [];
  const start = performance.now();
  const interval = 1000 / perSecond;
  for (let i = 0; performance.now() - start < seconds * 1000; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(get(port, path));
  }
  return Promise.all(pending);
}

/** Keeps `concurrency` requests of `path` in flight until `stop()` resolves. */
export async function closedLoop(port: number, path: string, concurrency: number, until: Promise<unknown>): Promise<Sample[]> {
  let done = false;
  void until.then(() => (done = true));
  const out: Sample[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (!done) out.push(await get(port, path));
  }));
  return out;
}

export function closeAgent(): void {
  agent.destroy();
}
