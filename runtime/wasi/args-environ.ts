// WASI args_* and environ_*: argv and environ come from the request (CGI-style variables for a
// served request), never from the host's environment.

import { Errno } from '../../contract/host-abi.ts';
import type { WasiContext } from './context.ts';
import { guard } from './fault.ts';

function sizes(ctx: WasiContext, list: Uint8Array[], countPtr: number, sizePtr: number): number {
  const dv = ctx.view();
  let total = 0;
  for (const a of list) total += a.length;
  dv.setUint32(countPtr, list.length, true);
  dv.setUint32(sizePtr, total, true);
  return Errno.SUCCESS;
}

function fill(ctx: WasiContext, list: Uint8Array[], ptrsPtr: number, bufPtr: number): number {
  const dv = ctx.view();
  const mem = ctx.bytes();
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    dv.setUint32(ptrsPtr + 4 * i, bufPtr, true);
    mem.set(a, bufPtr);
    bufPtr += a.length;
  }
  return Errno.SUCCESS;
}

export function argsEnviron(ctx: WasiContext) {
  return {
    args_sizes_get: guard((c: number, s: number) => sizes(ctx, ctx.args, c, s)),
    args_get: guard((p: number, b: number) => fill(ctx, ctx.args, p, b)),
    environ_sizes_get: guard((c: number, s: number) => sizes(ctx, ctx.env, c, s)),
    environ_get: guard((p: number, b: number) => fill(ctx, ctx.env, p, b)),
  };
}
