// The HTTP listener for one tenant: node:http on the main thread. Reads the whole request
// (bounded), routes it, hands it to the dispatcher (which runs it at once when its function has a
// small run bound, else on a worker) and writes the function's output back.
// Status codes follow DESIGN §4; every error answer says why in a body and an x-sledge-error
// header, and never disturbs other requests.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isSledgeError } from '../contract/errors.ts';
import { QueueFullError, ShuttingDownError, WorkerLostError, type Dispatcher } from '../runtime/dispatcher.ts';
import type { TaskResult } from '../runtime/protocol.ts';
import type { Ticket } from './admission.ts';
import { invocation } from './cgi.ts';
import { matchRoute, type RouteSpec, type TenantSpec } from './spec.ts';

export interface RouteRuntime {
  spec: RouteSpec;
  moduleId: number;
  /** undefined once the route's module is compiled; until then a promise of it. */
  ready(): Promise<void> | undefined;
  /** argv[0] for the function: the bundle's name. */
  name: string;
  /** The function imports environ_get: only then are the CGI variables built and sent. */
  readsEnv: boolean;
  /** Admission control: null → 429. Called before queueing. */
  admit(): Ticket | null;
  /** Called when a request of this route ends, with its status and the sandbox's times. */
  observe(status: number, result?: TaskResult): void;
}

export interface ListenerDeps {
  dispatcher: Dispatcher;
  routes: Map<RouteSpec, RouteRuntime>;
  isShuttingDown(): boolean;
  log(line: string): void;
}

// Not `import { createServer } from 'node:http'`: an ES import of node:http builds a facade that
// reads every export, which loads undici (~35 ms of start-up, DESIGN §5 start-up target).
const { createServer } = process.getBuiltinModule('node:http');

export function createListener(tenant: TenantSpec, deps: ListenerDeps): Server {
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(tenant, deps, req, res).catch((e) => {
      deps.log(`internal error: ${e instanceof Error ? e.stack : String(e)}`);
      if (!res.headersSent) reply(res, 500, 'internal error', 'internal error in the loader; see its log');
    });
  });
  // Unparseable HTTP never reaches the handler: answer 400 and close that connection only.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const body = `bad request: ${err.code ?? 'malformed HTTP'}\n`;
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
  return server;
}

function reply(res: ServerResponse, status: number, error: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'x-sledge-error': error, ...extra });
  res.end(body.endsWith('\n') ? body : body + '\n');
}

async function handle(tenant: TenantSpec, deps: ListenerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (deps.isShuttingDown()) {
    res.setHeader('connection', 'close');
    return reply(res, 503, 'shutting down', 'the server is shutting down; retry elsewhere');
  }
  const path = (req.url ?? '/').split('?')[0]!;
  const spec = matchRoute(tenant, path);
  const route = spec && deps.routes.get(spec);
  if (!route) {
    req.resume();
    return reply(res, 404, 'no route', `no route for ${path} on tenant ${tenant.name}`);
  }
  const body = hasBody(req) ? await readBody(req, res, route.spec.maxBodyBytes) : NO_BODY;
  if (!body) {
    route.observe(413);
    return;
  }
  let inv;
  try {
    // The port the request came in on: the spec may say 0 (any free port).
    inv = invocation(req, route.name, route.spec.route, body.length, req.socket.localPort ?? tenant.port, route.readsEnv);
  } catch (e) {
    route.observe(400);
    return reply(res, 400, 'bad request', isSledgeError(e) ? e.message : 'bad request');
  }
  const compiling = route.ready();
  if (compiling) {
    try {
      await compiling;
    } catch (e) {
      route.observe(500);
      return reply(res, 500, 'module unavailable', isSledgeError(e) ? e.message : 'the function could not be compiled; see the loader log');
    }
  }
  const ticket = route.admit();
  if (!ticket) {
    route.observe(429);
    return reply(res, 429, 'admission', `route ${route.spec.route} is at capacity (admission control); retry later`, { 'retry-after': '1' });
  }
  const task = { argv: inv.argv, env: inv.env, stdin: body };
  // A function with a small run bound runs here and now (runtime/inline-runner.ts): no promise.
  const done = deps.dispatcher.runInline(route.moduleId, task);
  if (done) {
    ticket.release(done.times.runningUs);
    return answer(deps, route, res, done);
  }
  let result: TaskResult;
  try {
    result = await deps.dispatcher.submit(route.moduleId, task, route.spec.relativeDeadlineUs, route.spec.timeoutUs);
    ticket.release(result.times.runningUs);
  } catch (e) {
    ticket.release();
    if (e instanceof QueueFullError) {
      route.observe(429);
      return reply(res, 429, 'queue full', 'the request queue is full; retry later', { 'retry-after': '1' });
    }
    if (e instanceof ShuttingDownError) {
      route.observe(503);
      return reply(res, 503, 'shutting down', 'the server is shutting down; retry elsewhere');
    }
    if (e instanceof WorkerLostError) {
      route.observe(500);
      return reply(res, 500, 'worker lost', 'the worker running this request crashed; the request was not completed');
    }
    throw e;
  }
  answer(deps, route, res, result);
}

/** Writes a finished sandbox's answer: its output, or the trap or exit status that ended it. */
function answer(deps: ListenerDeps, route: RouteRuntime, res: ServerResponse, result: TaskResult): void {
  if (result.stderr.length && route.spec.stderr === 'log') {
    for (const line of new TextDecoder().decode(result.stderr).split('\n')) if (line) deps.log(`[req ${result.id} ${route.spec.route}] ${line}`);
  }
  const headers: Record<string, string> = { 'x-request-id': String(result.id) };
  if (result.trap) {
    const status = result.trap.kind === 'timeout' ? 504 : 500;
    route.observe(status, result);
    return reply(res, status, result.trap.reason, `trap: ${result.trap.reason}`, headers);
  }
  const out = route.spec.stderr === 'body' && result.stderr.length ? Buffer.concat([result.stdout, result.stderr]) : result.stdout;
  const status = result.exitCode === 0 ? 200 : 500;
  if (status !== 200) {
    headers['x-sledge-error'] = `exit status ${result.exitCode}`;
    headers['x-sledge-exit-code'] = String(result.exitCode);
  }
  route.observe(status, result);
  res.writeHead(status, { 'content-type': route.spec.contentType, 'content-length': String(out.length), ...headers });
  res.end(out);
}

const NO_BODY = new Uint8Array(0);

/** No length (or 0) and not chunked: no body, so no stream machinery (Node discards the rest). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** The whole body, or undefined after answering 413 when it exceeds `limit`. */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Uint8Array | undefined> {
  const tooLarge = () => {
    res.setHeader('connection', 'close');
    reply(res, 413, 'body too large', `the request body exceeds this route's limit of ${limit} bytes`);
    // Stop reading: the connection closes after the answer.
    req.pause();
  };
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    tooLarge();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        req.removeAllListeners('data');
        tooLarge();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
