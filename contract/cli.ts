// What both CLIs share: one way to report errors (a coded line and a hint, never a stack trace for
// a user mistake) and one small option parser whose errors are coded too.

import { formatError, isSledgeError, SledgeError } from './errors.ts';

export async function runCli(prog: string, main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (e) {
    if (isSledgeError(e)) {
      process.stderr.write(formatError(prog, e) + '\n');
      process.exitCode = 1;
    } else {
      // Not a user mistake: a bug. Show everything so it can be reported.
      process.stderr.write(`${prog}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    }
  }
}

/** A verb's implementation, loaded on use so each verb pays only for the modules it needs. */
export type Verb = () => Promise<(args: string[]) => Promise<number>>;

/** `prog <verb> args…`: help on no verb or --help, a coded error on an unknown verb. */
export async function runVerbs(prog: string, help: string, verbs: Record<string, Verb>, argv: string[]): Promise<void> {
  await runCli(prog, async () => {
    const [verb, ...rest] = argv;
    if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
      process.stdout.write(help);
      return verb ? 0 : 2;
    }
    const fn = verbs[verb];
    if (!fn) throw usage(`unknown command '${verb}' (commands: ${Object.keys(verbs).join(', ')})`, prog);
    return (await fn())(rest);
  });
}

export interface OptionSpec {
  /** Takes a value (`--name value` or `--name=value`). */
  value?: boolean;
  /** May be given more than once (values collected). */
  multiple?: boolean;
  short?: string;
}

export interface Parsed {
  options: Record<string, string | boolean | string[]>;
  positionals: string[];
  /** Everything after the first positional when `stopAtPositional` (a function's own argv). */
  rest: string[];
}

/**
 * Parses `--flag`, `--key value`, `--key=value`, `-O2`-style short options. Unknown options are
 * coded errors. With `stopAtPositional`, parsing ends at the first positional (or `--`).
 */
export function parseOptions(prog: string, argv: string[], spec: Record<string, OptionSpec>, stopAtPositional = false): Parsed {
  const options: Parsed['options'] = {};
  const positionals: string[] = [];
  const shorts = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([k, s]) => [s.short!, k]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1, stopAtPositional ? i + 2 : undefined));
      return { options, positionals, rest: stopAtPositional ? argv.slice(i + 2) : [] };
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      if (stopAtPositional) return { options, positionals, rest: argv.slice(i + 1) };
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) value = a.slice(eq + 1);
    } else {
      // -O3 → O with value 3; -o out → o with value out.
      const key = shorts.get(a.slice(1, 2));
      if (!key) throw unknownOption(prog, a, spec);
      name = key;
      if (a.length > 2) value = a.slice(2);
    }
    const s = spec[name];
    if (!s) throw unknownOption(prog, a, spec);
    if (s.value) {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new SledgeError('CLI_USAGE', `option ${a} needs a value`, { hint: `run ${prog} --help` });
      }
      if (s.multiple) options[name] = [...((options[name] as string[] | undefined) ?? []), value];
      else options[name] = value;
    } else {
      if (value !== undefined) throw new SledgeError('CLI_USAGE', `option --${name} takes no value`, { hint: `run ${prog} --help` });
      options[name] = true;
    }
  }
  return { options, positionals, rest: [] };
}

function unknownOption(prog: string, a: string, spec: Record<string, OptionSpec>): SledgeError {
  const known = Object.entries(spec).map(([k, s]) => (s.short ? `-${s.short}|--${k}` : `--${k}`));
  return new SledgeError('CLI_USAGE', `unknown option ${a}`, { hint: `options here: ${known.join(' ')}; see ${prog} --help` });
}

export function usage(message: string, prog: string): SledgeError {
  return new SledgeError('CLI_USAGE', message, { hint: `run ${prog} --help` });
}
