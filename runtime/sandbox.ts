// One request's sandbox: a fresh instance of the module on a pooled memory, run as a JSPI
// promising call so the scheduler can suspend it at yield points, then the memory is reset.

import type { MemoryPool, Slot } from './memory-pool.ts';
import type { SandboxRequest, SandboxResult } from './sandbox-module.ts';
import { classifyTrap, ProcExit } from './traps.ts';

/** Exit status reported for a trap, as a shell would show an abort (128 + SIGABRT). */
export const TRAP_EXIT_CODE = 134;

export async function runSandbox(pool: MemoryPool, req: SandboxRequest): Promise<SandboxResult> {
  const slot = pool.acquire();
  const { ctx } = slot;
  ctx.begin(req.argv, req.env, req.stdin);
  let instance: WebAssembly.Instance | undefined;
  let exitCode = 0;
  let trap: SandboxResult['trap'];
  try {
    instance = new WebAssembly.Instance(pool.mod.module, slot.imports);
    const entry = instance.exports[pool.mod.entry] as Function;
    if (pool.mod.suspendable) await (WebAssembly as unknown as JSPI).promising(entry)();
    else entry();
  } catch (e) {
    if (e instanceof ProcExit) exitCode = e.code;
    else {
      trap = classifyTrap(e);
      exitCode = TRAP_EXIT_CODE;
    }
  } finally {
    pool.release(slot, resetFrom(pool, slot, instance));
  }
  const result: SandboxResult = { exitCode, stdout: ctx.stdout, stderr: ctx.stderr };
  if (trap) result.trap = trap;
  return result;
}

function resetFrom(pool: MemoryPool, slot: Slot, instance: WebAssembly.Instance | undefined): number {
  const name = pool.mod.stackLowExport;
  if (!name || !instance) return 0;
  const g = instance.exports[name];
  // A wrapped (negative) value means the stack ran below address 0: clear everything.
  const low = g instanceof WebAssembly.Global ? (g.value as number) : 0;
  return low > 0 && low <= slot.memory.buffer.byteLength ? low : 0;
}

interface JSPI {
  promising(f: Function): (...args: unknown[]) => Promise<unknown>;
}
