// The per-request state the WASI calls work on, and typed access to the sandbox's memory. One
// context per pooled memory slot; its request fields are swapped for every request, so the import
// object (and its closures) is built once per slot, not per request.

import { cStrings, type CStrings } from './c-strings.ts';

export class WasiContext {
  memory: WebAssembly.Memory;
  private buf: ArrayBuffer | SharedArrayBuffer | null = null;
  private dv!: DataView;
  private u8!: Uint8Array;

  args: CStrings = cStrings([]);
  env: CStrings = cStrings([]);
  stdin: Uint8Array = new Uint8Array(0);
  stdinPos = 0;
  stdout: Uint8Array[] = [];
  stderr: Uint8Array[] = [];
  outBytes = 0;
  /** Output beyond this is refused (EFBIG-like NOSPC), so a chatty function cannot exhaust memory. */
  maxOutputBytes = 64 * 1024 * 1024;

  constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
  }

  /** Starts a request: copies nothing, just points at the request's data. */
  begin(args: CStrings, env: CStrings, stdin: Uint8Array): void {
    this.args = args;
    this.env = env;
    this.stdin = stdin;
    this.stdinPos = 0;
    this.stdout = [];
    this.stderr = [];
    this.outBytes = 0;
  }

  // The buffer changes identity when memory grows: refresh the views lazily.
  view(): DataView {
    if (this.memory.buffer !== this.buf) this.refresh();
    return this.dv;
  }

  bytes(): Uint8Array {
    if (this.memory.buffer !== this.buf) this.refresh();
    return this.u8;
  }

  private refresh(): void {
    const buf = this.memory.buffer;
    this.buf = buf;
    this.dv = new DataView(buf);
    this.u8 = new Uint8Array(buf);
  }
}

