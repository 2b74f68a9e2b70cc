// argv and environ as WASI hands them to a guest: UTF-8, each string NUL-terminated, back to back.
// Requests carry them in this form from the listener to the worker (runtime/task-codec.ts), so
// the worker neither decodes nor re-encodes them, and args_get/environ_get are a single copy.

export interface CStrings {
  count: number;
  bytes: Uint8Array;
}

const encoder = new TextEncoder();
const NONE: CStrings = { count: 0, bytes: new Uint8Array(0) };

export function cStrings(list: readonly string[]): CStrings {
  return list.length ? { count: list.length, bytes: encoder.encode(list.join('\0') + '\0') } : NONE;
}

/** Most bytes `list` can take as C strings (UTF-8 needs at most 3 bytes per UTF-16 unit). */
export function cStringsBound(list: readonly string[]): number {
  let n = 0;
  for (const s of list) n += 3 * s.length + 1;
  return n;
}

/** Writes `list` as C strings into `out` at `at`; returns the bytes written. */
export function encodeCStrings(list: readonly string[], out: Uint8Array, at: number): number {
  return list.length ? encoder.encodeInto(list.join('\0') + '\0', out.subarray(at)).written : 0;
}
