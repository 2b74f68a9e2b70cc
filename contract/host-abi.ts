// The host ABI, versioned: what a bundle may import. The compiler refuses anything else at build
// time; the runtime provides exactly this. Both sides import this list.

export const HOST_ABI_VERSION = 1;

export const WASI_MODULE = 'wasi_snapshot_preview1';
/** The runtime's own import module (memory, preemption, trap reporting). */
export const SLEDGE_MODULE = 'sledge';

/** The sandbox's linear memory: always imported, so the loader can hand out pooled memories. */
export const MEMORY_IMPORT = { module: SLEDGE_MODULE, name: 'memory' } as const;
/**
 * Yield points read the i32 at PREEMPT_FLAG_OFFSET of this 1-page shared memory (one per worker);
 * non-zero means "call sledge.yield". Another thread sets it with Atomics.store; the guest clears it
 * (an atomic store of 0) before it calls sledge.yield, so the check is a load and a branch.
 */
export const PREEMPT_MEMORY_IMPORT = { module: SLEDGE_MODULE, name: 'preempt' } as const;
export const PREEMPT_FLAG_OFFSET = 0;

/**
 * The global a bundle exports with the lowest value its shadow-stack pointer reached in this run
 * (compiler/passes/stack-watermark.ts). The runtime zeroes memory from there up after a run,
 * instead of the whole memory (the stack sits first in memory, growing down).
 */
export const STACK_LOW_EXPORT = 'sledge_stack_low';

/**
 * In a bundle with the `instance-reset` feature (compiler/passes/instance-reset.ts), the function
 * that puts an instance back in its just-instantiated state: every mutable global to its
 * initializer, every data segment (passive in such a bundle) copied to its place. The runtime
 * calls it before each run, the first included, on a memory zeroed where the last run wrote, and
 * may then reuse one instance for many requests.
 */
export const INIT_EXPORT = 'sledge_init';

type ValType = 'i32' | 'i64' | 'f32' | 'f64';
export interface FuncSig { params: ValType[]; results: ValType[] }

/** WASI preview1 functions a bundle may import. Those outside Sledge's subset answer ENOTSUP. */
export const WASI_FUNCTIONS: Record<string, FuncSig> = {
  args_get: { params: ['i32', 'i32'], results: ['i32'] },
  args_sizes_get: { params: ['i32', 'i32'], results: ['i32'] },
  environ_get: { params: ['i32', 'i32'], results: ['i32'] },
  environ_sizes_get: { params: ['i32', 'i32'], results: ['i32'] },
  clock_res_get: { params: ['i32', 'i32'], results: ['i32'] },
  clock_time_get: { params: ['i32', 'i64', 'i32'], results: ['i32'] },
  random_get: { params: ['i32', 'i32'], results: ['i32'] },
  fd_read: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  fd_write: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  fd_close: { params: ['i32'], results: ['i32'] },
  fd_seek: { params: ['i32', 'i64', 'i32', 'i32'], results: ['i32'] },
  fd_fdstat_get: { params: ['i32', 'i32'], results: ['i32'] },
  fd_fdstat_set_flags: { params: ['i32', 'i32'], results: ['i32'] },
  fd_filestat_get: { params: ['i32', 'i32'], results: ['i32'] },
  fd_prestat_get: { params: ['i32', 'i32'], results: ['i32'] },
  fd_prestat_dir_name: { params: ['i32', 'i32', 'i32'], results: ['i32'] },
  fd_pread: { params: ['i32', 'i32', 'i32', 'i64', 'i32'], results: ['i32'] },
  fd_pwrite: { params: ['i32', 'i32', 'i32', 'i64', 'i32'], results: ['i32'] },
  fd_readdir: { params: ['i32', 'i32', 'i32', 'i64', 'i32'], results: ['i32'] },
  fd_sync: { params: ['i32'], results: ['i32'] },
  fd_datasync: { params: ['i32'], results: ['i32'] },
  fd_advise: { params: ['i32', 'i64', 'i64', 'i32'], results: ['i32'] },
  fd_allocate: { params: ['i32', 'i64', 'i64'], results: ['i32'] },
  fd_tell: { params: ['i32', 'i32'], results: ['i32'] },
  fd_renumber: { params: ['i32', 'i32'], results: ['i32'] },
  path_open: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i32', 'i32'], results: ['i32'] },
  path_filestat_get: { params: ['i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  path_create_directory: { params: ['i32', 'i32', 'i32'], results: ['i32'] },
  path_remove_directory: { params: ['i32', 'i32', 'i32'], results: ['i32'] },
  path_unlink_file: { params: ['i32', 'i32', 'i32'], results: ['i32'] },
  path_rename: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  path_readlink: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  poll_oneoff: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  proc_exit: { params: ['i32'], results: [] },
  proc_raise: { params: ['i32'], results: ['i32'] },
  sched_yield: { params: [], results: ['i32'] },
  sock_accept: { params: ['i32', 'i32', 'i32'], results: ['i32'] },
  sock_recv: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  sock_send: { params: ['i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  sock_shutdown: { params: ['i32', 'i32'], results: ['i32'] },
};

/** Functions of the runtime's own module. Inserted by compiler passes, not written by users. */
export const SLEDGE_FUNCTIONS: Record<string, FuncSig> = {
  /** Called by a yield point when the preempt flag is set: may suspend (JSPI) or stop the sandbox. */
  yield: { params: [], results: [] },
  /**
   * Called by a software bounds check that failed: (effective address, access size in bytes, an
   * unsigned i32). Must throw; it never returns.
   */
  bounds_trap: { params: ['i64', 'i32'], results: [] },
};

export function isHostFunction(module: string, name: string): FuncSig | undefined {
  if (module === WASI_MODULE) return WASI_FUNCTIONS[name];
  if (module === SLEDGE_MODULE) return SLEDGE_FUNCTIONS[name];
  return undefined;
}

/** The WASI errno values the runtime returns. */
export const Errno = { SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, IO: 29, NOTSUP: 58, SPIPE: 70 } as const;
