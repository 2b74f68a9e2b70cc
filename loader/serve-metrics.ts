// The loader's metrics: requests by route and status class, sandbox durations, queue depths, pool
// sizes and worker states. Labels are tenant, route, class and worker index only (low cardinality).

import type { Dispatcher } from '../runtime/dispatcher.ts';
import type { TaskResult } from '../runtime/protocol.ts';
import { Registry, type Sample } from './metrics.ts';

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly requests;
  private readonly duration;
  private readonly queued;
  private readonly preemptions;

  constructor(dispatcher: Dispatcher, moduleNames: string[]) {
    const r = this.registry;
    this.requests = r.counter('sledge_requests_total', 'Requests answered, by route and status class.', ['tenant', 'route', 'class']);
    this.duration = r.histogram('sledge_sandbox_duration_seconds', 'Time from arrival to the end of the sandbox, by route.', ['tenant', 'route']);
    this.queued = r.histogram('sledge_queue_wait_seconds', 'Time a request waited before its sandbox first ran, by route.', ['tenant', 'route']);
    this.preemptions = r.counter('sledge_preemptions_total', 'Times sandboxes were suspended at a yield point, by route.', ['tenant', 'route']);
    r.gaugeFn('sledge_global_queue_depth', 'Requests waiting in the global queue.', () => dispatcher.queued);
    r.gaugeFn('sledge_inflight_requests', 'Requests handed to workers and not yet answered.', () => dispatcher.inflight);
    r.counterFn('sledge_worker_restarts_total', 'Workers replaced after they died.', () => dispatcher.stats.workerRestarts);
    r.counterFn('sledge_inline_runs_total', 'Requests run on the listener thread (functions with a small run bound).', () => dispatcher.stats.inlineRuns);
    r.gaugeFn('sledge_worker_busy', 'Whether each worker is running a sandbox right now.', ['worker'], () =>
      dispatcher.workerStates().map((w): Sample => [{ worker: w.index }, w.busy ? 1 : 0]));
    r.gaugeFn('sledge_worker_assigned', 'Requests each worker holds (running, queued locally, or suspended).', ['worker'], () =>
      dispatcher.workerStates().map((w): Sample => [{ worker: w.index }, w.inflight]));
    r.gaugeFn('sledge_memory_pool_idle', 'Pooled memories ready for reuse, per module.', ['module'], () => poolSum(dispatcher, moduleNames, 'idle'));
    r.gaugeFn('sledge_memory_pool_in_use', 'Pooled memories held by running or suspended sandboxes, per module.', ['module'], () => poolSum(dispatcher, moduleNames, 'inUse'));
  }

  /** A recorder for one route: call it with the status and (when a sandbox ran) its result. */
  route(tenant: string, route: string): (status: number, result?: TaskResult) => void {
    const classes = new Map<number, { inc(): void }>();
    const duration = this.duration.labels({ tenant, route });
    const queued = this.queued.labels({ tenant, route });
    const preemptions = this.preemptions.labels({ tenant, route });
    return (status, result) => {
      const cls = Math.floor(status / 100);
      let c = classes.get(cls);
      if (!c) classes.set(cls, (c = this.requests.labels({ tenant, route, class: `${cls}xx` })));
      c.inc();
      if (result) {
        duration.observe(result.times.totalUs / 1e6);
        queued.observe(result.times.queuedUs / 1e6);
        if (result.preemptions) preemptions.inc(result.preemptions);
      }
    };
  }
}

function poolSum(d: Dispatcher, names: string[], key: 'idle' | 'inUse'): Sample[] {
  const sums = new Array<number>(names.length).fill(0);
  for (const w of d.workerStates()) for (const p of w.pools) sums[p.moduleId]! += p[key];
  return names.map((module, i): Sample => [{ module }, sums[i]!]);
}
