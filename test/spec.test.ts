import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatError, isSledgeError, SledgeError } from '../contract/errors.ts';
import { lineCol, parseJsonSource, JsonSyntaxError } from '../loader/json-source.ts';
import { loadSpec, matchRoute, nearest, parseSpec, type RouteSpec, type TenantSpec } from '../loader/spec.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPECS = join(ROOT, 'fixtures/specs');
// Set UPDATE_GOLDEN=1 to rewrite the .expected files, then review the diff before committing.
const UPDATE = process.env.UPDATE_GOLDEN === '1';

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<SledgeError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isSledgeError(e)) return e;
    throw e;
  }
  throw new Error('expected a SledgeError, got none');
}

/** The error as the CLI prints it, with this checkout's location removed so goldens are portable. */
function shown(e: SledgeError): string {
  return formatError('sledge-loader', e).split(ROOT).join('') + '\n';
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sledge-spec-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('good specs', () => {
  it('parses every key and applies the defaults', async () => {
    const text = await readFile(join(SPECS, 'good.json'), 'utf8');
    const tenants = parseSpec(text, join(SPECS, 'good.json'));
    const fib: RouteSpec = {
      route: '/fib',
      path: join(SPECS, 'fib.sledge'),
      admissionsPercentile: 70,
      expectedExecutionUs: 6000,
      relativeDeadlineUs: 20000,
      contentType: 'text/plain',
      timeoutUs: 200_000, // 10 × deadline
      maxBodyBytes: 16 * 1024 * 1024,
      stderr: 'body',
      memoryReset: 'used',
    };
    const fib2: RouteSpec = {
      route: '/fib2',
      path: join(SPECS, 'fib.sledge'),
      admissionsPercentile: 70,
      expectedExecutionUs: 10_000_000, // half the deadline, as Sledge seeds it
      relativeDeadlineUs: 20_000_000,
      contentType: 'text/plain',
      timeoutUs: 60_000_000, // 10 × deadline = 200 s, capped at 60 s
      maxBodyBytes: 16 * 1024 * 1024,
      stderr: 'body',
      memoryReset: 'used',
    };
    const echo: RouteSpec = {
      route: '/',
      path: join(SPECS, 'bin/echo.sledge'),
      admissionsPercentile: 99,
      expectedExecutionUs: 2500,
      relativeDeadlineUs: 5000,
      contentType: 'application/json; charset=utf-8',
      timeoutUs: 1_000_000,
      maxBodyBytes: 4096,
      memoryMaxPages: 16,
      stderr: 'log',
      memoryReset: 'full',
    };
    const expected: TenantSpec[] = [
      { name: 'gwu', host: '127.0.0.1', port: 10010, replenishmentPeriodUs: 0, maxBudgetUs: 0, routes: [fib, fib2] },
      { name: 'edge', host: '0.0.0.0', port: 10020, replenishmentPeriodUs: 100_000, maxBudgetUs: 50_000, routes: [echo] },
    ];
    expect(tenants).toStrictEqual(expected);
    expect('memoryMaxPages' in fib).toBe(false);
    expect('memoryMaxPages' in tenants[0]!.routes[0]!).toBe(false);
  });

  it("reads a spec written in Sledge's own style (tabs, deprecated expected-execution-us, .so path)", async () => {
    const file = join(SPECS, 'sledge-style.json');
    const [t] = parseSpec(await readFile(file, 'utf8'), file);
    expect(t!.name).toBe('gwu');
    expect(t!.routes[0]).toMatchObject({ route: '/fib', path: join(SPECS, 'fibonacci.wasm.so'), expectedExecutionUs: 6000 });
  });

  it('loadSpec resolves bundle paths from the spec file directory, not the working directory', async () => {
    const dir = join(tmp, 'good');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await copyFile(join(SPECS, 'good.json'), join(dir, 'spec.json'));
    await writeFile(join(dir, 'fib.sledge'), 'x');
    await writeFile(join(dir, 'bin/echo.sledge'), 'x');
    const tenants = await loadSpec(join(dir, 'spec.json'));
    expect(tenants.flatMap((t) => t.routes.map((r) => r.path))).toEqual([join(dir, 'fib.sledge'), join(dir, 'fib.sledge'), join(dir, 'bin/echo.sledge')]);
  });

  it('tolerates a UTF-8 byte order mark', () => {
    const text = '\ufeff[{"name":"a","port":1,"routes":[{"route":"/","path":"a.sledge","relative-deadline-us":1}]}]';
    expect(parseSpec(text, '/x/spec.json')[0]!.routes[0]).toMatchObject({ path: '/x/a.sledge', expectedExecutionUs: 1, timeoutUs: 10 });
  });

  it('lets several tenants use port 0 (any free port)', () => {
    const t = (n: string) => `{"name":"${n}","port":0,"routes":[{"route":"/","path":"a.sledge","relative-deadline-us":1000}]}`;
    expect(parseSpec(`[${t('a')},${t('b')}]`, '/x/spec.json').map((x) => x.port)).toEqual([0, 0]);
  });

  it('honours a lower global timeout cap', () => {
    const text = '[{"name":"a","port":1,"routes":[{"route":"/","path":"a.sledge","relative-deadline-us":1000000}]}]';
    expect(parseSpec(text, '/x/spec.json', { maxTimeoutUs: 5_000_000 })[0]!.routes[0]!.timeoutUs).toBe(5_000_000);
  });
});

describe('bad specs (golden messages in fixtures/specs/bad-*.expected)', async () => {
  const files = (await readdir(SPECS)).filter((f) => f.startsWith('bad-') && f.endsWith('.json')).sort();
  // Each fixture's intended code: a fixture that starts failing for another reason fails here first.
  const codes: Record<string, string> = {
    'bad-budget.json': 'SPEC_VALUE',
    'bad-bundle-missing.json': 'SPEC_BUNDLE_MISSING',
    'bad-bundle-so.json': 'SPEC_BUNDLE_MISSING',
    'bad-deadline-float.json': 'SPEC_TYPE',
    'bad-duplicate-key.json': 'SPEC_DUPLICATE_KEY',
    'bad-duplicate-route.json': 'SPEC_DUPLICATE_ROUTE',
    'bad-duplicate-tenant.json': 'SPEC_DUPLICATE_TENANT',
    'bad-empty-routes.json': 'SPEC_EMPTY',
    'bad-empty.json': 'SPEC_EMPTY',
    'bad-expected-execution.json': 'SPEC_VALUE',
    'bad-memory-reset.json': 'SPEC_VALUE',
    'bad-json-comment.json': 'SPEC_JSON',
    'bad-json.json': 'SPEC_JSON',
    'bad-missing-deadline.json': 'SPEC_MISSING_KEY',
    'bad-missing-path.json': 'SPEC_MISSING_KEY',
    'bad-missing-port.json': 'SPEC_MISSING_KEY',
    'bad-not-array.json': 'SPEC_TYPE',
    'bad-percentile.json': 'SPEC_VALUE',
    'bad-port-conflict.json': 'SPEC_PORT_CONFLICT',
    'bad-port-range.json': 'SPEC_VALUE',
    'bad-port-string.json': 'SPEC_TYPE',
    'bad-route-slash.json': 'SPEC_VALUE',
    'bad-stderr.json': 'SPEC_VALUE',
    'bad-tenant-not-object.json': 'SPEC_TYPE',
    'bad-timeout.json': 'SPEC_VALUE',
    'bad-unknown-key-level.json': 'SPEC_UNKNOWN_KEY',
    'bad-unknown-key.json': 'SPEC_UNKNOWN_KEY',
    'bad-unsupported-key.json': 'SPEC_UNSUPPORTED_KEY',
  };

  it('every fixture has an intended code', () => {
    expect(files).toEqual(Object.keys(codes).sort());
  });

  for (const f of files) {
    it(f, async () => {
      const e = await errorOf(loadSpec(join(SPECS, f)));
      expect(e.code).toBe(codes[f]);
      expect(e.hint).toBeTruthy();
      const golden = join(SPECS, f.replace(/\.json$/, '.expected'));
      if (UPDATE) await writeFile(golden, shown(e));
      expect(shown(e)).toBe(await readFile(golden, 'utf8'));
    });
  }
});

describe('error messages (inline goldens)', () => {
  it('names the key, lists the allowed ones and suggests the nearest', async () => {
    const e = await errorOf(loadSpec(join(SPECS, 'bad-unknown-key.json')));
    expect(shown(e)).toBe(
      'sledge-loader: error[SPEC_UNKNOWN_KEY]: fixtures/specs/bad-unknown-key.json:9:9: tenant "gwu", route "/fib": unknown key "relative-deadline"\n' +
        '  hint: did you mean "relative-deadline-us"? The route keys are: route, path, admissions-percentile, expected-execution-us, relative-deadline-us, http-resp-content-type, timeout-us, max-body-bytes, memory-max-pages, stderr, memory-reset\n',
    );
  });

  it('points at both copies of a duplicate key', async () => {
    const e = await errorOf(loadSpec(join(SPECS, 'bad-duplicate-key.json')));
    expect(e.message).toBe('fixtures/specs/bad-duplicate-key.json:11:9: tenant "gwu", route "/fib": key "relative-deadline-us" appears twice (first at 9:9)'.replace('fixtures', join(ROOT, 'fixtures')));
  });

  it('gives line:col for invalid JSON', async () => {
    const e = await errorOf(() => parseSpec('[\n  {"name": "a",\n   "port": 1 2}\n]', 'spec.json'));
    expect(e.code).toBe('SPEC_JSON');
    expect(e.message).toBe("spec.json:3:14: invalid JSON: expected ',' or '}' after a member, found '2'");
  });

  it('names an unnamed tenant and route by index', async () => {
    const t = await errorOf(() => parseSpec('[{"port":1,"routes":[]}]', 'spec.json'));
    expect(t.message).toBe('spec.json:1:2: tenant at index 0: missing required key "name"');
    const r = await errorOf(() => parseSpec('[{"name":"a","port":1,"routes":[{"path":"a.sledge","relative-deadline-us":1}]}]', 'spec.json'));
    expect(r.message).toBe('spec.json:1:33: tenant "a", route at index 0: missing required key "route"');
  });

  it('reports integers with quotes as SPEC_TYPE with a fix', async () => {
    const e = await errorOf(() => parseSpec('[{"name":"a","port":"80","routes":[]}]', 'spec.json'));
    expect([e.code, e.message, e.hint]).toEqual(['SPEC_TYPE', 'spec.json:1:21: tenant "a": "port" must be an integer, found a string ("80")', 'write the number without quotes: "port": 80']);
  });

  it('rejects routes with a query or fragment', async () => {
    const e = await errorOf(() => parseSpec('[{"name":"a","port":1,"routes":[{"route":"/f?x","path":"a","relative-deadline-us":1}]}]', 'spec.json'));
    expect(e.code).toBe('SPEC_VALUE');
    expect(e.message).toContain('"route" must be a URL path without "?"');
  });

  it('rejects a content type that cannot be an HTTP header', async () => {
    const e = await errorOf(() => parseSpec('[{"name":"a","port":1,"routes":[{"route":"/","path":"a","relative-deadline-us":1,"http-resp-content-type":"text/plain\\r\\nX-Evil: 1"}]}]', 'spec.json'));
    expect(e.code).toBe('SPEC_VALUE');
  });

  it('rejects a bad host', async () => {
    const e = await errorOf(() => parseSpec('[{"name":"a","host":"[::1]","port":1,"routes":[{"route":"/","path":"a","relative-deadline-us":1}]}]', 'spec.json'));
    expect([e.code, e.hint]).toEqual(['SPEC_VALUE', 'write an IPv6 address without brackets, e.g. "::1"']);
    expect(parseSpec('[{"name":"a","host":"::1","port":1,"routes":[{"route":"/","path":"a","relative-deadline-us":1}]}]', 's')[0]!.host).toBe('::1');
    expect(parseSpec('[{"name":"a","host":"localhost","port":1,"routes":[{"route":"/","path":"a","relative-deadline-us":1}]}]', 's')[0]!.host).toBe('localhost');
  });

  it('suggests keys across spelling styles', () => {
    const route = ['route', 'path', 'admissions-percentile', 'relative-deadline-us', 'http-resp-content-type'];
    expect(nearest('relative_deadline_us', route)).toBe('relative-deadline-us');
    expect(nearest('Admission-Percentile', route)).toBe('admissions-percentile');
    expect(nearest('content-type', route)).toBe('http-resp-content-type');
    expect(nearest('zzz', route)).toBeUndefined();
  });
});

describe('files that cannot be read', () => {
  it('SPEC_UNREADABLE for a missing spec file', async () => {
    const e = await errorOf(loadSpec(join(tmp, 'nope.json')));
    expect(e.code).toBe('SPEC_UNREADABLE');
    expect(e.message).toBe(`cannot read spec file ${join(tmp, 'nope.json')}: no such file (ENOENT)`);
    expect(e.hint).toBe('pass the path of a Sledge JSON spec file: sledge-loader serve path/to/spec.json');
  });

  it('SPEC_UNREADABLE for a directory', async () => {
    const e = await errorOf(loadSpec(tmp));
    expect([e.code, e.message]).toEqual(['SPEC_UNREADABLE', `cannot read spec file ${tmp}: it is a directory (EISDIR)`]);
  });

  it('SPEC_JSON for a file that is not UTF-8', async () => {
    const f = join(tmp, 'latin1.json');
    await writeFile(f, Buffer.from([0x5b, 0xe9, 0x5d]));
    expect((await errorOf(loadSpec(f))).code).toBe('SPEC_JSON');
  });

  it('SPEC_JSON for an empty file', async () => {
    const f = join(tmp, 'empty.json');
    await writeFile(f, '');
    const e = await errorOf(loadSpec(f));
    expect([e.code, e.message]).toEqual(['SPEC_JSON', `${f}:1:1: invalid JSON: the document is empty`]);
  });

  it('SPEC_BUNDLE_MISSING when path is a directory', async () => {
    const dir = join(tmp, 'dirbundle');
    await mkdir(join(dir, 'fn.sledge'), { recursive: true });
    await writeFile(join(dir, 'spec.json'), '[{"name":"a","port":1,"routes":[{"route":"/","path":"fn.sledge","relative-deadline-us":1}]}]');
    const e = await errorOf(loadSpec(join(dir, 'spec.json')));
    expect(e.code).toBe('SPEC_BUNDLE_MISSING');
    expect(e.message).toBe(`${join(dir, 'spec.json')}:1:53: tenant "a", route "/": "path" names fn.sledge (${join(dir, 'fn.sledge')}), which is not a readable file: it is a directory`);
  });

  it('checks bundles in route order and reports the first missing one', async () => {
    const dir = join(tmp, 'order');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'a.sledge'), 'x');
    await writeFile(join(dir, 'spec.json'), '[{"name":"t","port":1,"routes":[{"route":"/a","path":"a.sledge","relative-deadline-us":1},{"route":"/b","path":"b.sledge","relative-deadline-us":1},{"route":"/c","path":"c.sledge","relative-deadline-us":1}]}]');
    const e = await errorOf(loadSpec(join(dir, 'spec.json')));
    expect(e.message).toContain('route "/b"');
  });

  it('accepts an absolute bundle path', async () => {
    const dir = join(tmp, 'abs');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'fn.sledge'), 'x');
    const spec = join(tmp, 'abs-spec.json');
    await writeFile(spec, JSON.stringify([{ name: 't', port: 1, routes: [{ route: '/', path: join(dir, 'fn.sledge'), 'relative-deadline-us': 1 }] }]));
    expect((await loadSpec(spec))[0]!.routes[0]!.path).toBe(join(dir, 'fn.sledge'));
  });
});

describe('matchRoute', () => {
  const r = (route: string): RouteSpec => ({
    route, path: resolve('/x.sledge'), admissionsPercentile: 70, expectedExecutionUs: 1, relativeDeadlineUs: 2,
    contentType: 'text/plain', timeoutUs: 20, maxBodyBytes: 0, stderr: 'log', memoryReset: 'used',
  });
  // Declared shortest first on purpose: Sledge's first-match router would send /fib2 to /fib.
  const tenant: TenantSpec = { name: 't', host: '127.0.0.1', port: 1, replenishmentPeriodUs: 0, maxBudgetUs: 0, routes: [r('/fib'), r('/fib2'), r('/api/'), r('/api/v1')] };
  const m = (p: string) => matchRoute(tenant, p)?.route;

  it('picks the longest prefix regardless of declaration order', () => {
    expect(m('/fib')).toBe('/fib');
    expect(m('/fib?10')).toBe('/fib');
    expect(m('/fib2')).toBe('/fib2');
    expect(m('/fib2?40')).toBe('/fib2');
    expect(m('/api/v1/x')).toBe('/api/v1');
    expect(m('/api/v2')).toBe('/api/');
  });

  it('matches plain string prefixes, as Sledge does', () => {
    expect(m('/fibonacci')).toBe('/fib');
    expect(m('/fib20')).toBe('/fib2');
  });

  it('returns undefined when nothing matches', () => {
    expect(m('/')).toBeUndefined();
    expect(m('/api')).toBeUndefined();
    expect(m('')).toBeUndefined();
  });

  it('a "/" route catches everything else', () => {
    const t = { ...tenant, routes: [r('/'), r('/fib')] };
    expect(matchRoute(t, '/anything')?.route).toBe('/');
    expect(matchRoute(t, '/fib?3')?.route).toBe('/fib');
  });
});

describe('json-source', () => {
  it('keeps duplicate members and their positions', () => {
    const n = parseJsonSource('{"a": 1,\n "a": [true, null, "x\\u0041\\n"]}');
    expect(n.kind).toBe('object');
    if (n.kind !== 'object') return;
    expect(n.members.map((m) => [m.key, lineCol('{"a": 1,\n "a"', m.keyStart)])).toEqual([
      ['a', { line: 1, col: 2 }],
      ['a', { line: 2, col: 2 }],
    ]);
    const v = n.members[1]!.value;
    expect(v.kind === 'array' && v.items.map((i) => ('value' in i ? i.value : null))).toEqual([true, null, 'xA\n']);
  });

  it('reads numbers like JSON.parse and keeps the literal', () => {
    for (const raw of ['0', '-0', '12', '-3.5', '1e4', '2.5E-3', '10.0']) {
      const n = parseJsonSource(raw);
      expect(n.kind === 'number' && [n.value, n.raw]).toEqual([JSON.parse(raw), raw]);
    }
  });

  it.each([
    ['', 'the document is empty', 0],
    ['[1,]', "trailing comma before ']'", 3],
    ['{"a":1,}', "trailing comma before '}'", 7],
    ['{a:1}', "expected a key in double quotes, found 'a'", 1],
    ["['a']", "strings must use double quotes, found '''", 1],
    ['[01]', 'expected a valid number (no leading zeros, digits after "." and "e"), found \'1\'', 2],
    ['[1.]', 'expected a valid number (no leading zeros, digits after "." and "e"), found \'.\'', 2],
    ['[-]', 'expected a digit after "-", found \']\'', 2],
    ['"abc', 'unterminated string', 0],
    ['"a\nb"', 'unterminated string (newline inside a string)', 2],
    ['"\\x"', "bad escape '\\x' in a string", 1],
    ['[1] [2]', "unexpected '[' after the top-level value", 4],
    ['[1 /* c */]', 'comments are not allowed in JSON', 3],
    ['[nul]', 'expected a value (object, array, string, number, true, false or null), found \'n\'', 1],
  ])('rejects %j', (text, message, offset) => {
    let err: unknown;
    try {
      parseJsonSource(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect([(err as JsonSyntaxError).message, (err as JsonSyntaxError).offset]).toEqual([message, offset]);
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    expect(() => parseJsonSource('['.repeat(10_000) + ']'.repeat(10_000))).toThrow(/nesting deeper than 128/);
  });
});
