// WebAssembly text → binary through npm `wabt` (compiled to wasm; parse and validate in-process).

import { createRequire } from 'node:module';
import wabtInit from 'wabt';
import { SledgeError } from '../contract/errors.ts';

// What a modern module may use. V8 supports all of these; the default set lacks multi_memory and
// threads. wabt's validate() takes its own feature set (defaults otherwise), so both get this.
export const WAT_FEATURES = {
  simd: true,
  bulk_memory: true,
  multi_memory: true,
  threads: true,
  sign_extension: true,
  sat_float_to_int: true,
  mutable_globals: true,
  reference_types: true,
  multi_value: true,
} as const;

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabtPromise: Promise<Wabt> | undefined;

function wabtVersion(): string {
  try {
    return (createRequire(import.meta.url)('wabt/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// wabt prints `file:line:col: error: message`, then the source line and a caret line.
const WABT_DIAG = /^(.+?):(\d+):(\d+): (error|warning): (.*)$/;

function watDiagnostics(message: string): string[] {
  return message.split('\n').filter((l) => WABT_DIAG.test(l));
}

export interface WatResult { wasm: Uint8Array<ArrayBuffer>; frontend: string }

/** `path` names the file in diagnostics; `text` is its content (UTF-8 bytes). */
export async function compileWat(path: string, text: Uint8Array): Promise<WatResult> {
  wabtPromise ??= wabtInit();
  const wabt = await wabtPromise;
  // wabt copies `buffer.buffer` whole for typed arrays, and truncates strings to Latin-1: hand it
  // an exact-size copy of the bytes.
  const bytes = new Uint8Array(text);
  let module: ReturnType<Wabt['parseWat']> | undefined;
  try {
    module = wabt.parseWat(path, bytes, WAT_FEATURES);
    module.resolveNames();
    // The typings omit validate's feature argument.
    (module as unknown as { validate(features: object): void }).validate(WAT_FEATURES);
    const { buffer } = module.toBinary({});
    return { wasm: new Uint8Array(buffer), frontend: `wabt ${wabtVersion()}` };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const details = watDiagnostics(message);
    const n = details.length;
    const phase = message.startsWith('validate failed') ? 'is not a valid module' : 'does not parse';
    throw new SledgeError('WAT_PARSE', `${path} ${phase}${n > 0 ? ` (${n} error${n === 1 ? '' : 's'})` : ''}`, {
      hint: 'fix the errors above and build again',
      details: n > 0 ? details : [message.trim()],
    });
  } finally {
    module?.destroy();
  }
}
