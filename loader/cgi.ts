// An HTTP request as a function sees it (Sledge's contract): argv is [name, query tokens…],
// environ holds CGI-style request variables and nothing of the host's environment.

import type { IncomingMessage } from 'node:http';
import { SledgeError } from '../contract/errors.ts';

export interface FunctionInvocation {
  argv: string[];
  env: string[];
}

/** `/fib?30` → argv [name, "30"]; `?a&b` → [name, "a", "b"]; tokens are percent-decoded. */
/** `withEnv` false: the function never reads environ (it does not import environ_get), so skip it. */
export function invocation(req: IncomingMessage, name: string, routePrefix: string, bodyLength: number, serverPort: number, withEnv = true): FunctionInvocation {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const argv = [name];
  if (query) {
    for (const tok of query.split('&')) {
      if (!tok) continue;
      let arg: string;
      try {
        arg = decodeURIComponent(tok.replace(/\+/g, ' '));
      } catch {
        throw new SledgeError('BAD_QUERY', `malformed percent-encoding in the query: ${tok}`, { hint: 'encode the query string with encodeURIComponent' });
      }
      // argv entries are C strings: a NUL would end one early (and split it in two for the guest).
      if (arg.includes('\0')) throw new SledgeError('BAD_QUERY', `a query token holds a NUL byte (%00): ${tok}`, { hint: 'arguments cannot contain NUL; send binary data in the body' });
      argv.push(arg);
    }
  }
  if (!withEnv) return { argv, env: [] };
  const env = [
    'GATEWAY_INTERFACE=CGI/1.1',
    `REQUEST_METHOD=${req.method ?? 'GET'}`,
    `QUERY_STRING=${query}`,
    `SCRIPT_NAME=${routePrefix}`,
    `PATH_INFO=${path.slice(routePrefix.length)}`,
    `SERVER_PROTOCOL=HTTP/${req.httpVersion}`,
    `SERVER_PORT=${serverPort}`,
    `REMOTE_ADDR=${req.socket.remoteAddress ?? ''}`,
    `CONTENT_LENGTH=${bodyLength}`,
  ];
  const ct = req.headers['content-type'];
  if (ct) env.push(`CONTENT_TYPE=${ct}`);
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!.toUpperCase().replace(/-/g, '_');
    // CONTENT_TYPE/LENGTH have their own CGI names; Proxy is never passed (httpoxy).
    if (key === 'CONTENT_TYPE' || key === 'CONTENT_LENGTH' || key === 'PROXY') continue;
    env.push(`HTTP_${key}=${raw[i + 1]}`);
  }
  return { argv, env };
}
