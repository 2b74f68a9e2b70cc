// sledge-loader serve <spec.json>: flags override Sledge's environment knobs.

import { availableParallelism } from 'node:os';
import { parseOptions, usage } from '../../contract/cli.ts';
import { loadPublicKey } from '../../contract/signature.ts';
import { POLICIES, type Policy } from '../../runtime/policies/index.ts';
import { serve, type ServeOptions } from '../server.ts';

export const SERVE_OPTIONS = {
  workers: { value: true },
  scheduler: { value: true },
  'quantum-us': { value: true },
  'no-preemption': {},
  'no-admission': {},
  'no-inline': {},
  'queue-capacity': { value: true },
  'local-capacity': { value: true },
  admin: { value: true },
  key: { value: true, multiple: true },
  'unsafe-unchecked-memory': {},
  'grace-ms': { value: true },
} as const;

/** Options from flags, then Sledge's environment variables, then defaults. */
export async function serveOptions(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeOptions> {
  const { options: o, positionals } = parseOptions('sledge-loader', args, SERVE_OPTIONS);
  if (positionals.length !== 1) throw usage('serve takes one spec file: sledge-loader serve spec.json', 'sledge-loader');
  const int = (flag: string, envName: string | undefined, dflt: number, min = 1): number => {
    const raw = (o[flag] as string | undefined) ?? (envName ? env[envName] : undefined);
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw usage(`${o[flag] !== undefined ? '--' + flag : envName} must be an integer ≥ ${min} (got ${raw})`, 'sledge-loader');
    return n;
  };
  const policy = ((o.scheduler as string | undefined) ?? env.SLEDGE_SCHEDULER ?? 'edf').toLowerCase();
  if (!POLICIES.includes(policy as Policy)) throw usage(`--scheduler must be one of ${POLICIES.join(', ')} (got ${policy})`, 'sledge-loader');
  const opts: ServeOptions = {
    spec: positionals[0]!,
    workers: int('workers', 'SLEDGE_NWORKERS', Math.max(1, availableParallelism() - 1)),
    policy: policy as Policy,
    quantumUs: int('quantum-us', 'SLEDGE_QUANTUM_US', 1000, 50),
    preemption: o['no-preemption'] !== true && !truthy(env.SLEDGE_DISABLE_PREEMPTION),
    admission: o['no-admission'] !== true,
    inline: o['no-inline'] !== true,
    queueCapacity: int('queue-capacity', undefined, 4096),
    localCapacity: int('local-capacity', undefined, 64),
    allowUnsafe: o['unsafe-unchecked-memory'] === true,
    graceMs: int('grace-ms', undefined, 10_000, 0),
    tieringFlags: true,
    log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  };
  if (env.SLEDGE_SANDBOX_PERF_LOG) opts.perfLog = env.SLEDGE_SANDBOX_PERF_LOG;
  const admin = (o.admin as string | undefined) ?? '127.0.0.1:1776';
  if (admin !== 'off') opts.admin = hostPort(admin);
  const keys = (o.key as string[] | undefined) ?? [];
  if (keys.length) opts.trustedKeys = await Promise.all(keys.map(loadPublicKey));
  return opts;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--admin takes host:port or off (got ${s})`, 'sledge-loader');
  return { host: s.slice(0, i) || '127.0.0.1', port };
}

export async function serveVerb(args: string[]): Promise<number> {
  const opts = await serveOptions(args);
  const server = await serve(opts);
  for (const t of server.tenants) opts.log(`tenant ${t.name} listening on http://${t.host}:${t.port}`);
  if (server.admin) opts.log(`metrics on http://${server.admin.host}:${server.admin.port}/metrics`);
  opts.log(`${opts.workers} worker(s), scheduler ${opts.policy}, quantum ${opts.quantumUs} µs, preemption ${opts.preemption ? 'on' : 'off'}`);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: string) => {
      if (++signals > 1) {
        opts.log(`${sig} again: exiting now`);
        process.exit(1);
      }
      opts.log(`${sig}: draining in-flight requests (up to ${opts.graceMs} ms); send it again to exit at once`);
      server.shutdown().then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
