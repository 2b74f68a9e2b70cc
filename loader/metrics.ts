// A tiny Prometheus registry rendering text exposition format 0.0.4, without dependencies.
// Hot path: callers resolve a labelled child once (`c = counter.labels({...})`) and then only add to
// a number field; every string (names, escaped labels) is built at resolve time or at scrape time.

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Sandbox durations in seconds, 50 µs … 10 s: covers an empty function up to Sledge's long fib(40). */
export const DURATION_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export type LabelValues = Readonly<Record<string, string | number>>;
/** One sample a callback metric reports: its label values and its value. */
export type Sample = readonly [LabelValues, number];

/** Children per family: labels must stay low-cardinality (routes, status classes, workers), never URLs. */
const MAX_CHILDREN = 10_000;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class CounterChild {
  value = 0;
  inc(n = 1): void {
    // `!(n >= 0)` also refuses NaN: a counter only goes up.
    if (!(n >= 0)) throw new RangeError(`counter increment must be a non-negative number, got ${n}`);
    this.value += n;
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class HistogramChild {
  /** Per-bucket (non-cumulative) counts; the last slot is the +Inf overflow. Cumulated at scrape time. */
  readonly counts: Float64Array;
  readonly bounds: readonly number[];
  sum = 0;
  count = 0;
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    // NaN compares false everywhere and would land in the first bucket: drop it instead.
    if (v !== v) return;
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

type Child = CounterChild | GaugeChild | HistogramChild;
type Kind = 'counter' | 'gauge' | 'histogram';

/** A metric family: name, help, declared label names, and its children keyed by label values. */
abstract class Family<C extends Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly kind: Kind;
  /** Child and its pre-rendered label pairs (`a="x",b="y"`, no braces) in creation order. */
  protected readonly children = new Map<string, { child: C; pairs: string }>();
  protected readonly unlabelled: C | undefined;
  private readonly make: () => C;

  constructor(name: string, help: string, labelNames: readonly string[], make: () => C, reserved: readonly string[] = []) {
    checkName(name);
    const seen = new Set<string>();
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new TypeError(`metric ${name}: invalid label name ${JSON.stringify(l)}`);
      if (reserved.includes(l)) throw new TypeError(`metric ${name}: label name "${l}" is reserved`);
      if (seen.has(l)) throw new TypeError(`metric ${name}: label name "${l}" repeated`);
      seen.add(l);
    }
    this.name = name;
    this.help = help;
    this.labelNames = [...labelNames];
    this.make = make;
    // An unlabelled family has exactly one child, created now so it renders 0 before first use.
    this.unlabelled = labelNames.length === 0 ? this.resolve({}) : undefined;
  }

  /** Resolves (creating once) the child for these label values. Call at setup, keep the handle. */
  labels(values: LabelValues): C {
    return this.resolve(values);
  }

  protected resolve(values: LabelValues): C {
    const given = Object.keys(values);
    const names = this.labelNames;
    if (given.length !== names.length || names.some((n) => !(n in values))) {
      throw new TypeError(`metric ${this.name}: labels must be exactly {${names.join(', ')}}, got {${given.join(', ')}}`);
    }
    const vals = names.map((n) => String(values[n]));
    const key = vals.join('\u0000');
    const found = this.children.get(key);
    if (found) return found.child;
    if (this.children.size >= MAX_CHILDREN) {
      throw new RangeError(`metric ${this.name}: more than ${MAX_CHILDREN} label combinations; labels must be low-cardinality`);
    }
    const child = this.make();
    this.children.set(key, { child, pairs: names.map((n, i) => `${n}="${escapeLabel(vals[i]!)}"`).join(',') });
    return child;
  }

  protected single(): C {
    if (!this.unlabelled) throw new TypeError(`metric ${this.name} has labels {${this.labelNames.join(', ')}}: resolve a child with .labels({...}) first`);
    return this.unlabelled;
  }

  render(out: string[]): void {
    header(out, this.name, this.help, this.kind);
    for (const { child, pairs } of this.children.values()) this.renderChild(out, child, pairs);
  }

  protected abstract renderChild(out: string[], child: C, pairs: string): void;
}

export class Counter extends Family<CounterChild> {
  readonly kind = 'counter';
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, () => new CounterChild());
  }
  /** For an unlabelled counter. */
  inc(n = 1): void {
    this.single().inc(n);
  }
  get value(): number {
    return this.single().value;
  }
  protected renderChild(out: string[], c: CounterChild, pairs: string): void {
    out.push(`${this.name}${braces(pairs)} ${formatValue(c.value)}`);
  }
}

export class Gauge extends Family<GaugeChild> {
  readonly kind = 'gauge';
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, () => new GaugeChild());
  }
  set(v: number): void {
    this.single().set(v);
  }
  inc(n = 1): void {
    this.single().inc(n);
  }
  dec(n = 1): void {
    this.single().dec(n);
  }
  get value(): number {
    return this.single().value;
  }
  protected renderChild(out: string[], c: GaugeChild, pairs: string): void {
    out.push(`${this.name}${braces(pairs)} ${formatValue(c.value)}`);
  }
}

export class Histogram extends Family<HistogramChild> {
  readonly kind = 'histogram';
  readonly buckets: readonly number[];
  /** `le` values, formatted once. */
  private readonly les: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    const bounds = checkBuckets(name, buckets);
    super(name, help, labelNames, () => new HistogramChild(bounds), ['le']);
    this.buckets = bounds;
    this.les = [...bounds.map(formatValue), '+Inf'];
  }
  observe(v: number): void {
    this.single().observe(v);
  }
  protected renderChild(out: string[], c: HistogramChild, pairs: string): void {
    const sep = pairs ? `${pairs},` : '';
    let cumulative = 0;
    for (let i = 0; i < this.les.length; i++) {
      cumulative += c.counts[i]!;
      out.push(`${this.name}_bucket{${sep}le="${this.les[i]}"} ${formatValue(cumulative)}`);
    }
    out.push(`${this.name}_sum${braces(pairs)} ${formatValue(c.sum)}`);
    out.push(`${this.name}_count${braces(pairs)} ${formatValue(c.count)}`);
  }
}

/** A counter or gauge whose samples are read by a callback at scrape time (queue depths, pool sizes…). */
class CallbackMetric {
  readonly name: string;
  readonly help: string;
  readonly kind: 'counter' | 'gauge';
  readonly labelNames: readonly string[];
  readonly collect: () => number | Iterable<Sample>;

  constructor(kind: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[], collect: () => number | Iterable<Sample>) {
    checkName(name);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new TypeError(`metric ${name}: invalid label name ${JSON.stringify(l)}`);
    }
    this.kind = kind;
    this.name = name;
    this.help = help;
    this.labelNames = [...labelNames];
    this.collect = collect;
  }

  render(out: string[]): void {
    header(out, this.name, this.help, this.kind);
    let got: number | Iterable<Sample>;
    try {
      got = this.collect();
      if (typeof got === 'number') {
        out.push(`${this.name} ${formatValue(got)}`);
        return;
      }
      // Collect first so a callback failing halfway emits nothing partial.
      const lines: string[] = [];
      for (const [labels, v] of got) {
        const pairs = this.labelNames.map((n) => `${n}="${escapeLabel(String(labels[n] ?? ''))}"`).join(',');
        lines.push(`${this.name}${braces(pairs)} ${formatValue(v)}`);
      }
      out.push(...lines);
    } catch (e) {
      // One broken callback must not take the whole scrape down; leave a comment saying why.
      out.push(`# collect failed for ${this.name}: ${String(e instanceof Error ? e.message : e).replace(/\s+/g, ' ')}`);
    }
  }
}

type Metric = Family<Child> | CallbackMetric;

export class Registry {
  private readonly metrics = new Map<string, Metric>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DURATION_BUCKETS): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** A gauge read at scrape time: `collect` returns the value, or one [labels, value] per sample. */
  gaugeFn(name: string, help: string, collect: () => number): void;
  gaugeFn(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<Sample>): void;
  gaugeFn(name: string, help: string, a: readonly string[] | (() => number), b?: () => Iterable<Sample>): void {
    this.add(typeof a === 'function' ? new CallbackMetric('gauge', name, help, [], a) : new CallbackMetric('gauge', name, help, a, b!));
  }

  /** A counter read at scrape time (totals kept elsewhere, e.g. in a worker's shared memory). */
  counterFn(name: string, help: string, collect: () => number): void;
  counterFn(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<Sample>): void;
  counterFn(name: string, help: string, a: readonly string[] | (() => number), b?: () => Iterable<Sample>): void {
    this.add(typeof a === 'function' ? new CallbackMetric('counter', name, help, [], a) : new CallbackMetric('counter', name, help, a, b!));
  }

  /** The whole registry in text exposition format 0.0.4, families in registration order. */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    return out.length ? out.join('\n') + '\n' : '';
  }

  private add<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new TypeError(`metric ${m.name} is already registered`);
    this.metrics.set(m.name, m);
    return m;
  }
}

function checkName(name: string): void {
  if (!METRIC_NAME.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`);
}

function checkBuckets(name: string, buckets: readonly number[]): number[] {
  // +Inf is always rendered; accept it in the list but keep only finite bounds.
  const b = buckets.filter((x) => x !== Infinity);
  if (b.length === 0) throw new TypeError(`histogram ${name}: needs at least one finite bucket`);
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i]) || (i > 0 && !(b[i]! > b[i - 1]!))) throw new TypeError(`histogram ${name}: buckets must be finite and strictly increasing`);
  }
  return b;
}

function header(out: string[], name: string, help: string, kind: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
  out.push(`# TYPE ${name} ${kind}`);
}

function braces(pairs: string): string {
  return pairs ? `{${pairs}}` : '';
}

/** Label values escape backslash, double quote and newline (exposition format 0.0.4). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Go-style float text as Prometheus parses it: +Inf, -Inf, NaN, else the shortest round-trip form. */
export function formatValue(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}
