// sledge-loader run: one sandbox from the shell, like `wasmtime run`.

import { basename } from 'node:path';
import { parseOptions, usage } from '../../contract/cli.ts';
import { loadPublicKey } from '../../contract/signature.ts';
import { MemoryPool } from '../../runtime/memory-pool.ts';
import { runSandbox } from '../../runtime/sandbox.ts';
import { cStrings } from '../../runtime/wasi/c-strings.ts';
import { loadBundle, type BundlePolicy } from '../bundle.ts';
import { createModuleContext, useTieringFlags } from '../module-context.ts';

export async function runVerb(args: string[]): Promise<number> {
  const { options, positionals, rest } = parseOptions('sledge-loader', args, {
    key: { value: true, multiple: true },
    'unsafe-unchecked-memory': {},
    env: { value: true, multiple: true },
  }, true);
  const path = positionals[0];
  if (!path) throw usage('run needs a bundle: sledge-loader run fn.sledge [args…]', 'sledge-loader');
  const policy: BundlePolicy = { allowUnsafe: options['unsafe-unchecked-memory'] === true };
  const keys = (options.key as string[] | undefined) ?? [];
  if (keys.length) policy.trustedKeys = await Promise.all(keys.map(loadPublicKey));
  useTieringFlags();
  const ctx = await createModuleContext(await loadBundle(path, policy), path, basename(path));
  const stdin = process.stdin.isTTY ? new Uint8Array(0) : new Uint8Array(await readAll(process.stdin));
  const pool = new MemoryPool(ctx.sandbox, {
    preempt: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }),
    // Nothing sets the preempt flag in a one-shot run; clearing it is all there is to do.
    yieldImport: () => {},
  });
  const res = await runSandbox(pool, { argv: cStrings([basename(path), ...rest]), env: cStrings((options.env as string[] | undefined) ?? []), stdin });
  for (const c of res.stdout) process.stdout.write(c);
  for (const c of res.stderr) process.stderr.write(c);
  if (res.trap) process.stderr.write(`sledge-loader: trap: ${res.trap.reason}\n`);
  return res.exitCode;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
