// Pooled linear memories for one module on one thread (DESIGN §3: never a memory per request).
// A slot is a memory plus the import object bound to it, built once, and (for modules that can be
// reset) the instance on it; after a run only the part that can have been written is zeroed, so
// the next request sees fresh memory.

import { MEMORY_IMPORT, PREEMPT_MEMORY_IMPORT, SLEDGE_MODULE, WASI_MODULE } from '../contract/host-abi.ts';
import type { SandboxModule } from './sandbox-module.ts';
import { SandboxTrap } from './traps.ts';
import { WasiContext } from './wasi/context.ts';
import { wasiImports } from './wasi/index.ts';

const PAGE = 65536;
const NULL_PAGE = 4096;

export interface Slot {
  memory: WebAssembly.Memory;
  ctx: WasiContext;
  imports: WebAssembly.Imports;
  /** Kept across requests when the module can be reset (SandboxModule.initExport). */
  instance?: SlotInstance;
}

/** An instance's exports as a run calls them, looked up once. */
export interface SlotInstance {
  entry: () => unknown;
  /** Restores globals and data before a run (modules with an init export). */
  init?: () => void;
  /** The entry as a JSPI promising call (modules that can suspend). */
  promising?: () => Promise<unknown>;
  /** The exported stack low-water mark (when the reset starts from it). */
  stackLow?: WebAssembly.Global;
}

export interface PoolHooks {
  /** The worker's preemption flag page (sledge.preempt). */
  preempt: WebAssembly.Memory;
  /** sledge.yield: plain, or a WebAssembly.Suspending for preemptible runs. */
  yieldImport: Function | object;
}

export interface PoolOptions {
  /** Idle slots kept; more are dropped on release. */
  maxIdle: number;
}

const DEFAULTS: PoolOptions = { maxIdle: 64 };

// size is an i32 read as unsigned: a bulk operation can pass 2^31 or more.
function boundsTrap(address: bigint, size: number): never {
  size >>>= 0;
  throw new SandboxTrap('out-of-bounds', `out of bounds memory access: ${size} bytes at address 0x${address.toString(16)}`);
}

export class MemoryPool {
  readonly mod: SandboxModule;
  private readonly hooks: PoolHooks;
  private readonly opts: PoolOptions;
  private readonly idle: Slot[] = [];
  /** Slots handed out and not yet returned. */
  inUse = 0;

  constructor(mod: SandboxModule, hooks: PoolHooks, opts: Partial<PoolOptions> = {}) {
    this.mod = mod;
    this.hooks = hooks;
    this.opts = { ...DEFAULTS, ...opts };
  }

  get idleCount(): number {
    return this.idle.length;
  }

  acquire(): Slot {
    this.inUse++;
    return this.idle.pop() ?? this.create();
  }

  /**
   * Zeroes what the run could have written: the module's static write range when it has one, else
   * from `low` (stack low-water mark) to the end. A memory the run grew is dropped: a wasm memory
   * cannot shrink, and the guest's allocator grows from the current size, so the next request
   * would get less room under the cap than a fresh memory gives.
   */
  release(slot: Slot, low: number): void {
    this.inUse--;
    const size = slot.memory.buffer.byteLength;
    if (this.idle.length >= this.opts.maxIdle || size !== this.mod.memory.initialPages * PAGE) return;
    const bytes = new Uint8Array(slot.memory.buffer);
    const w = this.mod.writeRange;
    if (w) {
      bytes.fill(0, w.low, w.high);
      this.idle.push(slot);
      return;
    }
    bytes.fill(0, low);
    // Below the stack's low-water mark only a wild pointer writes; the likeliest ones (near null)
    // land in the first 4 KiB, which are cheap to clear too.
    if (low > 0) bytes.fill(0, 0, Math.min(low, NULL_PAGE));
    this.idle.push(slot);
  }

  /** Drops idle slots beyond `keep` (called when the pool has been idle for a while). */
  shrink(keep: number): number {
    const n = Math.max(0, this.idle.length - keep);
    this.idle.splice(0, n);
    return n;
  }

  private create(): Slot {
    const { initialPages, maximumPages } = this.mod.memory;
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages });
    const ctx = new WasiContext(memory);
    const imports: WebAssembly.Imports = {
      [WASI_MODULE]: wasiImports(ctx) as WebAssembly.ModuleImports,
      [SLEDGE_MODULE]: {
        [MEMORY_IMPORT.name]: memory,
        [PREEMPT_MEMORY_IMPORT.name]: this.hooks.preempt,
        yield: this.hooks.yieldImport as Function,
        bounds_trap: boundsTrap,
      },
    };
    return { memory, ctx, imports };
  }
}
