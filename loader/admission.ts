// Admission control, after Sledge's admissions_control.c: each route estimates a request's cost
// as the chosen percentile of its last 256 execution times (initially its expected execution time,
// or half its deadline). A request adds cost/deadline to the admitted utilisation; it is admitted
// while the total fits the workers' capacity, and its share is returned when it ends.

import type { RouteSpec } from './spec.ts';

const WINDOW = 256;
/** Recompute the percentile every this many samples: sorting 256 numbers per request is waste. */
const REFRESH_EVERY = 64;

export class AdmissionControl {
  readonly capacity: number;
  readonly enabled: boolean;
  admitted = 0;

  constructor(workers: number, enabled: boolean) {
    this.capacity = workers;
    this.enabled = enabled;
  }

  route(spec: RouteSpec): RouteAdmission {
    return new RouteAdmission(this, spec);
  }
}

export interface Ticket {
  /** Returns the request's share; `runningUs` (when it ran) feeds the route's estimate. */
  release(runningUs?: number): void;
}

export class RouteAdmission {
  private readonly ctl: AdmissionControl;
  private readonly spec: RouteSpec;
  private readonly samples = new Float64Array(WINDOW);
  private count = 0;
  private sinceRefresh = 0;
  /** Current estimate of one request's execution time, µs. */
  estimateUs: number;

  constructor(ctl: AdmissionControl, spec: RouteSpec) {
    this.ctl = ctl;
    this.spec = spec;
    this.estimateUs = spec.expectedExecutionUs > 0 ? spec.expectedExecutionUs : spec.relativeDeadlineUs / 2;
  }

  admit(): Ticket | null {
    const share = this.estimateUs / this.spec.relativeDeadlineUs;
    if (this.ctl.enabled && this.ctl.admitted > 0 && this.ctl.admitted + share > this.ctl.capacity) return null;
    this.ctl.admitted += share;
    let released = false;
    return {
      release: (runningUs) => {
        if (released) return;
        released = true;
        this.ctl.admitted = Math.max(0, this.ctl.admitted - share);
        if (runningUs !== undefined) this.sample(runningUs);
      },
    };
  }

  private sample(us: number): void {
    this.samples[this.count++ % WINDOW] = us;
    if (++this.sinceRefresh < REFRESH_EVERY && this.count > REFRESH_EVERY) return;
    this.sinceRefresh = 0;
    const n = Math.min(this.count, WINDOW);
    const sorted = this.samples.slice(0, n).sort();
    this.estimateUs = Math.max(1, sorted[Math.min(n - 1, Math.floor((n * this.spec.admissionsPercentile) / 100))]!);
  }
}
