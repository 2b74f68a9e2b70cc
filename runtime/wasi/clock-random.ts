// WASI clock_* and random_get.

import { Errno } from '../../contract/host-abi.ts';
import type { WasiContext } from './context.ts';
import { guard } from './fault.ts';

// node:crypto is loaded on the first random_get, not when a worker starts (~6 ms of its boot).
let crypto: typeof import('node:crypto') | undefined;

const REALTIME = 0;
const MONOTONIC = 1;
const PROCESS_CPUTIME = 2;
const THREAD_CPUTIME = 3;

function now(id: number): bigint | undefined {
  switch (id) {
    case REALTIME:
      return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    case MONOTONIC:
    case PROCESS_CPUTIME:
    case THREAD_CPUTIME:
      return process.hrtime.bigint();
    default:
      return undefined;
  }
}

export function clockRandom(ctx: WasiContext) {
  return {
    clock_res_get: guard((id: number, resPtr: number) => {
      if (now(id) === undefined) return Errno.INVAL;
      ctx.view().setBigUint64(resPtr, 1000n, true);
      return Errno.SUCCESS;
    }),
    clock_time_get: guard((id: number, _precision: bigint, timePtr: number) => {
      const t = now(id);
      if (t === undefined) return Errno.INVAL;
      ctx.view().setBigUint64(timePtr, t, true);
      return Errno.SUCCESS;
    }),
    random_get: guard((ptr: number, len: number) => {
      const mem = ctx.bytes();
      if (ptr + len > mem.length) return Errno.FAULT;
      // getRandomValues fills at most 64 KiB per call.
      crypto ??= process.getBuiltinModule('node:crypto');
      for (let o = 0; o < len; o += 65536) crypto.getRandomValues(mem.subarray(ptr + o, ptr + Math.min(len, o + 65536)));
      return Errno.SUCCESS;
    }),
  };
}
