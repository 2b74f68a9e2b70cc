// One request's sandbox: an instance of the module on a pooled memory, run, then the memory is
// reset. A module with an init export (compiler/passes/instance-reset.ts) keeps its instance with
// the pooled memory: init restores its globals and data before each run, so every request still
// starts from the just-instantiated state without V8 building a new instance (~2 µs, and old-space
// garbage that brings full GCs under load). Any other module gets a fresh instance per request.
//
// A module that can suspend (it imports sledge.yield) runs as a JSPI promising call (the wrapper
// made once per instance) so the scheduler can switch at yield points; any other runs
// synchronously, with no promise at all (a run's promise and its await cost ~0.7 µs, several
// times `empty`'s whole sandbox: bench/instantiate.ts).

import type { MemoryPool, Slot, SlotInstance } from './memory-pool.ts';
import type { SandboxRequest, SandboxResult } from './sandbox-module.ts';
import { classifyTrap, ProcExit } from './traps.ts';

/** Exit status reported for a trap, as a shell would show an abort (128 + SIGABRT). */
export const TRAP_EXIT_CODE = 134;

/** A plain result when the module cannot suspend (`pool.mod.suspendable` false), else a promise. */
export function runSandbox(pool: MemoryPool, req: SandboxRequest): SandboxResult | Promise<SandboxResult> {
  const slot = pool.acquire();
  slot.ctx.begin(req.argv, req.env, req.stdin);
  let inst: SlotInstance | undefined;
  try {
    inst = slot.instance ?? instantiate(pool, slot);
    inst.init?.();
    if (inst.promising) {
      const started = inst;
      return inst.promising().then(
        () => finish(pool, slot, started, false, undefined),
        (e: unknown) => finish(pool, slot, started, true, e),
      );
    }
    inst.entry();
  } catch (e) {
    return finish(pool, slot, inst, true, e);
  }
  return finish(pool, slot, inst, false, undefined);
}

function instantiate(pool: MemoryPool, slot: Slot): SlotInstance {
  const { mod } = pool;
  const instance = new WebAssembly.Instance(mod.module, slot.imports);
  const entry = instance.exports[mod.entry] as () => unknown;
  const low = mod.stackLowExport && !mod.writeRange ? instance.exports[mod.stackLowExport] : undefined;
  const inst: SlotInstance = { entry };
  if (mod.initExport) {
    inst.init = instance.exports[mod.initExport] as () => void;
    slot.instance = inst;
  }
  if (mod.suspendable) inst.promising = (WebAssembly as unknown as JSPI).promising(entry);
  if (low instanceof WebAssembly.Global) inst.stackLow = low;
  return inst;
}

function finish(pool: MemoryPool, slot: Slot, inst: SlotInstance | undefined, threw: boolean, e: unknown): SandboxResult {
  const { ctx } = slot;
  const trapped = threw && !(e instanceof ProcExit);
  // A trap can stop the guest anywhere; its instance is not worth trusting again.
  if (trapped) slot.instance = undefined;
  pool.release(slot, resetFrom(slot, inst));
  if (!threw) return { exitCode: 0, stdout: ctx.stdout, stderr: ctx.stderr };
  if (!trapped) return { exitCode: (e as ProcExit).code, stdout: ctx.stdout, stderr: ctx.stderr };
  return { exitCode: TRAP_EXIT_CODE, stdout: ctx.stdout, stderr: ctx.stderr, trap: classifyTrap(e) };
}

/** Where the reset starts: the stack's low-water mark, or 0 (everything) when unknown. */
function resetFrom(slot: Slot, inst: SlotInstance | undefined): number {
  // With a static write range the pool ignores the mark, and the global is not looked up.
  if (!inst?.stackLow) return 0;
  // A wrapped (negative) value means the stack ran below address 0: clear everything.
  const low = inst.stackLow.value as number;
  return low > 0 && low <= slot.memory.buffer.byteLength ? low : 0;
}

interface JSPI {
  promising(f: Function): () => Promise<unknown>;
}
