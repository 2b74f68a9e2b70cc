// WASI args_* and environ_*: argv and environ come from the request (CGI-style variables for a
// served request), never from the host's environment. They arrive as C strings (c-strings.ts).

import { Errno } from '../../contract/host-abi.ts';
import type { CStrings } from './c-strings.ts';
import type { WasiContext } from './context.ts';
import { guard } from './fault.ts';

function sizes(ctx: WasiContext, list: CStrings, countPtr: number, sizePtr: number): number {
  const dv = ctx.view();
  dv.setUint32(countPtr, list.count, true);
  dv.setUint32(sizePtr, list.bytes.length, true);
  return Errno.SUCCESS;
}

function fill(ctx: WasiContext, list: CStrings, ptrsPtr: number, bufPtr: number): number {
  const dv = ctx.view();
  ctx.bytes().set(list.bytes, bufPtr);
  // Exactly `count` pointers, whatever the bytes hold: the guest sized its array from the count.
  for (let i = 0, start = 0; i < list.count; i++) {
    dv.setUint32(ptrsPtr + 4 * i, bufPtr + start, true);
    start = list.bytes.indexOf(0, start) + 1;
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
