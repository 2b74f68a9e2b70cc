// sledgec: one verb per file, dispatched here.

import { runCli, usage } from '../../contract/cli.ts';
import { buildVerb } from './build.ts';
import { inspectVerb } from './inspect.ts';
import { keygenVerb } from './keygen.ts';
import { verifyVerb } from './verify.ts';

const HELP = `sledgec — build C, .wat or .wasm into Sledge bundles

usage:
  sledgec build <fn.c|fn.wat|fn.wasm> [-o out.sledge] [--bounds guard|software|none] [--cc clang|emcc]
                [-O0..3] [--simd] [--stack-size BYTES] [--max-memory-pages N] [--sign key] [--no-yield-points]
  sledgec inspect <bundle> [--json]
  sledgec verify <bundle> [--key key.pub]
  sledgec keygen [-o name]          writes name.key (private) and name.pub (default: sledge)
`;

const VERBS: Record<string, (args: string[]) => Promise<number>> = {
  build: buildVerb,
  inspect: inspectVerb,
  verify: verifyVerb,
  keygen: keygenVerb,
};

export async function main(argv: string[]): Promise<void> {
  await runCli('sledgec', async () => {
    const [verb, ...rest] = argv;
    if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
      process.stdout.write(HELP);
      return verb ? 0 : 2;
    }
    const fn = VERBS[verb];
    if (!fn) throw usage(`unknown command '${verb}' (commands: ${Object.keys(VERBS).join(', ')})`, 'sledgec');
    return fn(rest);
  });
}
