// SLEDGE_SANDBOX_PERF_LOG: one CSV row per request, as Sledge writes its sandbox perf log, with
// the time spent in each state so scheduling (queueing, preemption, interleaving) can be read off.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { TaskResult } from '../runtime/protocol.ts';

export const PERF_LOG_HEADER =
  'id,tenant,route,status,arrival_ms,first_run_ms,end_ms,deadline_us,total_us,queued_us,running_us,preempted_us,preemptions,exit_code,trap\n';

export class PerfLog {
  private readonly out: WriteStream;

  constructor(path: string) {
    this.out = createWriteStream(path, { flags: 'w' });
    this.out.write(PERF_LOG_HEADER);
  }

  row(tenant: string, route: string, deadlineUs: number, status: number, r: TaskResult): void {
    const end = performance.timeOrigin + performance.now();
    const arrival = end - r.times.totalUs / 1000;
    const firstRun = arrival + r.times.queuedUs / 1000;
    const t = r.times;
    this.out.write(
      `${r.id},${tenant},${route},${status},${arrival.toFixed(3)},${firstRun.toFixed(3)},${end.toFixed(3)},${deadlineUs},` +
        `${t.totalUs},${t.queuedUs},${t.runningUs},${t.preemptedUs},${r.preemptions},${r.exitCode},${r.trap ? r.trap.kind : ''}\n`,
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
