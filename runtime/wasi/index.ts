// The WASI preview1 import object for one sandbox slot: Sledge's subset implemented, every other
// preview1 function present and answering ENOTSUP (the host ABI list says which exist).

import { Errno, WASI_FUNCTIONS } from '../../contract/host-abi.ts';
import { argsEnviron } from './args-environ.ts';
import { clockRandom } from './clock-random.ts';
import type { WasiContext } from './context.ts';
import { fd } from './fd.ts';
import { proc } from './proc.ts';

const notSupported = () => Errno.NOTSUP;

export function wasiImports(ctx: WasiContext): Record<string, Function> {
  const implemented: Record<string, Function> = { ...argsEnviron(ctx), ...clockRandom(ctx), ...fd(ctx), ...proc() };
  const all: Record<string, Function> = {};
  for (const name of Object.keys(WASI_FUNCTIONS)) all[name] = implemented[name] ?? notSupported;
  return all;
}
