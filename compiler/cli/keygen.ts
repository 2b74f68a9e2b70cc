// sledgec keygen: an Ed25519 key pair for signing bundles.

import { writeFile } from 'node:fs/promises';
import { parseOptions, usage } from '../../contract/cli.ts';
import { SledgeError } from '../../contract/errors.ts';
import { generateKeys } from '../../contract/signature.ts';

export async function keygenVerb(args: string[]): Promise<number> {
  const { options, positionals } = parseOptions('sledgec', args, { output: { value: true, short: 'o' } });
  if (positionals.length) throw usage('keygen takes no positional arguments (use -o name)', 'sledgec');
  const base = (options.output as string | undefined) ?? 'sledge';
  const keys = generateKeys();
  try {
    // wx: never overwrite an existing key.
    await writeFile(`${base}.key`, keys.privatePem, { mode: 0o600, flag: 'wx' });
    await writeFile(`${base}.pub`, keys.publicPem, { flag: 'wx' });
  } catch (e) {
    throw new SledgeError('KEY_EXISTS', `${base}.key or ${base}.pub already exists (${(e as NodeJS.ErrnoException).code})`, {
      hint: 'choose another name with -o, or remove the old key first',
    });
  }
  process.stdout.write(`wrote ${base}.key (private, keep it secret) and ${base}.pub (key id ${keys.keyId})\n`);
  return 0;
}
