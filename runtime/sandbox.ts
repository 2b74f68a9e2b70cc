// One request's sandbox: a fresh instance of the module on a pooled memory, run, then the memory
// is reset. A module that can suspend (it imports sledge.yield) runs as a JSPI promising call so
// the scheduler can switch at yield points; any other runs synchronously, with no promise at all
// (a promising wrapper and the await cost ~1 µs of a ~3 µs sandbox).

import type { MemoryPool, Slot } from './memory-pool.ts';
import type { SandboxRequest, SandboxResult } from './sandbox-module.ts';
import { classifyTrap, ProcExit } from './traps.ts';

/** Exit status reported for a trap, as a shell would show an abort (128 + SIGABRT). */
export const TRAP_EXIT_CODE = 134;

/** A plain result when the module cannot suspend (`pool.mod.suspendable` false), else a promise. */
export function runSandbox(pool: MemoryPool, req: SandboxRequest): SandboxResult | Promise<SandboxResult> {
  const slot = pool.acquire();
  slot.ctx.begin(req.argv, req.env, req.stdin);
  let instance: WebAssembly.Instance | undefined;
  try {
    instance = new WebAssembly.Instance(pool.mod.module, slot.imports);
    const entry = instance.exports[pool.mod.entry] as Function;
    if (pool.mod.suspendable) {
      const inst = instance;
      return (WebAssembly as unknown as JSPI).promising(entry)().then(
        () => finish(pool, slot, inst, false, undefined),
        (e: unknown) => finish(pool, slot, inst, true, e),
      );
    }
    entry();
  } catch (e) {
    return finish(pool, slot, instance, true, e);
  }
  return finish(pool, slot, instance, false, undefined);
}

function finish(pool: MemoryPool, slot: Slot, instance: WebAssembly.Instance | undefined, threw: boolean, e: unknown): SandboxResult {
  pool.release(slot, resetFrom(pool, slot, instance));
  const { ctx } = slot;
  if (!threw) return { exitCode: 0, stdout: ctx.stdout, stderr: ctx.stderr };
  if (e instanceof ProcExit) return { exitCode: e.code, stdout: ctx.stdout, stderr: ctx.stderr };
  return { exitCode: TRAP_EXIT_CODE, stdout: ctx.stdout, stderr: ctx.stderr, trap: classifyTrap(e) };
}

function resetFrom(pool: MemoryPool, slot: Slot, instance: WebAssembly.Instance | undefined): number {
  const name = pool.mod.stackLowExport;
  // With a static write range the pool ignores the mark: do not pay for reading it.
  if (!name || !instance || pool.mod.writeRange) return 0;
  const g = instance.exports[name];
  // A wrapped (negative) value means the stack ran below address 0: clear everything.
  const low = g instanceof WebAssembly.Global ? (g.value as number) : 0;
  return low > 0 && low <= slot.memory.buffer.byteLength ? low : 0;
}

interface JSPI {
  promising(f: Function): (...args: unknown[]) => Promise<unknown>;
}
