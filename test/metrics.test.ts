import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, escapeLabel, formatValue, PROMETHEUS_CONTENT_TYPE, Registry } from '../loader/metrics.ts';

describe('Registry.render', () => {
  it('renders a small registry exactly', () => {
    const r = new Registry();
    const requests = r.counter('sledge_requests_total', 'Requests answered, by route and status class.', ['route', 'class']);
    const ok = requests.labels({ route: '/fib', class: '2xx' });
    const tooMany = requests.labels({ route: '/fib', class: '4xx' });
    ok.inc();
    ok.inc(2);
    tooMany.inc();
    const inflight = r.gauge('sledge_inflight', 'Sandboxes running or queued.');
    inflight.inc(3);
    inflight.dec();
    const dur = r.histogram('sledge_sandbox_seconds', 'Sandbox run time.', ['route'], [0.001, 0.01, 0.1]);
    const fib = dur.labels({ route: '/fib' });
    fib.observe(0.0005);
    fib.observe(0.001); // on a bound: counts in that bucket (le is <=)
    fib.observe(0.0625);
    fib.observe(2);
    let depth = 7;
    r.gaugeFn('sledge_global_queue_depth', 'Requests waiting in the global queue.', () => depth);
    r.gaugeFn('sledge_worker_busy', 'Whether each worker is running a sandbox.', ['worker'], () => [
      [{ worker: 0 }, 1],
      [{ worker: 1 }, 0],
    ]);
    r.counterFn('sledge_preemptions_total', 'Sandboxes preempted at a yield point.', () => 12);
    depth = 9; // read at scrape time, not at registration

    expect(r.render()).toBe(
      [
        '# HELP sledge_requests_total Requests answered, by route and status class.',
        '# TYPE sledge_requests_total counter',
        'sledge_requests_total{route="/fib",class="2xx"} 3',
        'sledge_requests_total{route="/fib",class="4xx"} 1',
        '# HELP sledge_inflight Sandboxes running or queued.',
        '# TYPE sledge_inflight gauge',
        'sledge_inflight 2',
        '# HELP sledge_sandbox_seconds Sandbox run time.',
        '# TYPE sledge_sandbox_seconds histogram',
        'sledge_sandbox_seconds_bucket{route="/fib",le="0.001"} 2',
        'sledge_sandbox_seconds_bucket{route="/fib",le="0.01"} 2',
        'sledge_sandbox_seconds_bucket{route="/fib",le="0.1"} 3',
        'sledge_sandbox_seconds_bucket{route="/fib",le="+Inf"} 4',
        'sledge_sandbox_seconds_sum{route="/fib"} 2.064',
        'sledge_sandbox_seconds_count{route="/fib"} 4',
        '# HELP sledge_global_queue_depth Requests waiting in the global queue.',
        '# TYPE sledge_global_queue_depth gauge',
        'sledge_global_queue_depth 9',
        '# HELP sledge_worker_busy Whether each worker is running a sandbox.',
        '# TYPE sledge_worker_busy gauge',
        'sledge_worker_busy{worker="0"} 1',
        'sledge_worker_busy{worker="1"} 0',
        '# HELP sledge_preemptions_total Sandboxes preempted at a yield point.',
        '# TYPE sledge_preemptions_total counter',
        'sledge_preemptions_total 12',
        '',
      ].join('\n'),
    );
  });

  it('renders unlabelled metrics at zero before first use, labelled ones with no samples', () => {
    const r = new Registry();
    r.counter('a_total', 'A.');
    r.counter('b_total', 'B.', ['route']);
    r.histogram('c_seconds', 'C.', [], [1]);
    expect(r.render()).toBe(
      '# HELP a_total A.\n# TYPE a_total counter\na_total 0\n' +
        '# HELP b_total B.\n# TYPE b_total counter\n' +
        '# HELP c_seconds C.\n# TYPE c_seconds histogram\nc_seconds_bucket{le="1"} 0\nc_seconds_bucket{le="+Inf"} 0\nc_seconds_sum 0\nc_seconds_count 0\n',
    );
    expect(new Registry().render()).toBe('');
  });

  it('escapes label values and help text', () => {
    const r = new Registry();
    r.counter('x_total', 'Line one\nback\\slash "quoted"', ['route']).labels({ route: '/a"b\\c\nd' }).inc();
    expect(r.render()).toBe('# HELP x_total Line one\\nback\\\\slash "quoted"\n# TYPE x_total counter\nx_total{route="/a\\"b\\\\c\\nd"} 1\n');
    expect(escapeLabel('plain')).toBe('plain');
  });

  it('renders the default duration buckets with their le labels', () => {
    const r = new Registry();
    r.histogram('d_seconds', 'D.').observe(0.00007);
    const les = [...r.render().matchAll(/le="([^"]+)"\} (\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(les).toEqual([
      '0.00005:0', '0.0001:1', '0.00025:1', '0.0005:1', '0.001:1', '0.0025:1', '0.005:1', '0.01:1', '0.025:1',
      '0.05:1', '0.1:1', '0.25:1', '0.5:1', '1:1', '2.5:1', '5:1', '10:1', '+Inf:1',
    ]);
    expect(DURATION_BUCKETS).toHaveLength(17);
  });

  it('keeps a scrape alive when a callback throws', () => {
    const r = new Registry();
    r.gaugeFn('bad', 'Broken.', () => {
      throw new Error('worker\ngone');
    });
    r.gaugeFn('good', 'Fine.', () => 1);
    expect(r.render()).toBe('# HELP bad Broken.\n# TYPE bad gauge\n# collect failed for bad: worker gone\n# HELP good Fine.\n# TYPE good gauge\ngood 1\n');
  });

  it('formats special values as Prometheus does', () => {
    expect([Infinity, -Infinity, NaN, 0.1, 1e21, 5e-7, -2].map(formatValue)).toEqual(['+Inf', '-Inf', 'NaN', '0.1', '1e+21', '5e-7', '-2']);
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('children and validation', () => {
  it('resolves the same child for the same labels, in any key order', () => {
    const c = new Registry().counter('r_total', 'R.', ['route', 'class']);
    const a = c.labels({ route: '/fib', class: '2xx' });
    expect(c.labels({ class: '2xx', route: '/fib' })).toBe(a);
    expect(c.labels({ route: '/fib', class: '5xx' })).not.toBe(a);
  });

  it('refuses wrong label sets, bad names, duplicates and decreasing counters', () => {
    const r = new Registry();
    const c = r.counter('r_total', 'R.', ['route']);
    expect(() => c.labels({})).toThrow(/labels must be exactly \{route\}, got \{\}/);
    expect(() => c.labels({ route: '/', extra: 'x' })).toThrow(TypeError);
    expect(() => c.inc()).toThrow(/resolve a child/);
    expect(() => c.labels({ route: '/' }).inc(-1)).toThrow(RangeError);
    expect(() => c.labels({ route: '/' }).inc(NaN)).toThrow(RangeError);
    expect(() => r.counter('r_total', 'again')).toThrow(/already registered/);
    expect(() => r.gauge('bad-name', 'x')).toThrow(/invalid metric name/);
    expect(() => r.gauge('g', 'x', ['__x'])).toThrow(/invalid label name/);
    expect(() => r.gauge('g2', 'x', ['a', 'a'])).toThrow(/repeated/);
    expect(() => r.histogram('h', 'x', ['le'])).toThrow(/reserved/);
    expect(() => r.histogram('h2', 'x', [], [1, 1])).toThrow(/strictly increasing/);
    expect(() => r.histogram('h3', 'x', [], [])).toThrow(/at least one/);
  });

  it('accepts +Inf in a bucket list without rendering it twice, and ignores NaN observations', () => {
    const r = new Registry();
    const h = r.histogram('h_seconds', 'H.', [], [1, Infinity]);
    h.observe(NaN);
    h.observe(3);
    expect(r.render()).toBe('# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{le="1"} 0\nh_seconds_bucket{le="+Inf"} 1\nh_seconds_sum 3\nh_seconds_count 1\n');
  });

  it('caps label cardinality', () => {
    const c = new Registry().counter('u_total', 'U.', ['url']);
    for (let i = 0; i < 10_000; i++) c.labels({ url: `/${i}` });
    expect(() => c.labels({ url: '/overflow' })).toThrow(/low-cardinality/);
  });
});
