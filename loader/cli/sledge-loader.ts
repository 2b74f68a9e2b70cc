// sledge-loader: one verb per file, dispatched here.

import { runVerbs, type Verb } from '../../contract/cli.ts';

const HELP = `sledge-loader — run and serve Sledge bundles

usage:
  sledge-loader run [--key key.pub] [--unsafe-unchecked-memory] <bundle> [args…]
        runs one sandbox: stdin → stdin, stdout → stdout, exit status = the function's
  sledge-loader serve <spec.json> [--workers N] [--scheduler fifo|edf] [--quantum-us N] [--no-preemption]
        [--no-admission] [--no-inline] [--queue-capacity N] [--local-capacity N] [--admin host:port|off] [--key key.pub]…
        [--grace-ms N] [--unsafe-unchecked-memory]
        serves the spec's routes over HTTP (environment: SLEDGE_NWORKERS, SLEDGE_SCHEDULER,
        SLEDGE_QUANTUM_US, SLEDGE_DISABLE_PREEMPTION)
`;

// Loaded on use: `run` should not pay for the HTTP server's modules, nor `serve` for the runner's.
const VERBS: Record<string, Verb> = {
  run: async () => (await import('./run.ts')).runVerb,
  serve: async () => (await import('./serve.ts')).serveVerb,
};

export async function main(argv: string[]): Promise<void> {
  await runVerbs('sledge-loader', HELP, VERBS, argv);
}
