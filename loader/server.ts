// `sledge-loader serve`, assembled: read the spec, check every bundle, start the workers, listen
// per tenant, compile each bundle once (in the background), expose /metrics, and shut down
// gracefully on a signal.

import type { KeyObject } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import { basename, extname } from 'node:path';
import { formatError, isSledgeError, SledgeError } from '../contract/errors.ts';
import { WASI_MODULE } from '../contract/host-abi.ts';
import { Dispatcher } from '../runtime/dispatcher.ts';
import type { Policy } from '../runtime/policies/index.ts';
import { startAdmin } from './admin.ts';
import { AdmissionControl } from './admission.ts';
import { loadBundle } from './bundle.ts';
import { createListener, type RouteRuntime } from './listener.ts';
import { CompileQueue } from './compile-queue.ts';
import { prepareModule, useTieringFlags, type PreparedModule } from './module-context.ts';
import { PerfLog } from './perf-log.ts';
import { ServeMetrics } from './serve-metrics.ts';
import { loadSpec, type RouteSpec, type TenantSpec } from './spec.ts';

export interface ServeOptions {
  spec: string;
  workers: number;
  policy: Policy;
  quantumUs: number;
  preemption: boolean;
  admission: boolean;
  queueCapacity: number;
  localCapacity: number;
  /** Run functions with a small run bound on the listener thread (runtime/inline-runner.ts). */
  inline: boolean;
  trustedKeys?: KeyObject[];
  allowUnsafe: boolean;
  /** host:port for /metrics, or undefined for none. */
  admin?: { host: string; port: number };
  graceMs: number;
  /** Set the tiering flags (module-context.ts) once the workers are up; the CLI does, tests need not. */
  tieringFlags?: boolean;
  /** SLEDGE_SANDBOX_PERF_LOG: a CSV file with one row per request. */
  perfLog?: string;
  log(line: string): void;
}

export interface RunningServer {
  tenants: { name: string; host: string; port: number }[];
  admin?: { host: string; port: number };
  dispatcher: Dispatcher;
  /** Stops accepting, drains in-flight requests up to the grace period, answers the rest 503. */
  shutdown(): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  const tenants = await loadSpec(opts.spec);
  const dispatcher = new Dispatcher([], {
    workers: opts.workers, policy: opts.policy, quantumUs: opts.quantumUs, preemption: opts.preemption,
    queueCapacity: opts.queueCapacity, localCapacity: opts.localCapacity, inline: opts.inline,
    onInlineSlow: (name, ms) => opts.log(`${name}: runs on the listener thread are often slow (last ${ms.toFixed(2)} ms); its requests go to the workers from now on`),
  });
  // Workers boot (tens of ms each) while the bundles are read and checked.
  const workersReady = dispatcher.start();
  // One module context per bundle file, shared by every route that names it. Every bundle is
  // read, verified and validated before anything listens; compiling comes after (compile-queue).
  const prepared: PreparedModule[] = [];
  const byKey = new Map<string, number>();
  const routeModule = new Map<RouteSpec, number>();
  try {
    for (const t of tenants) {
      for (const r of t.routes) {
        const key = `${r.path}\0${r.memoryMaxPages ?? ''}\0${r.memoryReset}`;
        let id = byKey.get(key);
        if (id === undefined) {
          const policy = { allowUnsafe: opts.allowUnsafe, ...(opts.trustedKeys ? { trustedKeys: opts.trustedKeys } : {}) };
          id = prepared.push(prepareModule(await loadBundle(r.path, policy), r.path, routeName(r), r.memoryMaxPages, r.memoryReset === 'full')) - 1;
          byKey.set(key, id);
        }
        routeModule.set(r, id);
      }
    }
  } catch (e) {
    await dispatcher.close();
    throw e;
  }
  const compiler = new CompileQueue(prepared, {
    ready: (id, ctx) => dispatcher.addModule({ id, ...ctx.sandbox }),
    failed: (_id, e) => opts.log(isSledgeError(e) ? formatError('sledge-loader', e) : String(e)),
  });
  // Listening means a worker can take a request now: a request queued behind a booting worker
  // would spend its deadline waiting.
  await workersReady;
  // Only now: no wasm was compiled before, and the workers booted without them (module-context.ts).
  if (opts.tieringFlags) useTieringFlags();
  const compiled = compiler.start();
  const metrics = new ServeMetrics(dispatcher, prepared.map((m) => m.sandbox.name));
  const admission = new AdmissionControl(opts.workers, opts.admission);
  const perfLog = opts.perfLog ? new PerfLog(opts.perfLog) : undefined;
  let shuttingDown = false;
  const servers: Server[] = [];
  // Responses not yet flushed to their sockets (graceful shutdown waits for them). A count, not a
  // Set of responses: see runtime/pending-table.ts for what a per-request Set does to the GC.
  let answering = 0;
  const listening: RunningServer['tenants'] = [];
  try {
    for (const t of tenants) {
      const routes = new Map<RouteSpec, RouteRuntime>();
      for (const r of t.routes) {
        const ra = admission.route(r);
        const record = metrics.route(t.name, r.route);
        routes.set(r, {
          spec: r, moduleId: routeModule.get(r)!, name: routeName(r),
          ready: () => compiler.ready(routeModule.get(r)!),
          readsEnv: prepared[routeModule.get(r)!]!.bundle.manifest.imports.includes(`${WASI_MODULE}.environ_get`),
          admit: () => ra.admit(),
          observe: perfLog
            ? (status, result) => {
                record(status, result);
                if (result) perfLog.row(t.name, r.route, r.relativeDeadlineUs, status, result);
              }
            : record,
        });
      }
      const server = createListener(t, { dispatcher, routes, isShuttingDown: () => shuttingDown, log: opts.log });
      server.on('request', (_req, res: ServerResponse) => {
        answering++;
        res.once('close', () => answering--);
      });
      await listen(server, t);
      servers.push(server);
      const addr = server.address();
      listening.push({ name: t.name, host: t.host, port: typeof addr === 'object' && addr ? addr.port : t.port });
    }
  } catch (e) {
    for (const s of servers) s.close();
    await dispatcher.close();
    throw e;
  }
  const admin = opts.admin ? await startAdmin(opts.admin, metrics, () => compiler.pending) : undefined;
  const running: RunningServer = {
    tenants: listening,
    dispatcher,
    async shutdown() {
      shuttingDown = true;
      // Stop listening. Not http.Server#close(): it also destroys connections whose answer is
      // ended but not yet flushed (Node counts them idle), cutting a big or slowly read body short.
      for (const s of servers) NetServer.prototype.close.call(s);
      const grace = new Promise<void>((r) => setTimeout(r, opts.graceMs).unref());
      await Promise.race([dispatcher.idle(), grace]);
      // Then let every answer reach the kernel (a response's 'close' comes after its last write).
      await Promise.race([until(() => answering === 0), grace]);
      await dispatcher.close();
      await compiled;
      for (const s of servers) s.closeAllConnections();
      admin?.server.close();
      await perfLog?.close();
    },
  };
  if (admin) running.admin = admin.address;
  return running;
}

function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (cond() ? resolve() : setTimeout(check, 5).unref());
    check();
  });
}

function routeName(r: RouteSpec): string {
  return basename(r.path, extname(r.path));
}

function listen(server: Server, t: TenantSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new SledgeError('LISTEN', `tenant ${t.name}: cannot listen on ${t.host}:${t.port} (${e.code})`, {
        hint: e.code === 'EADDRINUSE' ? 'another process uses that port; stop it or change "port" in the spec' : 'check "host" and "port" in the spec',
      })));
    server.listen(t.port, t.host, () => resolve());
  });
}
