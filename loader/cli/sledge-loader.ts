// sledge-loader: one verb per file, dispatched here.

import { runCli, usage } from '../../contract/cli.ts';
import { runVerb } from './run.ts';

const HELP = `sledge-loader — run and serve Sledge bundles

usage:
  sledge-loader run [--key key.pub] [--unsafe-unchecked-memory] <bundle> [args…]
        runs one sandbox: stdin → stdin, stdout → stdout, exit status = the function's
`;

const VERBS: Record<string, (args: string[]) => Promise<number>> = {
  run: runVerb,
};

export async function main(argv: string[]): Promise<void> {
  await runCli('sledge-loader', async () => {
    const [verb, ...rest] = argv;
    if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
      process.stdout.write(HELP);
      return verb ? 0 : 2;
    }
    const fn = VERBS[verb];
    if (!fn) throw usage(`unknown command '${verb}' (commands: ${Object.keys(VERBS).join(', ')})`, 'sledge-loader');
    return fn(rest);
  });
}
