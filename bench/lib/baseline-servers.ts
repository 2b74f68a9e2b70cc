// The baselines bench/http.ts measures the loader against, each in its own process on 127.0.0.1:
//
//   node bench/lib/baseline-servers.ts hello            node:http hello world
//   node --no-liftoff --no-wasm-lazy-compilation bench/lib/baseline-servers.ts naive <bundle>
//        node:http that, for every request, creates a fresh WebAssembly.Memory and a fresh instance
//        of the bundle (compiled once) with a minimal WASI, runs _start and answers its stdout
//
// Prints `listening <port>` on stdout once it listens (port 0: any free port).

import { createServer } from 'node:http';
import { INIT_EXPORT } from '../../contract/host-abi.ts';
import { loadBundle } from '../../loader/bundle.ts';

const [mode, bundlePath] = process.argv.slice(2);

class Exit {
  readonly code: number;
  constructor(code: number) {
    this.code = code;
  }
}

function naiveHandler(module: WebAssembly.Module, initial: number, maximum: number) {
  const preempt = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const wanted = WebAssembly.Module.imports(module);
  return (): { status: number; body: Uint8Array } => {
    const memory = new WebAssembly.Memory({ initial, maximum });
    const out: Uint8Array[] = [];
    const view = () => new DataView(memory.buffer);
    const wasi: Record<string, Function> = {
      fd_write: (_fd: number, iovs: number, n: number, written: number) => {
        const dv = view();
        let total = 0;
        for (let i = 0; i < n; i++) {
          const p = dv.getUint32(iovs + 8 * i, true);
          const len = dv.getUint32(iovs + 8 * i + 4, true);
          out.push(new Uint8Array(memory.buffer.slice(p, p + len)));
          total += len;
        }
        dv.setUint32(written, total, true);
        return 0;
      },
      proc_exit: (code: number) => {
        throw new Exit(code);
      },
      args_sizes_get: (c: number, s: number) => (view().setUint32(c, 0, true), view().setUint32(s, 0, true), 0),
      environ_sizes_get: (c: number, s: number) => (view().setUint32(c, 0, true), view().setUint32(s, 0, true), 0),
      args_get: () => 0,
      environ_get: () => 0,
    };
    const imports: Record<string, Record<string, unknown>> = { sledge: { memory, preempt, yield: () => {}, bounds_trap: () => { throw new Error('out of bounds'); } } };
    for (const i of wanted) {
      if (i.module === 'sledge') continue;
      (imports[i.module] ??= {})[i.name] = wasi[i.name] ?? (() => 52); // ENOSYS
    }
    let status = 200;
    try {
      const e = new WebAssembly.Instance(module, imports as WebAssembly.Imports).exports;
      (e[INIT_EXPORT] as (() => void) | undefined)?.(); // a resettable bundle's data is passive
      (e._start as Function)();
    } catch (e) {
      status = e instanceof Exit && e.code === 0 ? 200 : 500;
    }
    return { status, body: out.length === 1 ? out[0]! : Buffer.concat(out) };
  };
}

let server;
if (mode === 'hello') {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('Hello, World!\n');
  });
} else if (mode === 'naive' && bundlePath) {
  const b = await loadBundle(bundlePath);
  const module = new WebAssembly.Module(b.bytes as Uint8Array<ArrayBuffer>);
  const run = naiveHandler(module, b.manifest.memory.initialPages, b.manifest.memory.maximumPages);
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const { status, body } = run();
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
    });
  });
} else {
  process.stderr.write('usage: baseline-servers.ts hello | naive <bundle>\n');
  process.exit(2);
}
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
