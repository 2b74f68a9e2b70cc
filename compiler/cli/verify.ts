// sledgec verify: integrity (hash), signature consistency, and with --key, the signer.

import { parseBundle, readBundleFile } from '../../contract/bundle-format.ts';
import { parseOptions, usage } from '../../contract/cli.ts';
import { SledgeError } from '../../contract/errors.ts';
import { keyId, loadPublicKey } from '../../contract/signature.ts';

export async function verifyVerb(args: string[]): Promise<number> {
  const { options, positionals } = parseOptions('sledgec', args, { key: { value: true } });
  if (positionals.length !== 1) throw usage('verify takes one bundle', 'sledgec');
  const path = positionals[0]!;
  const b = parseBundle(await readBundleFile(path), path);
  const keyPath = options.key as string | undefined;
  if (keyPath !== undefined) {
    const want = keyId(await loadPublicKey(keyPath));
    if (!b.signer) {
      throw new SledgeError('BUNDLE_UNSIGNED', `${path}: the bundle is not signed`, { hint: 'sign it: sledgec build fn.c --sign sledge.key' });
    }
    if (b.signer.keyId !== want) {
      throw new SledgeError('BUNDLE_UNTRUSTED', `${path}: signed by key ${b.signer.keyId}, not by ${keyPath} (key ${want})`, {
        hint: 'this bundle was signed by someone else; rebuild and sign it with your key',
      });
    }
  }
  const sig = b.signer ? `, signed by key ${b.signer.keyId}` : ', not signed';
  process.stdout.write(`${path}: ok (module sha256 ${b.manifest.moduleSha256.slice(0, 16)}${sig})\n`);
  return 0;
}
