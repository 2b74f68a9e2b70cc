// A guest pointer outside its memory makes DataView/TypedArray throw RangeError; WASI says the
// call then fails with EFAULT rather than trapping the host.

import { Errno } from '../../contract/host-abi.ts';

export function guard<A extends unknown[]>(fn: (...args: A) => number): (...args: A) => number {
  return (...args: A) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof RangeError) return Errno.FAULT;
      throw e;
    }
  };
}
