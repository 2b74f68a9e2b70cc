// The admin listener (default 127.0.0.1:1776, as Sledge): /metrics in Prometheus format and a
// /healthz for probes. Separate from tenant ports so it is never exposed by a tenant's address.

import type { Server } from 'node:http';
import { SledgeError } from '../contract/errors.ts';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
import type { ServeMetrics } from './serve-metrics.ts';

// node:http through getBuiltinModule, as in listener.ts (an ES import costs ~35 ms of start-up).
const { createServer } = process.getBuiltinModule('node:http');

/** `compiling`: modules not compiled yet; /healthz answers 503 until there are none. */
export async function startAdmin(at: { host: string; port: number }, metrics: ServeMetrics, compiling: () => number): Promise<{ server: Server; address: { host: string; port: number } }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
      res.end(metrics.registry.render());
    } else if (path === '/healthz') {
      const n = compiling();
      res.writeHead(n ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(n ? `starting: ${n} module(s) compiling\n` : 'ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('admin endpoints: /metrics, /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new SledgeError('LISTEN', `cannot listen for /metrics on ${at.host}:${at.port} (${e.code})`, {
        hint: 'choose another address with --admin host:port, or --admin off',
      })));
    server.listen(at.port, at.host, resolve);
  });
  const addr = server.address();
  return { server, address: { host: at.host, port: typeof addr === 'object' && addr ? addr.port : at.port } };
}
