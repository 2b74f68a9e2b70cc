// Reads a bundle from disk and applies the loader's policy: features it understands, the ABI
// version it provides, trusted signers, and no unchecked memory without an explicit switch.

import type { KeyObject } from 'node:crypto';
import { parseBundle, readBundleFile, type ParsedBundle } from '../contract/bundle-format.ts';
import { SledgeError } from '../contract/errors.ts';
import { HOST_ABI_VERSION } from '../contract/host-abi.ts';
import { KNOWN_FEATURES } from '../contract/manifest.ts';
import { keyId } from '../contract/signature.ts';

export interface BundlePolicy {
  /** When given, only bundles signed by one of these keys are accepted. */
  trustedKeys?: KeyObject[];
  /** Accept bundles built with `--bounds none`. */
  allowUnsafe?: boolean;
}

export async function loadBundle(path: string, policy: BundlePolicy = {}): Promise<ParsedBundle> {
  return checkBundle(parseBundle(await readBundleFile(path), path), path, policy);
}

export function checkBundle(b: ParsedBundle, where: string, policy: BundlePolicy): ParsedBundle {
  const m = b.manifest;
  const unknown = m.features.filter((f) => !(KNOWN_FEATURES as readonly string[]).includes(f));
  if (unknown.length) {
    throw new SledgeError('BUNDLE_FEATURE', `${where}: the bundle needs features this loader does not understand: ${unknown.join(', ')}`, {
      hint: 'upgrade sledge-loader, or rebuild the bundle with the sledgec that matches it',
    });
  }
  if (m.abi !== HOST_ABI_VERSION) {
    throw new SledgeError('BUNDLE_ABI', `${where}: the bundle targets host ABI ${m.abi}; this loader provides ABI ${HOST_ABI_VERSION}`, {
      hint: 'rebuild the bundle with the sledgec that matches this loader',
    });
  }
  if (policy.trustedKeys?.length) {
    if (!b.signer) {
      throw new SledgeError('BUNDLE_UNSIGNED', `${where}: the bundle is not signed, and this loader only runs signed bundles`, {
        hint: 'sign it: sledgec build fn.c --sign sledge.key',
      });
    }
    const id = b.signer.keyId;
    if (!policy.trustedKeys.some((k) => keyId(k) === id)) {
      throw new SledgeError('BUNDLE_UNTRUSTED', `${where}: signed by key ${id}, which is not among the trusted keys`, {
        hint: 'sign the bundle with a trusted key, or add its public key with --key',
      });
    }
  }
  if (m.unsafe && !policy.allowUnsafe) {
    throw new SledgeError('BUNDLE_UNSAFE', `${where}: built with --bounds none: memory accesses are unchecked and a bad one crashes the process`, {
      hint: 'rebuild with --bounds guard (the default) or software; to run it anyway for measurements, pass --unsafe-unchecked-memory',
    });
  }
  return b;
}
