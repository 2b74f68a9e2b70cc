// WASI proc_exit and sched_yield.

import { Errno } from '../../contract/host-abi.ts';
import { ProcExit } from '../traps.ts';

export function proc() {
  return {
    proc_exit: (code: number): never => {
      throw new ProcExit(code >>> 0);
    },
    sched_yield: () => Errno.SUCCESS,
  };
}
