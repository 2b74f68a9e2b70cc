// sledgec: one verb per file, dispatched here.

import { runVerbs, type Verb } from '../../contract/cli.ts';

const HELP = `sledgec — build C, .wat or .wasm into Sledge bundles

usage:
  sledgec build <fn.c|fn.wat|fn.wasm> [-o out.sledge] [--bounds guard|software|none] [--cc clang|emcc]
                [-O0..3] [--simd] [--stack-size BYTES] [--max-memory-pages N] [--sign key] [--no-yield-points]
  sledgec inspect <bundle> [--json]
  sledgec verify <bundle> [--key key.pub]
  sledgec keygen [-o name]          writes name.key (private) and name.pub (default: sledge)
`;

// Loaded on use: only `build` needs the compilers and binaryen, which take a while to load.
const VERBS: Record<string, Verb> = {
  build: async () => (await import('./build.ts')).buildVerb,
  inspect: async () => (await import('./inspect.ts')).inspectVerb,
  verify: async () => (await import('./verify.ts')).verifyVerb,
  keygen: async () => (await import('./keygen.ts')).keygenVerb,
};

export async function main(argv: string[]): Promise<void> {
  await runVerbs('sledgec', HELP, VERBS, argv);
}
