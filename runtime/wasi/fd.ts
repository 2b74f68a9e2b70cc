// WASI fd_*: stdin is the request body, stdout/stderr are collected in memory. There is no file
// system: other descriptors are EBADF, and fd_prestat_get says so, which ends libc's preopen scan.

import { Errno } from '../../contract/host-abi.ts';
import type { WasiContext } from './context.ts';
import { guard } from './fault.ts';

const FILETYPE_UNKNOWN = 0; // not a character device: libc then buffers stdout fully
const RIGHTS_READ = 1n << 1n;
const RIGHTS_WRITE = 1n << 6n;
const NOSPC = 51;

export function fd(ctx: WasiContext) {
  return {
    fd_read: guard((fdNum: number, iovs: number, iovsLen: number, nreadPtr: number) => {
      if (fdNum !== 0) return Errno.BADF;
      const dv = ctx.view();
      const mem = ctx.bytes();
      let n = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = dv.getUint32(iovs + 8 * i, true);
        const len = dv.getUint32(iovs + 8 * i + 4, true);
        const chunk = ctx.stdin.subarray(ctx.stdinPos, ctx.stdinPos + len);
        mem.set(chunk, ptr);
        ctx.stdinPos += chunk.length;
        n += chunk.length;
        if (chunk.length < len) break;
      }
      dv.setUint32(nreadPtr, n, true);
      return Errno.SUCCESS;
    }),
    fd_write: guard((fdNum: number, iovs: number, iovsLen: number, nwrittenPtr: number) => {
      if (fdNum !== 1 && fdNum !== 2) return Errno.BADF;
      const dv = ctx.view();
      const mem = ctx.bytes();
      let n = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = dv.getUint32(iovs + 8 * i, true);
        const len = dv.getUint32(iovs + 8 * i + 4, true);
        if (len === 0) continue;
        if (ptr + len > mem.length) return Errno.FAULT;
        if (ctx.outBytes + len > ctx.maxOutputBytes) return NOSPC;
        const copy = mem.slice(ptr, ptr + len);
        ctx.outBytes += len;
        if (fdNum === 1) ctx.stdout.push(copy);
        else ctx.stderr.push(copy);
        n += len;
      }
      dv.setUint32(nwrittenPtr, n, true);
      return Errno.SUCCESS;
    }),
    fd_close: (fdNum: number) => (fdNum <= 2 ? Errno.SUCCESS : Errno.BADF),
    fd_seek: (fdNum: number) => (fdNum <= 2 ? Errno.SPIPE : Errno.BADF),
    fd_tell: (fdNum: number) => (fdNum <= 2 ? Errno.SPIPE : Errno.BADF),
    fd_sync: (fdNum: number) => (fdNum <= 2 ? Errno.SUCCESS : Errno.BADF),
    fd_datasync: (fdNum: number) => (fdNum <= 2 ? Errno.SUCCESS : Errno.BADF),
    fd_fdstat_get: guard((fdNum: number, statPtr: number) => {
      if (fdNum > 2) return Errno.BADF;
      const dv = ctx.view();
      dv.setUint8(statPtr, FILETYPE_UNKNOWN);
      dv.setUint16(statPtr + 2, 0, true);
      dv.setBigUint64(statPtr + 8, fdNum === 0 ? RIGHTS_READ : RIGHTS_WRITE, true);
      dv.setBigUint64(statPtr + 16, 0n, true);
      return Errno.SUCCESS;
    }),
    fd_fdstat_set_flags: (fdNum: number) => (fdNum <= 2 ? Errno.NOTSUP : Errno.BADF),
    fd_prestat_get: () => Errno.BADF,
    fd_prestat_dir_name: () => Errno.BADF,
  };
}
