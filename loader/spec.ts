// The spec-file reader: Sledge's JSON spec (an array of tenants, each with routes) plus our documented
// extensions. Every problem becomes a SledgeError naming the file, line:col, the tenant and the key,
// before anything listens. Keys, types and ranges follow Sledge's runtime/include/tenant_config*.h and
// route_config*.h; where Sledge silently defaults or crashes, we refuse with a message instead.

import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { SledgeError } from '../contract/errors.ts';
import { describeNode, JsonSyntaxError, lineCol, parseJsonSource, type JsonMember, type JsonNode, type JsonObject } from './json-source.ts';

export interface RouteSpec {
  /** URL path prefix, starts with "/". */
  route: string;
  /** Absolute path of the bundle (resolved from the spec file's directory). */
  path: string;
  admissionsPercentile: number;
  expectedExecutionUs: number;
  relativeDeadlineUs: number;
  contentType: string;
  /** Hard stop for one request, in µs. */
  timeoutUs: number;
  maxBodyBytes: number;
  /** Per-route memory cap in 64 KiB pages; undefined: the bundle's own maximum. */
  memoryMaxPages?: number;
  /** Where guest stderr goes: into the response body (after stdout) or to the loader's log. */
  stderr: 'body' | 'log';
  /**
   * After a request: 'used' zeroes what a run can write (from the stack's low-water mark, or the
   * bundle's static write range); 'full' zeroes the whole memory, so even a wild write into the
   * unused stack cannot reach the next request (~16 µs per MiB).
   */
  memoryReset: 'used' | 'full';
}

export interface TenantSpec {
  name: string;
  host: string;
  port: number;
  replenishmentPeriodUs: number;
  maxBudgetUs: number;
  routes: RouteSpec[];
}

export interface SpecOptions {
  /** Global cap on a route's timeout-us (the loader may expose it as a flag). Default 60 s. */
  maxTimeoutUs?: number;
}

/** Sledge's RUNTIME_RELATIVE_DEADLINE_US_MAX (runtime.h): one hour, also its cap for MTDS budgets. */
export const MAX_DEADLINE_US = 3_600_000_000;
export const DEFAULT_MAX_TIMEOUT_US = 60_000_000;
export const DEFAULTS = {
  host: '127.0.0.1',
  replenishmentPeriodUs: 0,
  maxBudgetUs: 0,
  /** Sledge's route_config_validate falls back to 70 when the percentile is unset. */
  admissionsPercentile: 70,
  contentType: 'text/plain',
  /** timeout-us defaults to this many relative deadlines, capped by maxTimeoutUs. */
  timeoutDeadlines: 10,
  maxBodyBytes: 16 * 1024 * 1024,
  // As Sledge: stderr follows stdout in the response unless a route sends it to the log.
  stderr: 'body' as 'body' | 'log',
  memoryReset: 'used' as 'used' | 'full',
} as const;
const MAX_BODY_BYTES_LIMIT = 1024 * 1024 * 1024;
const WASM32_MAX_PAGES = 65536;

const TENANT_KEYS = ['name', 'port', 'replenishment-period-us', 'max-budget-us', 'routes', 'host'] as const;
const ROUTE_KEYS = [
  'route', 'path', 'admissions-percentile', 'expected-execution-us', 'relative-deadline-us', 'http-resp-content-type',
  'timeout-us', 'max-body-bytes', 'memory-max-pages', 'stderr', 'memory-reset',
] as const;

/** Keys Sledge (or an older Sledge) accepts that we refuse on purpose, each with the reason. */
const REGRESSION_HINT = "Sledge for Node does not implement Sledge's regression-based execution-time model (EXECUTION_REGRESSION builds only); remove the key";
const UNSUPPORTED_ROUTE_KEYS: Record<string, string> = {
  'stack-size': 'the guest stack is laid out when sledgec builds the bundle, so a route cannot resize it; remove the key',
  path_preprocess: REGRESSION_HINT,
  'model-bias': REGRESSION_HINT,
  'model-scale': REGRESSION_HINT,
  'model-num-of-param': REGRESSION_HINT,
  'model-beta1': REGRESSION_HINT,
  'model-beta2': REGRESSION_HINT,
  'http-req-size': 'Sledge dropped this key when its HTTP buffers became growable; use "max-body-bytes" to limit request bodies',
  'http-resp-size': 'Sledge dropped this key when its HTTP buffers became growable; responses here grow as needed, so remove it',
};

interface Parsed {
  tenants: TenantSpec[];
  /** Where each route's "path" value sits, for loadSpec's messages. */
  pathAt: Map<RouteSpec, { offset: number; written: string; where: string }>;
}

export function parseSpec(text: string, file: string, opts: SpecOptions = {}): TenantSpec[] {
  return parseInternal(text, file, opts).tenants;
}

// Synchronous file access: this runs once, before anything listens, and the first asynchronous
// call would also start libuv's thread pool (~5 ms of start-up).
export async function loadSpec(file: string, opts: SpecOptions = {}): Promise<TenantSpec[]> {
  let text: string;
  try {
    const info = statSync(file);
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file));
  } catch (e) {
    if (e instanceof TypeError) {
      throw new SledgeError('SPEC_JSON', `${file}: the spec file is not valid UTF-8`, { hint: 'save the spec file as UTF-8 JSON' });
    }
    throw new SledgeError('SPEC_UNREADABLE', `cannot read spec file ${file}: ${ioReason(e)}`, {
      hint: 'pass the path of a Sledge JSON spec file: sledge-loader serve path/to/spec.json',
      cause: e,
    });
  }
  const parsed = parseInternal(text, file, opts);
  // Routes may share a bundle (Sledge keys its module database by path): check each file once.
  const checked = new Map<string, string | undefined>();
  for (const t of parsed.tenants) {
    for (const r of t.routes) {
      if (!checked.has(r.path)) checked.set(r.path, bundleProblem(r.path));
      const problem = checked.get(r.path);
      if (problem === undefined) continue;
      const at = parsed.pathAt.get(r)!;
      const { line, col } = lineCol(text, at.offset);
      const shown = at.written === r.path ? r.path : `${at.written} (${r.path})`;
      const hint = /\.so$/.test(at.written)
        ? `Sledge's .so modules do not run here: build a bundle with "sledgec build fn.c" (or fn.wasm) and point "path" at the .sledge file`
        : `build it with "sledgec build <source> -o ${r.path}", or fix the path (a relative path is resolved from the spec file's directory, ${dirname(resolve(file))})`;
      throw new SledgeError('SPEC_BUNDLE_MISSING', `${file}:${line}:${col}: ${at.where}: "path" names ${shown}, which is not a readable file: ${problem}`, { hint });
    }
  }
  return parsed.tenants;
}

/**
 * Finds the route for a request path: the longest route that is a prefix of it. Sledge's
 * http_router_match_route takes the first prefix in declaration order, which makes "/fib2" unreachable
 * behind "/fib"; longest-prefix serves both and equals Sledge's choice whenever Sledge's is reachable.
 * Plain string prefix like Sledge: "/fib" also matches "/fibonacci" when no longer route does.
 */
export function matchRoute(tenant: TenantSpec, urlPath: string): RouteSpec | undefined {
  let best: RouteSpec | undefined;
  const routes = tenant.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if ((best === undefined || r.route.length > best.route.length) && urlPath.startsWith(r.route)) best = r;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------

function bundleProblem(path: string): string | undefined {
  try {
    const info = statSync(path);
    if (info.isDirectory()) return 'it is a directory';
    if (!info.isFile()) return 'it is not a regular file';
    // stat says nothing about permission: opening is the only honest readability test.
    closeSync(openSync(path, 'r'));
    return undefined;
  } catch (e) {
    return ioReason(e);
  }
}

function ioReason(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const words: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a component of the path is not a directory',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'the name is too long',
  };
  if (typeof code === 'string') return `${words[code] ?? (e as Error).message} (${code})`;
  return e instanceof Error ? e.message : String(e);
}

class Ctx {
  readonly text: string;
  readonly file: string;
  constructor(text: string, file: string) {
    this.text = text;
    this.file = file;
  }
  at(offset: number): string {
    const { line, col } = lineCol(this.text, offset);
    return `${this.file}:${line}:${col}`;
  }
  pos(offset: number): string {
    const { line, col } = lineCol(this.text, offset);
    return `${line}:${col}`;
  }
  fail(code: string, offset: number, where: string, what: string, hint: string): never {
    throw new SledgeError(code, `${this.at(offset)}: ${where ? `${where}: ` : ''}${what}`, { hint });
  }
}

function parseInternal(rawText: string, file: string, opts: SpecOptions): Parsed {
  // A UTF-8 BOM is invisible in editors; tolerate it rather than report column 1 as "unexpected".
  const text = rawText.charCodeAt(0) === 0xfeff ? rawText.slice(1) : rawText;
  const ctx: Ctx = new Ctx(text, file);
  let root: JsonNode;
  try {
    root = parseJsonSource(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    throw new SledgeError('SPEC_JSON', `${ctx.at(e.offset)}: invalid JSON: ${e.message}`, {
      hint: 'fix the JSON at that position (JSON has no comments, no trailing commas, and keys need double quotes)',
    });
  }
  if (root.kind !== 'array') {
    ctx.fail('SPEC_TYPE', root.start, '', `the spec must be a JSON array of tenants, found ${describeNode(root)}`,
      root.kind === 'object' ? "Sledge's spec file is an array: wrap the tenant in [ … ]" : 'write [ { "name": …, "port": …, "routes": [ … ] } ]');
  }
  if (root.items.length === 0) {
    ctx.fail('SPEC_EMPTY', root.start, '', 'the tenant list is empty', 'add a tenant: [ { "name": "t", "port": 10000, "routes": [ { "route": "/fn", "path": "fn.sledge", "relative-deadline-us": 20000 } ] } ]');
  }
  const maxTimeoutUs = opts.maxTimeoutUs ?? DEFAULT_MAX_TIMEOUT_US;
  const pathAt: Parsed['pathAt'] = new Map();
  const tenants: TenantSpec[] = [];
  const byPort = new Map<number, { name: string; offset: number }>();
  const byName = new Map<string, { index: number; offset: number }>();
  root.items.forEach((node, index) => {
    const { tenant, portOffset, nameOffset } = parseTenant(ctx, node, index, maxTimeoutUs, file, pathAt);
    const where = `tenant "${tenant.name}"`;
    const sameName = byName.get(tenant.name);
    if (sameName) {
      ctx.fail('SPEC_DUPLICATE_TENANT', nameOffset, '', `tenant name "${tenant.name}" is already used by the tenant at index ${sameName.index} (at ${ctx.pos(sameName.offset)})`,
        'give each tenant a unique "name" (Sledge refuses duplicate names too)');
    }
    byName.set(tenant.name, { index, offset: nameOffset });
    // Port 0 asks the OS for a free port, so several tenants may use it (handy for tests).
    const samePort = tenant.port === 0 ? undefined : byPort.get(tenant.port);
    if (samePort) {
      ctx.fail('SPEC_PORT_CONFLICT', portOffset, where, `port ${tenant.port} is already used by tenant "${samePort.name}" (at ${ctx.pos(samePort.offset)})`,
        "give each tenant its own port: a tenant is one listening port, its routes share it");
    }
    byPort.set(tenant.port, { name: tenant.name, offset: portOffset });
    tenants.push(tenant);
  });
  return { tenants, pathAt };
}

/** The first non-empty string value of `key` in an object, to name it in messages before it is checked. */
function peekName(node: JsonNode, key: string): string | undefined {
  if (node.kind !== 'object') return undefined;
  const m = node.members.find((x) => x.key === key);
  return m && m.value.kind === 'string' && m.value.value !== '' ? m.value.value : undefined;
}

/** Walks an object's members in source order, refusing unknown and repeated keys. */
function members(ctx: Ctx, obj: JsonObject, where: string, level: 'tenant' | 'route', allowed: readonly string[], visit: (m: JsonMember) => void): Map<string, JsonMember> {
  const seen = new Map<string, JsonMember>();
  for (const m of obj.members) {
    if (!allowed.includes(m.key)) unknownKey(ctx, m, where, level, allowed);
    const first = seen.get(m.key);
    if (first) {
      ctx.fail('SPEC_DUPLICATE_KEY', m.keyStart, where, `key "${m.key}" appears twice (first at ${ctx.pos(first.keyStart)})`,
        'keep one of them: JSON.parse would silently keep the last, Sledge refuses the file');
    }
    seen.set(m.key, m);
    visit(m);
  }
  return seen;
}

function unknownKey(ctx: Ctx, m: JsonMember, where: string, level: 'tenant' | 'route', allowed: readonly string[]): never {
  const list = `the ${level} keys are: ${allowed.join(', ')}`;
  const unsupported = level === 'route' ? UNSUPPORTED_ROUTE_KEYS[m.key] : undefined;
  if (unsupported) ctx.fail('SPEC_UNSUPPORTED_KEY', m.keyStart, where, `key "${m.key}" is a Sledge key that Sledge for Node does not support`, unsupported);
  let hint: string;
  const other = level === 'tenant' ? ROUTE_KEYS : TENANT_KEYS;
  if ((other as readonly string[]).includes(m.key)) {
    hint = level === 'tenant' ? `"${m.key}" belongs in each route object inside "routes"; ${list}` : `"${m.key}" belongs to the tenant, not to a route; ${list}`;
  } else {
    const near = nearest(m.key, allowed);
    hint = near ? `did you mean "${near}"? ${cap(list)}` : `remove it; ${list}`;
  }
  ctx.fail('SPEC_UNKNOWN_KEY', m.keyStart, where, `unknown key "${m.key}"`, hint);
}

function cap(s: string): string {
  return s[0]!.toUpperCase() + s.slice(1);
}

/** The allowed key closest to a mistyped one (edit distance after folding case and "_" to "-"). */
export function nearest(key: string, allowed: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_ ]/g, '-');
  const k = norm(key);
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(k, norm(a));
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(k.length / 3))) return best;
  // A fragment of a key ("deadline-us") is far by edit distance but obvious to a reader.
  if (k.length >= 4) return allowed.find((a) => norm(a).includes(k));
  return undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function missing(ctx: Ctx, obj: JsonObject, seen: Map<string, JsonMember>, where: string, key: string, hint: string): void {
  if (!seen.has(key)) ctx.fail('SPEC_MISSING_KEY', obj.start, where, `missing required key "${key}"`, hint);
}

function readString(ctx: Ctx, m: JsonMember, where: string, example: string): string {
  const v = m.value;
  if (v.kind !== 'string') {
    ctx.fail('SPEC_TYPE', v.start, where, `"${m.key}" must be a string, found ${describeNode(v)}`, `write it in double quotes, e.g. "${m.key}": ${example}`);
  }
  if (v.value === '') ctx.fail('SPEC_VALUE', v.start, where, `"${m.key}" must not be empty`, `e.g. "${m.key}": ${example}`);
  return v.value;
}

function readInt(ctx: Ctx, m: JsonMember, where: string, min: number, max: number, meaning: string): number {
  const v = m.value;
  const range = `an integer from ${fmt(min)} to ${fmt(max)}`;
  if (v.kind !== 'number' || !Number.isInteger(v.value)) {
    const quoted = v.kind === 'string' && /^\s*-?\d+\s*$/.test(v.value);
    ctx.fail('SPEC_TYPE', v.start, where, `"${m.key}" must be an integer, found ${describeNode(v)}`,
      quoted ? `write the number without quotes: "${m.key}": ${v.value.trim()}` : `"${m.key}" is ${meaning}: ${range}`);
  }
  if (v.value < min || v.value > max) {
    ctx.fail('SPEC_VALUE', v.start, where, `"${m.key}" must be ${range}, found ${v.raw}`, `"${m.key}" is ${meaning}`);
  }
  return v.value;
}

/** Plain digits: users copy numbers from messages into JSON, which has no digit separators. */
function fmt(n: number): string {
  return String(n);
}

function parseTenant(ctx: Ctx, node: JsonNode, index: number, maxTimeoutUs: number, file: string, pathAt: Parsed['pathAt']) {
  const peek = peekName(node, 'name');
  const where = peek !== undefined ? `tenant "${peek}"` : `tenant at index ${index}`;
  if (node.kind !== 'object') {
    ctx.fail('SPEC_TYPE', node.start, '', `${where} must be an object, found ${describeNode(node)}`, 'a tenant is { "name": …, "port": …, "routes": [ … ] }');
  }
  const t: TenantSpec = {
    name: '',
    host: DEFAULTS.host,
    port: 0,
    replenishmentPeriodUs: DEFAULTS.replenishmentPeriodUs,
    maxBudgetUs: DEFAULTS.maxBudgetUs,
    routes: [],
  };
  let routesNode: JsonNode | undefined;
  const seen = members(ctx, node, where, 'tenant', TENANT_KEYS, (m) => {
    switch (m.key) {
      case 'name':
        t.name = readString(ctx, m, where, '"gwu"');
        break;
      case 'port':
        t.port = readInt(ctx, m, where, 0, 65535, 'the TCP port the tenant listens on (0: any free port)');
        break;
      case 'replenishment-period-us':
        t.replenishmentPeriodUs = readInt(ctx, m, where, 0, MAX_DEADLINE_US, "the period of the tenant's budget in µs for Sledge's MTDS scheduler (0: no guaranteed budget)");
        break;
      case 'max-budget-us':
        t.maxBudgetUs = readInt(ctx, m, where, 0, MAX_DEADLINE_US, "the tenant's CPU budget per replenishment period in µs (MTDS scheduler)");
        break;
      case 'host': {
        const h = readString(ctx, m, where, '"127.0.0.1"');
        if (isIP(h) === 0 && !HOSTNAME.test(h)) {
          ctx.fail('SPEC_VALUE', m.value.start, where, `"host" must be an IP address or a host name, found ${JSON.stringify(h)}`,
            h.startsWith('[') ? 'write an IPv6 address without brackets, e.g. "::1"' : 'e.g. "127.0.0.1" (this machine only) or "0.0.0.0" (every interface)');
        }
        t.host = h;
        break;
      }
      case 'routes':
        if (m.value.kind !== 'array') {
          ctx.fail('SPEC_TYPE', m.value.start, where, `"routes" must be an array, found ${describeNode(m.value)}`, 'write "routes": [ { "route": "/fn", "path": "fn.sledge", … } ]');
        }
        routesNode = m.value;
        break;
    }
  });
  missing(ctx, node, seen, where, 'name', 'add "name": a unique tenant name, e.g. "name": "gwu"');
  missing(ctx, node, seen, where, 'port', 'add "port": the TCP port this tenant listens on, e.g. "port": 10000');
  missing(ctx, node, seen, where, 'routes', 'add "routes": [ { "route": "/fn", "path": "fn.sledge", "relative-deadline-us": 20000 } ]');
  const named = `tenant "${t.name}"`;
  if (t.replenishmentPeriodUs > 0 && t.maxBudgetUs > t.replenishmentPeriodUs) {
    ctx.fail('SPEC_VALUE', seen.get('max-budget-us')!.value.start, named, `"max-budget-us" (${t.maxBudgetUs}) exceeds "replenishment-period-us" (${t.replenishmentPeriodUs})`,
      'the budget is CPU time granted per period, so it cannot be longer than the period');
  }
  if (routesNode?.kind !== 'array') throw new Error('unreachable');
  if (routesNode.items.length === 0) {
    ctx.fail('SPEC_EMPTY', routesNode.start, named, '"routes" is empty', 'add at least one route: { "route": "/fn", "path": "fn.sledge", "relative-deadline-us": 20000 }');
  }
  const routeAt = new Map<string, { index: number; offset: number }>();
  routesNode.items.forEach((rn, ri) => {
    const { route, routeOffset } = parseRoute(ctx, rn, ri, named, maxTimeoutUs, file, pathAt);
    const first = routeAt.get(route.route);
    if (first) {
      ctx.fail('SPEC_DUPLICATE_ROUTE', routeOffset, named, `route "${route.route}" is declared twice: at index ${first.index} (${ctx.pos(first.offset)}) and at index ${ri}`,
        'keep one: each route of a tenant must be distinct (other tenants may reuse it on their own port)');
    }
    routeAt.set(route.route, { index: ri, offset: routeOffset });
    t.routes.push(route);
  });
  return { tenant: t, portOffset: seen.get('port')!.value.start, nameOffset: seen.get('name')!.value.start };
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** type/subtype with optional parameters, printable ASCII only: it becomes a response header. */
const CONTENT_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*;[ \t]*[\x21-\x7e][\x20-\x7e]*)?$/;

function parseRoute(ctx: Ctx, node: JsonNode, index: number, tenantWhere: string, maxTimeoutUs: number, file: string, pathAt: Parsed['pathAt']) {
  const peek = peekName(node, 'route');
  const where = `${tenantWhere}, ${peek !== undefined ? `route "${peek}"` : `route at index ${index}`}`;
  if (node.kind !== 'object') {
    ctx.fail('SPEC_TYPE', node.start, tenantWhere, `route at index ${index} must be an object, found ${describeNode(node)}`, 'a route is { "route": "/fn", "path": "fn.sledge", "relative-deadline-us": 20000 }');
  }
  const r: RouteSpec = {
    route: '',
    path: '',
    admissionsPercentile: DEFAULTS.admissionsPercentile,
    expectedExecutionUs: 0,
    relativeDeadlineUs: 0,
    contentType: DEFAULTS.contentType,
    timeoutUs: 0,
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    stderr: DEFAULTS.stderr,
    memoryReset: DEFAULTS.memoryReset,
  };
  const seen = members(ctx, node, where, 'route', ROUTE_KEYS, (m) => {
    const v = m.value;
    switch (m.key) {
      case 'route': {
        const s = readString(ctx, m, where, '"/fib"');
        if (!s.startsWith('/')) ctx.fail('SPEC_VALUE', v.start, where, `"route" must start with "/", found ${JSON.stringify(s)}`, `write "/${s}"`);
        if (/[?#\s\x00-\x1f\x7f]/.test(s)) {
          ctx.fail('SPEC_VALUE', v.start, where, `"route" must be a URL path without "?", "#", spaces or control characters, found ${JSON.stringify(s)}`,
            'a route is a path prefix; arguments come in the query string of each request (/fib?10)');
        }
        r.route = s;
        break;
      }
      case 'path': {
        const s = readString(ctx, m, where, '"fib.sledge"');
        if (s.includes('\0')) ctx.fail('SPEC_VALUE', v.start, where, '"path" contains a NUL character', 'write the file name of the bundle, e.g. "fib.sledge"');
        // Sledge dlopen()s the path as given (so LD_LIBRARY_PATH applies); a spec names files next to it.
        r.path = resolve(dirname(resolve(file)), s);
        pathAt.set(r, { offset: v.start, written: s, where });
        break;
      }
      case 'admissions-percentile':
        r.admissionsPercentile = readInt(ctx, m, where, 50, 99, 'the percentile of recent execution times that admission control plans with (default 70)');
        break;
      case 'expected-execution-us':
        r.expectedExecutionUs = readInt(ctx, m, where, 1, MAX_DEADLINE_US, 'the execution time, in µs, admission control assumes before it has measurements');
        break;
      case 'relative-deadline-us':
        r.relativeDeadlineUs = readInt(ctx, m, where, 1, MAX_DEADLINE_US, "the request's deadline in µs after its arrival, at most one hour (EDF orders by it)");
        break;
      case 'http-resp-content-type': {
        const s = readString(ctx, m, where, '"text/plain"');
        if (!CONTENT_TYPE.test(s)) {
          ctx.fail('SPEC_VALUE', v.start, where, `"http-resp-content-type" must be a media type like "text/plain", found ${JSON.stringify(s)}`, 'write type/subtype with optional parameters, printable ASCII only, e.g. "text/html; charset=utf-8"');
        }
        r.contentType = s;
        break;
      }
      case 'timeout-us':
        r.timeoutUs = readInt(ctx, m, where, 1, maxTimeoutUs, `the hard stop for one request in µs (at most the loader's cap, ${fmt(maxTimeoutUs)} µs)`);
        break;
      case 'max-body-bytes':
        r.maxBodyBytes = readInt(ctx, m, where, 0, MAX_BODY_BYTES_LIMIT, 'the largest request body accepted, in bytes (larger: 413)');
        break;
      case 'memory-max-pages':
        r.memoryMaxPages = readInt(ctx, m, where, 1, WASM32_MAX_PAGES, "the route's memory cap in 64 KiB pages (default: the bundle's maximum)");
        break;
      case 'stderr':
        if (v.kind !== 'string') ctx.fail('SPEC_TYPE', v.start, where, `"stderr" must be a string, found ${describeNode(v)}`, 'write "stderr": "log" or "stderr": "body"');
        if (v.value !== 'body' && v.value !== 'log') {
          ctx.fail('SPEC_VALUE', v.start, where, `"stderr" must be "body" or "log", found ${JSON.stringify(v.value)}`, '"body" appends guest stderr to the response, "log" sends it to the loader\'s log');
        }
        r.stderr = v.value;
        break;
      case 'memory-reset':
        if (v.kind !== 'string') ctx.fail('SPEC_TYPE', v.start, where, `"memory-reset" must be a string, found ${describeNode(v)}`, 'write "memory-reset": "used" or "memory-reset": "full"');
        if (v.value !== 'used' && v.value !== 'full') {
          ctx.fail('SPEC_VALUE', v.start, where, `"memory-reset" must be "used" or "full", found ${JSON.stringify(v.value)}`,
            '"used" zeroes what a run can write (the default), "full" the whole memory after every request');
        }
        r.memoryReset = v.value;
        break;
    }
  });
  missing(ctx, node, seen, where, 'route', 'add "route": the URL path prefix, e.g. "route": "/fib"');
  missing(ctx, node, seen, where, 'path', 'add "path": the bundle built by sledgec, e.g. "path": "fib.sledge"');
  missing(ctx, node, seen, where, 'relative-deadline-us', `add "relative-deadline-us": the request's deadline in µs, e.g. 20000 (Sledge requires it for its default EDF scheduler)`);
  if (seen.has('expected-execution-us')) {
    if (r.expectedExecutionUs > r.relativeDeadlineUs) {
      ctx.fail('SPEC_VALUE', seen.get('expected-execution-us')!.value.start, where, `"expected-execution-us" (${r.expectedExecutionUs}) exceeds "relative-deadline-us" (${r.relativeDeadlineUs})`,
        'a request expected to run longer than its deadline can never be admitted; raise the deadline or lower the estimate');
    }
  } else {
    // Sledge's http_router_add_route seeds the estimate with half the deadline.
    r.expectedExecutionUs = Math.max(1, Math.floor(r.relativeDeadlineUs / 2));
  }
  if (!seen.has('timeout-us')) r.timeoutUs = Math.min(DEFAULTS.timeoutDeadlines * r.relativeDeadlineUs, maxTimeoutUs);
  return { route: r, routeOffset: seen.get('route')!.value.start };
}
